"""Write a :class:`RunPayload` to MLflow exactly once: the run is found by its ``mmp.exp_key``
tag and updated in place, so mirroring again (after a crash, a server outage, or just twice)
never duplicates a run, a metric point, a dataset input or a logged model."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from mmp.core.identity import KEY_TAG
from mmp.core.settings import MlflowSettings
from mmp.core.tracking import artifact_root, prepare_tracking, store_lock
from mmp.ops.tracking.payload import RunPayload

PACKAGE_TAG = "mmp.package.md5"
T = TypeVar("T")
BATCH = 100  # MLflow accepts at most 100 params/tags per log_batch call


@dataclass
class Tracker:
    client: Any  # mlflow.MlflowClient (imported lazily: `import mlflow` costs over a second)
    experiment_id: str


@dataclass
class Mirrored:
    run_id: str
    model_id: str | None
    version: str | None = None
    new_version: bool = False


def connect(cfg: MlflowSettings) -> Tracker:
    """An MLflow client for the tracking URI and the experiment runs go into."""
    uri = cfg.tracking_uri
    prepare_tracking(uri)  # fail in seconds, not minutes, when a server is down
    with store_lock(uri):
        return _open(uri, cfg)


def _open(uri: str, cfg: MlflowSettings) -> Tracker:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    name = cfg.experiment
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        try:
            return Tracker(client, client.create_experiment(name, artifact_location=artifact_root(cfg.artifact_location)))
        except MlflowException:  # created concurrently by a parallel queued run
            experiment = client.get_experiment_by_name(name)
            if experiment is None:  # not a concurrent creation: the error stands
                raise
    return Tracker(client, experiment.experiment_id)


def mirror_run(tracker: Tracker, payload: RunPayload) -> Mirrored:
    client = tracker.client
    run = _find_run(tracker, payload)
    if run is None:
        run = client.create_run(tracker.experiment_id, run_name=payload.identity.name, tags={KEY_TAG: payload.identity.key})
    run_id, logged = run.info.run_id, run.data
    _log_batches(client, run_id, payload, logged.params, logged.metrics)
    if payload.artifacts:
        with tempfile.TemporaryDirectory() as tmp:
            for rel, content in payload.artifacts.items():
                (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
                (Path(tmp) / rel).write_bytes(content)
            client.log_artifacts(run_id, tmp)
    _log_datasets(client, run, payload)
    model_id = _log_model(tracker, run_id, payload) if payload.package is not None else None
    client.set_terminated(run_id, "FINISHED")
    return Mirrored(run_id, model_id)


def _find_run(tracker: Tracker, payload: RunPayload) -> Any:
    """The run already mirrored for this identity. An experiment re-run under the same name with
    other params replaces its run (MLflow params are immutable); extra runs left by a past race
    are removed so exactly one stays."""
    runs = tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{payload.identity.key}'", order_by=["attributes.start_time ASC"]
    )
    for extra in runs[1:]:
        tracker.client.delete_run(extra.info.run_id)
    if not runs:
        return None
    run = runs[0]
    if any(run.data.params.get(k, v) != v for k, v in payload.params.items()):
        tracker.client.delete_run(run.info.run_id)
        return None
    return run


def _log_batches(client: Any, run_id: str, payload: RunPayload, params: dict[str, str], metrics: dict[str, float]) -> None:
    from mlflow.entities import Metric, Param, RunTag

    now = int(time.time() * 1000)
    new_params = [Param(k, v) for k, v in sorted(payload.params.items()) if k not in params]
    tags = [RunTag(k, v) for k, v in sorted({**payload.tags, "mlflow.runName": payload.identity.name}.items())]
    points = [Metric(k, v, now, 0) for k, v in sorted(payload.metrics.items()) if metrics.get(k) != v]
    for key, series in sorted(payload.steps.items()):
        if key not in metrics:  # a curve is logged whole, once
            points.extend(Metric(key, value, now, step) for step, value in series)
    for i in range(0, max(len(new_params), len(tags)), BATCH):
        client.log_batch(run_id, params=new_params[i : i + BATCH], tags=tags[i : i + BATCH])
    for i in range(0, len(points), 10 * BATCH):
        client.log_batch(run_id, metrics=points[i : i + 10 * BATCH])


def _log_datasets(client: Any, run: Any, payload: RunPayload) -> None:
    """The train/test data as MLflow datasets: DVC path and md5, never the rows themselves."""
    from mlflow.entities import Dataset, DatasetInput, InputTag

    present = {d.dataset.digest for d in (run.inputs.dataset_inputs if run.inputs else [])}
    inputs = []
    for data in payload.datasets:
        if data.md5 in present:
            continue
        source = json.dumps({"dvc_path": data.path, "md5": data.md5, "git_commit": payload.identity.commit}, sort_keys=True)
        entity = Dataset(
            name=f"{Path(data.path).parent.as_posix()}/{data.name}",
            digest=data.md5,
            source_type="dvc",
            source=source,
            profile=json.dumps({"num_rows": data.rows}),
        )
        context = "training" if data.name == "train" else "testing"
        inputs.append(DatasetInput(entity, [InputTag("mlflow.data.context", context)]))
    if inputs:
        raced_once(lambda: client.log_inputs(run.info.run_id, datasets=inputs))


def raced_once(write: Callable[[], T]) -> T:
    """``write`` again after an MLflow error. MLflow looks some rows up before it inserts them (a
    dataset, a registered model's alias): two queued runs writing the same row at once can both
    miss it, and the later insert breaks the row's key. The second attempt finds the row the
    other run committed and updates or links it; any other error fails twice and stands."""
    from mlflow.exceptions import MlflowException

    try:
        return write()
    except MlflowException:
        return write()


def _log_model(tracker: Tracker, run_id: str, payload: RunPayload) -> str:
    """The package directory as an MLflow logged model of the run (its MLmodel already holds the
    signature and input example); reused when the same package was logged before."""
    from mlflow.entities import LoggedModelOutput

    client = tracker.client
    for model in client.search_logged_models([tracker.experiment_id], filter_string=f"source_run_id = '{run_id}'"):
        if model.tags.get(PACKAGE_TAG) == payload.package_md5 and str(model.status) in ("READY", "LoggedModelStatus.READY"):
            return model.model_id
    model = client.create_logged_model(
        tracker.experiment_id, name="model", source_run_id=run_id, tags={PACKAGE_TAG: payload.package_md5 or ""}, model_type="pyfunc"
    )
    client.log_model_artifacts(model.model_id, str(payload.package))
    client.finalize_logged_model(model.model_id, "READY")
    client.log_outputs(run_id, [LoggedModelOutput(model.model_id, step=0)])
    return model.model_id
