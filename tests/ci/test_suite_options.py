"""The options `make test` runs the suite with: a worker that crashes fails the run with a line
naming the test, instead of hanging it (pytest-xdist's default restarts the worker, and under
`--dist loadgroup` the controller then waits forever for the dead worker's group: CI would
only end at its time limit, with nothing said)."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

CRASHING = """
import os
import pytest

@pytest.mark.xdist_group("g")
def test_before(): pass

@pytest.mark.xdist_group("g")
def test_crash(): os._exit(1)

@pytest.mark.xdist_group("g")
def test_after(): pass

def test_elsewhere(): pass
"""


def suite_options() -> list[str]:
    """The pytest arguments of the Makefile's `test` recipe."""
    lines = (ROOT / "Makefile").read_text().split("\ntest:", 1)[1].splitlines()
    recipe = next(line for line in lines if "-m pytest" in line)
    return shlex.split(recipe.split("-m pytest", 1)[1])


def test_a_crashed_worker_fails_the_run_instead_of_hanging(tmp_path: Path) -> None:
    (tmp_path / "test_crash.py").write_text(CRASHING)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *suite_options(), "test_crash.py"]
    # its own process group: a hung run is ended with its workers
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"`pytest {shlex.join(suite_options())}` hung after a worker crashed") from None
    assert proc.returncode == 1, out[-2000:]
    assert "crashed while running 'test_crash.py::test_crash'" in out
