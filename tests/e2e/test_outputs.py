"""What a run leaves behind: whole training curves and no temporary files after a killed stage,
`dvc plots` that declare exactly what the run wrote (with readable titles), and a failed run
that names the one command that puts the last good state back."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mmp.pipeline.stages import RESTORE_COMMAND
from tests.conftest import ROOT, make_repo_copy, pipeline_env, run

pytestmark = pytest.mark.slow


def test_plots_show_declares_only_what_the_default_run_wrote_with_readable_titles(default_run: Path) -> None:
    proc = run(["dvc", "plots", "show", "--json"], default_run)
    assert "failed to load" not in proc.stderr, proc.stderr[-2000:]
    shown = json.loads(proc.stdout)
    assert not shown.get("errors"), shown.get("errors")
    titles = {}
    for plot_id, rendered in shown["data"].items():
        if any(r.get("type") == "image" for r in rendered):  # a PNG the stage drew (the SHAP beeswarm)
            assert (default_run / plot_id).stat().st_size > 0, f"{plot_id} is declared but empty"
            continue
        vega = [r["content"] for r in rendered if r.get("type") == "vega"]
        assert vega and vega[0]["data"]["values"], f"{plot_id} is declared but has no data"
        title = vega[0]["title"]["text"] if isinstance(vega[0].get("title"), dict) else vega[0].get("title")
        assert title and "/" not in title and "_tsv" not in title and "_json" not in title, f"{plot_id}: unreadable title {title!r}"
        titles[plot_id] = title
    assert "Training curve: binary_logloss" in titles.values()
    assert {"Receiver operating characteristic (ROC)", "Precision-Recall Curve", "Confusion Matrix", "Feature importance"} <= set(
        titles.values()
    )
    assert run(["git", "check-ignore", "-q", "dvc_plots/index.html"], default_run, check=False).returncode == 0


def curve_lines(live: Path) -> int:
    return sum(len(f.read_text().splitlines()) for f in (live / "plots" / "metrics").glob("*.tsv"))


def test_a_killed_train_stage_keeps_the_last_whole_curve_and_the_next_run_leaves_no_temp(default_run: Path, tmp_path: Path) -> None:
    params = yaml.safe_load((default_run / "params.yaml").read_text())
    # The stage runs outside the repository (cwd tmp_path), where conf/contracts is not found.
    params["data"]["contract"] = yaml.safe_load((default_run / "conf/contracts" / f"{params['data']['contract']}.yaml").read_text())
    for name, rounds in (("quick.yaml", 20), ("slow.yaml", 20000)):  # slow: long enough to be killed mid-run
        params["model"]["hyperparameters"]["n_estimators"] = rounds
        (tmp_path / name).write_text(yaml.safe_dump(params))

    def train(params: str) -> list[str]:
        return [sys.executable, "-m", "mmp.pipeline.stages.train", "--features", str(default_run / "data/features"),
                "--best-params", str(default_run / "models/best_params.json"), "--out", "models/model.joblib",
                "--live", "metrics/train", "--threshold", "metrics/threshold.json", "--params", params]  # fmt: skip

    env = pipeline_env(default_run)
    live = tmp_path / "metrics" / "train"
    subprocess.run(train("quick.yaml"), cwd=tmp_path, env=env, check=True, capture_output=True, timeout=600)
    assert curve_lines(live) == 21  # header + 20 rounds

    proc = subprocess.Popen(train("slow.yaml"), cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        written = [f for f in (tmp_path / "metrics").rglob("*.tsv") if len(f.read_text().splitlines()) > 50]  # more than the quick curve
        if any(f.is_relative_to(live) for f in written) or any(".tmp-" in str(f) for f in written):
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the stage finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert curve_lines(live) == 21, "a killed stage must leave the last complete curve, not part of its own"

    subprocess.run(train("quick.yaml"), cwd=tmp_path, env=env, check=True, capture_output=True, timeout=600)
    assert curve_lines(live) == 21
    assert not [p for p in tmp_path.rglob("*") if ".tmp-" in p.name], "the killed run's temporary files are left"


def test_a_failed_run_prints_the_command_that_restores_the_last_good_state(tmp_path: Path) -> None:
    repo = make_repo_copy(tmp_path / "repo")
    good = run(["dvc", "exp", "run", "-S", "data.rows=500"], repo)
    assert "database tables" not in good.stdout + good.stderr, "MLflow's store set-up is not news"
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "good results"], repo)
    # prepare and featurize finish with new data, train fails: the workspace is left half-way
    failed = run(["dvc", "exp", "run", "-S", "data.rows=400", "-S", "model.class_path=sklearn.ensemble.NoSuchForest"], repo, check=False)
    assert failed.returncode != 0
    assert f"to get the last committed results back: {RESTORE_COMMAND}" in failed.stderr, failed.stderr[-3000:]
    assert run(["dvc", "status", "--json"], repo).stdout.strip() != "{}"

    assert RESTORE_COMMAND in (ROOT / "README.md").read_text(), "the README must give the command the stage prints"
    run(["bash", "-c", RESTORE_COMMAND], repo)
    assert json.loads(run(["dvc", "status", "--json"], repo).stdout) == {}
    assert (repo / "params.yaml").read_text() == run(["git", "show", "HEAD:params.yaml"], repo).stdout
    assert run(["git", "status", "--porcelain"], repo).stdout == ""
