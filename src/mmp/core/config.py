"""Typed views of the params sections. Unknown keys and wrong types are rejected at the edge
with a message that names the key, the rule and the allowed values (``mmp.core.parsing``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from mmp.core.errors import MMPError
from mmp.core.parsing import Strict, parse

PARAMS_FILE = "params.yaml"
MISSING = "???"  # OmegaConf's mandatory-value marker, as composition writes it
MODEL_NAME = r"^[A-Za-z0-9][\w.\-]*$"  # an MLflow registered model name mmp accepts


DType = Literal["int", "float", "bool", "category", "string", "datetime"]
TaskType = Literal["binary", "multiclass", "regression"]
TaskKind = Literal["classification", "regression"]
Direction = Literal["maximize", "minimize"]  # an Optuna study's direction


def task_kind(task: TaskType) -> TaskKind:
    """The one regression-vs-classification rule: binary and multiclass are classification.
    Everything that treats the two kinds differently (split, features, metrics, gate, tuning,
    scoring) asks this function."""
    return "regression" if task == "regression" else "classification"


class ColumnRule(Strict):
    dtype: DType
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None


class Contract(Strict):
    allow_extra_columns: bool = True
    columns: dict[str, ColumnRule] = Field(default_factory=dict)


# A data config names its contract (``contract: credit_default``); the rules live in their own
# file, conf/contracts/<name>.yaml in the checkout being run. Kept out of params.yaml so that
# `dvc exp show` gets one column for the contract instead of one per rule; the prepare stage
# lists the folder in its dvc.yaml deps, so an edited contract re-runs it.
CONTRACTS_DIR = Path("conf") / "contracts"
_CONTRACT_NAME = re.compile(r"^[A-Za-z0-9][\w\-]*$")


def checkout_root() -> Path:
    """The nearest parent of the cwd holding dvc.yaml (a notebook runs in notebooks/), else the
    cwd. Never DVC_ROOT: a queued run must read the contract of its own commit, in DVC's temp
    copy, not the workspace's."""
    here = Path.cwd().resolve()
    return next((c for c in (here, *here.parents) if (c / "dvc.yaml").exists()), here)


def contract_names(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / CONTRACTS_DIR).glob("*.yaml"))


def read_contract(name: str, root: Path | None = None) -> Any:
    """The raw rules of the contract ``name`` (validated by the caller as a :class:`Contract`)."""
    root = checkout_root() if root is None else root
    known = ", ".join(contract_names(root)) or f"none yet: add {CONTRACTS_DIR}/<name>.yaml"
    if not _CONTRACT_NAME.match(name):
        raise ValueError(f"{name!r} is not a contract name (allowed: a file name in {CONTRACTS_DIR}/ without .yaml: {known})")
    file = root / CONTRACTS_DIR / f"{name}.yaml"
    if not file.is_file():
        raise ValueError(f"no contract file {(CONTRACTS_DIR / file.name).as_posix()} (allowed: {known})")
    return yaml.safe_load(file.read_text()) or {}


Scalar = str | int | float | bool | None


class DataQuality(Strict):
    """The data quality report's leakage rules (``mmp.data.quality``). Leakage findings are
    warnings unless ``fail_on_leakage``; a column in ``allow`` stays a warning even then."""

    fail_on_leakage: bool = False
    # One feature's held-out ROC AUC (classification) or |Spearman rho| (regression) above this
    max_single_feature_score: float = Field(default=0.98, gt=0.5, le=1)
    # An integer or text feature whose share of distinct values is at least this is id-like
    id_like_share: float = Field(default=0.95, gt=0, le=1)
    # The share of test rows older than the newest train row above which the split contradicts
    # the time order (a random split gives about 1, a split by time 0)
    max_time_overlap: float = Field(default=0.5, ge=0, le=1)
    allow: list[str] = Field(default_factory=list)
    bins: int = Field(default=20, ge=2, le=100)


class DataConfig(Strict):
    source_uri: str
    rows: int | None = Field(default=None, gt=0)
    target_col: str | list[str]
    task_type: TaskType
    id_cols: list[str] = Field(default_factory=list)
    time_col: str | None = None
    test_size: float = Field(default=0.2, gt=0, lt=1)
    # The name of a contract in conf/contracts/ (see CONTRACTS_DIR), or null for none; an
    # inline mapping is accepted too (tests, one-off `-S 'data.contract={...}'` overrides).
    contract: Contract = Field(default_factory=Contract)
    # SQL sources: values bound as query parameters (never pasted into SQL text), identifiers
    # the query template may paste, and the allowlist each identifier must be in.
    params: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)
    identifiers: dict[str, str] = Field(default_factory=dict)
    allowed_identifiers: dict[str, list[str]] = Field(default_factory=dict)
    quality: DataQuality = Field(default_factory=DataQuality)

    @model_validator(mode="before")
    @classmethod
    def _unfilled_schema_keys(cls, raw: Any) -> Any:
        """conf/schema/data.yaml marks the keys every data config must give with OmegaConf's
        ``???``, which composition writes as is: such a key is missing, not a value."""
        return {k: v for k, v in raw.items() if v != MISSING} if isinstance(raw, dict) else raw

    @field_validator("contract", mode="before")
    @classmethod
    def _contract_by_name(cls, value: Any) -> Any:
        if value is None:  # `contract: null`: no rules beyond the columns the recipe names
            return {}
        return read_contract(value) if isinstance(value, str) else value

    @property
    def targets(self) -> list[str]:
        return [self.target_col] if isinstance(self.target_col, str) else list(self.target_col)

    @property
    def non_feature_cols(self) -> list[str]:
        return [*self.targets, *self.id_cols, *([self.time_col] if self.time_col else [])]


Columns = Literal["auto"] | list[str]


class NumericFeatures(Strict):
    columns: Columns = "auto"
    impute: Literal["mean", "median", "most_frequent", "constant"] = "median"
    fill_value: float = 0.0  # used by impute: constant
    clip: Literal["none", "iqr", "zscore"] = "none"
    clip_factor: float | None = Field(default=None, gt=0)  # iqr: 1.5 by default, zscore: 3.0
    scale: Literal["standard", "minmax", "robust", "none"] = "standard"


class CategoricalFeatures(Strict):
    columns: Columns = "auto"
    impute: Literal["most_frequent", "constant"] = "most_frequent"
    fill_value: str = "missing"  # used by impute: constant
    encode: Literal["onehot", "ordinal", "target"] = "onehot"
    # onehot: categories rarer than this (a fraction of the rows, or a count) are merged into
    # one "infrequent" column, and so are categories never seen in training.
    min_frequency: float | int | None = Field(default=None, ge=0)
    max_categories: int | None = Field(default=None, gt=1)


DatePart = Literal["year", "month", "day", "dayofweek", "dayofyear", "hour", "quarter"]


DEFAULT_DATE_PARTS: tuple[DatePart, ...] = ("year", "month", "dayofweek")


class DateFeatures(Strict):
    columns: Columns = "auto"
    parts: list[DatePart] = Field(default_factory=lambda: list(DEFAULT_DATE_PARTS))


class InteractionFeatures(Strict):
    """Polynomial/interaction terms of the numeric columns (after imputation and scaling)."""

    enabled: bool = False
    degree: int = Field(default=2, ge=2, le=3)
    interaction_only: bool = True


class FeatureSelection(Strict):
    """Keep the best features: ``kbest`` (univariate F-test) or ``model`` (tree importances)."""

    method: Literal["none", "kbest", "model"] = "none"
    k: int | None = Field(default=None, gt=0)  # kbest: required; model: at most k features
    threshold: str | float = "median"  # model: sklearn SelectFromModel threshold


class FeaturesConfig(Strict):
    numeric: NumericFeatures = Field(default_factory=NumericFeatures)
    categorical: CategoricalFeatures = Field(default_factory=CategoricalFeatures)
    date: DateFeatures = Field(default_factory=DateFeatures)
    interactions: InteractionFeatures = Field(default_factory=InteractionFeatures)
    selection: FeatureSelection = Field(default_factory=FeatureSelection)
    drop: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> FeaturesConfig:
        if self.selection.method == "kbest" and self.selection.k is None:
            raise ValueError("selection.method kbest needs selection.k (the number of features to keep)")
        listed = self.explicit_columns()
        twice = sorted({c for c in listed if listed.count(c) > 1})
        if twice:
            raise ValueError(f"columns {twice} are listed under more than one of numeric/categorical/date")
        return self

    def explicit_columns(self) -> list[str]:
        return [c for kind in ("numeric", "categorical", "date") if isinstance(cols := getattr(self, kind).columns, list) for c in cols]


class ModelConfig(Strict):
    class_path: str = Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class CVConfig(Strict):
    """How each trial is scored on the train split. ``auto``: a time-series split when
    ``data.time_col`` is set, else stratified k-fold for classification, else k-fold."""

    strategy: Literal["auto", "kfold", "stratified", "timeseries"] = "auto"
    folds: int = Field(default=5, ge=2, le=20)


class TuneConfig(Strict):
    """Optuna search over the recipe's ranges. ``metric``/``direction`` are checked against the
    task when tuning runs (``metric: null`` is the task's default, ``direction: null`` follows
    the metric). Where the study is stored is a runtime setting (conf/env), never a param."""

    enabled: bool = False
    n_trials: int = Field(default=20, gt=0)
    timeout: float | None = Field(default=None, gt=0)
    metric: str | None = None
    direction: Direction | None = None
    cv: CVConfig = Field(default_factory=CVConfig)
    sampler: Literal["tpe", "random"] = "tpe"
    pruner: Literal["none", "median", "hyperband"] = "median"
    n_jobs: int = Field(default=1, ge=1)


class GateRule(Strict):
    """An absolute rule on one test metric, e.g. ``{metric: roc_auc, op: '>=', value: 0.7}``."""

    metric: str
    op: Literal[">=", ">", "<=", "<"]
    value: float


class BeatChampion(Strict):
    """The candidate must beat the current champion's ``metric`` by at least ``min_delta`` on the
    same test data ("beat" follows the metric's direction: lower log_loss/rmse/mae is better)."""

    metric: str
    min_delta: float = 0.0


class GateConfig(Strict):
    """The quality gate `mmp promote` applies before moving the champion alias."""

    rules: list[GateRule] = Field(default_factory=list)
    beat_champion: BeatChampion | None = None


class TaskGates(Strict):
    """One gate per kind of task, so one recipe serves classifiers and regressors alike:
    binary and multiclass tasks use ``classification``."""

    classification: GateConfig = Field(default_factory=GateConfig)
    regression: GateConfig = Field(default_factory=GateConfig)


class EvaluateConfig(Strict):
    threshold: float = Field(default=0.5, ge=0, le=1)
    importance_top_k: int = Field(default=20, gt=0)
    gate: TaskGates = Field(default_factory=TaskGates)

    def gate_for(self, task: TaskType) -> tuple[str, GateConfig]:
        """The gate that applies to ``task``, with its params key for error messages."""
        kind = task_kind(task)
        return f"evaluate.gate.{kind}", getattr(self.gate, kind)


class RegistryConfig(Strict):
    """The registered model the mirror stage adds versions to, and the model card's prose.
    ``model_name`` null (the default) derives the name from the data source, so each dataset
    gets its own registered model (see :func:`registered_model_name`)."""

    model_name: str | None = Field(default=None, pattern=MODEL_NAME)
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)


def registered_model_name(model_name: str | None, source_uri: str) -> str:
    """The registered model a run's package goes to: ``registry.model_name`` when set, else the
    data source's own name (``synthetic://credit_default`` -> ``credit-default``,
    ``data/raw/my_loans.csv`` -> ``my-loans``, ``sql://warehouse/queries/loans.sql.j2`` ->
    ``warehouse-loans``). One registered model holds one input schema and task, so two datasets
    never share one (a package with other inputs is refused when registered)."""
    if model_name:
        return model_name
    scheme, _, rest = source_uri.rpartition("://")
    stem = rest.rstrip("/").rsplit("/", 1)[-1].split(".", 1)[0]
    if scheme == "sql":  # the query file names the data only within its database
        stem = f"{rest.split('/', 1)[0]}-{stem}"
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") or "model"


class Params(Strict):
    """The whole composed recipe (params.yaml)."""

    seed: int = 42
    data: DataConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig
    tune: TuneConfig = Field(default_factory=TuneConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)
    registry: RegistryConfig = Field(default_factory=RegistryConfig)

    @property
    def model_name(self) -> str:
        """The registered model this recipe's packages are versions of."""
        return registered_model_name(self.registry.model_name, self.data.source_uri)

    @model_validator(mode="after")
    def _targets_are_not_features(self) -> Params:
        overlap = set(self.features.drop) & set(self.data.targets)
        if overlap:
            raise ValueError(f"features.drop lists the target column {sorted(overlap)}")
        return self


def read_params(path: str | os.PathLike = PARAMS_FILE) -> dict[str, Any]:
    file = Path(path)
    if not file.exists():
        raise MMPError(str(file), "file not found", "run `make params` or `dvc exp run` to compose it")
    data = yaml.safe_load(file.read_text()) or {}
    if not isinstance(data, dict):
        raise MMPError(str(file), "must be a mapping of sections")
    return data


def load_params(path: str | os.PathLike = PARAMS_FILE) -> Params:
    return parse(Params, read_params(path))
