"""AutoML across model families (``tune.families``): the study first picks a family, a
categorical parameter named ``family``, then that family's ranges under names prefixed with
the family (``random_forest.max_depth``), so one trial never mixes two families' values.

Each family is a model recipe, ``conf/model/<name>.yaml`` of the checkout being run (the tune
stage lists conf/model in its dvc.yaml deps). The tune stage hands the winning family's recipe
to train inside best_params.json (:func:`mmp.tuning.space.tuned_recipe`), so train and package
read no recipe files."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from mmp.core.config import ModelConfig, TaskType, checkout_root, parse
from mmp.core.errors import MMPError, raise_all
from mmp.modeling.recipe import Site, build_estimator, check_task

MODELS_DIR = Path("conf") / "model"
FAMILY = "family"  # the study's categorical parameter


def family_site(name: str) -> Site:
    """Where a family's values sit: messages name ``tune.families.<name>``, search names carry
    the ``<name>.`` prefix."""
    return Site(f"tune.families.{name}", name)


def known_families(root: Path | None = None) -> list[str]:
    return sorted(p.stem for p in ((root or checkout_root()) / MODELS_DIR).glob("*.yaml"))


def read_families(names: Sequence[str], root: Path | None = None) -> dict[str, ModelConfig]:
    """The recipe of each family, in the order given; unknown names are one error each."""
    root = root or checkout_root()
    known = known_families(root)
    raise_all(
        [
            MMPError(f"tune.families[{i}]", f"no model recipe {(MODELS_DIR / name).as_posix()}.yaml", ", ".join(known))
            for i, name in enumerate(names)
            if name not in known
        ]
    )
    return {
        name: parse(ModelConfig, yaml.safe_load((root / MODELS_DIR / f"{name}.yaml").read_text()) or {}, f"tune.families.{name}")
        for name in names
    }


def check_families(recipes: Mapping[str, ModelConfig], task: TaskType, seed: int, root: Path | None = None) -> None:
    """Every family must build and suit the task: a regressor among a classification task's
    families (or the reverse) is one line naming tune.families and the families that fit."""
    errors: list[MMPError] = []
    for name, spec in recipes.items():
        try:
            check_task(build_estimator(spec, seed, site=family_site(name)), task, "tune.families")
        except MMPError as err:
            if err.where != "tune.families":
                raise
            allowed = ", ".join(fitting_families(task, seed, root))
            errors.append(MMPError("tune.families", f"family {name!r} does not fit the task: {err.rule}", allowed))
    raise_all(errors)


def fitting_families(task: TaskType, seed: int, root: Path | None = None) -> list[str]:
    """The recipes in conf/model that build here and suit ``task`` (for error messages only:
    it builds every recipe)."""
    fits = []
    for name in known_families(root):
        try:
            spec = read_families([name], root)[name]
            check_task(build_estimator(spec, seed, site=family_site(name)), task)
        except (MMPError, ImportError):
            continue
        fits.append(name)
    return fits


def family_scores(trials: Sequence[Any], maximize: bool) -> list[dict[str, Any]]:
    """Per family: its best score and how many of its trials completed or were pruned."""
    table: dict[str, dict[str, Any]] = {}
    for t in trials:
        name = t.params.get(FAMILY)
        if name is None:
            continue
        row = table.setdefault(name, {"family": name, "best_score": None, "n_complete": 0, "n_pruned": 0})
        if t.state.name == "PRUNED":
            row["n_pruned"] += 1
        elif t.state.name == "COMPLETE":
            row["n_complete"] += 1
            best = row["best_score"]
            if best is None or (t.value > best if maximize else t.value < best):
                row["best_score"] = round(float(t.value), 6)
    return sorted(table.values(), key=lambda r: r["family"])


def best_payload(params: Mapping[str, Any], recipes: Mapping[str, ModelConfig]) -> dict[str, Any]:
    """best_params.json of an AutoML study: the winning family, its recipe (train builds it
    instead of ``model``) and its tuned values under the recipe's own names."""
    family = params[FAMILY]
    prefix = f"{family}."
    values = {k[len(prefix) :]: v for k, v in params.items() if k.startswith(prefix)}
    return {FAMILY: family, "model": recipes[family].model_dump(), "params": dict(sorted(values.items()))}
