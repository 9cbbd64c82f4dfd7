"""The daily loop's typed settings: ``conf/daily/<name>.yaml`` composed with Hydra at run time.

Like the drift thresholds (:mod:`mmp.core.monitor`) they are not pipeline params: no stage
reads them, so they stay out of params.yaml and changing one never re-runs a stage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from mmp.core.config import BeatChampion, GateConfig, GateRule
from mmp.core.parsing import Strict
from mmp.core.runtime_groups import group_names, load_group

Strategy = Literal["new_seed", "tune", "wider_window", "finetune"]
# What each strategy adds to the attempt's `dvc exp run -S ...` (the seed and the window are
# set by the loop: every attempt gets its own seed; wider_window widens the data window;
# finetune warm-starts a torch recipe from the champion's weights, `model.finetune.from`).
STRATEGY_OVERRIDES: dict[str, list[str]] = {
    "new_seed": [],
    "tune": ["tune.enabled=true"],
    "wider_window": [],
    "finetune": ["++model.finetune.from='models:/{model}@champion'"],
}


ESCALATION: list[Strategy] = ["new_seed", "tune", "wider_window"]


class DailySettings(Strict):
    gate: GateRule = Field(default_factory=lambda: GateRule(metric="f1", op=">=", value=0.2))
    # A passing attempt is deployed only when it also beats the champion on the day's batch.
    beat_champion: BeatChampion = Field(default_factory=lambda: BeatChampion(metric="f1"))
    max_attempts: int = Field(default=3, ge=0)
    escalation: list[Strategy] = Field(default_factory=lambda: list(ESCALATION), min_length=1)
    window_days: int = Field(default=7, ge=1)
    wider_window_days: int = Field(default=28, ge=1)
    # Share of the day's batch held out to evaluate the champion and every attempt; the rest
    # joins the training window (so no model is judged on rows it was trained on).
    holdout: float = Field(default=0.5, gt=0, lt=1)
    overrides: list[str] = Field(default_factory=list)
    monitor: str = "default"
    workdir: str = "data/daily"
    reports: str = "reports/daily"
    source: dict[str, Any] = Field(default_factory=dict)  # the day's data (mmp.data.daily.SourceSettings)

    def strategy(self, attempt: int) -> Strategy:
        """The strategy of attempt ``attempt`` (1-based); the last one repeats."""
        return self.escalation[min(attempt, len(self.escalation)) - 1]

    def window(self, attempt: int) -> int:
        return self.wider_window_days if attempt and self.strategy(attempt) == "wider_window" else self.window_days

    @property
    def gate_config(self) -> GateConfig:
        return GateConfig(rules=[self.gate])

    @property
    def deploy_config(self) -> GateConfig:
        return GateConfig(rules=[self.gate], beat_champion=self.beat_champion)


def daily_names(root: Path) -> list[str]:
    return group_names(root, "daily")


def load_daily(root: Path, name: str = "default", overrides: Sequence[str] = ()) -> DailySettings:
    """``conf/daily/<name>.yaml`` under ``root`` with Hydra ``overrides`` of its keys
    (``gate.value=0.75``): one :class:`MMPError` line for an unknown file, key or value."""
    return load_group(root, "daily", name, overrides, DailySettings, "--config")
