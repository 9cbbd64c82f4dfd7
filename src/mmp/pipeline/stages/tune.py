"""tune: search the recipe's ranges with Optuna (CV on the train split only) and write the best
values for the train stage, metrics/tune.json, the trials table and the history/importance plots.
With tune.families (AutoML) the study also picks the model family: the winner's recipe goes to
train in best_params.json, and each family's best score to metrics/tune.json and a plot.
The recipe sections it declares (data, model, tune) are checked first, as ``mmp validate`` does.
With tune.enabled=false it writes empty results at once and imports no search code and no model
library: the model check (which imports the estimator's library, LightGBM 1.4 s) is left to the
train stage, the first stage that builds the estimator."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from mmp.core.io import atomic_path, write_json
from mmp.pipeline.stages import checked_params, cluster, live, parser, run_stage, write_plots_config

# Empty trials table of a disabled run: same header every time, so outputs stay byte-identical.
EMPTY_TRIALS = "number,state,value\n"


def main(argv: list[str]) -> None:
    args = parser(
        __doc__,
        features="feature matrices directory (train.parquet is read; test never)",
        prepared="prepare's output directory (its time column orders a time-series CV)",
        best_params="best values JSON for the train stage",
        metrics="tune metrics JSON",
        live="dvclive directory for plots and the trials table",
    ).parse_args(argv)
    params = checked_params(args.params, "data", "tune")
    if not params.tune.enabled:
        write_disabled(args.best_params, args.metrics, args.live)
        return
    params = checked_params(args.params, "data", "model", "tune")
    from mmp.core.settings import load_settings
    from mmp.tuning.families import best_payload, family_scores
    from mmp.tuning.search import history, importances, summary, trials_table
    from mmp.tuning.session import open_session

    storage = load_settings().tune
    session = open_session(params, Path(args.features), Path(args.prepared), storage)
    print(f"tune: study {session.study.study_name} in {storage.label}", flush=True)
    started = time.perf_counter()
    if params.compute.engine == "dask":  # tune.n_jobs worker loops on the cluster, then the checks below
        tune_dask(params, Path(args.features), Path(args.prepared), storage)
    search(args, params, session, storage, started)
    result = summary(session.study, session.metric, time.perf_counter() - started)
    best = result["best_params"]
    if session.families:  # AutoML: the best score of each family, and the winner's recipe for train
        result["families"] = {
            row.pop("family"): row for row in family_scores(session.study.get_trials(deepcopy=False), result["direction"] == "maximize")
        }
        best = best_payload(best, session.families)
    with live(args.live) as logger:
        log_plots(logger, history(session.study), importances(session.study, params.seed), result.get("families", {}))
        trials_table(session.study).to_csv(Path(logger.dir) / "trials.csv", index=False)
    write_json(args.best_params, best)
    write_json(args.metrics, result)
    print(json.dumps({k: result[k] for k in ("best_score", "n_trials", "n_pruned", "duration")}), flush=True)


def search(args: Any, params: Any, session: Any, storage: Any, started: float) -> None:
    """Run the study's remaining trials: here, or in ``tune.n_jobs`` worker processes and then
    here for any trial they left (a failed one), within what is left of ``tune.timeout``."""
    from mmp.tuning.search import Progress, complete_study

    progress = Progress(session.study, params.tune.n_trials)
    tune = params.tune
    try:
        if params.compute.engine != "dask" and tune.n_jobs > 1:
            tune_processes(args, params, session.study, storage, lambda: progress(session.study, None))
            left = None if tune.timeout is None else max(0.0, tune.timeout - (time.perf_counter() - started))
            tune = tune.model_copy(update={"n_jobs": 1, "timeout": left})
        complete_study(session.study, session.objective, tune, poll=1.0, limit=storage.grace_period * 4 + 600, callbacks=[progress])
    finally:
        progress.close()


def tune_dask(params: Any, features: Path, prepared: Path, storage: Any) -> None:
    from mmp.core.cluster import on_cluster
    from mmp.tuning.cluster import tune_on_cluster

    with cluster(params) as client:
        ran = on_cluster(lambda: tune_on_cluster(client, params, features, prepared, storage), "tune")
    print(f"tune: {len(ran)} Dask workers ran {sum(map(len, ran))} trials", flush=True)


def tune_processes(args: Any, params: Any, study: Any, storage: Any, on_poll: Any) -> None:
    """``tune.n_jobs`` worker processes share the remaining budget (``mmp.tuning.processes``)."""
    from mmp.tuning.processes import run_workers
    from mmp.tuning.search import count

    remaining = params.tune.n_trials - count(study, "COMPLETE", "PRUNED")
    if remaining <= 0:
        return
    budget = (remaining, params.tune.n_jobs, params.seed)
    ran = run_workers(args.params, Path(args.features), Path(args.prepared), storage, budget, on_poll)
    print(f"tune: {len(ran)} worker processes ran {sum(map(len, ran))} trials", flush=True)


def write_disabled(best_params: str, metrics: str, live_dir: str) -> None:
    write_json(best_params, {})
    write_json(metrics, {"enabled": False})
    with atomic_path(live_dir) as tmp:
        tmp.mkdir()
        (tmp / "trials.csv").write_text(EMPTY_TRIALS)
    write_plots_config(Path(live_dir), [])  # no plots (and no dvclive import)


def log_plots(logger: Any, points: list[dict], importance: list[dict], families: dict[str, dict] | None = None) -> None:
    """dvclive plot data: history, parameter importances and, for an AutoML study, the best
    score of each family (declared by ``live``)."""
    scored = [{"family": name, "best_score": row["best_score"]} for name, row in (families or {}).items() if row["best_score"] is not None]
    if scored:
        logger.log_plot("families", scored, x="best_score", y="family", template="bar_horizontal_sorted", title="Best score per family")
    if points:
        logger.log_plot("history", points, x="trial", y=["value", "best_value"], template="linear", title="Optimization history")
    if importance:
        logger.log_plot("importance", importance, x="importance", y="param", template="bar_horizontal_sorted", title="Parameter importance")


if __name__ == "__main__":
    run_stage(main)
