"""``mmp predict --engine dask``: score a Parquet dataset on a Dask cluster, one task per
Parquet row group, each scored with the same :func:`mmp.inference.batch.score_chunk` as a local
run and written as one part file of a partitioned Parquet output. The parts are written into a
temporary directory beside the target, renamed into place only when every part is done: a crash
or a failed part leaves no partial dataset. A task whose worker dies is rerun by Dask on
another worker (the part file is written whole or not at all)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from mmp.core.errors import MMPError
from mmp.core.io import atomic_path
from mmp.inference.batch import Identity, input_files, score_chunk
from mmp.inference.wrapper import ModelWrapper, load_wrapper


@dataclass(frozen=True)
class Piece:
    """One row group of one input file, its first row numbered across the whole input."""

    file: str
    row_group: int
    first_row: int
    part: int  # the output part it becomes


def pieces(input_path: Path) -> list[Piece]:
    """The input's non-empty row groups, in file order (from the Parquet footers only)."""
    import pyarrow.parquet as pq

    fmt, files = input_files(input_path)
    if fmt != "parquet":
        raise MMPError("--input", f"{input_path} is {fmt}; --engine dask scores Parquet", "a Parquet file or a directory of them")
    found: list[Piece] = []
    first = 0
    for file in files:
        meta = pq.ParquetFile(file).metadata
        for group in range(meta.num_row_groups):
            if meta.row_group(group).num_rows:
                found.append(Piece(str(file), group, first, len(found)))
            first += meta.row_group(group).num_rows
    return found


@lru_cache(maxsize=4)
def worker_scorer(package: str) -> ModelWrapper:
    """The scorer of ``package``, loaded once per worker process."""
    return load_wrapper(package)


def score_piece(package: str, piece: Piece, identity: Identity, out_dir: str) -> int:
    """Score one row group into ``out_dir/part-NNNNN.parquet`` (written beside, then renamed)."""
    import pyarrow.parquet as pq

    scorer = worker_scorer(package)
    chunk = pq.ParquetFile(piece.file).read_row_group(piece.row_group).to_pandas()
    scored = score_chunk(scorer, chunk, scorer.schema.contract(), identity, piece.first_row)
    final = Path(out_dir) / f"part-{piece.part:05d}.parquet"
    tmp = final.with_name(f".{final.name}.{os.getpid()}")
    scored.to_parquet(tmp, index=False, compression="zstd")
    os.replace(tmp, final)
    return len(scored)


def score_on_cluster(client: Any, package: str | Path, input_path: Path, output: Path, identity: Identity) -> int:
    """Score every row group of ``input_path`` on the cluster into the directory ``output``
    (atomically); returns the number of rows written. ``package`` must be a path the workers
    can read (a shared file system on a multi-machine cluster)."""
    from distributed import wait

    work = pieces(input_path)
    if not work:
        raise MMPError("--input", f"{input_path} holds no rows", "a Parquet dataset with at least one row")
    load_wrapper(package)  # a bad package is refused here, before any task runs
    with atomic_path(output) as tmp:
        tmp.mkdir()
        n = len(work)
        futures = client.map(score_piece, [str(package)] * n, work, [identity] * n, [str(tmp)] * n, pure=False)
        try:
            wait(futures)
            return sum(client.gather(futures))
        finally:
            client.cancel(futures)
