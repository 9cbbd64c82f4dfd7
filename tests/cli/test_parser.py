"""`mmp COMMAND` builds only that command's parser (the `mirror` stage runs `mmp mirror` on every
pipeline run); without a known command every command is there, for the help and the errors."""

from __future__ import annotations

import argparse

import pytest

from mmp.cli import COMMANDS, build_parser


def registered(parser: argparse.ArgumentParser) -> set[str]:
    return set(next(a for a in parser._actions if a.dest == "command").choices)


def test_a_named_command_registers_only_itself() -> None:
    assert registered(build_parser(["mirror", "--stage", "models/mirrored.json"])) == {"mirror"}
    assert registered(build_parser(["--debug", "tune-worker", "--help"])) == {"tune-worker"}


@pytest.mark.parametrize("argv", [None, [], ["--help"], ["--version"], ["no-such-command"]])
def test_without_a_known_command_every_command_is_registered(argv: list[str] | None) -> None:
    assert len(registered(build_parser(argv))) == len(COMMANDS)


def test_an_unknown_command_is_refused_with_the_list_of_commands(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["no-such-command"]
    with pytest.raises(SystemExit):
        build_parser(argv).parse_args(argv)
    err = capsys.readouterr().err
    assert "invalid choice: 'no-such-command'" in err and "'mirror'" in err and "'tune-worker'" in err
