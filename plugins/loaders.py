"""An example loader for ``data.loaders`` (README "Extending"): ``parts://<directory>`` reads
every CSV file of a directory (sorted by name) into one frame, e.g. monthly exports."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


class CsvPartsLoader:
    """``read(uri) -> DataFrame`` is the whole interface; the class is built without arguments."""

    def read(self, uri: str) -> pd.DataFrame:
        directory = Path(uri.split("://", 1)[1])
        parts = sorted(directory.glob("*.csv"))
        if not parts:
            raise FileNotFoundError(f"no CSV files in {directory}")
        return pd.concat([pd.read_csv(p) for p in parts], ignore_index=True)
