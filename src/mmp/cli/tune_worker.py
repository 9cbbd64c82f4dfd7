"""``mmp tune-worker``: join the study of the current recipe and run its trials.

Run it on any machine that has the repository, params.yaml and the train features (``dvc
pull``), with the shared storage in ``MMP_TUNE_STORAGE`` (or ``tune.storage`` in
conf/env/<APP_ENV>.yaml), e.g. ``MMP_TUNE_STORAGE=postgresql://user@db/optuna mmp tune-worker``.
Every worker of the same params.yaml and data computes the same study name and joins it; the
workers share the budget of ``tune.n_trials`` finished trials and stop when it is reached. A
worker that is killed stops sending heartbeats: after ``tune.grace_period`` seconds another
worker marks its trial failed and runs it again. The tune stage (``dvc exp run -S
tune.enabled=true``) waits for the workers' trials and reads the best one from the study.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune-worker",
        help="join the recipe's Optuna study and run trials",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--params", default="params.yaml", help="the composed recipe (default: params.yaml)")
    p.add_argument("--features", default="data/features", help="feature matrices directory (default: data/features)")
    p.add_argument("--prepared", default="data/prepared", help="prepare's output directory (default: data/prepared)")
    p.add_argument("--n-jobs", type=int, default=None, help="parallel trials in this worker (default: tune.n_jobs)")
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads per trial's estimator (default: the recipe's; with W workers on one machine, cores // W keeps them from oversubscribing it)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="sampler seed of this worker (default: params seed + process id, so workers propose different values)",
    )
    p.add_argument(
        "--max-trials",
        type=int,
        default=None,
        help="run at most this many trials in this worker (default: until the study holds tune.n_trials)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from mmp.core.config import read_params
    from mmp.core.errors import MMPError
    from mmp.core.settings import load_settings
    from mmp.pipeline.checks import validate
    from mmp.tuning.search import Progress, count, run_trials, summary
    from mmp.tuning.session import open_session

    # The tune stage's own checks, before the worker touches the data or the study.
    params = validate(read_params(args.params), None, ("data", "model", "tune"))
    if args.n_jobs is not None and args.n_jobs < 1:
        raise MMPError("--n-jobs", f"must be >= 1 (got {args.n_jobs})")
    if args.threads is not None and args.threads < 1:
        raise MMPError("--threads", f"must be >= 1 (got {args.threads})")
    if args.max_trials is not None and args.max_trials < 1:
        raise MMPError("--max-trials", f"must be >= 1 (got {args.max_trials})")
    tune = params.tune.model_copy(update={"n_jobs": args.n_jobs}) if args.n_jobs else params.tune
    storage = load_settings().tune
    seed = args.seed if args.seed is not None else params.seed + os.getpid()
    session = open_session(params, Path(args.features), Path(args.prepared), storage, sampler_seed=seed)
    study = session.study
    print(f"tune-worker: joined study {study.study_name} in {storage.label}", flush=True)
    before = {t.number for t in study.get_trials(deepcopy=False)}
    progress = Progress(study, tune.n_trials)
    try:
        objective = session.objective if args.threads is None else session.objective.with_threads(args.threads)
        run_trials(study, objective, tune.n_trials, tune.n_jobs, tune.timeout, [progress], args.max_trials)
    finally:
        progress.close()
    mine = sorted(
        t.number
        for t in study.get_trials(deepcopy=False)
        if t.number not in before and t.user_attrs.get("worker", "").endswith(f":{os.getpid()}")
    )
    report = {"study": study.study_name, "ran": mine, "finished_in_study": count(study, "COMPLETE", "PRUNED")}
    if count(study, "COMPLETE"):
        report["best_params"] = summary(study, session.metric, 0.0)["best_params"]
    print(json.dumps(report), flush=True)
    return 0
