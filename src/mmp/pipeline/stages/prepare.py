"""prepare: load the configured source, join its feature views point-in-time, check it against
the data contract, add the time features, and write the train/test split, the input schema, data
statistics and the data quality report (JSON, PNG figures and an HTML page; its warnings are
printed, one line each)."""

from __future__ import annotations

import sys

from mmp.core.io import atomic_path, write_json
from mmp.core.settings import check_recipe_env
from mmp.data.quality import warning_lines
from mmp.data.sources import load_rows
from mmp.pipeline.llm_steps import is_llm, prepare_golden, write_no_quality
from mmp.pipeline.quality_report import write_report
from mmp.pipeline.stages import checked_params, cluster, parser, run_stage
from mmp.pipeline.steps import prepare


def main(argv: list[str]) -> None:
    args = parser(
        __doc__,
        out="directory for train/test splits and schema.json",
        stats="data statistics JSON (a metrics file)",
        profile="per-column profile JSON",
        quality="directory for the data quality report (quality.json, index.html, PNGs)",
    ).parse_args(argv)
    params = checked_params(args.params, "data")
    check_recipe_env(params.data.model_dump())  # DATA_SOURCE_PATH / DATA_LOADER_TYPE: recipe values
    if is_llm(params):
        prepared = prepare_golden(load_rows(params.data, params.seed), params.data)
    elif params.compute.engine == "dask":
        from mmp.core.cluster import on_cluster
        from mmp.pipeline.dask_steps import prepare_on_dask, read_source

        with cluster(params):
            source = read_source(params.data, params.seed, params.compute.partitions)
            prepared = on_cluster(lambda: prepare_on_dask(source, params.data, params.seed, params.features.time), "prepare")
    else:
        prepared = prepare(load_rows(params.data, params.seed), params.data, params.seed, params.features.time)
    with atomic_path(args.out) as out:
        out.mkdir()
        prepared.train.to_parquet(out / "train.parquet", index=False, compression="zstd")
        prepared.test.to_parquet(out / "test.parquet", index=False, compression="zstd")
        write_json(out / "schema.json", prepared.schema.to_json())
    write_json(args.stats, prepared.stats)
    write_json(args.profile, prepared.profile)
    if is_llm(params):
        write_no_quality(args.quality)
        return
    write_report(prepared.quality, args.quality)
    for line in warning_lines(prepared.quality):
        print(line, file=sys.stderr)


if __name__ == "__main__":
    run_stage(main)
