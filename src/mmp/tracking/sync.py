"""Mirror one experiment end to end: build its payload, log the run, register its package."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mmp.tracking.mirror import Mirrored, Tracker, mirror_run
from mmp.tracking.payload import RunPayload, build_payload
from mmp.tracking.registry import register
from mmp.tracking.state import Identity, RepoFiles


def mirror_one(tracker: Tracker, files: RepoFiles, identity: Identity) -> tuple[RunPayload, Mirrored]:
    with tempfile.TemporaryDirectory() as scratch:
        payload = build_payload(files, identity, Path(scratch))
        mirrored = mirror_run(tracker, payload)
        if mirrored.model_id is not None:
            mirrored = register(tracker, payload, mirrored)
    return payload, mirrored


def describe(payload: RunPayload, mirrored: Mirrored) -> str:
    if mirrored.version is None:
        model = "no model package found (run `dvc pull` to get it, then mirror again)"
    else:
        model = f"{payload.model_name} version {mirrored.version}" + (" (new, alias candidate)" if mirrored.new_version else "")
    return f"mirrored {payload.identity.name} -> MLflow run {mirrored.run_id}; {model}"


def mirror_after_stage(root: Path) -> None:
    """The package stage's last step. A tracking failure never touches the stage's outputs; it
    prints one line saying how to catch up, and fails the stage only when the runtime setting
    ``mlflow.mirror_required`` (env MMP_MIRROR_REQUIRED) is true."""
    import sys

    from mmp.errors import MMPError
    from mmp.settings import load_settings
    from mmp.tracking.mirror import connect, redact
    from mmp.tracking.state import WorkspaceFiles, stage_identity

    required = False
    try:
        settings = load_settings()
        if not settings.mlflow.get("mirror", True):
            print("MLflow mirroring is off (MMP_MIRROR=false): catch up later with `mmp mirror --all`")
            return
        required = bool(settings.mlflow.get("mirror_required", False))
        payload, mirrored = mirror_one(connect(settings), WorkspaceFiles(root), stage_identity(root))
        print(describe(payload, mirrored))
    except Exception as err:  # noqa: BLE001 - any tracking failure must leave the pipeline's results usable
        reason = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
        print(f"warning: MLflow mirroring failed ({reason}); the results are complete on disk: catch up later with `mmp mirror --all`", file=sys.stderr)
        if required:
            raise MMPError("mlflow.mirror_required", "mirroring failed and the setting requires it", "set MMP_MIRROR_REQUIRED=false to allow it") from None
