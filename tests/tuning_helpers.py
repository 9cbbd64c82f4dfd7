"""A small tuning workspace for tests: params.yaml, train features, conf/env (runtime settings)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from tests.conftest import ROOT

LGBM = {
    "class_path": "lightgbm.LGBMClassifier",
    "hyperparameters": {
        "n_estimators": 60,
        "learning_rate": {"type": "float", "low": 0.001, "high": 0.5, "log": True},
        "num_leaves": {"type": "int", "low": 4, "high": 32},
        "min_child_samples": {"type": "int", "low": 5, "high": 60},
        "n_jobs": 1,
        "verbose": -1,
    },
}


def classification_frame(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=rows, n_features=8, n_informative=4, flip_y=0.1, random_state=seed)
    frame = pd.DataFrame(X.astype("float32"), columns=[f"f{i}" for i in range(X.shape[1])])
    frame["target"] = y
    return frame


def params_dict(model: dict[str, Any] | None = None, **tune: Any) -> dict[str, Any]:
    return {
        "seed": 7,
        "data": {"source_uri": "synthetic://credit_default", "target_col": "target", "task_type": "binary"},
        "model": model or LGBM,
        "tune": {"enabled": True, "n_trials": 6, "cv": {"folds": 3}, **tune},
    }


def make_workspace(root: Path, params: dict[str, Any], frame: pd.DataFrame | None = None, times: pd.Series | None = None) -> Path:
    """``root`` with params.yaml, data/features/train.parquet (+ data/prepared/train.parquet
    holding ``times``) and a copy of conf/env, so the stage and workers run there as in a repo."""
    frame = classification_frame() if frame is None else frame
    (root / "data" / "features").mkdir(parents=True, exist_ok=True)
    frame.to_parquet(root / "data" / "features" / "train.parquet", index=False)
    if times is not None:
        (root / "data" / "prepared").mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"when": times}).to_parquet(root / "data" / "prepared" / "train.parquet", index=False)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    shutil.copytree(ROOT / "conf" / "env", root / "conf" / "env", dirs_exist_ok=True)
    (root / "dvc.yaml").write_text("stages: {}\n")  # marks the repo root for mmp.core.settings.repo_root()
    return root


def stage_args(root: Path) -> list[str]:
    return [
        "--features", str(root / "data/features"), "--prepared", str(root / "data/prepared"),
        "--best-params", str(root / "models/best_params.json"), "--metrics", str(root / "metrics/tune.json"),
        "--live", str(root / "metrics/tune"), "--params", str(root / "params.yaml"),
    ]  # fmt: skip


def trial_fingerprint(study: Any) -> list[tuple]:
    return [(t.number, t.state.name, t.value, tuple(sorted(t.params.items()))) for t in study.trials]


def seeded_times(n: int, seed: int = 0) -> pd.Series:
    rng = np.random.default_rng(seed)
    return pd.Series(pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.permutation(n), unit="D"))
