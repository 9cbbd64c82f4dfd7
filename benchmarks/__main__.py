"""Run the benchmarks: ``python -m benchmarks [name ...]`` (default: all ``bench_*.py``)."""

from __future__ import annotations

import importlib
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def main(names: list[str]) -> None:
    available = sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))
    unknown = [n for n in names if n not in available]
    if unknown:
        sys.exit(f"error: unknown benchmark(s) {unknown} (allowed: {', '.join(available)})")
    RESULTS.mkdir(exist_ok=True)
    for name in names or available:
        print(f"== benchmark {name}", flush=True)
        started = time.perf_counter()
        result = importlib.import_module(f"benchmarks.bench_{name}").run()
        result["benchmark_seconds"] = round(time.perf_counter() - started, 1)
        out = RESULTS / f"{name}.json"
        out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        print(json.dumps(result, indent=2, sort_keys=True))
        print(f"wrote {out.relative_to(HERE.parent)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
