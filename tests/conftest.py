"""Shared fixtures. End-to-end tests copy the repository into a temp git repo and run the real
``dvc exp run`` there, with the copy's own ``src/`` first on the path."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent
# Generated outputs and local stores never travel into a copy.
SKIP_PARTS = {".venv", ".git", ".dvc-remote", "__pycache__", ".pytest_cache", ".ruff_cache"}


@pytest.fixture(autouse=True)
def _process_state_restored() -> Iterator[None]:
    """Each test leaves the worker's environment as it found it. ``mlflow.set_tracking_uri``
    exports MLFLOW_TRACKING_URI, so a test that points MLflow at its own store would otherwise
    send a later test's pipeline subprocesses (the mirror stage) to that store."""
    saved = dict(os.environ)
    yield
    if "mlflow" in sys.modules:
        import mlflow

        mlflow.set_tracking_uri(None)
    # Only the keys that changed: clearing and refilling the whole environment would unset every
    # variable for a moment under any thread reading it from C (glibc's getenv is not safe against
    # a concurrent setenv; an xdist worker died of a segfault in getenv).
    for key in set(os.environ) - set(saved):
        del os.environ[key]
    for key, value in saved.items():
        if os.environ.get(key) != value:
            os.environ[key] = value


def tracked_files(root: Path = ROOT) -> list[str]:
    """Files git tracks plus untracked ones it does not ignore (what a commit would hold)."""
    out = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=root, capture_output=True, text=True, check=True).stdout
    return [p for p in out.splitlines() if (root / p).is_file() and not (set(Path(p).parts) & SKIP_PARTS)]


def pipeline_env(repo: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(repo / "src")
    env.pop("DVC_ROOT", None)
    # Each repository copy has its own PYTHONPATH, so its own stage server (mmp.core.forkserver):
    # let each go a minute after its last stage instead of five, so few wait at once.
    env["MMP_FORKSERVER_IDLE_S"] = "60"
    env.update(extra)
    return env


def run(cmd: Sequence[str], repo: Path, timeout: float = 600, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run a command in ``repo``; on an unexpected exit code, fail with its whole output."""
    proc = subprocess.run(list(cmd), cwd=repo, env=pipeline_env(repo, **env), capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} exited {proc.returncode}\n--- stdout\n{proc.stdout[-4000:]}\n--- stderr\n{proc.stderr[-4000:]}")
    return proc


def mmp(*args: str, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    """Run `python -m mmp ARGS` in the checkout (the CLI tests' one way to call the command)."""
    proc = subprocess.run(
        [sys.executable, "-m", "mmp", *args], cwd=ROOT, env=pipeline_env(ROOT, **env), capture_output=True, text=True, timeout=300
    )
    if check and proc.returncode != 0:
        pytest.fail(f"mmp {' '.join(args)} exited {proc.returncode}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def make_repo_copy(dest: Path) -> Path:
    """A fresh git repo holding the project's files, committed, with DVC ready to run."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel in tracked_files():
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / rel, target)
    # dvc.lock travels like in a clone. Without it every cached output of dvc.yaml has no hash,
    # and the first `dvc exp run` (whose executor checks out the outputs, allowing missing
    # ones) warns "No file hash info found for ... It won't be created" once per output. A
    # stale lock steers nothing: the copy has no outputs and no run-cache, so every stage runs.
    git = ["git", "-c", "user.email=test@example.com", "-c", "user.name=test", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-qm", "copy"], cwd=dest, check=True)
    (dest / ".git" / "config").open("a").write("[user]\n\temail = test@example.com\n\tname = test\n")
    return dest


@pytest.fixture
def runtime_dir() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR, so a test's stage server (mmp.core.forkserver) is its own. It
    is short, unlike pytest's temporary paths: a socket's path has at most 107 bytes."""
    import tempfile

    path = Path(tempfile.mkdtemp(prefix="mmp-run-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    return make_repo_copy(tmp_path / "repo")


def built_once(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]) -> Path:
    """The folder ``name`` that ``build(folder)`` fills, built once per test run, also under
    pytest-xdist: a file lock, as ``tests/ci/conftest.py`` does (``--dist loadgroup`` no longer
    keeps a group on one worker, so each worker would build it again). The folder is shared by
    every worker: read it, or copy it before changing anything."""
    from filelock import FileLock

    base = tmp_path_factory.getbasetemp()
    built = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name  # the workers' base temp dirs share a parent
    with FileLock(f"{built}.lock"):
        if not (built / "done").is_file():
            shutil.rmtree(built, ignore_errors=True)  # what a failed build (another worker's) left
            built.mkdir(parents=True)
            build(built)
            (built / "done").touch()
    return built


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real ``dvc exp run`` of the default recipe, shared by read-only end-to-end tests.

    It runs once per test run (``built_once``). Each xdist worker reads its own copy of the
    finished run, so two workers' dvc commands never contend for one repository's lock."""

    def build(built: Path) -> None:
        repo = make_repo_copy(built / "repo")
        proc = run(["dvc", "exp", "run"], repo)
        (built / "exp-run.log").write_text(proc.stdout + proc.stderr)  # read by the tests of its output

    built = built_once(tmp_path_factory, "default_run", build)
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return built / "repo"
    mine = tmp_path_factory.mktemp("default")
    shutil.copytree(built, mine, symlinks=True, dirs_exist_ok=True)
    return mine / "repo"


def pytest_configure(config: pytest.Config) -> None:
    # Two xdist workers each run LightGBM (and torch) with the recipe's 2 OpenMP threads on a
    # 2-core machine: threads that busy-wait at OpenMP barriers then steal the other worker's CPU
    # (a 2,400-row LightGBM fit took 3-4x as long under load). The suite always loads the machine,
    # so it waits passively from the start, whatever the load average says yet (mmp.core.threads).
    # Same results, only how threads wait. Stages started by the tests inherit it; the benchmarks,
    # which import this file's helpers, do not.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every test under tests/cli/ runs the `mmp` command in a subprocess: mark it `cli`, so the
    unit tier (`make test-fast`) stays in-process and fast. Under `--dist loadgroup`, tag the
    node id of each `xdist_group` test with its group."""
    cli_dir = Path(__file__).parent / "cli"
    for item in items:
        if cli_dir in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.cli)
    if getattr(config.option, "loadgroup", False):  # set on the xdist workers by `--dist loadgroup`
        for item in items:
            tag_group(item)


def tag_group(item: pytest.Item) -> None:
    """What pytest-xdist 3.8 does for `--dist loadgroup`, for pytest 9: xdist sets
    ``item._nodeid``, which pytest 9 no longer reads, so every group was silently spread over
    the workers (module fixtures such as `tracked` built once per worker). The controller
    sends all tests whose id ends in the same ``@group`` to one worker."""
    names = sorted({str(m.args[0] if m.args else m.kwargs.get("name", "default")) for m in item.iter_markers("xdist_group")})
    if not names or "@" in item.nodeid.rsplit("::", 1)[-1]:
        return
    from _pytest.nodeid import NodeId  # pytest 9's structured id; pinned by requirements.lock

    item._id = NodeId.parse(f"{item.nodeid}@{'_'.join(names)}")  # type: ignore[attr-defined]
