"""The LLM recipe (``+experiment=llm_qa``) end to end: with every socket blocked, its stages run
in-process (train a no-op, evaluate on the golden set, package), plain MLflow loads the package
and the real serving app answers; and one real ``dvc exp run`` of the recipe."""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from tests.conftest import ROOT, run

# The committed golden set (golden/qa.jsonl) answered by the committed script
# (conf/llm/fake_script.yaml): 2 of 6 exact; token F1 = ROUGE-L = (1 + 2/3 + 1 + 0 + 2/3 + 4/5) / 6.
GOLDEN_SCORES = {"exact_match": 0.333333, "token_f1": 0.688889, "rouge_l": 0.688889, "n_examples": 6.0}


def block_sockets(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """From now on, every outgoing connection but a local AF_UNIX one fails, and is recorded."""
    tried: list[Any] = []
    connect = socket.socket.connect

    def refuse(self: socket.socket, address: Any) -> None:
        if self.family == socket.AF_UNIX:
            return connect(self, address)
        tried.append(address)
        raise OSError(f"network blocked by the test: {address}")

    def refuse_ex(self: socket.socket, address: Any) -> int:
        refuse(self, address)
        return 0

    def refuse_create(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        tried.append(address)
        raise OSError(f"network blocked by the test: {address}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse_ex)
    monkeypatch.setattr(socket, "create_connection", refuse_create)
    return tried


def test_llm_recipe_runs_packages_and_serves_with_sockets_blocked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmp.ops.params import compose

    params = tmp_path / "params.yaml"
    params.write_text(compose(ROOT, ["+experiment=llm_qa"]))  # DVC's own Hydra composition, before the block
    monkeypatch.chdir(ROOT)  # the recipe's paths (golden set, prompts, script) are the repository's
    out = {name: str(tmp_path / name) for name in ("prepared", "features", "featurizer", "model", "best", "threshold", "scores", "package")}
    tried = block_sockets(monkeypatch)
    run_stages(out, str(params), tmp_path)
    import mlflow.pyfunc
    from fastapi.testclient import TestClient

    from mmp.serving.app import create_app

    answers = mlflow.pyfunc.load_model(out["package"]).predict(pd.DataFrame({"input": ["What is 6 times 7?", "Who wrote Hamlet?"]}))
    with TestClient(create_app(out["package"], env={})) as client:
        one = client.post("/predict", json={"input": "What is the capital of France?"})
        many = client.post("/invoke", json=[{"input": "What is 6 times 7?"}, {"input": "Who painted the Mona Lisa?"}])
        bad = client.post("/predict", json={"question": "no input field"})
    assert tried == [], f"the LLM recipe opened sockets: {tried}"
    assert json.loads(Path(out["scores"]).read_text()) == GOLDEN_SCORES
    examples = [json.loads(line) for line in (tmp_path / "evaluate" / "examples.jsonl").read_text().splitlines()]
    assert len(examples) == 6 and examples[2] == {**examples[2], "prediction": "42", "exact_match": 1.0}  # the tool call
    artifacts = sorted(p.name for p in (Path(out["package"]) / "artifacts").iterdir())
    assert artifacts == ["graph.py", "metadata.json", "prompts.yaml", "schema.json", "script.yaml", "settings.json"]
    assert json.loads((Path(out["package"]) / "artifacts" / "metadata.json").read_text())["kind"] == "llm_graph"
    assert "OPENAI_API_KEY" not in (Path(out["package"]) / "artifacts" / "settings.json").read_text()
    assert answers["prediction"].tolist() == ["42", "Shakespeare"]
    assert one.status_code == 200 and one.json()["predictions"] == ["Paris"]
    assert many.status_code == 200 and many.json()["predictions"] == ["42", "I don't know."]
    assert bad.status_code == 422 and "input" in bad.text


def run_stages(out: dict[str, str], params: str, tmp: Path) -> None:
    """prepare -> featurize -> tune -> train -> evaluate -> package, as dvc.yaml calls them."""
    from mmp.pipeline.stages import evaluate, featurize, package, prepare, train, tune

    p = ["--params", params]
    prepared = out["prepared"]
    prepare.main(["--out", prepared, "--stats", f"{tmp}/data.json", "--profile", f"{tmp}/profile.json", "--quality", f"{tmp}/quality", *p])
    featurize.main(["--prepared", prepared, "--out", out["features"], "--featurizer", out["featurizer"], *p])
    tune.main(
        [
            "--features",
            out["features"],
            "--prepared",
            prepared,
            "--best-params",
            out["best"],
            "--metrics",
            f"{tmp}/tune.json",
            "--live",
            f"{tmp}/tune",
            *p,
        ]
    )
    train_args = [
        "--features",
        out["features"],
        "--best-params",
        out["best"],
        "--out",
        out["model"],
        "--live",
        f"{tmp}/train",
        "--threshold",
        out["threshold"],
    ]
    train.main([*train_args, *p])
    common = ["--features", out["features"], "--model", out["model"], "--featurizer", out["featurizer"], "--threshold", out["threshold"]]
    evaluate.main([*common, "--metrics", out["scores"], "--live", f"{tmp}/evaluate", *p])
    splits = ["--train", f"{prepared}/train.parquet", "--test", f"{prepared}/test.parquet"]
    package.main(
        [
            "--schema",
            f"{prepared}/schema.json",
            *splits,
            "--featurizer",
            out["featurizer"],
            "--model",
            out["model"],
            "--metrics",
            out["scores"],
            "--best-params",
            out["best"],
            "--out",
            out["package"],
            *p,
        ]
    )


@pytest.mark.slow
def test_dvc_exp_run_of_the_llm_recipe(repo_copy: Path) -> None:
    run(["dvc", "exp", "run", "-S", "+experiment=llm_qa"], repo_copy, MMP_MIRROR="false")
    assert json.loads((repo_copy / "metrics" / "evaluate.json").read_text()) == GOLDEN_SCORES
    assert len((repo_copy / "metrics" / "evaluate" / "examples.jsonl").read_text().splitlines()) == 6
    lock = yaml.safe_load((repo_copy / "dvc.lock").read_text())
    assert any(d["path"] == "golden" for d in lock["stages"]["prepare"]["deps"]), "the golden set's hash is in dvc.lock"
    assert yaml.safe_load((repo_copy / "params.yaml").read_text())["model"]["kind"] == "llm_graph"
