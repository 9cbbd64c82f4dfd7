"""What a user sees besides the answer: no reStructuredText in `--help`, no MLflow chatter
(store creation at INFO, "View run" links, download bars), no DVC usage analytics."""

from __future__ import annotations

import logging
import os
import re

import pytest

from mmp.cli import COMMANDS, build_parser
from tests.conftest import ROOT

RST = re.compile(r"``|:[a-z]+:`")


def test_help_shows_no_restructuredtext() -> None:
    parser = build_parser()
    commands = next(a for a in parser._actions if a.dest == "command").choices
    assert len(commands) == len(COMMANDS)
    for name, command in commands.items():
        assert not RST.search(command.format_help()), f"mmp {name} --help shows reStructuredText markup"


def test_dvc_usage_analytics_and_update_checks_are_off_in_the_repository_config() -> None:
    from configobj import ConfigObj

    core = ConfigObj(str(ROOT / ".dvc" / "config"))["core"]
    assert core["analytics"] == "false"
    # Offline first: no daily `dvc daemon updater` process reaching for the network.
    assert core["check_update"] == "false"


@pytest.fixture
def clean_mlflow_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"):
        monkeypatch.delenv(name, raising=False)
    for name in ("mlflow.store.db.utils", "alembic.runtime.migration"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.NOTSET)


def test_quiet_mlflow_turns_off_links_bars_and_store_set_up_lines_but_leaves_a_users_choice(
    clean_mlflow_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mmp.core.quiet import quiet_mlflow

    monkeypatch.setenv("MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT", "false")  # this user wants the links
    quiet_mlflow()
    # MLflow's own switches (mlflow.environment_variables), read when it would print
    assert os.environ["MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR"] == "false"
    assert os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "false"
    assert not logging.getLogger("mlflow.store.db.utils").isEnabledFor(logging.INFO)
