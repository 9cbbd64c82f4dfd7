"""`mmp kfp compile`: the compiled KFP v2 pipeline has one task per DVC stage with exactly DVC's
edges, and `register` runs under a condition on the evaluate task's gated metric. The kfp SDK
lives in a virtualenv of its own (deploy/kfp/requirements.txt), built once under .cache/."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mmp.core.errors import MMPError
from mmp.ops.kfp_plan import ensure_kfp_venv

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.cli, pytest.mark.xdist_group("kfp")]

# Loads the YAML back with the SDK, in the kfp virtualenv: the component and its tasks' names.
LOAD_BACK = """
import json, sys
from kfp import components
component = components.load_component_from_file(sys.argv[1])
print(json.dumps({"name": component.name, "tasks": sorted(component.pipeline_spec.root.dag.tasks)}))
"""


def dvc_edges() -> set[tuple[str, str]]:
    """(stage, the stage it depends on), from DVC's own graph."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        return {(a.addressing, b.addressing) for a, b in repo.index.graph.edges()}


def mmp(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **env}
    return subprocess.run([sys.executable, "-m", "mmp", *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def kfp_python() -> Path:
    try:
        return ensure_kfp_venv(ROOT)
    except MMPError as err:
        if any(s in str(err) for s in ("Could not find a version", "NewConnectionError", "Temporary failure in name resolution")):
            pytest.skip(f"no package index reachable, the kfp extra cannot be installed: {err}")
        raise


def test_compiled_pipeline_has_dvc_topology_and_a_gated_register(kfp_python: Path, tmp_path: Path) -> None:
    out = tmp_path / "pipeline.yaml"
    done = mmp("kfp", "compile", "--output", str(out), "--image", "registry.example/mmp-serve:1", MMP_KFP_PYTHON=str(kfp_python))
    assert done.returncode == 0, done.stderr
    spec = yaml.safe_load(out.read_text())

    root = spec["root"]["dag"]["tasks"]
    conditions = {name: task for name, task in root.items() if name.startswith("condition-")}
    stages = {name: task for name, task in root.items() if name not in conditions}
    edges, dvc = {(name, dep) for name, task in stages.items() for dep in task.get("dependentTasks", [])}, dvc_edges()
    assert edges == dvc
    assert set(stages) == {a for a, _ in dvc} | {b for _, b in dvc}

    # register sits under one condition on evaluate's roc_auc output (params.yaml: roc_auc >= 0.7)
    (condition,) = conditions.values()
    assert condition["triggerPolicy"]["condition"] == "inputs.parameter_values['pipelinechannel--evaluate-roc_auc'] >= 0.7"
    assert condition["inputs"]["parameters"]["pipelinechannel--evaluate-roc_auc"]["taskOutputParameter"]["producerTask"] == "evaluate"
    inner = spec["components"][condition["componentRef"]["name"]]["dag"]["tasks"]
    assert list(inner) == ["register"]
    assert spec["deploymentSpec"]["executors"]["exec-register"]["container"]["command"][2] == (
        "dvc pull data/prepared/test.parquet && mmp promote --params params.yaml --test data/prepared/test.parquet"
    )

    # every step runs its stage in the given image, between dvc pull and dvc push
    train = spec["deploymentSpec"]["executors"]["exec-train"]["container"]
    assert train["image"] == "registry.example/mmp-serve:1"
    assert train["command"][2] == (
        "dvc pull data/features models/best_params.json && dvc repro --single-item train && dvc push train"
        ' && mkdir -p "$(dirname "$1")" && cp -r metrics/threshold.json "$1"'  # an uncached output evaluate reads: an artifact
    )

    loaded = subprocess.run([str(kfp_python), "-c", LOAD_BACK, str(out)], capture_output=True, text=True, check=True)
    assert json.loads(loaded.stdout) == {"name": spec["pipelineInfo"]["name"], "tasks": sorted(root)}


def test_missing_sdk_is_one_line_naming_the_extra(tmp_path: Path) -> None:
    done = mmp("kfp", "compile", "--output", str(tmp_path / "p.yaml"), "--python", sys.executable)
    # this interpreter has no kfp: the compile fails in one line, and nothing is written
    assert done.returncode == 2
    (line, hint) = done.stderr.splitlines()
    assert line.startswith("error: kfp: the Kubeflow Pipelines SDK is not installed") and "`kfp` extra" in line, done.stderr
    assert "debug" in hint
    assert not (tmp_path / "p.yaml").exists()
