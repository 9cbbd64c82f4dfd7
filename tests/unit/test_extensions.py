"""Extension points without forking: a tiny package, installed into a temp dir (never into the
venv), provides a data loader class, an fsspec protocol (by import and by entry point) and two
metric functions; the recipe names them and the source read, the evaluation, the gate and a
short tuning study use them with no change under src/."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import fsspec
import pytest
import yaml
from sklearn.linear_model import LogisticRegression

from mmp.core.config import DataConfig, GateConfig, Params, parse
from mmp.core.errors import MMPError
from mmp.data.sources import load_source
from mmp.modeling.gate import evaluate_gate
from mmp.pipeline.stages import tune as tune_stage
from mmp.pipeline.steps import evaluate
from tests.tuning_helpers import classification_frame, make_workspace, params_dict, stage_args

PACKAGE = {
    "pyproject.toml": """
[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "mypkg"
version = "0.1"

[project.entry-points."fsspec.specs"]
myep = "mypkg.fs:MyMemFS"
""",
    "mypkg/__init__.py": "",
    "mypkg/loaders.py": '''
import pandas as pd
from sklearn.datasets import make_classification


class MyLoader:
    """myloader://<rows>: a seeded synthetic table."""

    def read(self, uri):
        rows = int(uri.split("://", 1)[1])
        X, y = make_classification(n_samples=rows, n_features=4, random_state=0)
        frame = pd.DataFrame(X, columns=["a", "b", "c", "d"])
        frame["target"] = y
        return frame
''',
    "mypkg/fs.py": '''
import fsspec
from fsspec.implementations.memory import MemoryFileSystem


class MyMemFS(MemoryFileSystem):
    """An in-memory file system of its own, under the protocols mymem:// and myep://."""

    protocol = ("mymem", "myep")
    store = {}
    pseudo_dirs = [""]

    @classmethod
    def _strip_protocol(cls, path):
        for prefix in ("mymem://", "myep://"):
            path = path.removeprefix(prefix)
        return super()._strip_protocol(path)


fsspec.register_implementation("mymem", MyMemFS, clobber=True)
''',
    "mypkg/metrics.py": '''
import numpy as np


def profit_at_k(y_true, y_pred, y_score):
    """The share of positives among the 20% highest-scored rows."""
    top = np.argsort(-np.asarray(y_score))[: max(1, len(y_score) // 5)]
    return float(np.mean(np.asarray(y_true)[top] == 1))


def cost(y_true, y_pred, y_score):
    """10 per wrong label: lower is better."""
    return 10.0 * float(np.mean(np.asarray(y_true) != np.asarray(y_pred)))


cost.greater_is_better = False
''',
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """mypkg built and installed with pip into a directory of its own."""
    src, target = tmp_path_factory.mktemp("mypkg"), tmp_path_factory.mktemp("site")
    for name, text in PACKAGE.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_text(text.lstrip())
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-deps",
        "--no-build-isolation",
        "--no-index",
        "--target",
        str(target),
        str(src),
    ]
    subprocess.run(cmd, check=True, capture_output=True, timeout=300)
    return target


@pytest.fixture
def mypkg(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(site))
    return site


def data(uri: str, **loaders: str) -> DataConfig:
    return DataConfig(source_uri=uri, target_col="target", task_type="binary", loaders=loaders)


def test_a_loader_class_and_fsspec_protocols_read_the_source(mypkg: Path) -> None:
    frame = load_source(data("myloader://120", myloader="mypkg.loaders:MyLoader"), 0)
    assert frame.shape == (120, 5)
    # A module that registers an fsspec protocol when imported, named in data.loaders.
    cfg = data("mymem://loans/train.csv", mymem="mypkg.fs")
    with pytest.raises(MMPError, match="file not found: mymem://loans/train.csv"):
        load_source(cfg, 0)  # the module was imported: the protocol is known, the file is not there yet
    with fsspec.open("mymem://loans/train.csv", "w") as f:
        frame.to_csv(f, index=False)
    assert load_source(cfg, 0).equals(frame)
    # The `fsspec.specs` entry point: no data.loaders entry (fsspec reads entry points when a
    # process imports it; process_entries does the same for the package added here).
    fsspec.process_entries()
    assert load_source(data("myep://loans/train.csv"), 0).equals(frame)


def test_bad_sources_and_paths_are_one_line(mypkg: Path) -> None:
    cases = [
        (data("nope://x.csv", myloader="mypkg.loaders:MyLoader"), "data.source_uri: unknown scheme 'nope' (allowed: file, synthetic, sklearn, sql, myloader, a scheme"),
        (data("x://1", x="mypkg.nothere:Loader"), "data.loaders.x: cannot import 'mypkg.nothere': no module named 'mypkg.nothere'"),
        (data("x://1", x="mypkg.loaders:Missing"), "data.loaders.x: 'mypkg.loaders:Missing': module 'mypkg.loaders' has no attribute 'Missing'"),
    ]  # fmt: skip
    for cfg, line in cases:
        with pytest.raises(MMPError) as err:
            load_source(cfg, 0)
        assert str(err.value).startswith(line) and "\n" not in str(err.value), str(err.value)
    with pytest.raises(MMPError, match="data.loaders"):
        parse(DataConfig, {"source_uri": "x://1", "target_col": "t", "task_type": "binary", "loaders": {"x": "not a path"}}, "data")


def test_metrics_are_recorded_and_gated_with_their_direction(mypkg: Path) -> None:
    params = parse(Params, params_dict() | {"evaluate": {"extra_metrics": ["mypkg.metrics:profit_at_k", "mypkg.metrics:cost"]}})
    frame = classification_frame(300)
    model = LogisticRegression().fit(frame.drop(columns="target"), frame["target"])
    scores = evaluate(frame, model, params)
    assert 0.5 < scores["profit_at_k"] <= 1 and 0 <= scores["cost"] < 5
    rules = {"rules": [{"metric": "profit_at_k", "op": ">=", "value": 0.5}], "beat_champion": {"metric": "cost"}}
    worse_champion = scores | {"cost": scores["cost"] + 1}
    result = evaluate_gate(parse(GateConfig, rules), scores, worse_champion, directions={"profit_at_k": True, "cost": False})
    assert result.passed and "lower is better" in result.summary(), result.summary()
    bad = parse(Params, params_dict() | {"evaluate": {"extra_metrics": ["mypkg.metrics:nothing"]}})
    with pytest.raises(MMPError, match=r"^evaluate.extra_metrics\[0\]: 'mypkg.metrics:nothing': module 'mypkg.metrics' has no attribute"):
        evaluate(frame, model, bad)


def test_tuning_on_a_metric_from_a_repository_module(mypkg: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The tuned metric comes from a module in the repository (no install): the stage runs at
    the repository root, which is importable."""
    model = {
        "class_path": "sklearn.linear_model.LogisticRegression",
        "hyperparameters": {"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}},
    }
    params = params_dict(model, metric="cost", n_trials=3) | {
        "evaluate": {"extra_metrics": ["my_metrics:cost", "mypkg.metrics:profit_at_k"]}
    }
    root = make_workspace(tmp_path, params)
    (root / "my_metrics.py").write_text(PACKAGE["mypkg/metrics.py"])
    monkeypatch.setattr(sys, "path", list(sys.path))  # the repository root is added for this test only
    monkeypatch.setenv("MMP_TUNE_STORAGE", f"sqlite:///{tmp_path / 'optuna.db'}")
    monkeypatch.chdir(root)
    tune_stage.main(stage_args(root))
    scores = json.loads((root / "metrics/tune.json").read_text())
    assert (scores["metric"], scores["direction"], scores["n_complete"]) == ("cost", "minimize", 3)
    assert 0 <= scores["best_score"] < 5
    unknown = yaml.safe_load((root / "params.yaml").read_text()) | {"tune": {"enabled": True, "metric": "profit"}}
    (root / "params.yaml").write_text(yaml.safe_dump(unknown))
    with pytest.raises(MMPError, match="tune.metric: 'profit' is not a metric .* log_loss, cost, profit_at_k"):
        tune_stage.main(stage_args(root))
