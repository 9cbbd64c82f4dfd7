"""The quality gate against the registry: the candidate and the champion are scored on the
candidate's own test data, the decision is recorded on the version, and only a pass moves the
champion alias (see ``mmp promote --help``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mmp.core.errors import MMPError


def score(model_uri: str, test: Any, targets: list[str]) -> dict[str, float]:
    """Metrics of a registered model on raw test rows, computed the way the evaluate stage does."""
    import mlflow.pyfunc
    import numpy as np
    import pandas as pd

    from mmp.core.config import task_kind
    from mmp.data.target import target
    from mmp.modeling.metrics import classification_metrics, regression_metrics

    model = mlflow.pyfunc.load_model(model_uri)
    meta = model.metadata.metadata or {}
    out = model.predict(test.drop(columns=targets))
    y = target(test, targets)
    if task_kind(meta.get("task_type", "binary")) == "regression":
        pred = out["prediction"] if "prediction" in out else out[[f"prediction_{t}" for t in targets]]
        return regression_metrics(np.asarray(y), np.asarray(pred))
    cols = [c for c in out.columns if c.startswith("proba_")]
    classes = pd.Series([c.removeprefix("proba_") for c in cols]).astype(y.dtype).to_numpy()
    return classification_metrics(np.asarray(y), out[cols].to_numpy(), classes, float(meta.get("threshold", 0.5)))


def promote(params_path: Path, test_path: Path, version: str | None, repo: Path) -> int:
    """Gate ``version`` (default: the `candidate`) and move the champion alias when it passes;
    the exit status: 0 promoted (or already champion), 1 the gate failed."""
    import pandas as pd

    from mmp.core.config import load_params
    from mmp.core.settings import load_settings
    from mmp.modeling.gate import evaluate_gate
    from mmp.ops.tracking.mirror import connect
    from mmp.ops.tracking.registry import CANDIDATE, champion_alias, version_by_alias
    from mmp.ops.tracking.state import md5_file

    params = load_params(params_path)
    name, alias = params.registry.model_name, champion_alias()
    client = connect(load_settings(root=repo.resolve()).mlflow).client
    candidate = client.get_model_version(name, version) if version else version_by_alias(client, name, CANDIDATE)
    if candidate is None:
        raise MMPError(f"registered model {name!r}", f"has no version aliased {CANDIDATE!r}", "run the pipeline (`dvc exp run`) or `mmp mirror` first")
    champion = version_by_alias(client, name, alias)
    if champion is not None and champion.version == candidate.version:
        print(f"{name} version {candidate.version} is already {alias}")
        return 0
    expected = candidate.tags.get("mmp.data.test.md5")
    actual = md5_file(test_path) if test_path.is_file() else None
    if expected and actual != expected:
        raise MMPError("--test", f"{test_path} is not version {candidate.version}'s test data (md5 {actual}, expected {expected})", "`dvc exp apply` the candidate's experiment or pass its test split")
    test = pd.read_parquet(test_path)
    targets = params.data.targets
    cand_metrics = score(f"models:/{name}/{candidate.version}", test, targets)
    champ_metrics = score(f"models:/{name}/{champion.version}", test, targets) if champion is not None else None
    key, gate = params.evaluate.gate_for(params.data.task_type)
    result = evaluate_gate(gate, cand_metrics, champ_metrics, key)
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


def record(client: Any, name: str, version: Any, result: Any, champion: Any) -> None:
    tags = {"mmp.gate.passed": str(result.passed).lower(), "mmp.gate.summary": result.summary()[:5000], "mmp.gate.champion_version": "none" if champion is None else str(champion)}
    for check in result.checks:
        if check.value is not None:
            tags[f"mmp.gate.{check.metric}{'.improvement' if 'champion' in check.rule else ''}"] = f"{check.value:.6g}"
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
