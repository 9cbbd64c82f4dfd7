from __future__ import annotations

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier

from mmp.modeling import training


class Recorder:
    """A dvclive stand-in that records what the LightGBM callback logs (no files)."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def log_metric(self, name: str, value: float) -> None:
        self.values.append(value)

    def next_step(self) -> None:
        pass


def test_lightgbm_curve_is_logged_from_a_bounded_sample(monkeypatch) -> None:
    monkeypatch.setattr(training, "CURVE_ROWS", 100)
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(size=1000)})
    y = pd.Series((X["a"] + rng.normal(scale=0.5, size=1000) > 0).astype(int))
    seen = {}
    real_fit = LGBMClassifier.fit

    def spy(self, X, y, **kwargs):  # noqa: ANN001, ANN202
        seen["eval_rows"] = len(kwargs["eval_X"][0])
        return real_fit(self, X, y, **kwargs)

    monkeypatch.setattr(LGBMClassifier, "fit", spy)
    live = Recorder()
    model = training.fit_model(LGBMClassifier(n_estimators=5, verbose=-1), X, y, live)
    assert seen["eval_rows"] == 100, "the curve is scored on the sample, not all 1000 rows"
    assert len(live.values) == 5, "one point per boosting round"
    assert model.evals_result_["train"]["binary_logloss"] == live.values
    assert live.values[-1] < live.values[0]
