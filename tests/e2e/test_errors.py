"""Every user mistake gets one message naming the key/column, the rule and what is allowed, a
non-zero exit, no traceback (unless asked for), and no half-written outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import make_repo_copy, run

pytestmark = pytest.mark.slow

CASES = {
    "unknown-key": (
        ["+model.colour=red"],
        "error: model.colour: unknown key (allowed: class_path, hyperparameters, finetune, pretrain, kind, llm)",
        "data/prepared",
    ),
    "wrong-type": (["data.rows=many"], "error: data.rows: input should be a valid integer", "data/prepared"),
    "bad-class-path": (
        ["model.class_path=sklearn.ensemble.NoSuchForest"],
        "error: model.class_path: 'sklearn.ensemble' has no class 'NoSuchForest'",
        "models/model.joblib",
    ),
    "bad-hyperparameter": (
        ["+model.hyperparameters.n_estimator=5"],
        "error: model.hyperparameters.n_estimator: LGBMClassifier does not accept this hyperparameter; did you mean n_estimators?",
        "models/model.joblib",
    ),
    "missing-target": (
        ["data.target_col=defaulted"],
        "error: data.target_col: column 'defaulted' not found in the source data (allowed: customer_id,",
        "data/prepared",
    ),
    "contract-violation": (["data.contract={columns:{age:{dtype:float,max:30}}}"], "error: column 'age': must be <= 30;", "data/prepared"),
    "task-mismatch": (
        ["data=diabetes"],
        "error: model.class_path: LGBMClassifier is a classifier but data.task_type is regression (allowed: a regressor",
        "models/model.joblib",
    ),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo_copy(tmp_path_factory.mktemp("errors") / "repo")


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_mistake_fails_with_one_clear_message(repo: Path, case: str) -> None:
    overrides, message, never_written = CASES[case]
    args = ["dvc", "exp", "run", "-S", "data.rows=500"] + [a for o in overrides for a in ("-S", o)]
    proc = run(args, repo, check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert message in output, output[-3000:]
    assert "Traceback" not in output
    assert not (repo / never_written).exists(), f"{never_written} was written by a failed run"


def test_debug_shows_the_traceback(repo: Path) -> None:
    proc = run(["dvc", "exp", "run", "-S", "data.target_col=defaulted"], repo, check=False, MMP_DEBUG="1")
    assert proc.returncode != 0
    assert "Traceback" in proc.stdout + proc.stderr
