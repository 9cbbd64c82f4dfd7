"""Load the configured source into a DataFrame. ``data.source_uri`` picks the loader by scheme:

- ``synthetic://credit_default``: the embedded generator (``data.rows`` rows);
- ``sklearn://<name>``: datasets that ship with scikit-learn (breast_cancer, diabetes, iris,
  wine, linnerud);
- a local path or fsspec URL ending in .csv, .parquet or .json;
- ``sql://<database>/<query.sql or .sql.j2>``: SQL through SQLAlchemy (see ``mmp.data.sql``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mmp.core.config import DataConfig
from mmp.core.errors import MMPError

SKLEARN_DATASETS = ("breast_cancer", "diabetes", "iris", "wine", "linnerud")
FILE_FORMATS = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".json": pd.read_json}


def load_source(cfg: DataConfig, seed: int) -> pd.DataFrame:
    uri = cfg.source_uri
    scheme, _, rest = uri.partition("://") if "://" in uri else ("file", "", uri)
    if scheme == "synthetic":
        return _synthetic(rest, cfg.rows or 20_000, seed)
    if scheme == "sklearn":
        return _sklearn(rest)
    if scheme == "sql":
        from mmp.core.settings import load_settings, repo_root
        from mmp.data.sql import read_sql

        return read_sql(uri, cfg.params, cfg.identifiers, cfg.allowed_identifiers, load_settings(), repo_root())
    return _file(uri)


def _synthetic(name: str, rows: int, seed: int) -> pd.DataFrame:
    from mmp.data import synthetic

    if name != "credit_default":
        raise MMPError("data.source_uri", f"unknown synthetic dataset {name!r}", "synthetic://credit_default")
    return synthetic.credit_default(rows, seed)


def _sklearn(name: str) -> pd.DataFrame:
    import sklearn.datasets

    if name not in SKLEARN_DATASETS:
        raise MMPError("data.source_uri", f"unknown scikit-learn dataset {name!r}", ", ".join(f"sklearn://{n}" for n in SKLEARN_DATASETS))
    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    return bunch.frame


def _file(uri: str) -> pd.DataFrame:
    suffix = Path(uri.split("?")[0]).suffix.lower()
    reader = FILE_FORMATS.get(suffix)
    if reader is None:
        raise MMPError("data.source_uri", f"unsupported file type {suffix or '(none)'!r} in {uri!r}", ", ".join(FILE_FORMATS))
    try:
        return reader(uri)
    except FileNotFoundError:
        raise MMPError("data.source_uri", f"file not found: {uri}", "a path relative to the repo root or an fsspec URL") from None
