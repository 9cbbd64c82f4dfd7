"""The model registry: one version per mirrored package, moved by aliases (never by the
deprecated stages). ``candidate`` marks the newest version; ``champion`` the promoted one."""

from __future__ import annotations

from typing import Any

from mmp.core.errors import MMPError
from mmp.core.settings import CHAMPION, model_alias
from mmp.ops.tracking.mirror import KEY_TAG, PACKAGE_TAG, Mirrored, Tracker, raced_once
from mmp.ops.tracking.payload import KIND_TAG, RunPayload

CANDIDATE = "candidate"
INTERFACE_TAG = "mmp.interface.md5"  # the input schema and task a registered model holds
TASK_TAG = "mmp.task"


def champion_alias() -> str:
    """The alias promotion moves: ``champion``, or the one MLFLOW_MODEL_ALIAS / MLFLOW_MODEL_STAGE
    name (the original documents' registry "stage", read as an alias), as ``mmp serve`` reads it."""
    return model_alias() or CHAMPION


def register(tracker: Tracker, payload: RunPayload, mirrored: Mirrored) -> Mirrored:
    """Register the mirrored package as a version of ``payload.model_name``, once per package:
    a package registered before (by this run or another, say one restored from the run-cache)
    keeps its version. The ``candidate`` alias follows the run mirrored last, so callers mirror
    runs oldest first (``mmp mirror --all`` does)."""
    client, name = tracker.client, payload.model_name
    _ensure_model(client, name, payload)
    found = client.search_model_versions(f"name = '{name}' and tags.`{PACKAGE_TAG}` = '{payload.package_md5}'")
    if found:
        version, new = min(found, key=lambda v: int(v.version)), False
    else:
        tags = {KEY_TAG: payload.identity.key, PACKAGE_TAG: payload.package_md5 or ""}
        tags.update({f"mmp.data.{d.name}.md5": d.md5 for d in payload.datasets})
        tags.update(_interface_tags(payload))
        if payload.kind:
            tags[KIND_TAG] = payload.kind
        # The source is the logged model's own artifact location, not `models:/<model_id>`: the
        # SQLite registry resolves such a URI through MLflow's GLOBAL tracking URI (the cwd's
        # mlflow.db), not this client's, and a queued run's cwd is DVC's temp dir.
        source = client.get_logged_model(mirrored.model_id).artifact_location
        version, new = client.create_model_version(name, source, run_id=mirrored.run_id, tags=tags, model_id=mirrored.model_id), True
    raced_once(lambda: client.set_registered_model_alias(name, CANDIDATE, version.version))
    return Mirrored(mirrored.run_id, mirrored.model_id, str(version.version), new_version=new)


def _interface_tags(payload: RunPayload) -> dict[str, str]:
    schema = payload.schema
    return {} if schema is None else {INTERFACE_TAG: schema.interface_md5(), TASK_TAG: schema.task_type}


def _ensure_model(client: Any, name: str, payload: RunPayload) -> None:
    """Create the registered model, marked with the package's interface (task, targets, input
    columns); refuse a package whose interface differs from the one the model holds, so a
    version never lands beside models it cannot be compared with or swapped for."""
    from mlflow.exceptions import MlflowException

    mine = _interface_tags(payload)
    try:
        client.create_registered_model(name, tags=mine, description="Registered by mmp (see each version's MODEL_CARD.md).")
        return
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    held = client.get_registered_model(name).tags
    if INTERFACE_TAG not in held:  # registered before models were marked: it adopts this interface
        for key, value in mine.items():
            client.set_registered_model_tag(name, key, value)
        return
    if mine and held.get(INTERFACE_TAG) != mine[INTERFACE_TAG]:
        raise MMPError(
            "registry.model_name",
            f"registered model {name!r} holds {held.get(TASK_TAG, '?')} models on other input columns; this package is "
            f"{mine[TASK_TAG]} on {len(payload.schema.features) if payload.schema else '?'} columns of another schema",
            "one registered model per input schema and task: set registry.model_name to a new name (or null to derive it from the data)",
        )


def version_by_alias(client: Any, name: str, alias: str) -> Any:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
