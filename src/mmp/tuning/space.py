"""The search space of a recipe and the choosers that resolve its ranges. Imports no Optuna, so
the train stage can use ``tuned_chooser`` cheaply."""

from __future__ import annotations

from typing import Any

from mmp.core.config import ModelConfig
from mmp.core.errors import MMPError, raise_all
from mmp.modeling.recipe import Chooser, SearchRange, Site, find_ranges, tuned_chooser, tuned_recipe

# tuned_chooser and tuned_recipe live with the recipe (the tabular kind trains below tuning)
__all__ = ["search_space", "trial_chooser", "tuned_chooser", "tuned_recipe"]

# Optuna stores categorical choices only of these types.
CHOICE_TYPES = (type(None), bool, int, float, str)


def search_space(spec: ModelConfig, site: Site | None = None, required: bool = True) -> dict[str, SearchRange]:
    """The recipe's ranges, checked before any trial: an empty/inverted range, a log range that
    reaches 0 and a categorical without choices are errors (from ``find_ranges``); so is a recipe
    with nothing to search, when ``required`` (an AutoML family may have no ranges: the study
    still chooses it or not). ``site``: where the recipe sits (a family's names are prefixed)."""
    site = site or Site("model", "")
    ranges = find_ranges(spec.hyperparameters, site.nested())
    if not ranges and required:
        raise MMPError(
            "model.hyperparameters",
            "tune.enabled=true but the recipe has no search range to tune",
            "a range such as `max_depth: {type: int, low: 3, high: 20}`, or -S tune.enabled=false",
        )
    errors = [
        MMPError(f"{site.key}.hyperparameters.{name}", "Optuna cannot combine `log: true` with a `step`", "drop `step` or `log`")
        for name, r in ranges.items()
        if r.log and r.step not in (None, 1)
    ]
    raise_all(
        errors
        + [
            MMPError(
                f"{site.key}.hyperparameters.{name}.choices", f"choice {c!r} cannot be stored by Optuna", "null, bool, int, float or str"
            )
            for name, r in ranges.items()
            for c in r.choices or []
            if not isinstance(c, CHOICE_TYPES)
        ]
    )
    return ranges


def trial_chooser(trial: Any) -> Chooser:
    """A chooser that asks an Optuna trial (``suggest_int/float/categorical``) for each range."""

    def choose(name: str, r: SearchRange) -> Any:
        if r.type == "categorical":
            return trial.suggest_categorical(name, r.choices)
        low, high = r.bounds()
        if r.type == "int":
            return trial.suggest_int(name, int(low), int(high), step=int(r.step or 1), log=r.log)
        return trial.suggest_float(name, low, high, step=r.step, log=r.log)

    return choose
