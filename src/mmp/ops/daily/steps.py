"""The steps of one day, each a function of the :class:`~mmp.ops.daily.context.Day` that
records its result as an event and returns it; a step that already recorded its event returns
that instead of running again (a re-run after a crash continues where the day stopped)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mmp.core.errors import MMPError, flatten
from mmp.core.io import atomic_path
from mmp.ops.daily.context import Day, event_key


def write_parquet(frame: pd.DataFrame, path: Any) -> None:
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def day_rows(d: Day) -> pd.DataFrame:
    """The day's labelled rows from the configured source (``mmp.data.daily``)."""
    from mmp.core.parsing import parse
    from mmp.data.daily import SourceSettings, day_batch

    return day_batch(parse(SourceSettings, d.settings.source, "daily.source"), d.day, root=d.root)


def batch(d: Day) -> dict[str, Any]:
    """Get the day's batch and check it against the recipe's data contract. A batch that breaks
    it is quarantined (kept aside, never trained on) with an alert; nothing else happens."""
    from mmp.data.checks import data_problems

    for kind in ("batch", "quarantine"):
        found = d.done(kind)
        if found is not None:
            return found
    frame = day_rows(d)
    problems = [line for err in data_problems(frame, d.params.data) for line in map(str, flatten(err))]
    if problems:
        write_parquet(frame, d.quarantine_path)
        payload = {"rows": len(frame), "problems": problems[:20], "path": d.quarantine_path.relative_to(d.root).as_posix()}
        d.record("quarantine", "quarantine", payload)
        alert(d, f"the day's batch breaks the data contract and is quarantined: {problems[0]}", details=payload)
        return payload
    held = np.random.default_rng(int(d.day.strftime("%Y%m%d"))).random(len(frame)) < d.settings.holdout
    write_parquet(frame[held], d.holdout_path)
    write_parquet(frame[~held], d.batch_path())
    return d.record("batch", "batch", {"rows": len(frame), "holdout_rows": int(held.sum()), "train_rows": int((~held).sum())})


def day_frame(d: Day) -> pd.DataFrame:
    return pd.concat([pd.read_parquet(d.batch_path()), pd.read_parquet(d.holdout_path)], ignore_index=True)


def drift(d: Day) -> dict[str, Any]:
    """Drift of the day's batch against the champion's training sample (its packaged
    reference), per feature and of the predicted scores; the report goes to reports/daily/DAY/drift."""
    from mmp.core.monitor import load_monitor
    from mmp.inference.drift import column_kinds, drift_report
    from mmp.inference.reference import log_columns, read_reference
    from mmp.inference.wrapper import load_wrapper
    from mmp.ops.drift_report import write_drift_output

    found = d.done("drift")
    if found is not None:
        return found
    champion = d.champion()
    package = d.package(str(champion.version))
    scorer = load_wrapper(package)
    reference = read_reference(package)
    if reference is None:
        raise MMPError(f"{d.model_name} version {champion.version}", "holds no reference.parquet", "a package built by this version of mmp")
    current = day_frame(d)
    current = current.join(log_columns(scorer, current))
    kinds = column_kinds(reference, scorer.schema)
    pair = (reference["mmp_score"].dropna(), current["mmp_score"].dropna()) if "mmp_score" in reference else None
    report = drift_report(reference, current, kinds, load_monitor(d.root, d.settings.monitor), pair)
    shown = (reference.assign(prediction=pair[0]), current.assign(prediction=pair[1])) if pair else (reference, current)
    write_drift_output(d.report_dir / "drift", report, *shown)
    score = float(np.mean([min(c.severity, 10.0) for c in report.columns])) if report.columns else 0.0
    return d.record(
        "drift",
        "drift",
        {
            "score": score,  # the mean of each feature's statistic over its threshold (1: at the threshold)
            "drifted": report.drifted,
            "prediction": None if report.prediction is None else report.prediction.value,
            "report": (d.report_dir / "drift").relative_to(d.root).as_posix(),
        },
    )


def metrics_of(d: Day, version: str) -> dict[str, float]:
    """A registered version's metrics on the day's held-out rows, computed as `mmp promote` does."""
    from mmp.inference.wrapper import load_wrapper
    from mmp.ops.promote import score

    scorer = load_wrapper(d.package(version))
    return {k: float(v) for k, v in score(scorer, pd.read_parquet(d.holdout_path), d.params.data).items()}


def evaluate(d: Day) -> dict[str, Any]:
    """The champion's metrics on the day's labelled (held-out) rows."""
    found = d.done("evaluation")
    if found is not None:
        return found
    champion = d.champion()
    version = str(champion.version)
    return d.record("evaluation", "evaluation", {"version": version, "run_id": champion.run_id, "metrics": metrics_of(d, version)})


def gate(d: Day) -> dict[str, Any]:
    """The champion against the daily gate (``conf/daily``: metric, op, threshold)."""
    from mmp.modeling.gate import evaluate_gate

    found = d.done("gate")
    if found is not None:
        return found
    metrics = evaluate(d)["metrics"]
    result = evaluate_gate(d.settings.gate_config, metrics, None, "daily.gate")
    rule = d.settings.gate
    return d.record(
        "gate",
        "gate",
        {
            "passed": result.passed,
            "metric": rule.metric,
            "value": metrics[rule.metric],
            "threshold": rule.value,
            "summary": result.summary(),
        },
    )


def alert(d: Day, reason: str, **fields: Any) -> None:
    """Raise the day's alert through the configured sinks (the events store and a log line
    always; a webhook and email when configured), once: a re-run day reads it back."""
    from mmp.core.settings import load_settings
    from mmp.ops.alerts import Alert, raise_alert

    if d.done("alert") is None:
        alert = Alert(key=event_key(d.day, "alert"), day=d.day, reason=reason, model=d.model_name, **fields)
        raise_alert(alert, d.store, load_settings(root=d.root).alerts)
