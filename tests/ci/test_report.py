"""``mmp report`` on a real temp repo with two committed pipeline runs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.ci.conftest import TwoRevisions, clone, make
from tests.conftest import run

pytestmark = pytest.mark.slow

# One PNG per plot the run declared (metrics/plots/*/dvc.yaml), named after its DVC plot id.
PLOTS = (
    "metrics-evaluate-plots-sklearn-roc",
    "metrics-evaluate-plots-sklearn-precision_recall",
    "metrics-evaluate-plots-sklearn-confusion_matrix",
    "metrics-evaluate-plots-custom-importance",
    "metrics-evaluate-plots-custom-explanation",  # the global explanation: mean |contribution| per raw column
    "metrics-evaluate-plots-images-explanation_beeswarm",  # and SHAP's beeswarm, a PNG plot
    "train-training-curve",
)


def committed_metrics(repo: Path, rev: str) -> dict[str, float]:
    show = subprocess.run(["git", "show", f"{rev}:metrics/evaluate.json"], cwd=repo, capture_output=True, text=True, check=True)
    return json.loads(show.stdout)


def test_make_report_compares_the_workspace_with_a_base_commit(two_revisions: TwoRevisions, tmp_path: Path) -> None:
    repo = clone(two_revisions.repo, tmp_path / "clone")  # metrics and plot data are in git
    make(repo, "report", "BASE=HEAD~1")
    text = (repo / "report/report.md").read_text()
    assert text.startswith("# Model report: `workspace` against `HEAD~1`")
    old, new = committed_metrics(repo, "HEAD~1"), committed_metrics(repo, "HEAD")
    assert old != new, "the two recipes give different models"
    for name in ("roc_auc", "log_loss"):
        row = next(line for line in text.splitlines() if line.startswith(f"| {name} |"))
        assert row.startswith(f"| {name} | {old[name]:.6g} | {new[name]:.6g} | "), row
    assert "| model.hyperparameters.n_estimators | 300 | 120 |" in text
    assert "| model.hyperparameters.num_leaves.default | 31 | 15 |" in text
    assert "## Quality gate" in text and "| `roc_auc >= 0.7` |" in text
    assert "<summary><code>metrics/data.json</code> (unchanged)</summary>" in text
    # The per-column profile is no metrics file (it would flood `dvc exp show`) but is reported.
    assert "<summary><code>metrics/data_profile.json</code> (unchanged)</summary>" in text
    assert "| missing_rate.income |" in text
    assert "### Training curve: binary_logloss" in text
    assert "### Explanation beeswarm" in text and "### Mean |contribution| by raw column (lightgbm_pred_contrib" in text
    for name in PLOTS:
        assert f"(plots/{name}.png)" in text
        png = (repo / "report/plots" / f"{name}.png").read_bytes()
        assert png.startswith(b"\x89PNG"), name
    assert "report" not in run(["git", "status", "--porcelain"], repo).stdout, "report/ is git-ignored"


def test_report_works_between_two_experiments(two_revisions: TwoRevisions, tmp_path: Path) -> None:
    out = tmp_path / "review"
    repo = clone(two_revisions.repo, tmp_path / "clone")
    run(["mmp", "report", "--base", two_revisions.base_exp, "--target", two_revisions.target_exp, "--out", str(out)], repo)
    text = (out / "report.md").read_text()
    assert f"`{two_revisions.target_exp}` against `{two_revisions.base_exp}`" in text
    assert "| model.hyperparameters.n_estimators | 300 | 120 |" in text
    assert sorted(p.stem for p in (out / "plots").glob("*.png")) == sorted(PLOTS)


def test_unknown_revision_is_one_clear_error_and_writes_nothing(two_revisions: TwoRevisions, tmp_path: Path) -> None:
    out = tmp_path / "never"
    proc = run(["mmp", "report", "--base", "no-such-rev", "--out", str(out)], two_revisions.repo, check=False)
    assert proc.returncode == 2
    assert "error: dvc metrics diff no-such-rev --all: unknown Git revision 'no-such-rev'" in proc.stderr
    assert not out.exists()
