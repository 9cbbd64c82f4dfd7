"""The whole recipe check, composed from the checks that live beside what they check: data
(``mmp.data.checks``), features (``mmp.modeling.feature_checks``), the model
(``mmp.modeling.model_checks``) and tuning (``mmp.tuning.checks``).

Each part is imported only when its section is asked for, so a stage imports (and lists in its
dvc.yaml deps) only the checks of what it uses: editing the tuning code never re-runs prepare.
``mmp validate`` asks for every section. The ``data`` section is always checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from mmp.core.config import DataConfig, FeaturesConfig, ModelConfig, Params, parse
from mmp.core.errors import MMPError, collect, raise_all, unique

KIND_TASKS = "model=llm_graph with data.task_type generation (+experiment=llm_qa), any other model with the other tasks"
SECTIONS = {"data": DataConfig, "features": FeaturesConfig, "model": ModelConfig}
ALL = ("data", "features", "model", "tune")


def parsed_sections(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The sections of ``raw`` that parse on their own (None for those that do not)."""
    return {name: collect(parse, model, raw.get(name), name)[0] for name, model in SECTIONS.items()}


def config_problems(raw: Mapping[str, Any], sections: tuple[str, ...] = ALL) -> list[MMPError]:
    """Every problem in the composed recipe ``raw`` (the content of params.yaml), limited to
    the ``sections`` a caller depends on."""
    params, errors = collect(parse, Params, dict(raw))
    # Whole-recipe parsing stops at the first broken section; check the sections that do parse
    # on their own so the model recipe is still checked when `data` is broken.
    checked = parsed_sections(raw) if params is None else {"data": params.data, "features": params.features, "model": params.model}
    data = checked.get("data")
    if data:
        from mmp.data.checks import data_config_problems

        errors += data_config_problems(data)
    if "tune" in sections and data:
        from mmp.tuning.checks import family_problems, tune_metric_problems

        evaluate = raw.get("evaluate")
        extra = evaluate.get("extra_metrics") if isinstance(evaluate, Mapping) else None
        errors += tune_metric_problems(raw.get("tune"), data.task_type, extra)
        errors += family_problems(raw.get("tune"), data.task_type, raw_seed if isinstance(raw_seed := raw.get("seed"), int) else 42)
    if "features" in sections and checked.get("features") and data:
        from mmp.modeling.feature_checks import feature_config_problems

        errors += feature_config_problems(checked["features"], data)
    if data and checked.get("model") and (checked["model"].kind == "llm_graph") != (data.task_type == "generation"):
        errors.append(MMPError("model.kind", f"{checked['model'].kind} cannot answer data.task_type {data.task_type}", KIND_TASKS))
    if "model" in sections and checked.get("model"):
        from mmp.modeling.model_checks import model_problems

        seed = raw_seed if isinstance(raw_seed := raw.get("seed"), int) else 42
        errors += model_problems(checked["model"], data.task_type if data else None, seed)
    compute = raw.get("compute")
    if isinstance(compute, Mapping) and compute.get("engine") == "dask":
        errors += dask_problems(checked, sections)
    return unique(errors)


def dask_problems(checked: Mapping[str, Any], sections: tuple[str, ...]) -> list[MMPError]:
    """What cannot run under ``compute=dask``; each rule lives beside the Dask step it guards."""
    data, features, model = checked.get("data"), checked.get("features"), checked.get("model")
    errors = []
    if data:
        from mmp.pipeline.dask_steps import dask_split_problems

        errors += dask_split_problems(data, features.time if features else None)
    if "features" in sections and features:
        from mmp.modeling.dask_features import dask_feature_problems

        errors += dask_feature_problems(features)
    if "model" in sections and model:
        from mmp.modeling.dask_training import dask_model_problems
        from mmp.modeling.recipe import import_class

        cls = collect(import_class, model.class_path)[0]  # an unknown class is model_problems' to report
        errors += dask_model_problems(cls, len(data.targets) if data else 1) if cls else []
    return errors


def data_problems(frame: pd.DataFrame, data: DataConfig, features: FeaturesConfig | None = None) -> list[MMPError]:
    """The loaded source against the recipe; given ``features``, its listed columns too."""
    from mmp.data.checks import checked_frame

    coerced, errors = checked_frame(frame, data)
    if features is not None and coerced is not None:
        from mmp.modeling.feature_checks import feature_column_problems

        errors += feature_column_problems(coerced, features, data)
    return errors


def validate(raw: Mapping[str, Any], frame: pd.DataFrame | None = None, sections: tuple[str, ...] = ALL) -> Params:
    """Raise every config problem (and, given ``frame``, every data problem) at once."""
    raise_all(config_problems(raw, sections))
    params = parse(Params, dict(raw))
    if frame is not None:
        raise_all(data_problems(frame, params.data, params.features if "features" in sections else None))
    return params
