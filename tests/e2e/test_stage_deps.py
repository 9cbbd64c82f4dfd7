"""A stage's dvc.yaml deps are exactly the mmp modules it imports, so a code change re-runs
exactly the stages it affects. Each stage runs for real (same command line as dvc.yaml) under an
import tracer; lazy imports inside functions are caught because the stage actually executes them."""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_repo_copy, pipeline_env, run

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("stage-deps")]  # one worker: `ran` is built once

# Records the mmp modules imported, and the files of the modules run as ``__main__`` (runpy
# keeps those out of ``sys.modules``): the stage launcher's and the stage's own.
TRACER = (
    "import atexit, importlib.util, json, runpy, sys\n"
    "out, module, args = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
    "ran, run_module = [], runpy.run_module\n"
    "def traced(name, *a, **k):\n"
    "    spec = importlib.util.find_spec(name)\n"
    "    ran.append(importlib.util.find_spec(name + '.__main__').origin if spec.submodule_search_locations else spec.origin)\n"
    "    return run_module(name, *a, **k)\n"
    "runpy.run_module = traced\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted({*ran, *(m.__file__ for n, m in list(sys.modules.items()) if n.startswith('mmp') and getattr(m, '__file__', None))}))))\n"
    "sys.argv = [module, *args]\n"
    "runpy.run_module(module, run_name='__main__')\n"
)
SMALL = ["-S", "data.rows=1000"]
DASK = ["src/mmp/core/cluster.py", "src/mmp/pipeline/dask_steps.py"]  # compute=dask only
LLM = ["src/mmp/inference/llm.py", "src/mmp/modeling/llm"]  # model.kind llm_graph only
# Deps the default recipe does not import, and why they are declared anyway.
ONLY_FOR_SOME_RECIPES = {
    # data.loaders; compute=dask
    "prepare": ["src/mmp/core/plugins.py", *DASK],
    "featurize": [*DASK, "src/mmp/core/db.py", "src/mmp/core/settings.py", "src/mmp/modeling/dask_features.py"],
    # model classes a recipe may name; the base model of model.finetune.from (a registry URI:
    # settings, tracking); compute=dask
    "train": [
        "src/mmp/modeling/models",
        *DASK,
        "src/mmp/pipeline/finetune.py",
        "src/mmp/core/settings.py",
        "src/mmp/core/tracking.py",
        "src/mmp/core/db.py",
        "src/mmp/modeling/dask_training.py",
        "src/mmp/core/identity.py",  # Lightning recipes with mirroring on (the run's identity)
        "src/mmp/inference/__init__.py",
        *LLM,
    ],
    "evaluate": ["src/mmp/modeling/models", *LLM],
    "package": ["src/mmp/modeling/models", *LLM],
}
# The tune stage imports its search code only with tune.enabled (tests/e2e/test_tune_pipeline.py).
NOT_RUN_BY_DEFAULT = {"tune"}


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def traced_imports(repo: Path, cmd: str, trace: Path) -> list[str]:
    """The repo's mmp source files a stage command imports or runs, as repo-relative paths. The
    stage runs in the traced process (``MMP_FORKSERVER=0``), not in a fork of a warm server."""
    _python, _m, module, *args = shlex.split(cmd)
    proc = subprocess.run(
        [sys.executable, "-c", TRACER, str(trace), module, *args],
        cwd=repo,
        env=pipeline_env(repo, MMP_FORKSERVER="0"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    src = str(repo / "src") + "/"
    return [f"src/{f[len(src) :]}" for f in json.loads(trace.read_text()) if f.startswith(src)]


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small pipeline run, shared: each test works in its own copy of it (``ran_copy``)."""
    repo = make_repo_copy(tmp_path_factory.mktemp("stage_deps") / "repo")
    run(["dvc", "exp", "run", *SMALL], repo, MMP_MIRROR="false")
    return repo


@pytest.fixture
def ran_copy(ran: Path, tmp_path: Path) -> Path:
    """A private copy of the run repo (git, DVC cache and outputs), so no test sees another's edits."""
    return Path(shutil.copytree(ran, tmp_path / "repo", symlinks=True))


def test_each_stage_declares_exactly_the_modules_it_imports(ran_copy: Path, tmp_path: Path) -> None:
    repo_copy = ran_copy
    graph = yaml.safe_load((repo_copy / "dvc.yaml").read_text())
    paths = next(v["paths"] for v in graph["vars"] if "paths" in v)
    missing, unused = {}, {}
    for name, stage in graph["stages"].items():
        cmd = stage["cmd"]
        for key, value in paths.items():
            cmd = cmd.replace(f"${{paths.{key}}}", value)
        used = traced_imports(repo_copy, cmd, tmp_path / f"{name}.json")
        deps = [d for d in stage["deps"] if isinstance(d, str)]
        undeclared = [f for f in used if not covered(f, deps) and not f.endswith("mmp/__init__.py")]
        if undeclared:
            missing[name] = undeclared
        code_deps = [d for d in deps if d.startswith("src/") and d not in ONLY_FOR_SOME_RECIPES.get(name, [])]
        idle = [d for d in code_deps if not any(covered(f, [d]) for f in used)]
        if idle and name not in NOT_RUN_BY_DEFAULT:
            unused[name] = idle
    assert not missing, f"stages import modules missing from their dvc.yaml deps: {missing}"
    assert not unused, f"stages declare modules they never import (a change there would re-run them for nothing): {unused}"


def test_editing_the_tuning_code_leaves_prepare_and_featurize_unchanged(ran_copy: Path) -> None:
    repo_copy = ran_copy
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo_copy).stdout
    search = repo_copy / "src/mmp/tuning/search.py"
    search.write_text(search.read_text() + "\n# an edit that only the tune stage may see\n")
    changed = yaml.safe_load(run(["dvc", "status", "--json"], repo_copy).stdout or "{}") or {}
    assert "tune" in changed, changed
    assert not {"prepare", "featurize", "train"} & set(changed), changed
