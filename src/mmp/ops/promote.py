"""The quality gate against the registry: the candidate and the champion are scored on the
candidate's own test data, the decision is recorded on the version, and only a pass moves the
champion alias (see ``mmp promote --help``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmp.core.errors import MMPError

if TYPE_CHECKING:
    from mmp.core.config import DataConfig
    from mmp.data.schema import InputSchema
    from mmp.inference.wrapper import ModelWrapper


def fetch(model_uri: str, tracking_uri: str) -> ModelWrapper:
    """The registered package as its kind's wrapper (not MLflow's pickled one), so a version
    built before a refactoring of mmp still loads."""
    import tempfile

    import mlflow.artifacts

    from mmp.inference.wrapper import load_wrapper

    with tempfile.TemporaryDirectory(prefix="mmp-promote-") as tmp:
        path = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp, tracking_uri=tracking_uri)
        return load_wrapper(path, source=model_uri)


def score(model: ModelWrapper, test: Any, data: DataConfig, extra: Sequence[Any] = ()) -> dict[str, float]:
    """Metrics of a registered model on raw labelled test rows: its kind's ``evaluate`` (the
    tabular kind computes them the way the evaluate step does; ``extra``: the recipe's
    ``evaluate.extra_metrics``, loaded)."""
    # packages saved before metadata named an uplift model's label columns: the recipe's
    for key, column in (("treatment_col", data.treatment_col), ("effect_col", data.effect_col)):
        if column:
            model.metadata.setdefault(key, column)
    return model.evaluate(test, extra)


def promote(params_path: Path, test_path: Path, version: str | None, repo: Path) -> int:
    """Gate ``version`` (default: the `candidate`) and move the champion alias when it passes;
    the exit status: 0 promoted (or already champion), 1 the gate failed."""
    import pandas as pd

    from mmp.core.config import load_params
    from mmp.core.io import md5_file
    from mmp.core.settings import load_settings
    from mmp.modeling.gate import evaluate_gate
    from mmp.modeling.metrics import load_extra_metrics
    from mmp.ops.tracking.mirror import connect
    from mmp.ops.tracking.registry import CANDIDATE, champion_alias, version_by_alias

    params = load_params(params_path)
    name, alias = params.model_name, champion_alias()
    tracking = load_settings(root=repo.resolve()).mlflow
    client = connect(tracking).client
    candidate = client.get_model_version(name, version) if version else version_by_alias(client, name, CANDIDATE)
    if candidate is None:
        raise MMPError(
            f"registered model {name!r}", f"has no version aliased {CANDIDATE!r}", "run the pipeline (`dvc exp run`) or `mmp mirror` first"
        )
    champion = version_by_alias(client, name, alias)
    if champion is not None and champion.version == candidate.version:
        print(f"{name} version {candidate.version} is already {alias}")
        return 0
    expected = candidate.tags.get("mmp.data.test.md5")
    actual = md5_file(test_path) if test_path.is_file() else None
    if expected and actual != expected:
        raise MMPError(
            "--test",
            f"{test_path} is not version {candidate.version}'s test data (md5 {actual}, expected {expected})",
            "`dvc exp apply` the candidate's experiment or pass its test split",
        )
    test = pd.read_parquet(test_path)
    uri = str(tracking.tracking_uri)
    cand_scorer = fetch(f"models:/{name}/{candidate.version}", uri)
    champ_scorer = fetch(f"models:/{name}/{champion.version}", uri) if champion is not None else None
    if champ_scorer is not None:
        comparable(name, (candidate.version, cand_scorer.schema), (f"{alias} version {champion.version}", champ_scorer.schema))
    extra = load_extra_metrics(params.evaluate.extra_metrics, params.data.task_type)
    cand_metrics = score(cand_scorer, test, params.data, extra)
    champ_metrics = score(champ_scorer, test, params.data, extra) if champ_scorer is not None else None
    key, gate = params.evaluate.gate_for(params.data.task_type)
    result = evaluate_gate(gate, cand_metrics, champ_metrics, key, {m.name: m.greater_is_better for m in extra})
    record(client, name, candidate.version, result, champion.version if champion is not None else None)
    print(f"{name} version {candidate.version} vs {alias} " + (f"version {champion.version}" if champion is not None else "(none yet)"))
    print(result.summary())
    if not result.passed:
        failing = "; ".join(c.line() for c in result.failed)
        print(f"error: not promoted: {failing}")
        return 1
    client.set_registered_model_alias(name, alias, candidate.version)
    print(f"promoted: {name}@{alias} -> version {candidate.version}")
    return 0


def comparable(name: str, candidate: tuple[str, InputSchema], champion: tuple[str, InputSchema]) -> None:
    """The gate compares two models on the same rows: refuse a pair that takes other inputs or
    solves another task (a registered model holds one interface; older registries may not)."""
    (cand, mine), (champ, theirs) = candidate, champion
    differs = mine.difference(theirs)
    if differs is not None:
        raise MMPError(
            f"registered model {name!r}",
            f"version {cand} and {champ} cannot be compared ({differs})",
            "one registered model per input schema and task: register other data under its own registry.model_name",
        )


def record(client: Any, name: str, version: Any, result: Any, champion: Any) -> None:
    tags = {
        "mmp.gate.passed": str(result.passed).lower(),
        "mmp.gate.summary": result.summary()[:5000],
        "mmp.gate.champion_version": "none" if champion is None else str(champion),
    }
    for check in result.checks:
        if check.value is not None:
            tags[f"mmp.gate.{check.metric}{'.improvement' if 'champion' in check.rule else ''}"] = f"{check.value:.6g}"
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
