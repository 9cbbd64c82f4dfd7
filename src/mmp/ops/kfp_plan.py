"""The Kubeflow pipeline of ``dvc.yaml``, as plain data: one step per DVC stage, its upstream
stages exactly as DVC's own graph has them, the outputs of upstream stages it must ``dvc pull``,
and the gate rules that decide whether the final ``register`` step runs.

The plan is what ``mmp.ops.kfp_compile`` turns into a KFP v2 pipeline. It is built here, in the
project's environment (DVC, the recipe), and handed over as JSON, because the ``kfp`` SDK pins
packages the project's lock cannot hold (protobuf) and runs in a virtualenv of its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from mmp.core.config import load_params
from mmp.core.errors import MMPError

DEFAULT_IMAGE = "mmp-serve:latest"  # the serving image (Dockerfile, deploy/k8s/deployment.yaml)
EVALUATE_STAGE = "evaluate"
REQUIREMENTS = Path("deploy/kfp/requirements.txt")  # the pins of the kfp extra's own virtualenv
PROMOTE_TEST = "data/prepared/test.parquet"  # `mmp promote --test`'s default: the candidate's test split


class Carried(BaseModel):
    """An uncached output (``cache: false``, e.g. a metrics file) of one stage that another
    reads: never pushed to the DVC remote, so it travels as a KFP artifact."""

    path: str
    producer: str


class Step(BaseModel):
    name: str
    after: list[str]  # the stages DVC runs before this one
    pulls: list[str]  # cached outputs of upstream stages this stage reads (`dvc pull`)
    takes: list[Carried] = Field(default_factory=list)  # uncached outputs of upstream stages it reads
    gives: list[str] = Field(default_factory=list)  # its uncached outputs that a downstream stage reads
    metrics_file: str | None = None  # the stage's metrics output (evaluate: the gated figures)


class GateRule(BaseModel):
    metric: str
    op: str  # >=, >, <=, <: the comparisons a KFP condition supports too
    value: float


class KfpPlan(BaseModel):
    name: str
    image: str
    steps: list[Step]  # in an order DVC could run them
    gate_stage: str
    gate: list[GateRule] = Field(min_length=1)
    register_after: list[str]  # the steps with nothing downstream: register comes last
    register_command: str


def build_plan(root: Path, image: str = DEFAULT_IMAGE, params_file: str = "params.yaml") -> KfpPlan:
    """The plan of the pipeline in ``root``'s dvc.yaml, gated by ``params_file``'s evaluate gate."""
    steps = dvc_steps(root)
    names = {s.name for s in steps}
    if EVALUATE_STAGE not in names:
        raise MMPError("dvc.yaml: stages", f"no {EVALUATE_STAGE!r} stage to gate the register step on", ", ".join(sorted(names)))
    params = load_params(root / params_file)
    key, gate = params.evaluate.gate_for(params.data.task_type)
    if not gate.rules:
        raise MMPError(f"{params_file}: {key}.rules", "is empty: the register step needs a metric threshold", "one rule or more")
    upstream = {a for s in steps for a in s.after}
    return KfpPlan(
        name=root.resolve().name.replace("_", "-").lower(),
        image=image,
        steps=steps,
        gate_stage=EVALUATE_STAGE,
        gate=[GateRule(metric=r.metric, op=r.op, value=r.value) for r in gate.rules],
        register_after=[s.name for s in steps if s.name not in upstream],
        # promote scores candidate and champion on the test split: the fresh container pulls it
        register_command=f"dvc pull {PROMOTE_TEST} && mmp promote --params {params_file} --test {PROMOTE_TEST}",
    )


def dvc_steps(root: Path) -> list[Step]:
    """One step per stage of ``root``'s dvc.yaml, with DVC's own edges (``Repo.index.graph``)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(root)) as repo:
        graph = repo.index.graph  # an edge (a, b): stage a depends on stage b
        stages = {s.addressing: s for s in repo.index.stages}
        order = list(reversed(list(nx.topological_sort(graph))))
        steps = [_step(stages[s.addressing], graph, root) for s in order if s.addressing in stages]
    for step in steps:
        step.gives = sorted({c.path for other in steps for c in other.takes if c.producer == step.name})
    return steps


def _step(stage: Any, graph: Any, root: Path) -> Step:
    upstream = sorted(s.addressing for s in graph.successors(stage))
    produced = {Path(o.fs_path): (s.addressing, o.use_cache) for s in graph.successors(stage) for o in s.outs}
    pulls, takes = [], []
    for dep in stage.deps:
        found = [(out, made) for out, made in produced.items() if _within(Path(dep.fs_path), out)]
        for out, (producer, cached) in found[:1]:
            if cached:
                pulls.append(_relative(dep.fs_path, root))
            else:
                takes.append(Carried(path=_relative(out, root), producer=producer))
    metrics = [o for o in stage.outs if o.metric]
    metrics_file = _relative(metrics[0].fs_path, root) if metrics else None
    return Step(name=stage.addressing, after=upstream, pulls=sorted(pulls), takes=sorted(takes, key=str), metrics_file=metrics_file)


def _within(path: Path, out: Path) -> bool:
    return path == out or out in path.parents  # a dep may be one file of a directory output


def _relative(path: str | Path, root: Path) -> str:
    return Path(path).resolve().relative_to(root.resolve()).as_posix()


def requirements_digest(root: Path) -> str:
    """The key of the kfp virtualenv under .cache/: it is rebuilt when the pins change."""
    return hashlib.md5((root / REQUIREMENTS).read_bytes()).hexdigest()[:12]


def cached_kfp_python(root: Path) -> Path:
    """Where the kfp virtualenv's Python lives once built from deploy/kfp/requirements.txt."""
    return root / ".cache" / f"kfp-{requirements_digest(root)}" / "bin" / "python"


def write_plan(plan: KfpPlan, path: Path) -> None:
    path.write_text(json.dumps(plan.model_dump(), indent=1))


def kfp_python(root: Path, explicit: str | None = None) -> str:
    """The Python that has the kfp SDK: ``explicit`` (``--python``, ``MMP_KFP_PYTHON``), else this
    one when kfp is installed here, else the cached virtualenv of deploy/kfp/requirements.txt."""
    import importlib.util
    import sys

    if explicit:
        import subprocess

        # asked first, so a Python without kfp fails before DVC's graph is read
        found = subprocess.run([explicit, "-c", "import kfp"], capture_output=True, check=False)
        if found.returncode != 0:
            raise missing_sdk(explicit)
        return explicit
    if importlib.util.find_spec("kfp") is not None:
        return sys.executable
    cached = cached_kfp_python(root) if (root / REQUIREMENTS).is_file() else None
    if cached is not None and cached.is_file():
        return str(cached)
    raise missing_sdk(sys.executable)


def missing_sdk(python: str) -> MMPError:
    return MMPError(
        "kfp",
        f"the Kubeflow Pipelines SDK is not installed for {python}: install the `kfp` extra in a virtualenv of its own "
        f"(python -m venv .kfp && .kfp/bin/pip install -r {REQUIREMENTS.as_posix()}; its protobuf conflicts with requirements.lock)",
        "--python .kfp/bin/python, MMP_KFP_PYTHON, or `mmp kfp venv`",
    )


def compile_pipeline(plan: KfpPlan, output: Path, python: str) -> None:
    """Run ``mmp.ops.kfp_compile`` with ``python`` (the kfp SDK's interpreter) on ``plan``."""
    import os
    import subprocess
    import tempfile

    import mmp

    source = str(Path(mmp.__file__).resolve().parents[1])  # the kfp venv imports only this module of mmp
    with tempfile.TemporaryDirectory() as tmp:
        plan_file = Path(tmp) / "plan.json"
        write_plan(plan, plan_file)
        env = {**os.environ, "PYTHONPATH": source}
        done = subprocess.run(
            [python, "-m", "mmp.ops.kfp_compile", str(plan_file), str(output)], env=env, capture_output=True, text=True, check=False
        )
    if "No module named 'kfp'" in done.stderr:
        raise missing_sdk(python)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise MMPError(str(output), f"the kfp SDK ({python}) could not compile the pipeline: {last}")


def ensure_kfp_venv(root: Path) -> Path:
    """The cached kfp virtualenv's Python, built from deploy/kfp/requirements.txt when missing
    (into a temporary name, moved in place when complete, so a failed build leaves nothing)."""
    import os
    import shutil
    import subprocess
    import sys

    python = cached_kfp_python(root)
    if python.is_file():
        return python
    venv = python.parents[1]
    building = venv.with_name(f"{venv.name}.tmp-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "venv", str(building)], check=True)
    pip = [str(building / "bin" / "python"), "-m", "pip", "install", "-q", "-r", str(root / REQUIREMENTS)]
    done = subprocess.run(pip, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        shutil.rmtree(building, ignore_errors=True)
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise MMPError(REQUIREMENTS.as_posix(), f"installing the kfp extra failed: {last}")
    try:
        os.replace(building, venv)  # only bin/python is used: the venv's scripts' shebangs never run
    except OSError:  # another process built it meanwhile
        shutil.rmtree(building, ignore_errors=True)
        if not python.is_file():
            raise
    return python
