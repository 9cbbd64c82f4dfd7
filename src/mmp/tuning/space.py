"""The search space of a recipe and the choosers that resolve its ranges. Imports no Optuna, so
the train stage can use ``tuned_chooser`` cheaply."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mmp.core.config import ModelConfig, parse
from mmp.core.errors import MMPError, raise_all
from mmp.modeling.recipe import Chooser, SearchRange, Site, find_ranges

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


def tuned_chooser(best: Mapping[str, Any], ranges: Mapping[str, SearchRange]) -> Chooser:
    """The chooser of the final fit: a tuned value where the search produced one, else the
    range's documented default. Values for ranges the recipe no longer has are an error."""
    stale = sorted(set(best) - set(ranges))
    if stale:
        raise MMPError("best params", f"values for ranges the recipe does not have: {stale}", "re-run the tune stage (dvc exp run)")
    return lambda name, r: best[name] if name in best else r.midpoint()


def tuned_recipe(model: ModelConfig, best: Mapping[str, Any]) -> tuple[ModelConfig, dict[str, Any], str | None]:
    """(recipe, tuned values, family) from the tune stage's best_params.json: an AutoML study
    (``tune.families``) writes ``{family, model, params}`` and its family's recipe replaces
    ``model``; otherwise the file maps the recipe's own range names to values (empty when
    tuning is off)."""
    if isinstance(best.get("model"), Mapping):  # a plain study's values are scalars, never a mapping
        spec = parse(ModelConfig, dict(best["model"]), "best params model")
        return spec, dict(best.get("params") or {}), str(best.get("family"))
    return model, dict(best), None
