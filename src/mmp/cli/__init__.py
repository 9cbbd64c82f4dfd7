"""``mmp``: the project's command line. Each subcommand lives in ``mmp.cli.<name>`` and
registers itself; heavy libraries are imported only when a command runs."""

from __future__ import annotations

import argparse
import importlib
import re
from collections.abc import Sequence

from mmp import __version__
from mmp.core.errors import run_cli
from mmp.core.quiet import quiet_mlflow
from mmp.core.threads import choose_openmp_wait_policy

COMMANDS = (
    "params",
    "validate",
    "tune_worker",
    "mirror",
    "promote",
    "report",
    "exps",
    "guards",
    "serve",
    "predict",
    "materialize",
    "drift",
    "label",
    "ab_report",
    "events",
    "deploy",
    "rollback",
    "synth",
    "daily",
    "simulate",
    "kfp",
)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The ``mmp`` parser. Given the command line ``argv``, only the command it names is
    registered: importing every command's module cost each command, the pipeline's `mirror`
    stage included, about 0.3 s. Without a known command (``mmp --help``, a typo) every
    command is registered, so the help and the error list them all."""
    parser = argparse.ArgumentParser(
        prog="mmp", description="modern-ml-pipeline: reproducible, tracked, deployable models from YAML recipes."
    )
    parser.add_argument("--version", action="version", version=f"mmp {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (same as MMP_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in commands_to_register(argv):
        importlib.import_module(f"mmp.cli.{name}").register(sub)
    for command in sub.choices.values():  # each command's description is its module docstring
        command.description = plain_text(command.description)
    return parser


def commands_to_register(argv: Sequence[str] | None) -> tuple[str, ...]:
    """The command modules ``argv`` needs: the one its first positional argument names (the
    top-level options take no value, so that argument is the command), else all of them."""
    named = next((arg for arg in argv or () if not arg.startswith("-")), None)
    module = named.replace("-", "_") if named else None
    return (module,) if module in COMMANDS else COMMANDS


# reStructuredText inline markup in docstrings: ``literal`` and :role:`target`.
RST_LITERAL = re.compile(r"``(.+?)``", re.DOTALL)
RST_ROLE = re.compile(r":[a-z]+:`~?([^`]+)`")


def plain_text(doc: str | None) -> str | None:
    """A docstring as `--help` prints it: reStructuredText's ``literal`` and :role:`x` become
    the Markdown-style `literal` and `x` the rest of the help already uses."""
    if doc is None:
        return None
    return RST_ROLE.sub(r"`\1`", RST_LITERAL.sub(r"`\1`", doc))


def _main(argv: list[str]) -> int | None:
    quiet_mlflow()
    args = build_parser(argv).parse_args(argv)
    return args.func(args)


def main(argv: Sequence[str] | None = None) -> None:
    choose_openmp_wait_policy()  # before any command loads LightGBM or scikit-learn
    run_cli(_main, argv)


if __name__ == "__main__":
    main()
