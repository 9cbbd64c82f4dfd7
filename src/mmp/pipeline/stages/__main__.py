"""``python -m mmp.pipeline.stages STAGE [OPTIONS]``: the command of each stage in dvc.yaml.

It runs ``python -m mmp.pipeline.stages.STAGE OPTIONS`` (the ``mirror`` stage: ``python -m mmp
mirror OPTIONS``), in a fork of a warm interpreter that has already imported the stages'
libraries when one answers (:mod:`mmp.core.forkserver`; ``MMP_FORKSERVER=0`` turns that off).
Same outputs either way; only the start-up is shorter."""

from __future__ import annotations

import sys

from mmp.core.forkserver import run_module
from mmp.core.threads import choose_openmp_wait_policy

STAGES = ("prepare", "featurize", "tune", "train", "evaluate", "package")
# The mirror stage is the `mmp mirror` command: mirroring into MLflow lives in the ops layer.
COMMANDS: dict[str, tuple[str, list[str]]] = {name: (f"mmp.pipeline.stages.{name}", []) for name in STAGES} | {
    "mirror": ("mmp", ["mirror"])
}
USAGE = f"usage: python -m mmp.pipeline.stages {{{','.join(COMMANDS)}}} [OPTIONS] (a stage's own --help lists its options)"


def main(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        sys.exit(0 if argv else 2)
    if argv[0] not in COMMANDS:
        print(f"error: stage {argv[0]!r}: not a stage of dvc.yaml (allowed: {', '.join(COMMANDS)})", file=sys.stderr)
        sys.exit(2)
    module, prefix = COMMANDS[argv[0]]
    choose_openmp_wait_policy()  # before the server key is taken: libgomp reads it when it loads
    run_module(module, [*prefix, *argv[1:]])


if __name__ == "__main__":
    main(sys.argv[1:])
