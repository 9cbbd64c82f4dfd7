"""The hot swap's parts in process: the polling interval's setting and the check a new version
must pass before it serves (the whole swap under load: tests/cli/test_hot_swap.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mmp.core.errors import MMPError
from mmp.inference.scorer import Scorer
from mmp.serving.swap import check_replacement, followed_alias, poll_seconds
from tests.cli.test_hot_swap import other_inputs


def test_the_poll_interval_and_what_can_be_followed() -> None:
    assert poll_seconds({}) == 30 and poll_seconds({"MMP_POLL_SECONDS": "0"}) == 0 and poll_seconds({"MMP_POLL_SECONDS": "2.5"}) == 2.5
    for bad in ("soon", "-1", "inf", "nan"):
        with pytest.raises(MMPError, match=r"MMP_POLL_SECONDS: got .* a number of seconds >= 0"):
            poll_seconds({"MMP_POLL_SECONDS": bad})
    assert followed_alias("models:/credit-default@champion") == ("credit-default", "champion")
    assert [followed_alias(s) for s in ("models:/credit-default/3", "runs:/abc/model", "models/package")] == [None, None, None]


def test_a_replacement_must_take_the_same_inputs_and_answer(package_dir: Path, challenger_dir: Path, tmp_path: Path) -> None:
    served = Scorer.from_package(package_dir)
    check_replacement(served, Scorer.from_package(challenger_dir))  # another seed, the same inputs: accepted
    with pytest.raises(MMPError, match=r"takes other inputs \(input columns differ: loan_amount:float\)"):
        check_replacement(served, Scorer.from_package(other_inputs(package_dir, tmp_path / "other")))
