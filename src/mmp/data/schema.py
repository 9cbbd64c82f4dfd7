"""The model's raw input, typed: which columns it takes, their kinds, rules and roles.

``prepare`` infers it from the train split and writes ``schema.json``; packaging, scoring,
serving and batch read it back as an :class:`InputSchema`, never as a dict read by string key.
The feature columns, the id columns and the input contract are each derived here, once.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pandas.api import types as ptypes
from pydantic import BaseModel, ConfigDict, Field

from mmp.core.config import ColumnRule, Contract, DataConfig, DType, TaskType, task_kind

Role = Literal["feature", "id", "time"]


class SchemaColumn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dtype: DType
    nullable: bool
    min: float | None = None
    max: float | None = None
    allowed: list[Any] | None = None
    role: Role = "feature"

    @property
    def rule(self) -> ColumnRule:
        """This column as a data-contract rule."""
        return ColumnRule(dtype=self.dtype, nullable=self.nullable, min=self.min, max=self.max, allowed=self.allowed)


class InputSchema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: list[SchemaColumn]
    targets: list[str]
    task_type: TaskType
    id_cols: list[str] = Field(default_factory=list)
    time_col: str | None = None
    example: dict[str, Any] = Field(default_factory=dict)  # one synthetic row of medians and modes
    # The features an online store supplies at serving (feature views and time features, see
    # mmp.data.online); empty: a store may supply any input column.
    online_features: list[str] = Field(default_factory=list)

    @property
    def features(self) -> list[SchemaColumn]:
        """The columns the model reads (id and time columns travel along and are ignored)."""
        return [c for c in self.columns if c.role == "feature"]

    @property
    def feature_names(self) -> list[str]:
        return [c.name for c in self.features]

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def is_regression(self) -> bool:
        return task_kind(self.task_type) == "regression"

    def contract(self) -> Contract:
        """What each input row must satisfy: the feature and id columns' rules."""
        return Contract(allow_extra_columns=True, columns={c.name: c.rule for c in self.columns if c.role in ("feature", "id")})

    @classmethod
    def read(cls, path: str | os.PathLike) -> InputSchema:
        return cls.model_validate(json.loads(Path(path).read_text()))

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")

    def interface(self) -> str:
        """What a caller of the model relies on, in one short line: the task, the targets and
        the feature columns with their kinds. Two models are interchangeable (one registered
        model, a champion comparison) exactly when their interfaces are equal; the learned
        ranges and null rates are left out, they change with every new batch of data."""
        features = ",".join(f"{c.name}:{c.dtype}" for c in sorted(self.features, key=lambda c: c.name))
        return f"{self.task_type}|{','.join(self.targets)}|{features}"

    def difference(self, other: InputSchema) -> str | None:
        """How ``other``'s interface differs from this one, in a few words (None: it does not)."""
        if self.interface() == other.interface():
            return None
        if (self.task_type, self.targets) != (other.task_type, other.targets):
            return f"{self.task_type} of {self.targets} vs {other.task_type} of {other.targets}"
        mine, theirs = ({f"{c.name}:{c.dtype}" for c in s.features} for s in (self, other))
        shown = sorted(mine ^ theirs)
        return f"input columns differ: {', '.join(shown[:5])}" + (f" and {len(shown) - 5} more" if len(shown) > 5 else "")

    def interface_md5(self) -> str:
        """:meth:`interface` as a digest short enough for an MLflow tag."""
        return hashlib.md5(self.interface().encode()).hexdigest()


def column_kind(series: pd.Series) -> DType:
    if ptypes.is_bool_dtype(series):
        return "bool"
    if ptypes.is_integer_dtype(series):
        return "int"
    if ptypes.is_float_dtype(series):
        return "float"
    if ptypes.is_datetime64_any_dtype(series):
        return "datetime"
    return "category"


def infer_schema(frame: pd.DataFrame, cfg: DataConfig, online_features: list[str] | None = None) -> InputSchema:
    """The raw input the model takes: every column but the labels (target, and an uplift task's
    treatment and known effect: never inputs) with its kind, nullability and rules (contract
    rules where declared, else observed categories for categorical columns),
    and one example row."""
    columns = []
    for name in frame.columns:
        if name in cfg.label_cols:
            continue
        rule = cfg.contract.columns.get(name)
        kind = rule.dtype if rule else column_kind(frame[name])
        allowed = rule.allowed if rule and rule.allowed is not None else None
        if allowed is None and kind == "category":
            allowed = sorted(map(str, frame[name].dropna().unique()))
        role: Role = "id" if name in cfg.id_cols else "time" if name == cfg.time_col else "feature"
        nullable = rule.nullable if rule else bool(frame[name].isna().any())
        columns.append(
            SchemaColumn(
                name=str(name),
                dtype=kind,
                nullable=nullable,
                min=rule.min if rule else None,
                max=rule.max if rule else None,
                allowed=allowed,
                role=role,
            )
        )
    schema = InputSchema(
        columns=columns,
        targets=cfg.targets,
        task_type=cfg.task_type,
        id_cols=cfg.id_cols,
        time_col=cfg.time_col,
        online_features=online_features or [],
    )
    return schema.model_copy(update={"example": example_row(frame, columns)})


def example_row(frame: pd.DataFrame, columns: list[SchemaColumn]) -> dict[str, Any]:
    """One synthetic row (safe to ship inside a model: no real row): the median of numeric
    columns and the mode of the others."""
    row: dict[str, Any] = {}
    for col in columns:
        values = frame[col.name].dropna()
        if values.empty:
            row[col.name] = None
        elif col.dtype == "datetime":
            row[col.name] = values.sort_values().iloc[len(values) // 2].strftime("%Y-%m-%d")
        elif col.dtype == "int":
            row[col.name] = int(values.median())
        elif col.dtype == "float":
            row[col.name] = round(float(values.median()), 6)
        else:
            row[col.name] = str(values.astype(str).mode().sort_values().iloc[0])
    return row
