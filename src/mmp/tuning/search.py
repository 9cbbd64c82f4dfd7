"""Running a study: objective metric and direction, sampler and pruner, the deterministic study
name, the trial budget shared by every worker, the progress bar and what the stage writes."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mmp.core.config import Direction, TaskType, TuneConfig, task_kind
from mmp.core.errors import MMPError

if TYPE_CHECKING:
    from mmp.modeling.metrics import ExtraMetric

DEFAULT_METRIC = {"classification": "roc_auc", "regression": "rmse"}


def resolve_objective(tune: TuneConfig, task: TaskType, extra: Sequence[ExtraMetric] = ()) -> tuple[str, Direction]:
    """(metric, direction): the metric must be one the evaluator produces for the task (its
    own or one of ``evaluate.extra_metrics``, loaded as ``extra``); the direction follows it
    unless ``tune.direction`` overrides it."""
    from mmp.modeling.tasks import higher_is_better, metric_names

    if task_kind(task) == "uplift":
        # A fold's score would need the treatment and a causal metric (qini) per fold, which
        # the CV objective does not carry: refused rather than tuned on the wrong score.
        raise MMPError(
            "tune.enabled",
            "tuning is not supported for uplift tasks (cross-validation would need a causal score per fold)",
            "tune.enabled=false, with the learner's hyperparameters set in the recipe",
        )
    metric = tune.metric or DEFAULT_METRIC[task_kind(task)]
    own = {m.name: m.greater_is_better for m in extra}
    names = (*metric_names(task), *own)
    if metric not in names:
        raise MMPError("tune.metric", f"{metric!r} is not a metric the evaluator produces for a {task} task", ", ".join(names))
    higher = own[metric] if metric in own else higher_is_better(metric)
    return metric, tune.direction or ("maximize" if higher else "minimize")


def make_sampler(kind: str, seed: int) -> Any:
    import optuna

    return optuna.samplers.TPESampler(seed=seed) if kind == "tpe" else optuna.samplers.RandomSampler(seed=seed)


def make_pruner(kind: str) -> Any:
    import optuna

    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=5)
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner()
    return optuna.pruners.NopPruner()


def study_name(class_path: str, recipe: Mapping[str, Any], data_digest: str) -> str:
    """Deterministic per recipe and data: workers that read the same params.yaml and train
    features join the same study; any change to them starts a new one."""
    blob = json.dumps(recipe, sort_keys=True, default=str) + data_digest
    return f"mmp-{class_path.rsplit('.', 1)[-1]}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"


def open_study(storage: Any, name: str, direction: Direction, sampler: Any, pruner: Any) -> Any:
    import optuna

    return optuna.create_study(storage=storage, study_name=name, direction=direction, sampler=sampler, pruner=pruner, load_if_exists=True)


def count(study: Any, *state_names: str) -> int:
    import optuna

    states = tuple(optuna.trial.TrialState[s] for s in state_names)
    return len(study.get_trials(deepcopy=False, states=states))


class Budget:
    """Stops this worker once the study holds ``n_trials`` trials that finished or are running
    in any worker, so the budget is shared: workers split it instead of each running it."""

    def __init__(self, n_trials: int):
        self.n_trials = n_trials

    def __call__(self, study: Any, trial: Any) -> None:
        if count(study, "COMPLETE", "PRUNED", "RUNNING") >= self.n_trials:
            study.stop()


class Progress:
    """A tqdm bar over the study's budget: finished trials, best score and pruned count."""

    def __init__(self, study: Any, n_trials: int):
        from tqdm import tqdm

        done = count(study, "COMPLETE", "PRUNED")
        self.bar = tqdm(total=n_trials, initial=min(done, n_trials), desc="tune", unit="trial", dynamic_ncols=True)
        self._refresh(study)

    def __call__(self, study: Any, trial: Any) -> None:
        done = count(study, "COMPLETE", "PRUNED")
        self.bar.update(max(0, min(done, self.bar.total) - self.bar.n))
        self._refresh(study)

    def _refresh(self, study: Any) -> None:
        best = best_trial(study)
        self.bar.set_postfix(best="-" if best is None else f"{best.value:.5g}", pruned=count(study, "PRUNED"), refresh=True)

    def close(self) -> None:
        self.bar.close()


def best_trial(study: Any) -> Any | None:
    return study.best_trial if count(study, "COMPLETE") else None


def run_trials(
    study: Any,
    objective: Any,
    n_trials: int,
    n_jobs: int = 1,
    timeout: float | None = None,
    callbacks: Iterable[Any] = (),
    max_trials: int | None = None,
) -> None:
    """Run trials until the study holds ``n_trials`` finished ones (complete or pruned; a
    failed trial does not count), at most ``max_trials`` of them here (a worker's share). A
    study that already has them runs nothing: re-running the same recipe reads the same
    result, and an interrupted study is resumed, not restarted."""
    remaining = n_trials - count(study, "COMPLETE", "PRUNED")
    if max_trials is not None:
        remaining = min(remaining, max_trials)
    if remaining <= 0 or (timeout is not None and timeout <= 0):  # budget or time already spent
        return
    if hasattr(objective, "sharing"):  # n_jobs trials share the cores: one share of threads each
        objective = objective.sharing(n_jobs)
    # Any exception in a trial fails that trial only (a bad combination of values); the stage
    # reports when no trial completed at all.
    study.optimize(
        objective, n_trials=remaining, timeout=timeout, n_jobs=n_jobs, catch=(Exception,), callbacks=[Budget(n_trials), *callbacks]
    )


def wait_for_workers(study: Any, poll: float, limit: float) -> None:
    """Wait (at most ``limit`` seconds) for trials other workers are running. A worker that died
    stops beating; ``fail_stale_trials`` then fails its trial, which is re-queued."""
    import optuna

    deadline = time.monotonic() + limit
    while count(study, "RUNNING") and time.monotonic() < deadline:
        optuna.storages.fail_stale_trials(study)
        time.sleep(poll)


def complete_study(study: Any, objective: Any, tune: TuneConfig, poll: float, limit: float, callbacks: Iterable[Any] = ()) -> None:
    """This process's share of the budget, then the other workers' running trials, then any
    trial re-queued from a dead worker (a few rounds at most)."""
    for _ in range(3):
        run_trials(study, objective, tune.n_trials, tune.n_jobs, tune.timeout, callbacks)
        wait_for_workers(study, poll, limit)
        if not count(study, "WAITING"):
            return


def summary(study: Any, metric: str, duration: float) -> dict[str, Any]:
    """metrics/tune.json. Raises when no trial completed (the first failure reason is kept)."""
    best = best_trial(study)
    if best is None:
        failed = study.get_trials(deepcopy=False, states=None)
        reason = next((t.system_attrs.get("fail_reason") for t in failed if t.system_attrs.get("fail_reason")), None)
        raise MMPError("tune", f"no trial completed ({len(failed)} ran)", f"first failure: {reason}" if reason else None)
    return {
        "best_score": round(float(best.value), 6),
        "best_params": dict(sorted(best.params.items())),
        "best_trial": best.number,
        "n_trials": count(study, "COMPLETE", "PRUNED"),
        "n_complete": count(study, "COMPLETE"),
        "n_pruned": count(study, "PRUNED"),
        "n_failed": count(study, "FAIL"),
        "metric": metric,
        "direction": study.direction.name.lower(),
        "study": study.study_name,
        "duration": round(duration, 3),
    }


def trials_table(study: Any) -> Any:
    """Every trial: number, state, value, params, timings, worker and fold scores."""
    frame = study.trials_dataframe(
        attrs=("number", "state", "value", "params", "datetime_start", "datetime_complete", "duration", "user_attrs")
    )
    if "duration" in frame:
        frame["duration"] = frame["duration"].dt.total_seconds().round(3)
    return frame.sort_values("number").reset_index(drop=True)


def history(study: Any) -> list[dict[str, Any]]:
    """Optimization history: each completed trial's score and the best so far."""
    maximize = study.direction.name == "MAXIMIZE"
    points, best = [], None
    for t in sorted(study.get_trials(deepcopy=False, states=_complete()), key=lambda t: t.number):
        best = t.value if best is None else (max if maximize else min)(best, t.value)
        points.append({"trial": t.number, "value": round(t.value, 6), "best_value": round(best, 6)})
    return points


def importances(study: Any, seed: int) -> list[dict[str, Any]]:
    """fANOVA parameter importances (seeded); empty until two trials completed."""
    import optuna

    if count(study, "COMPLETE") < 2:
        return []
    try:
        values = optuna.importance.get_param_importances(study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=seed))
    except (RuntimeError, ValueError):  # e.g. every completed trial has the same values
        return []
    return [{"param": name, "importance": round(float(v), 6)} for name, v in sorted(values.items())]


def _complete() -> tuple[Any, ...]:
    import optuna

    return (optuna.trial.TrialState.COMPLETE,)
