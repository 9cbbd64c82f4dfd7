"""Atomic outputs: a killed writer's temporary sibling is removed by the next write of the same
output, and nothing else is (a live writer's temp, other files, other outputs' temps)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mmp.core.io import atomic_path, write_json


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped), so it runs no more."""
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(proc.stdout)


def test_next_write_removes_a_killed_writers_temp_files_and_only_those(tmp_path: Path) -> None:
    out = tmp_path / "scored.parquet"
    stale_file = tmp_path / f".scored.parquet.tmp-{dead_pid()}"
    stale_file.write_bytes(b"x" * 1000)
    stale_dir = tmp_path / f".scored.parquet.tmp-{dead_pid()}"
    stale_dir.mkdir()
    (stale_dir / "part").write_text("half")
    live = tmp_path / f".scored.parquet.tmp-{os.getppid()}"  # a concurrent writer that still runs
    live.write_text("busy")
    others = [tmp_path / f".other.parquet.tmp-{dead_pid()}", tmp_path / ".scored.parquet.tmp-notapid", tmp_path / "scored.parquet.tmp-1"]
    for other in others:
        other.write_text("not ours to delete")
    with atomic_path(out) as tmp:
        tmp.write_text("done")
    assert out.read_text() == "done"
    assert not stale_file.exists() and not stale_dir.exists()
    assert live.exists() and all(other.exists() for other in others)


def test_a_failed_write_leaves_neither_output_nor_temp(tmp_path: Path) -> None:
    write_json(tmp_path / "m.json", {"a": 1})
    try:
        with atomic_path(tmp_path / "m.json") as tmp:
            tmp.write_text("{half")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert (tmp_path / "m.json").read_text().startswith("{") and sorted(p.name for p in tmp_path.iterdir()) == ["m.json"]
