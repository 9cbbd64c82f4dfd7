"""Experiments as DVC users run them: overrides, selective re-runs, queues, determinism, remotes."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import run
from tests.e2e.conftest import SMALL_ROWS

pytestmark = pytest.mark.slow
SMALL = ["-S", f"data.rows={SMALL_ROWS}"]  # the rows of small_run, which ran_copy copies


@pytest.fixture
def ran_copy(small_run: Path, tmp_path: Path) -> Path:
    """A private copy of one small default run (the session's ``small_run``: git, DVC cache and
    outputs), so no test sees another's edits."""
    return Path(shutil.copytree(small_run, tmp_path / "repo", symlinks=True))


def ran_stages(output: str) -> set[str]:
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage")}


@pytest.mark.xdist_group("small_run")
def test_model_change_reruns_only_the_model_stages(ran_copy: Path) -> None:
    repo_copy = ran_copy
    out = run(["dvc", "exp", "run", *SMALL, "-S", "model=random_forest", "-S", "model.hyperparameters.n_estimators=20"], repo_copy).stdout
    # featurize re-runs: features.categorical.encode auto gives LightGBM native category codes
    # and every other model one-hot columns, so the encoding follows model.class_path.
    assert ran_stages(out) == {"featurize", "tune", "train", "evaluate", "package", "mirror"}, "prepare is not re-run"
    assert yaml.safe_load((repo_copy / "params.yaml").read_text())["model"]["hyperparameters"]["n_estimators"] == 20
    diff = json.loads(run(["dvc", "params", "diff", "--json"], repo_copy).stdout)
    assert diff["params.yaml"]["model.class_path"]["new"] == "sklearn.ensemble.RandomForestClassifier"
    assert "roc_auc" in run(["dvc", "metrics", "diff"], repo_copy).stdout


def test_bundled_sklearn_datasets_run_the_same_graph(repo_copy: Path) -> None:
    """A binary sklearn dataset here; the regression one (diabetes) runs in
    tests/e2e/test_tracking.py::test_another_dataset_gets_its_own_registered_model, which asserts
    its metrics on its own run rather than paying for another."""
    run(["dvc", "exp", "run", "-S", "data=breast_cancer", "-S", "model=logistic_regression"], repo_copy)
    scores = json.loads((repo_copy / "metrics" / "evaluate.json").read_text())
    assert {"roc_auc", "f1"} <= set(scores)
    assert scores["roc_auc"] > 0.95


def test_queue_of_two_runs_in_parallel(repo_copy: Path) -> None:
    for model in ("logistic_regression", "random_forest"):
        run(
            [
                "dvc",
                "exp",
                "run",
                "--queue",
                *SMALL,
                "-S",
                f"model={model}",
                "-S",
                "+model.hyperparameters.n_jobs=1" if model == "logistic_regression" else "model.hyperparameters.n_estimators=20",
            ],
            repo_copy,
        )
    run(["dvc", "queue", "start", "-j", "2"], repo_copy)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        status = run(["dvc", "queue", "status"], repo_copy).stdout
        if "Queued" not in status and "Running" not in status:
            break
        time.sleep(2)
    assert status.count("Success") == 2, status
    shown = json.loads(run(["dvc", "exp", "show", "--json"], repo_copy).stdout)
    experiments = [e for rev in shown for e in (rev.get("experiments") or [])]
    classes = set()
    for exp in experiments:
        data = exp["revs"][0]["data"]
        classes.add(data["params"]["params.yaml"]["data"]["model"]["class_path"])
        assert data["metrics"]["metrics/evaluate.json"]["data"]["roc_auc"] > 0.5
    assert classes == {"sklearn.linear_model.LogisticRegression", "sklearn.ensemble.RandomForestClassifier"}


def lock_hashes(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


@pytest.mark.xdist_group("small_run")
def test_reproductions_are_byte_identical_and_round_trip_the_remote(ran_copy: Path, runtime_dir: Path) -> None:
    repo_copy = ran_copy
    run(["dvc", "repro", "--force"], repo_copy, MMP_FORKSERVER="0")  # each stage in its own process
    first = lock_hashes(repo_copy)
    run(["dvc", "repro", "--force"], repo_copy, XDG_RUNTIME_DIR=str(runtime_dir))  # a server of its own, whose log lists what it ran
    assert lock_hashes(repo_copy) == first, "stages forked from a warm interpreter wrote other bytes"
    forked = "".join(log.read_text() for log in runtime_dir.glob("mmp-forkserver-*/*.log"))
    # prepare ran in its own process and started the server; the stages after it were forked
    # (featurize too, unless the server took longer than prepare and the 10 s wait to start)
    assert {"train", "evaluate", "package"} <= {
        line.split()[3].rsplit(".", 1)[-1] for line in forked.splitlines() if " pid " in line and ": mmp" in line
    }, forked
    assert {"models/package", "models/model.joblib", "data/features", "metrics/evaluate.json"} <= set(first)

    home = str(repo_copy.parent / "home")  # the default remote is under ~/.local/share: keep it in tmp
    run(["dvc", "push"], repo_copy, HOME=home)
    for path in ("data/prepared", "data/features", "models/package", "models/model.joblib", ".dvc/cache"):
        target = repo_copy / path
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    run(["dvc", "pull"], repo_copy, HOME=home)
    assert "Data and pipelines are up to date" in run(["dvc", "status"], repo_copy).stdout
    assert lock_hashes(repo_copy) == first
