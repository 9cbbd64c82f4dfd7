"""Typed views of the params sections. Unknown keys and wrong types are rejected at the edge
with a message that names the key, the rule and the allowed values."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mmp.errors import MMPError, raise_all

PARAMS_FILE = "params.yaml"


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


DType = Literal["int", "float", "bool", "category", "string", "datetime"]
TaskType = Literal["binary", "multiclass", "regression"]


class ColumnRule(Strict):
    dtype: DType
    nullable: bool = True
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None


class Contract(Strict):
    allow_extra_columns: bool = True
    columns: dict[str, ColumnRule] = Field(default_factory=dict)


class DataConfig(Strict):
    source_uri: str
    rows: int | None = Field(None, gt=0)
    target_col: str | list[str]
    task_type: TaskType
    id_cols: list[str] = Field(default_factory=list)
    time_col: str | None = None
    test_size: float = Field(0.2, gt=0, lt=1)
    contract: Contract = Field(default_factory=Contract)

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
    scale: Literal["standard", "minmax", "robust", "none"] = "standard"


class CategoricalFeatures(Strict):
    columns: Columns = "auto"
    impute: Literal["most_frequent", "constant"] = "most_frequent"
    encode: Literal["onehot", "ordinal"] = "onehot"
    min_frequency: float | None = Field(None, ge=0, lt=1)


DatePart = Literal["year", "month", "day", "dayofweek", "dayofyear", "hour", "quarter"]


class DateFeatures(Strict):
    columns: Columns = "auto"
    parts: list[DatePart] = Field(default_factory=lambda: ["year", "month", "dayofweek"])


class FeaturesConfig(Strict):
    numeric: NumericFeatures = Field(default_factory=NumericFeatures)
    categorical: CategoricalFeatures = Field(default_factory=CategoricalFeatures)
    date: DateFeatures = Field(default_factory=DateFeatures)
    drop: list[str] = Field(default_factory=list)


class ModelConfig(Strict):
    class_path: str = Field(pattern=r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+$")
    hyperparameters: dict[str, Any] = Field(default_factory=dict)


class CVConfig(Strict):
    """How each trial is scored on the train split. ``auto``: a time-series split when
    ``data.time_col`` is set, else stratified k-fold for classification, else k-fold."""

    strategy: Literal["auto", "kfold", "stratified", "timeseries"] = "auto"
    folds: int = Field(5, ge=2, le=20)


class TuneConfig(Strict):
    """Optuna search over the recipe's ranges. ``metric``/``direction`` are checked against the
    task when tuning runs (``metric: null`` is the task's default, ``direction: null`` follows
    the metric). Where the study is stored is a runtime setting (conf/env), never a param."""

    enabled: bool = False
    n_trials: int = Field(20, gt=0)
    timeout: float | None = Field(None, gt=0)
    metric: str | None = None
    direction: Literal["maximize", "minimize"] | None = None
    cv: CVConfig = Field(default_factory=CVConfig)
    sampler: Literal["tpe", "random"] = "tpe"
    pruner: Literal["none", "median", "hyperband"] = "median"
    n_jobs: int = Field(1, ge=1)


class EvaluateConfig(Strict):
    threshold: float = Field(0.5, ge=0, le=1)
    importance_top_k: int = Field(20, gt=0)


class Params(Strict):
    """The whole composed recipe (params.yaml)."""

    seed: int = 42
    data: DataConfig
    features: FeaturesConfig = Field(default_factory=FeaturesConfig)
    model: ModelConfig
    tune: TuneConfig = Field(default_factory=TuneConfig)
    evaluate: EvaluateConfig = Field(default_factory=EvaluateConfig)

    @model_validator(mode="after")
    def _targets_are_not_features(self) -> Params:
        overlap = set(self.features.drop) & set(self.data.targets)
        if overlap:
            raise ValueError(f"features.drop lists the target column {sorted(overlap)}")
        return self


T = TypeVar("T", bound=BaseModel)


def read_params(path: str | os.PathLike = PARAMS_FILE) -> dict[str, Any]:
    file = Path(path)
    if not file.exists():
        raise MMPError(str(file), "file not found", "run `make params` or `dvc exp run` to compose it")
    data = yaml.safe_load(file.read_text()) or {}
    if not isinstance(data, dict):
        raise MMPError(str(file), "must be a mapping of sections")
    return data


def parse(model: type[T], raw: Any, prefix: str = "") -> T:
    """Validate ``raw`` into ``model``; report every problem with its dotted key."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise_all([_to_error(model, prefix, e) for e in err.errors()])
        raise  # unreachable: raise_all raises for a non-empty list


def load_params(path: str | os.PathLike = PARAMS_FILE) -> Params:
    return parse(Params, read_params(path))


def _to_error(model: type[BaseModel], prefix: str, e: dict[str, Any]) -> MMPError:
    loc = [str(p) for p in e["loc"]]
    key = ".".join(filter(None, [prefix, *loc])) or "(root)"
    if e["type"] == "extra_forbidden":
        return MMPError(key, "unknown key", ", ".join(_allowed_keys(model, loc[:-1])) or None)
    if e["type"] == "missing":
        return MMPError(key, "required key is missing")
    got = e.get("input")
    rule = e["msg"][0].lower() + e["msg"][1:]
    if "Value error, " in e["msg"]:
        rule = e["msg"].split("Value error, ", 1)[1]
    return MMPError(key, f"{rule} (got {got!r})" if got is not None and not isinstance(got, dict) else rule)


def _allowed_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    """Walk ``loc`` through nested models to list the keys allowed at that level."""
    current: Any = model
    in_mapping = False  # after a dict[str, Model] field, the next part is a user key: skip it
    for part in loc:
        if in_mapping:
            in_mapping = False
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        in_mapping = getattr(field.annotation, "__origin__", None) is dict
        current = _model_in(field.annotation)
        if current is None:
            return []
    return list(getattr(current, "model_fields", {}))


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
