"""Typed views of the params sections. Unknown keys and wrong types are rejected at the edge
with a message that names the key, the rule and the allowed values (``mmp.core.parsing``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import ConfigDict, Field, SerializerFunctionWrapHandler, field_validator, model_serializer, model_validator

from mmp.core.errors import MMPError
from mmp.core.io import load_yaml
from mmp.core.parsing import Strict, parse

PARAMS_FILE = "params.yaml"
MISSING = "???"  # OmegaConf's mandatory-value marker, as composition writes it
MODEL_NAME = r"^[A-Za-z0-9][\w.\-]*$"  # an MLflow registered model name mmp accepts


DType = Literal["int", "float", "bool", "category", "string", "datetime"]
TaskType = Literal["binary", "multiclass", "regression", "uplift", "generation"]
TaskKind = Literal["classification", "regression", "uplift", "generation"]
Direction = Literal["maximize", "minimize"]  # an Optuna study's direction


def task_kind(task: TaskType) -> TaskKind:
    """The one task-kind rule: binary and multiclass are classification; regression and uplift
    (a causal effect of ``data.treatment_col`` on a numeric outcome) and generation (text
    answers of an LLM graph, scored against expected answers) are kinds of their own. Everything that treats the kinds differently (split, features, metrics, gate, tuning,
    scoring) asks this function."""
    if task in ("regression", "uplift", "generation"):
        return task
    return "classification"


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
SCHEME = r"^[A-Za-z][A-Za-z0-9+.\-]*$"
LOADER_PATH = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*(:[A-Za-z_][\w]*)?$"
METRIC_PATH = r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$"


def duration(value: str, key: str) -> Any:
    """A time span written as pandas reads it ("7d", "12h", "30min") as a ``pd.Timedelta``."""
    import pandas as pd

    try:
        span = pd.Timedelta(value)
    except (ValueError, TypeError):
        raise ValueError(f"{key} {value!r} is not a time span (allowed: e.g. 7d, 12h, 30min)") from None
    if pd.isna(span) or span <= pd.Timedelta(0):
        raise ValueError(f"{key} {value!r} must be a positive time span (e.g. 7d)")
    return span


class ViewSource(Strict):
    """Where a feature view's rows come from: a file (``uri``: .csv/.parquet/.json or an fsspec
    URL, also ``synthetic://<name>``) or a SQL query (``query: sql://<database>/<query file>``,
    with ``params`` bound as query parameters)."""

    uri: str | None = None
    query: str | None = Field(default=None, pattern=r"^sql://")
    params: dict[str, Scalar | list[Scalar]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_of(self) -> ViewSource:
        if (self.uri is None) == (self.query is None):
            raise ValueError("a feature view source sets exactly one of uri (a file) and query (sql://<database>/<query file>)")
        return self

    @property
    def location(self) -> str:
        return self.uri or self.query or ""


class FeatureView(Strict):
    """Features keyed by an entity and stamped with an event time. A training row gets each
    feature's latest value at or before the row's own time, and none older than ``ttl``."""

    name: str = Field(pattern=r"^[A-Za-z_][\w]*$")
    entity: str
    event_time: str
    features: list[str] = Field(min_length=1)
    ttl: str | None = None  # a time span ("7d"); null: values never expire
    source: ViewSource

    @field_validator("ttl")
    @classmethod
    def _ttl_is_a_span(cls, value: str | None) -> str | None:
        if value is not None:
            duration(value, "ttl")
        return value

    @property
    def ttl_span(self) -> Any:
        return None if self.ttl is None else duration(self.ttl, "ttl")


FeatureStore = Literal["pass_through", "builtin", "feast"]


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
    # Uplift: the 0/1 treatment column (never a feature: the effect is estimated without it),
    # and optionally the known individual effect (synthetic data), read only for PEHE.
    treatment_col: str | None = None
    effect_col: str | None = None
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

    # Extension point: a URI scheme -> `module:Class` (a loader with `read(uri) -> DataFrame`)
    # or `module` (imported so that it registers an fsspec protocol of that name). README
    # "Extending".
    loaders: dict[str, str] = Field(default_factory=dict)

    @field_validator("loaders")
    @classmethod
    def _loader_paths(cls, value: dict[str, str]) -> dict[str, str]:
        bad = {s: p for s, p in value.items() if not re.match(SCHEME, s) or not re.match(LOADER_PATH, p)}
        if bad:
            raise ValueError(f"{bad} must map a URI scheme (letters, digits, + - .) to module:Class or a module path")
        return value

    # Feature views (README "Feature views"): joined point-in-time onto the training rows by
    # the chosen store (builtin or feast); pass_through (the default) joins nothing: the source
    # rows already hold the features.
    feature_views: list[FeatureView] = Field(default_factory=list)
    feature_store: FeatureStore = "pass_through"
    # How prepare splits train from test: random (seeded, stratified for classification) or
    # time (the latest test_size of the rows by data.time_col are the test rows). auto: time
    # when time features are on (features.time), else random.
    split: Literal["auto", "random", "time"] = "auto"

    @model_validator(mode="after")
    def _views_fit_together(self) -> DataConfig:
        names = [v.name for v in self.feature_views]
        if len(set(names)) < len(names):
            raise ValueError(f"feature view names must be unique (got {names})")
        features = [f for v in self.feature_views for f in v.features]
        twice = sorted({f for f in features if features.count(f) > 1})
        if twice:
            raise ValueError(f"features {twice} come from more than one feature view")
        if self.feature_views and self.feature_store != "pass_through" and not self.time_col:
            raise ValueError("a point-in-time join needs data.time_col: the time of each training row")
        if self.split == "time" and not self.time_col:
            raise ValueError("data.split time needs data.time_col to order the rows")
        return self

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

    @model_validator(mode="after")
    def _treatment_for_uplift(self) -> DataConfig:
        if self.task_type == "uplift" and not self.treatment_col:
            raise ValueError("data.task_type uplift needs data.treatment_col (the 0/1 treatment column)")
        if self.task_type != "uplift" and (self.treatment_col or self.effect_col):
            raise ValueError(f"data.treatment_col and data.effect_col are for task_type uplift, not {self.task_type}")
        if self.task_type == "uplift" and not isinstance(self.target_col, str):
            raise ValueError("data.task_type uplift needs one outcome column in data.target_col, not a list")
        return self

    @property
    def targets(self) -> list[str]:
        return [self.target_col] if isinstance(self.target_col, str) else list(self.target_col)

    @property
    def causal_cols(self) -> list[str]:
        """The treatment and known-effect columns of an uplift task (none otherwise)."""
        return [c for c in (self.treatment_col, self.effect_col) if c]

    @property
    def label_cols(self) -> list[str]:
        """What travels beside the features in the feature matrices: the target(s) and, for
        uplift, the treatment and the known effect. Never an input of the model."""
        return [*self.targets, *self.causal_cols]

    @property
    def non_feature_cols(self) -> list[str]:
        return [*self.label_cols, *self.id_cols, *([self.time_col] if self.time_col else [])]


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
    # auto: native for LightGBM recipes (its own categorical splits), onehot for the others;
    # native: integer category codes that LightGBM fits as categorical features.
    encode: Literal["auto", "onehot", "ordinal", "native", "target"] = "onehot"
    # onehot: categories rarer than this (a fraction of the rows, or a count) are merged into
    # one "infrequent" column, and so are categories never seen in training.
    min_frequency: float | int | None = Field(default=None, ge=0)
    max_categories: int | None = Field(default=None, gt=1)

    def encoding(self, class_path: str | None) -> str:
        """The encoder ``auto`` stands for with the model ``class_path``: LightGBM splits on
        categories itself (no one-hot columns to build, store and scan), the others get one-hot."""
        if self.encode != "auto":
            return self.encode
        return "native" if (class_path or "").startswith("lightgbm.") else "onehot"


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


TimeAgg = Literal["mean", "sum", "count"]


class TimeFeatures(Strict):
    """Features from each entity's own history, ordered by ``data.time_col``: lags, windowed
    aggregates and the time since the previous event. Every value uses only rows strictly
    earlier than the row's own time (README "Time features")."""

    enabled: bool = False
    entity: str | None = None  # default: the first of data.id_cols
    columns: list[str] = Field(default_factory=list)  # the columns that lags and windows apply to
    lags: list[int] = Field(default_factory=list)
    windows: list[str] = Field(default_factory=list)  # time spans, e.g. ["7d", "30d"]
    aggs: list[TimeAgg] = Field(default=["mean", "sum", "count"])
    since_previous: bool = False  # days since the entity's previous event

    @field_validator("lags")
    @classmethod
    def _positive_lags(cls, value: list[int]) -> list[int]:
        if any(k < 1 for k in value):
            raise ValueError(f"lags must be at least 1 (got {value})")
        return value

    @field_validator("windows")
    @classmethod
    def _spans(cls, value: list[str]) -> list[str]:
        for window in value:
            duration(window, "window")
        return value

    def entity_in(self, data: DataConfig) -> str:
        """The entity whose history the features follow: ``entity``, else the first id column."""
        return self.entity or data.id_cols[0]

    @model_validator(mode="after")
    def _something_to_compute(self) -> TimeFeatures:
        if self.enabled and not ((self.columns and (self.lags or self.windows)) or self.since_previous):
            raise ValueError("time features are enabled but compute nothing: set columns with lags or windows, or since_previous")
        return self


class FeaturesConfig(Strict):
    time: TimeFeatures = Field(default_factory=TimeFeatures)
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


class FinetuneConfig(Strict):
    """``model.finetune``: warm-start a torch model from a champion's weights (README "Fine-tuning").
    ``from`` is a model package directory or a registry URI (``models:/name@champion``); null
    trains from scratch. ``lr`` null keeps the recipe's; ``class_weight: balanced`` weighs each
    class of the new labels by ``n / (n_classes * count)`` (classification only)."""

    model_config = ConfigDict(extra="forbid", frozen=True, serialize_by_alias=True)  # dumps say `from`, as the YAML

    source: str | None = Field(default=None, alias="from", min_length=1)
    epochs: int = Field(default=3, gt=0)
    lr: float | None = Field(default=None, gt=0)
    class_weight: Literal["balanced", "none"] = "balanced"


class PretrainConfig(Strict):
    """``model.pretrain``: the TabTransformer's self-supervised encoder pre-training (masked-column
    reconstruction of the categorical columns) on the training inputs without the target; ``rows``
    caps them with a seeded sample (null: all)."""

    enabled: bool = False
    epochs: int = Field(default=10, gt=0)
    mask_rate: float = Field(default=0.3, gt=0, lt=1)
    rows: int | None = Field(default=None, gt=0)


class LLMConfig(Strict):
    """``model.llm``: the chat model and prompts of an LLM graph (``model.kind: llm_graph``).
    ``provider`` ``fake`` is a deterministic scripted chat model (``script``: input -> reply, tool
    calls included) that never touches the network; any other provider needs the ``llm`` extra
    and its API key in the runtime environment (``OPENAI_API_KEY``), never here. ``prompts``: a
    YAML file of named prompts, ``prompt`` the one used. ``output: json`` asks for a JSON answer,
    checked against ``json_schema``."""

    provider: Literal["fake", "openai"] = "fake"
    model_name: str = "scripted"
    temperature: float = Field(default=0.0, ge=0, le=2)
    prompts: str = "conf/llm/prompts.yaml"
    prompt: str = "qa"
    script: str | None = "conf/llm/fake_script.yaml"
    output: Literal["text", "json"] = "text"
    json_schema: dict[str, Any] | None = None
    tools: list[Literal["calculator"]] = Field(default_factory=list)

    @model_validator(mode="after")
    def _script_for_fake(self) -> LLMConfig:
        if self.provider == "fake" and not self.script:
            raise ValueError("model.llm.provider fake needs model.llm.script (a YAML file of input -> scripted reply)")
        return self


ModelKind = Literal["tabular", "llm_graph"]


class ModelConfig(Strict):
    class_path: str = Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)
    finetune: FinetuneConfig = Field(default_factory=FinetuneConfig)
    pretrain: PretrainConfig = Field(default_factory=PretrainConfig)
    # The model kind (mmp.inference.wrapper.KINDS): the one field every stage dispatches on.
    kind: ModelKind = "tabular"
    llm: LLMConfig | None = None

    @model_validator(mode="after")
    def _llm_for_llm_graph(self) -> ModelConfig:
        if (self.kind == "llm_graph") != (self.llm is not None):
            raise ValueError("model.llm is required with model.kind llm_graph, and only there")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """``finetune``/``pretrain`` only where the recipe sets them: every other recipe dumps (model
        card, tuning study identity) as before they existed."""
        out: dict[str, Any] = handler(self)
        optional = ("finetune", "pretrain", "kind", "llm")
        return {k: v for k, v in out.items() if k not in optional or k in self.model_fields_set}


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
    # AutoML: model recipes (conf/model/<name>.yaml) the study chooses between, each with its
    # own ranges; empty: search the ranges of `model` only. README "AutoML".
    families: list[str] = Field(default_factory=list)

    @field_validator("families")
    @classmethod
    def _family_names(cls, value: list[str]) -> list[str]:
        twice = sorted({f for f in value if value.count(f) > 1})
        if twice:
            raise ValueError(f"families {twice} are listed more than once")
        return value


class ComputeConfig(Strict):
    """Where the pipeline's heavy steps run (``conf/compute``): ``local`` (in the stage's own
    process) or ``dask`` (a Dask cluster: a ``LocalCluster`` of ``n_workers`` processes with
    ``threads_per_worker`` threads, or the scheduler that the runtime setting
    ``DASK_SCHEDULER_ADDRESS`` names). ``partitions``: how many pieces the data is cut into on
    the cluster (at least one per worker, so every worker holds a share)."""

    engine: Literal["local", "dask"] = "local"
    n_workers: int = Field(default=2, ge=1)
    threads_per_worker: int = Field(default=1, ge=1)
    partitions: int = Field(default=4, ge=1)


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
    binary and multiclass tasks use ``classification``; uplift tasks ``uplift``."""

    classification: GateConfig = Field(default_factory=GateConfig)
    regression: GateConfig = Field(default_factory=GateConfig)
    uplift: GateConfig = Field(default_factory=GateConfig)
    generation: GateConfig = Field(default_factory=GateConfig)


# A binary model's decision threshold: a fixed probability, or ``f1``: the cut-off that maximises
# F1 on validation rows held out of the train split (the train stage chooses it; the package
# records it; every scorer applies it).
Threshold = Literal["f1"] | Annotated[float, Field(ge=0, le=1)]
# The cut-off where no validation data exists to choose one (tuning's folds, a fixed-rule report).
DEFAULT_THRESHOLD = 0.5


class EvaluateConfig(Strict):
    threshold: Threshold = "f1"
    importance_top_k: int = Field(default=20, gt=0)
    gate: TaskGates = Field(default_factory=TaskGates)
    # Extension point: metric functions `module:function`, each `(y_true, y_pred, y_score) ->
    # float`, recorded under the function's name (README "Extending").
    extra_metrics: list[Annotated[str, Field(pattern=METRIC_PATH)]] = Field(default_factory=list)

    @property
    def fixed_threshold(self) -> float:
        """The threshold where none is chosen on validation data: the number given, else 0.5."""
        return DEFAULT_THRESHOLD if self.threshold == "f1" else float(self.threshold)

    def applied_threshold(self, scores: dict[str, Any]) -> float:
        """The threshold a binary model's evaluated labels used (evaluate's ``threshold``), which
        the package records for every scorer."""
        return float(scores.get("threshold", self.fixed_threshold))

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
    compute: ComputeConfig = Field(default_factory=ComputeConfig)

    @property
    def model_name(self) -> str:
        """The registered model this recipe's packages are versions of."""
        return registered_model_name(self.registry.model_name, self.data.source_uri)

    @model_validator(mode="after")
    def _targets_are_not_features(self) -> Params:
        if self.model.kind == "llm_graph" and (self.tune.enabled or self.tune.families):
            raise ValueError("model.kind llm_graph has nothing to tune: set tune.enabled false and tune.families []")
        overlap = set(self.features.drop) & set(self.data.label_cols)
        if overlap:
            raise ValueError(f"features.drop lists the target column {sorted(overlap)}")
        time = self.features.time
        if time.enabled:
            if not self.data.time_col:
                raise ValueError("features.time needs data.time_col: the time that orders each entity's history")
            if not (time.entity or self.data.id_cols):
                raise ValueError("features.time needs an entity: set features.time.entity or data.id_cols")
            if self.data.split == "random":
                raise ValueError("features.time with data.split random would train on rows later than test rows: use auto or time")
            if self.tune.cv.strategy in ("kfold", "stratified"):
                raise ValueError(
                    f"features.time with tune.cv.strategy {self.tune.cv.strategy} would validate on earlier rows: use auto or timeseries"
                )
        return self


def read_params(path: str | os.PathLike = PARAMS_FILE) -> dict[str, Any]:
    file = Path(path)
    if not file.exists():
        raise MMPError(str(file), "file not found", "run `make params` or `dvc exp run` to compose it")
    data = load_yaml(file.read_text()) or {}
    if not isinstance(data, dict):
        raise MMPError(str(file), "must be a mapping of sections")
    return data


def load_params(path: str | os.PathLike = PARAMS_FILE) -> Params:
    return parse(Params, read_params(path))
