"""Mirror one experiment end to end: build its payload, log the run, register its package."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mmp.ops.tracking.mirror import Mirrored, Tracker, mirror_run
from mmp.ops.tracking.payload import RunPayload, build_payload
from mmp.ops.tracking.registry import register
from mmp.ops.tracking.state import Identity, RepoFiles


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


def mirror_after_stage(root: Path, marker: Path) -> None:
    """The `mirror` stage: mirror the run, then write ``marker``, the stage's one output. Its
    content is fixed (dvc.lock stays reproducible); it exists so that a workspace without it
    (a fresh clone whose run reproduces the committed dvc.lock) still runs the stage. The output
    is `persist`, so DVC never restores the stage from its run-cache."""
    from mmp.core.io import write_json

    _mirror_workspace(root)
    write_json(marker, {"mirror_stage": "ran: the MLflow run is keyed by the experiment, see `mmp mirror --help`"})


def _mirror_workspace(root: Path) -> None:
    """Mirror the run the pipeline just reproduced in ``root``, keyed by the run's identity, so
    a run is mirrored once however often the stage runs. A tracking failure prints one line
    saying how to catch up, and fails the stage only when the runtime setting
    ``mlflow.mirror_required`` (env MMP_MIRROR_REQUIRED) is true."""
    import sys

    from mmp.core.db import redact
    from mmp.core.errors import MMPError
    from mmp.core.identity import stage_identity
    from mmp.core.settings import load_settings
    from mmp.ops.tracking.mirror import connect
    from mmp.ops.tracking.state import WorkspaceFiles

    settings = load_settings()
    switches = settings.mirroring  # a malformed switch is a user error: no silent fallback
    if not switches.mirror:
        print("MLflow mirroring is off (MMP_MIRROR=false): catch up later with `mmp mirror --all`")
        return
    try:
        payload, mirrored = mirror_one(connect(settings.mlflow), WorkspaceFiles(root), stage_identity(root))
        print(describe(payload, mirrored))
    except Exception as err:  # noqa: BLE001 - any tracking failure must leave the pipeline's results usable
        reason = redact(str(err).splitlines()[0] if str(err) else type(err).__name__)
        print(
            f"warning: MLflow mirroring failed ({reason}); the results are complete on disk: catch up later with `mmp mirror --all`",
            file=sys.stderr,
        )
        if switches.mirror_required:
            raise MMPError(
                "mlflow.mirror_required", "mirroring failed and the setting requires it", "set MMP_MIRROR_REQUIRED=false to allow it"
            ) from None


def mirror_repo(root: Path, every: bool) -> int:
    """Mirror the workspace (and with ``every``, each listed experiment); 1 when any failed."""
    from mmp.core.errors import MMPError
    from mmp.core.settings import load_settings
    from mmp.ops.tracking.mirror import connect
    from mmp.ops.tracking.state import RevFiles, WorkspaceFiles, experiments, run_time, workspace_identity

    if not (root / "dvc.yaml").exists():
        raise MMPError("--repo", f"{root.name} has no dvc.yaml", "the root of a DVC repository")
    tracker = connect(load_settings(root=root).mlflow)
    known = experiments(root)
    targets: list[tuple[RepoFiles, Identity]] = [(RevFiles(root, ident.commit), ident) for ident in known] if every else []
    here = workspace_identity(root, known)
    if (root / "dvc.lock").exists() and here.key not in {ident.key for _, ident in targets}:
        targets.append((WorkspaceFiles(root), here))
    # Oldest first: each registration points `candidate` at its version, so it ends on the
    # newest experiment of each registered model (not on whichever name sorts last).
    targets.sort(key=lambda target: run_time(root, target[1]))
    failures = 0
    for files, ident in targets:
        try:
            print(describe(*mirror_one(tracker, files, ident)))
        except MMPError as err:
            failures += 1
            print(f"error: {ident.name}: {err}")
    if not targets:
        print("nothing to mirror: no dvc.lock in the workspace and no experiments (run `dvc exp run` first)")
    return 1 if failures else 0
