"""Stages forked from a warm interpreter (mmp.core.forkserver) behave as ``python -m`` would:
same arguments, directory, environment, umask, streams and exit status, signals forwarded, and
nothing outliving its caller. Each test has its own runtime directory, so its own server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mmp.core import forkserver
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not forkserver._supported(), reason="the fork server is Linux-only")

PROBE = """
import json, os, sys, time
mode = sys.argv[1]
if mode == "report":
    umask = os.umask(0); os.umask(umask)
    print(json.dumps({"argv": sys.argv[1:], "cwd": os.getcwd(), "probe": os.environ.get("PROBE"), "umask": umask,
                      "pid": os.getpid(), "name": __name__, "file": os.path.basename(sys.argv[0])}))
    print("a line on stderr", file=sys.stderr)
    sys.exit(int(sys.argv[2]))
if mode == "raise":
    raise ValueError("boom")
if mode == "abort":
    os.abort()
if mode == "sleep":
    open(sys.argv[2], "w").write(str(os.getpid()))
    time.sleep(120)
"""
LAUNCH = "import sys; from mmp.core.forkserver import run_module; run_module('probe', sys.argv[1:])"


@pytest.fixture
def probe_env(tmp_path: Path, runtime_dir: Path) -> dict[str, str]:
    lib = tmp_path / "lib"  # on sys.path: the server key has its modification time, so nothing else goes here
    lib.mkdir()
    (lib / "probe.py").write_text(PROBE)
    return {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{lib}",
        "XDG_RUNTIME_DIR": str(runtime_dir),
        "MMP_FORKSERVER_IDLE_S": "30",
        "PROBE": "yes",
    }


def launch(env: dict[str, str], cwd: Path, *args: str, **extra: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", LAUNCH, *args], cwd=cwd, env={**env, **extra}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def finish(proc: subprocess.Popen) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=120)
    return proc.returncode, out, err


def socket_file(env: dict[str, str]) -> Path | None:
    found = list(Path(env["XDG_RUNTIME_DIR"]).glob("mmp-forkserver-*/*.sock"))
    return found[0] if found else None


@pytest.fixture
def warm(probe_env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """The environment of a started server: the first call ran in its own process and started it."""
    code, _, _ = finish(launch(probe_env, tmp_path, "report", "0"))
    assert code == 0
    deadline = time.monotonic() + 120
    while socket_file(probe_env) is None:
        assert time.monotonic() < deadline, "the server never listened"
        time.sleep(0.1)
    return probe_env


def server_pid(env: dict[str, str]) -> int:
    sock = socket_file(env)
    assert sock is not None
    oldest = ["pgrep", "-o", "-f", f"mmp.core.forkserver {sock}"]  # the server, not its forks (same command line)
    out = subprocess.run(oldest, capture_output=True, text=True).stdout.split()
    assert len(out) == 1, out
    return int(out[0])


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in Path(f"/proc/{pid}/stat").read_text().split()[2]


def wait_for(path: Path) -> int:
    deadline = time.monotonic() + 60
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)
    return int(path.read_text())


def test_a_fork_runs_the_module_as_its_own_process_would(warm: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    results = {}
    for how, extra in (("forked", {}), ("own process", {"MMP_FORKSERVER": "0"})):
        proc = launch(warm, work, "report", "3", "--flag", "é", **extra)
        code, out, err = finish(proc)
        assert out, (how, code, err)
        results[how] = (code, json.loads(out), err)
        assert (json.loads(out)["pid"] == proc.pid) == (how == "own process"), how
    for code, report, err in results.values():
        report.pop("pid")
        assert code == 3
        assert report == {
            "argv": ["report", "3", "--flag", "é"],
            "cwd": str(work),
            "probe": "yes",
            "umask": 0o022,
            "name": "__main__",
            "file": "probe.py",
        }
        assert err == "a line on stderr\n"


def test_errors_and_deaths_reach_the_caller_as_they_happened(warm: dict[str, str], tmp_path: Path) -> None:
    code, out, err = finish(launch(warm, tmp_path, "raise"))
    assert code == 1 and err.rstrip().endswith("ValueError: boom") and "Traceback" in err
    code, _, _ = finish(launch(warm, tmp_path, "abort"))
    assert code == -signal.SIGABRT


def test_ctrl_c_reaches_the_fork_and_the_caller_dies_of_it(warm: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    proc = launch(warm, tmp_path, "sleep", str(marker))
    fork = wait_for(marker)
    assert fork != proc.pid
    proc.send_signal(signal.SIGINT)
    code, _, err = finish(proc)
    assert code == -signal.SIGINT and "KeyboardInterrupt" in err
    assert not alive(fork)


def test_a_fork_does_not_outlive_its_killed_caller(warm: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    proc = launch(warm, tmp_path, "sleep", str(marker))
    fork = wait_for(marker)
    proc.kill()
    proc.wait(timeout=10)
    deadline = time.monotonic() + 10
    while alive(fork):
        assert time.monotonic() < deadline, "the fork outlived its caller"
        time.sleep(0.05)


def test_a_server_that_dies_mid_stage_fails_the_caller_in_one_line(warm: dict[str, str], tmp_path: Path) -> None:
    marker = tmp_path / "pid"
    proc = launch(warm, tmp_path, "sleep", str(marker))
    fork = wait_for(marker)
    os.kill(server_pid(warm), signal.SIGKILL)
    code, _, err = finish(proc)
    assert code == 1
    assert err.startswith("error: the stage server stopped while it ran probe") and err.count("\n") == 1
    deadline = time.monotonic() + 10
    while alive(fork):
        assert time.monotonic() < deadline, "the fork outlived the failed call"
        time.sleep(0.05)


def test_an_idle_server_exits_and_leaves_no_files(probe_env: dict[str, str], tmp_path: Path) -> None:
    env = {**probe_env, "MMP_FORKSERVER_IDLE_S": "1"}
    assert finish(launch(env, tmp_path, "report", "0"))[0] == 0
    runtime = Path(env["XDG_RUNTIME_DIR"])
    deadline = time.monotonic() + 120
    while socket_file(env) is None:  # started, preloading
        assert time.monotonic() < deadline
        time.sleep(0.1)
    while any(runtime.glob("mmp-forkserver-*/*")):
        assert time.monotonic() < deadline, sorted(runtime.rglob("*"))
        time.sleep(0.1)


def test_the_server_is_keyed_by_what_libraries_read_when_they_load(monkeypatch: pytest.MonkeyPatch) -> None:
    key = forkserver.server_key()
    monkeypatch.setenv("DVC_ROOT", "/elsewhere")  # read by the stage, not when a library loads
    assert forkserver.server_key() == key
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # libgomp reads it once, when it loads
    assert forkserver.server_key() != key


def test_a_runtime_directory_others_can_open_is_not_used(runtime_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime_dir))
    assert forkserver.server_paths() is not None
    (runtime_dir / f"mmp-forkserver-{os.getuid()}").chmod(0o777)
    assert forkserver.server_paths() is None


def test_a_runtime_directory_too_long_for_a_socket_gives_way_to_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / ("x" * 60)))
    paths = forkserver.server_paths()
    assert paths is not None and paths.socket.parent == Path(f"/tmp/mmp-forkserver-{os.getuid()}")


def test_the_stage_command_names_its_stages(tmp_path: Path) -> None:
    def stages(*args: str) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
        return subprocess.run([sys.executable, "-m", "mmp.pipeline.stages", *args], cwd=tmp_path, env=env, capture_output=True, text=True)

    assert stages("--help").returncode == 0 and "prepare" in stages("--help").stdout
    wrong = stages("trian")
    assert wrong.returncode == 2
    assert (
        wrong.stderr
        == "error: stage 'trian': not a stage of dvc.yaml (allowed: prepare, featurize, tune, train, evaluate, package, mirror)\n"
    )
