"""The batch-scoring script a user writes by hand with the package's fitted featurizer and model:
the baseline `bench_serve` divides `mmp predict`'s wall time by (read Parquet ->
``featurizer.transform`` -> ``predict_proba`` -> write Parquet, I/O included).

python -m benchmarks.user_batch_script PACKAGE_DIR INPUT.parquet OUTPUT.parquet
"""

from __future__ import annotations

import sys
from pathlib import Path

import joblib
import pandas as pd


def main(package: str, source: str, output: str) -> None:
    artifacts = Path(package) / "artifacts"
    featurizer = joblib.load(artifacts / "featurizer.joblib")
    model = joblib.load(artifacts / "model.joblib")
    frame = pd.read_parquet(source)
    proba = model.predict_proba(featurizer.transform(frame))
    out = frame[["customer_id"]].copy()
    out["prediction"] = model.classes_[proba.argmax(axis=1)]
    for i, name in enumerate(model.classes_):
        out[f"proba_{name}"] = proba[:, i]
    out.to_parquet(output, index=False)


if __name__ == "__main__":
    main(*sys.argv[1:4])
