"""Drift knobs of the synthetic day: how far a day's rows move away from the training data.

Each knob is one number for every column or a ``{column: number}`` map (columns not named stay
put). What each number means, as :func:`mmp.data.copula.sample` applies it:

- ``mean_shift``: add this many standard deviations to the column's normal score (the copula's
  latent variable). Values stay inside the range seen in training, so the data contract still
  holds; the rows' labels were drawn before the shift, so the features no longer mean what they
  meant (the model gets worse, a model retrained on the shifted rows recovers).
- ``category_shift`` (0..1): move this share of a categorical column's probability mass to its
  rarest category.
- ``label_shift`` (0..1, the target only; a number or ``{target: number}``): this share of the rows gets a label drawn at random
  from the training labels' distribution, whatever the features say; 1.0 scrambles every label.
- ``correlation_shift`` (0..1): shrink the column's correlations with every other column (the
  label included) towards zero; 1.0 makes it independent.

A global knob applies to the features (every column but the target); a map may name the target.
"""

from __future__ import annotations

from pydantic import field_validator

from mmp.core.parsing import Strict

Knob = float | dict[str, float]
KNOBS = ("mean_shift", "category_shift", "label_shift", "correlation_shift")


class DriftKnobs(Strict):
    mean_shift: Knob = 0.0
    category_shift: Knob = 0.0
    label_shift: Knob = 0.0
    correlation_shift: Knob = 0.0

    @field_validator("category_shift", "label_shift", "correlation_shift")
    @classmethod
    def _a_share(cls, value: Knob) -> Knob:
        shares = value.values() if isinstance(value, dict) else [value]
        if any(not 0 <= s <= 1 for s in shares):
            raise ValueError("must be a share between 0 and 1 (one number or {column: number})")
        return value

    def of(self, knob: str, column: str, *, is_target: bool = False) -> float:
        """The knob's value for ``column`` (0.0 when the column is not named, and for the
        target under a global number)."""
        value: Knob = getattr(self, knob)
        if isinstance(value, dict):
            return float(value.get(column, 0.0))
        return 0.0 if is_target else float(value)

    def label(self, target: str) -> float:
        """``label_shift`` for the target: the number, or the map's entry for it."""
        value = self.label_shift
        return float(value.get(target, 0.0)) if isinstance(value, dict) else float(value)

    def unknown_columns(self, columns: list[str]) -> list[str]:
        """``knob.column`` for each column a map names that the data does not have."""
        named = {
            f"{knob}.{column}"
            for knob in KNOBS
            if isinstance(value := getattr(self, knob), dict)
            for column in value
            if column not in columns
        }
        return sorted(named)

    @property
    def active(self) -> bool:
        return self != DriftKnobs()
