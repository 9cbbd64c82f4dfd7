"""The train stage's Lightning ``MLFlowLogger``: a Lightning model logs its params, per-epoch
metrics and best checkpoint into the experiment's one MLflow run, the run the mirror stage
completes later.

The run is tagged with the experiment's identity key (``mmp.exp_key``, mmp.core.identity), the
key the mirror looks its run up by, so the mirror resumes it instead of creating a second one;
no run id needs to travel between the stages (nor into a DVC output, which would make dvc.lock
differ between two reproductions). A retrained experiment replaces the run its identity had.

Nothing is logged to MLflow when mirroring is off (``MMP_MIRROR=false``): the curves are still
in dvclive. A train stage that DVC restores from its cache never runs, so it creates no run:
the mirror stage creates it as for any model. A tracking failure is one warning, as in the
mirror stage, and fails the stage only under ``MMP_MIRROR_REQUIRED=true``."""

from __future__ import annotations

import inspect
import sys
from pathlib import Path
from typing import Any

from mmp.core.config import Params


def takes_loggers(params: Params) -> bool:
    """Whether the recipe's estimator trains with Lightning (its ``fit`` takes ``loggers``)."""
    from mmp.modeling.recipe import import_class

    cls: Any = import_class(params.model.class_path)
    return "loggers" in inspect.signature(cls.fit).parameters


def mlflow_loggers(root: Path, params: Params) -> list[Any]:
    """``[MLFlowLogger]`` into the experiment's run, or ``[]`` (not a Lightning recipe, mirroring
    off, or the tracking store failed and the settings allow it)."""
    from mmp.core.db import redact
    from mmp.core.errors import MMPError
    from mmp.core.settings import load_settings

    if params.compute.engine != "local" or not takes_loggers(params):
        return []
    settings = load_settings()
    if not settings.mirroring.mirror:
        return []
    try:
        return [_run_logger(root, settings.mlflow)]
    except Exception as err:  # noqa: BLE001 - as the mirror stage: a tracking failure leaves training usable
        reason = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
        print(f"warning: Lightning's MLflow logging failed ({reason}); the curves are in dvclive", file=sys.stderr)
        if settings.mirroring.mirror_required:
            raise MMPError(
                "mlflow.mirror_required", "MLflow logging failed and the setting requires it", "set MMP_MIRROR_REQUIRED=false to allow it"
            ) from None
        return []


def _run_logger(root: Path, cfg: Any) -> Any:
    from mlflow import MlflowClient
    from pytorch_lightning.loggers import MLFlowLogger

    from mmp.core.identity import KEY_TAG, stage_identity
    from mmp.core.tracking import artifact_root, prepare_tracking, store_lock

    identity = stage_identity(root)
    uri = cfg.tracking_uri
    prepare_tracking(uri)
    with store_lock(uri):
        client = MlflowClient(tracking_uri=uri)
        experiment = client.get_experiment_by_name(cfg.experiment)
        if experiment is not None:
            for old in client.search_runs([experiment.experiment_id], filter_string=f"tags.`{KEY_TAG}` = '{identity.key}'"):
                client.delete_run(old.info.run_id)  # this training replaces the identity's run
        logger = MLFlowLogger(
            experiment_name=cfg.experiment,
            run_name=identity.name,
            tracking_uri=uri,
            tags={KEY_TAG: identity.key},
            log_model=True,  # the best checkpoint (ModelCheckpoint's save_top_k=1), at the end of training
            artifact_location=artifact_root(cfg.artifact_location),
        )
        logger.run_id  # noqa: B018 - creates the experiment (when new) and the run now, under the lock
    return logger
