"""Load the configured source into a DataFrame. ``data.source_uri`` picks the loader by scheme:

- ``synthetic://credit_default``, ``synthetic://marketing_uplift``: the embedded generators
  (``data.rows`` rows; the second a randomised campaign with a known treatment effect);
- ``sklearn://<name>``: datasets that ship with scikit-learn (breast_cancer, diabetes, iris,
  wine, linnerud);
- a local path or fsspec URL ending in .csv, .parquet, .json or .jsonl (one JSON object a line:
  an LLM graph's golden set);
- ``sql://<database>/<query.sql or .sql.j2>``: SQL through SQLAlchemy (see ``mmp.data.sql``);
- a scheme of the user's (``data.loaders``, README "Extending"): ``{scheme: module:Class}``
  reads with ``Class().read(uri) -> DataFrame``; ``{scheme: module}`` imports the module, which
  registers an fsspec protocol of that name, and reads the file through fsspec. A protocol a
  package registers through the ``fsspec.specs`` entry point needs no entry.
"""

from __future__ import annotations

from collections import Counter
from functools import partial
from pathlib import Path

import pandas as pd

from mmp.core.config import DataConfig, FeatureView
from mmp.core.errors import MMPError, raise_all

SKLEARN_DATASETS = ("breast_cancer", "diabetes", "iris", "wine", "linnerud")
FILE_FORMATS = {
    ".csv": pd.read_csv,
    ".parquet": pd.read_parquet,
    ".json": pd.read_json,
    ".jsonl": partial(pd.read_json, lines=True, dtype=False, convert_dates=False),
}


def load_source(cfg: DataConfig, seed: int) -> pd.DataFrame:
    frame = _load(cfg, seed)
    refuse_duplicates(list(map(str, frame.columns)))
    return frame


def load_rows(cfg: DataConfig, seed: int) -> pd.DataFrame:
    """The training rows: the source with its feature views joined (README "Feature views")."""
    return join_views(load_source(cfg, seed), cfg, seed)


def refuse_duplicates(names: list[str]) -> None:
    """Column names must be unique: a repeated name would be mangled (``amount.1``) or picked at
    random, and either way become a feature nobody declared."""
    counts = Counter(names)
    raise_all(
        [
            MMPError(
                "data.source_uri", f"column {name!r} appears {n} times in the source", "unique column names: rename or drop the copies"
            )
            for name, n in counts.items()
            if n > 1
        ]
    )


def _load(cfg: DataConfig, seed: int) -> pd.DataFrame:
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
    if scheme in cfg.loaders:
        return _plugin(scheme, cfg.loaders[scheme], uri)
    if scheme != "file":
        _known_protocol(scheme, cfg.loaders)
    return _file(uri)


def join_views(frame: pd.DataFrame, data: DataConfig, seed: int) -> pd.DataFrame:
    """The training rows with every view's features, joined by ``data.feature_store``."""
    if not data.feature_views or data.feature_store == "pass_through":
        return frame
    from mmp.data.feature_views import feast_join, point_in_time_join

    if data.feature_store == "feast":
        return feast_join(frame, data)
    assert data.time_col is not None  # DataConfig requires it for a join
    for view in data.feature_views:
        frame = point_in_time_join(frame, data.time_col, load_view(view, seed), view)
    return frame


def load_view(view: FeatureView, seed: int) -> pd.DataFrame:
    """A feature view's rows, from its file, synthetic generator or SQL query."""
    source, key = view.source, f"data.feature_views.{view.name}.source"
    if source.query:
        from mmp.core.settings import load_settings, repo_root
        from mmp.data.sql import read_sql

        return read_sql(source.query, source.params, {}, {}, load_settings(), repo_root())
    uri = source.uri or ""
    if uri.startswith("synthetic://"):
        return _synthetic(uri.removeprefix("synthetic://"), 0, seed, f"{key}.uri")
    return _file(uri, f"{key}.uri")


def _plugin(scheme: str, path: str, uri: str) -> pd.DataFrame:
    """The user's loader for ``scheme``: a class whose ``read(uri)`` returns the frame, or a
    module that registers an fsspec protocol (then the file is read like any fsspec URL)."""
    from mmp.core.plugins import import_module, import_object

    key = f"data.loaders.{scheme}"
    if ":" not in path:
        import_module(path, key)
        _known_protocol(scheme, {})
        return _file(uri)
    loader = import_object(path, key)
    reader = getattr(loader() if isinstance(loader, type) else loader, "read", None)
    if not callable(reader):
        raise MMPError(key, f"{path!r} has no read(uri) method", "a class with read(self, uri) -> pandas.DataFrame")
    try:
        frame = reader(uri)
    except (OSError, ValueError) as err:  # the loader's own "not found"/"cannot parse": one line
        raise MMPError("data.source_uri", f"{path} could not read {uri!r}: {type(err).__name__}: {err}") from None
    if not isinstance(frame, pd.DataFrame):
        raise MMPError(key, f"{path}.read returned {type(frame).__name__}, not a pandas DataFrame")
    return frame


def _known_protocol(scheme: str, loaders: dict[str, str]) -> None:
    """An unknown scheme is one line naming the schemes that would work, not an fsspec error."""
    import fsspec

    # known_implementations (fsspec's own and entry points) + protocols registered at run time
    if scheme in fsspec.available_protocols() or scheme in fsspec.registry:
        return
    ours = ["file", "synthetic", "sklearn", "sql", *sorted(loaders)]
    raise MMPError(
        "data.source_uri",
        f"unknown scheme {scheme!r}",
        f"{', '.join(ours)}, a scheme mapped in data.loaders, or an fsspec protocol (fsspec.available_protocols())",
    )


def _synthetic(name: str, rows: int, seed: int, key: str = "data.source_uri") -> pd.DataFrame:
    from mmp.data import synthetic

    generators = {
        "credit_default": synthetic.credit_default,
        "marketing_uplift": synthetic.marketing_uplift,
        "transactions": synthetic.transactions,
        "customer_profile": synthetic.customer_profile,
    }
    if name not in generators:
        raise MMPError(key, f"unknown synthetic dataset {name!r}", ", ".join(f"synthetic://{n}" for n in generators))
    return generators[name](rows, seed)


def _sklearn(name: str) -> pd.DataFrame:
    import sklearn.datasets

    if name not in SKLEARN_DATASETS:
        raise MMPError("data.source_uri", f"unknown scikit-learn dataset {name!r}", ", ".join(f"sklearn://{n}" for n in SKLEARN_DATASETS))
    bunch = getattr(sklearn.datasets, f"load_{name}")(as_frame=True)
    return bunch.frame


def _file(uri: str, key: str = "data.source_uri") -> pd.DataFrame:
    suffix = Path(uri.split("?")[0]).suffix.lower()
    reader = FILE_FORMATS.get(suffix)
    if reader is None:
        raise MMPError(key, f"unsupported file type {suffix or '(none)'!r} in {uri!r}", ", ".join(FILE_FORMATS))
    try:
        if reader is pd.read_csv:
            # pandas renames a repeated header (amount, amount.1): read the names as written
            header = pd.read_csv(uri, header=None, nrows=1, dtype=str).iloc[0]
            refuse_duplicates([str(name) for name in header if pd.notna(name)])
        return reader(uri)
    except FileNotFoundError:
        raise MMPError(key, f"file not found: {uri}", "a path relative to the repo root or an fsspec URL") from None
    except pd.errors.EmptyDataError:
        raise MMPError(key, f"{uri} is empty: no header row and no data", "a file with a header row") from None
    except ValueError as err:  # pyarrow's and the JSON reader's parse errors are ValueErrors too
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MMPError(key, f"{uri} cannot be read as {suffix.lstrip('.')}: {reason}") from None
