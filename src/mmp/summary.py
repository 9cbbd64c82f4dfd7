"""Aggregate summaries of a frame that are safe to ship inside a model (no real rows)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def example_row(frame: pd.DataFrame, schema: dict[str, Any]) -> dict[str, Any]:
    """One synthetic row: the median of numeric columns and the mode of the others."""
    row: dict[str, Any] = {}
    for col in schema["columns"]:
        values = frame[col["name"]].dropna()
        if values.empty:
            row[col["name"]] = None
        elif col["dtype"] == "datetime":
            row[col["name"]] = values.sort_values().iloc[len(values) // 2].strftime("%Y-%m-%d")
        elif col["dtype"] == "int":
            row[col["name"]] = int(values.median())
        elif col["dtype"] == "float":
            row[col["name"]] = round(float(values.median()), 6)
        else:
            row[col["name"]] = str(values.astype(str).mode().sort_values().iloc[0])
    return row
