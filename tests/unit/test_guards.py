"""The CI guards' pure checks, on DVC's real ``dvc status --json`` shapes."""

from __future__ import annotations

from mmp.ops.guards import MAX_BYTES, find_large_files, find_stale_lock_params

# What `dvc status --json` printed in a fresh clone after `seed` was edited in params.yaml.
STATUS = {
    "prepare": [{"changed deps": {"params.yaml": {"seed": "modified"}}}, {"changed outs": {"data/prepared": "not in cache"}}],
    "featurize": [{"changed deps": {"data/prepared": "deleted"}}],
    "train": [{"changed deps": {"data/features": "deleted", "params.yaml": {"seed": "modified", "model.n": "new"}}}],
}


def test_changed_params_make_the_lock_stale() -> None:
    assert find_stale_lock_params(STATUS) == [
        "stage prepare: params.yaml seed is modified since dvc.lock was written",
        "stage train: params.yaml model.n is new since dvc.lock was written",
        "stage train: params.yaml seed is modified since dvc.lock was written",
    ]


def test_missing_outputs_alone_do_not_make_the_lock_stale() -> None:
    fresh_clone = {stage: [e for e in entries if "params.yaml" not in e.get("changed deps", {})] for stage, entries in STATUS.items()}
    fresh_clone["train"] = [{"changed deps": {"data/features": "deleted"}}]
    assert find_stale_lock_params(fresh_clone) == []
    assert find_stale_lock_params({"evaluate": ["always changed"]}) == []


def test_an_edited_data_contract_makes_the_lock_stale() -> None:
    """The contract lives in conf/contracts (out of params.yaml, so out of `dvc exp show`), and
    editing it is as stale as editing a param."""
    status = {"prepare": [{"changed deps": {"conf/contracts": "modified", "src/mmp/data": "modified"}}]}
    assert find_stale_lock_params(status) == ["stage prepare: conf/contracts is modified since dvc.lock was written"]


def test_large_files_and_data_files_under_dvc_folders_are_found() -> None:
    files = [
        ("src/mmp/cli/__init__.py", 2_000),
        ("notebooks/big.ipynb", MAX_BYTES + 1),
        ("data/raw/customers.csv", 10),
        ("models/model.joblib", 10),
        ("data/raw/customers.csv.dvc", 100),
        ("models/.gitkeep", 0),
        ("metrics/train/plots/metrics/binary_logloss.tsv", 5_000),
    ]
    assert find_large_files(files) == [
        "data/raw/customers.csv: a .csv file under data/ belongs in DVC",
        "models/model.joblib: a .joblib file under models/ belongs in DVC",
        "notebooks/big.ipynb: 1.0 MiB is over the 1 MiB limit for git",
    ]
    assert find_large_files([("notebooks/big.ipynb", 3 * MAX_BYTES)], max_bytes=4 * MAX_BYTES) == []
