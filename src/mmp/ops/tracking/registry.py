"""The model registry: one version per mirrored package, moved by aliases (never by the
deprecated stages). ``candidate`` marks the newest version; ``champion`` the promoted one."""

from __future__ import annotations

import os
import re
from typing import Any

from mmp.core.errors import MMPError
from mmp.ops.tracking.mirror import KEY_TAG, PACKAGE_TAG, Mirrored, Tracker
from mmp.ops.tracking.payload import RunPayload

CANDIDATE = "candidate"
CHAMPION = "champion"
_ALIAS = re.compile(r"^[A-Za-z0-9_\-]+$")


def champion_alias() -> str:
    """The alias promotion moves: ``champion``, or MLFLOW_MODEL_STAGE (the original documents'
    registry "stage", e.g. Production, taken as an alias name, verbatim)."""
    alias = os.environ.get("MLFLOW_MODEL_STAGE") or CHAMPION
    if not _ALIAS.match(alias) or alias.lower() == "latest" or re.fullmatch(r"[vV]\d+", alias):
        raise MMPError("MLFLOW_MODEL_STAGE", f"{alias!r} is not a valid alias name", "letters, digits, _ and -; not 'latest' or v<number>")
    return alias


def register(tracker: Tracker, payload: RunPayload, mirrored: Mirrored) -> Mirrored:
    """Register the mirrored package as a version of ``payload.model_name`` (once per run and
    package) and point ``candidate`` at it when it is new."""
    from mlflow.exceptions import MlflowException

    client, name = tracker.client, payload.model_name
    try:
        client.create_registered_model(name, description="Registered by mmp (see each version's MODEL_CARD.md).")
    except MlflowException as err:
        if err.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
    for version in client.search_model_versions(f"name = '{name}' and run_id = '{mirrored.run_id}'"):
        if version.tags.get(PACKAGE_TAG) == payload.package_md5:
            return Mirrored(mirrored.run_id, mirrored.model_id, version.version, new_version=False)
    tags = {KEY_TAG: payload.identity.key, PACKAGE_TAG: payload.package_md5 or ""}
    tags.update({f"mmp.data.{d.name}.md5": d.md5 for d in payload.datasets})
    version = client.create_model_version(
        name, f"models:/{mirrored.model_id}", run_id=mirrored.run_id, tags=tags, model_id=mirrored.model_id
    )
    client.set_registered_model_alias(name, CANDIDATE, version.version)
    return Mirrored(mirrored.run_id, mirrored.model_id, version.version, new_version=True)


def version_by_alias(client: Any, name: str, alias: str) -> Any:
    """The version an alias points at, or None when the alias (or the model) does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
