"""mmp's PyTorch estimators: sklearn-compatible, seeded and deterministic on CPU, early stopping,
dvclive epochs, the tuning epoch callback, and pickles that load in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone, is_classifier, is_regressor

from mmp.core.errors import MMPError
from mmp.modeling.models.mlp import MLPClassifier, MLPRegressor
from mmp.modeling.models.tab_transformer import TabTransformerClassifier, TabTransformerRegressor

SMALL = {"epochs": 15, "lr": 0.01, "batch_size": 64, "patience": 3, "random_state": 3, "device": "cpu"}
TAB = {"embedding_dim": 8, "n_heads": 2, "n_layers": 1, "hidden_layers": [16]}
CLASSIFIERS = [MLPClassifier(hidden_layers=[16], **SMALL), TabTransformerClassifier(categorical_features=["colour"], **TAB, **SMALL)]
REGRESSORS = [MLPRegressor(hidden_layers=[16], **SMALL), TabTransformerRegressor(**TAB, **SMALL)]


def data(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x1": rng.normal(size=n), "x2": rng.normal(size=n), "colour": rng.integers(-1, 4, n).astype(float)})
    return frame.astype("float32")


def labels(X: pd.DataFrame, classes: int = 2) -> np.ndarray:
    score = X["x1"].to_numpy() + (X["colour"].to_numpy() == 2)
    return np.digitize(score, np.quantile(score, np.linspace(0, 1, classes + 1)[1:-1]))


class Recorder:
    def __init__(self) -> None:
        self.metrics: list[tuple[str, float]] = []
        self.steps = 0

    def log_metric(self, name: str, value: float) -> None:
        self.metrics.append((name, value))

    def next_step(self) -> None:
        self.steps += 1


@pytest.mark.parametrize("model", CLASSIFIERS, ids=lambda m: type(m).__name__)
@pytest.mark.parametrize("classes", [2, 3])
def test_classifiers_learn_and_are_deterministic(model: Any, classes: int) -> None:
    X = data()
    y = labels(X, classes)
    first = clone(model).fit(X, y)
    proba = first.predict_proba(X)
    assert is_classifier(first) and proba.shape == (len(X), classes)
    assert np.allclose(proba.sum(axis=1), 1)
    assert (first.predict(X) == y).mean() > 1.2 / classes, "better than chance"
    assert np.array_equal(proba, clone(model).fit(X, y).predict_proba(X)), "seeded: identical on CPU"


@pytest.mark.parametrize("model", REGRESSORS, ids=lambda m: type(m).__name__)
def test_regressors_single_and_multi_output(model: Any) -> None:
    X = data()
    Y = np.column_stack([X["x1"] * 3 + 1, X["x2"] * -2 + (X["colour"] == 2)])
    assert is_regressor(model)
    single = clone(model).fit(X, Y[:, 0])
    assert single.predict(X).shape == (len(X),) and single.score(X, Y[:, 0]) > 0.3
    assert clone(model).fit(X, Y).predict(X).shape == (len(X), 2)


def test_early_stopping_logs_epochs_and_calls_back() -> None:
    X = data()
    y = labels(X)
    live, seen = Recorder(), []
    model = MLPClassifier(hidden_layers=[8], lr=0.05, epochs=200, patience=2, random_state=0, device="cpu")
    model.fit(X, y, live=live, epoch_callback=lambda epoch, loss: seen.append((epoch, loss)))
    epochs = len(model.history_)
    assert epochs < 200, "stopped early on the validation loss"
    assert live.steps == epochs and {name for name, _ in live.metrics} == {"train_loss", "val_loss"}
    assert [e for e, _ in seen] == list(range(1, epochs + 1))
    assert [loss for _, loss in seen] == [h["val_loss"] for h in model.history_]


def test_an_exception_from_the_epoch_callback_propagates() -> None:
    class Pruned(Exception):
        pass

    def prune(epoch: int, loss: float) -> None:
        if epoch == 2:
            raise Pruned

    with pytest.raises(Pruned):
        MLPClassifier(**SMALL).fit(data(), labels(data()), epoch_callback=prune)


def test_tab_transformer_names_unknown_categorical_columns() -> None:
    with pytest.raises(MMPError, match=r"categorical_features: \['shape'\] are not featurized columns"):
        TabTransformerClassifier(categorical_features=["shape"], **SMALL).fit(data(), labels(data()))


def test_tab_transformer_finds_integer_columns_and_unseen_codes_are_safe() -> None:
    X = data()
    model = TabTransformerClassifier(**TAB, **SMALL).fit(X, labels(X))
    assert model.categorical_idx_ == [2]
    unseen = X.assign(colour=9.0)
    assert np.isfinite(model.predict_proba(unseen)).all()


@pytest.mark.parametrize("model", [CLASSIFIERS[0], CLASSIFIERS[1]], ids=lambda m: type(m).__name__)
def test_pickles_load_in_a_fresh_process(model: Any, tmp_path: Path) -> None:
    X = data()
    fitted = clone(model).fit(X, labels(X))
    joblib.dump(fitted, tmp_path / "model.joblib")
    X.to_parquet(tmp_path / "X.parquet")
    np.save(tmp_path / "expected.npy", fitted.predict_proba(X))
    code = (
        "import joblib, numpy as np, pandas as pd, sys\n"
        "d = sys.argv[1]\n"
        "m = joblib.load(d + '/model.joblib')\n"
        "assert np.allclose(m.predict_proba(pd.read_parquet(d + '/X.parquet')), np.load(d + '/expected.npy'), atol=1e-6)\n"
        "print('ok')\n"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=120, env={"PYTHONPATH": src, "PATH": ""}
    )
    assert proc.stdout.strip() == "ok", proc.stderr[-2000:]
