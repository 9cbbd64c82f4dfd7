"""Benchmarks: `make bench` runs every ``benchmarks/bench_*.py`` and writes JSON results to
``benchmarks/results/<name>.json``. They measure ratios within one run, not absolute times."""
