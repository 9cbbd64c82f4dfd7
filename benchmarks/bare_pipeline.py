"""The one-file script a user would write instead of the pipeline, for the same recipe and data:
the baseline that `bench_pipeline` divides the pipeline's wall time by. Load the rows, split
them (stratified, seeded), a scikit-learn ColumnTransformer (median impute + standard scale
for numbers, most-frequent impute + one-hot for categories, year/month/day-of-week for dates),
then ``LGBMClassifier`` with the recipe's hyperparameters; score the test split and save the
fitted pipeline and its metrics. When the recipe chooses its decision threshold for F1
(``evaluate.threshold: f1``), the script does what a user would: fit a copy on four fifths of
the train split and take the F1-best cut-off on the other fifth (the pipeline does the same). Only the data generator and the recipe's hyperparameter
defaults come from mmp, so both sides fit the same model on the same rows.

python -m benchmarks.bare_pipeline PARAMS_YAML OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import joblib
import pandas as pd
import yaml
from sklearn import metrics
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler


def date_parts(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({f"{c}_{p}": getattr(frame[c].dt, p) for c in frame.columns for p in ("year", "month", "day_of_week")})


def f1_threshold(model: Pipeline, X: pd.DataFrame, y: pd.Series, seed: int) -> float:
    """The cut-off with the best F1 on a stratified fifth of the train rows, fitted on the rest."""
    X_fit, X_valid, y_fit, y_valid = train_test_split(X, y, test_size=0.2, stratify=y, random_state=seed)
    proba = clone(model).fit(X_fit, y_fit).predict_proba(X_valid)[:, 1]
    precision, recall, cuts = metrics.precision_recall_curve(y_valid, proba)
    f1 = 2 * precision * recall / (precision + recall + 1e-12)
    return float(cuts[f1[:-1].argmax()])


def main(params_path: str, out_dir: str) -> None:
    from mmp.core.config import load_params
    from mmp.data.sources import load_source
    from mmp.modeling.recipe import build_estimator

    params = load_params(params_path)
    data = params.data
    frame = load_source(data, params.seed)
    X = frame.drop(columns=[data.target_col, *data.id_cols, *([data.time_col] if data.time_col else [])])
    y = frame[data.target_col]
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=data.test_size, stratify=y, random_state=params.seed)
    numeric = X.select_dtypes("number").columns.tolist()
    dates = X.select_dtypes("datetime").columns.tolist()
    categorical = [c for c in X.columns if c not in numeric + dates]
    features = ColumnTransformer(
        [
            ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
            ("categorical", make_pipeline(SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")), categorical),
            ("date", make_pipeline(FunctionTransformer(date_parts), SimpleImputer(strategy="median")), dates),
        ]
    )
    model = Pipeline([("features", features), ("model", build_estimator(params.model, params.seed))])
    threshold = (
        f1_threshold(model, X_train, y_train, params.seed) if params.evaluate.threshold == "f1" else float(params.evaluate.threshold)
    )
    model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)[:, 1]
    scores = {
        "roc_auc": metrics.roc_auc_score(y_test, proba),
        "pr_auc": metrics.average_precision_score(y_test, proba),
        "log_loss": metrics.log_loss(y_test, proba),
        "f1": metrics.f1_score(y_test, proba >= threshold),
        "threshold": threshold,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out / "model.joblib")
    (out / "metrics.json").write_text(json.dumps(scores, indent=2))
    yaml.safe_dump(scores, sys.stdout)


if __name__ == "__main__":
    main(*sys.argv[1:3])
