"""prepare: load the configured source, check it against the data contract, and write a seeded
train/test split, the input schema and data statistics."""

from __future__ import annotations

from mmp.core.errors import run_cli
from mmp.core.io import atomic_path, write_json
from mmp.data.contract import coerce_dates
from mmp.data.schema import infer_schema
from mmp.data.sources import load_source
from mmp.data.split import data_stats, split
from mmp.pipeline.stages import checked_params, parser


def main(argv: list[str]) -> None:
    args = parser(__doc__, out="directory for train/test splits and schema.json", stats="data statistics JSON").parse_args(argv)
    params = checked_params(args.params, "data")
    cfg = params.data
    frame = load_source(cfg, params.seed)
    checked_params(args.params, "data", frame=frame)  # target, columns, contract: all problems at once
    frame = coerce_dates(frame, cfg.contract)
    train, test = split(frame, cfg.targets, cfg.task_type, cfg.test_size, params.seed)
    schema = infer_schema(train, cfg)
    with atomic_path(args.out) as out:
        out.mkdir()
        train.to_parquet(out / "train.parquet", index=False, compression="zstd")
        test.to_parquet(out / "test.parquet", index=False, compression="zstd")
        write_json(out / "schema.json", schema.to_json())
    write_json(args.stats, data_stats(train, test, cfg.targets, cfg.task_type))


if __name__ == "__main__":
    run_cli(main)
