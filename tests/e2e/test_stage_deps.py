"""Every mmp module a stage imports is among its dvc.yaml deps, so a code change re-runs exactly
the stages it affects. Each stage runs for real (same command line as dvc.yaml) under an import
tracer; lazy imports inside functions are caught because the stage actually executes them."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import pipeline_env, run

pytestmark = pytest.mark.slow

TRACER = (
    "import atexit, json, runpy, sys\n"
    "out, module, args = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
    "atexit.register(lambda: open(out, 'w').write(json.dumps(sorted(m.__file__ for n, m in list(sys.modules.items()) if n.startswith('mmp') and getattr(m, '__file__', None)))))\n"
    "sys.argv = [module, *args]\n"
    "runpy.run_module(module, run_name='__main__')\n"
)


def covered(path: str, deps: list[str]) -> bool:
    return any(path == dep or path.startswith(dep.rstrip("/") + "/") for dep in deps)


def test_each_stage_declares_every_module_it_imports(repo_copy: Path, tmp_path: Path) -> None:
    run(["dvc", "exp", "run", "-S", "data.rows=1000"], repo_copy, MMP_MIRROR="false")
    graph = yaml.safe_load((repo_copy / "dvc.yaml").read_text())
    paths = next(v["paths"] for v in graph["vars"] if "paths" in v)
    missing = {}
    for name, stage in graph["stages"].items():
        cmd = stage["cmd"]
        for key, value in paths.items():
            cmd = cmd.replace(f"${{paths.{key}}}", value)
        _python, _m, module, *args = shlex.split(cmd)
        trace = tmp_path / f"{name}.json"
        proc = subprocess.run([sys.executable, "-c", TRACER, str(trace), module, *args], cwd=repo_copy, env=pipeline_env(repo_copy, MMP_MIRROR="false"), capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        src = str(repo_copy / "src") + "/"
        used = [f"src/{f[len(src):]}" for f in json.loads(trace.read_text()) if f.startswith(src)]
        deps = [d for d in stage["deps"] if isinstance(d, str)]
        undeclared = [f for f in used if not covered(f, deps) and not f.endswith("mmp/__init__.py")]
        if undeclared:
            missing[name] = undeclared
    assert not missing, f"stages import modules missing from their dvc.yaml deps: {missing}"
