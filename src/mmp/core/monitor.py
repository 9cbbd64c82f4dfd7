"""Drift thresholds, typed: ``conf/monitor/<name>.yaml`` composed with Hydra at run time.

They are not pipeline params (no stage reads them), so they stay out of params.yaml: changing
a threshold never re-runs a stage. Which statistic decides ``drifted`` is chosen per column
kind; every statistic is still computed and reported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from pydantic import Field

from mmp.core.errors import MMPError
from mmp.core.parsing import Strict, parse
from mmp.core.runtime_groups import group_names, load_group

Statistic = Literal["psi", "ks", "chi2", "js"]
# A p-value gate drifts BELOW its threshold; a distance gate drifts ABOVE it.
P_VALUES: frozenset[Statistic] = frozenset({"ks", "chi2"})


class Gates(Strict):
    numeric: Literal["psi", "ks"] = "psi"
    categorical: Literal["js", "chi2", "psi"] = "js"


class Thresholds(Strict):
    psi: float = Field(default=0.2, gt=0)
    ks: float = Field(default=0.01, gt=0, lt=1)
    chi2: float = Field(default=0.01, gt=0, lt=1)
    js: float = Field(default=0.1, gt=0, le=1)

    def of(self, statistic: Statistic) -> float:
        return float(getattr(self, statistic))


class MonitorConfig(Strict):
    min_rows: int = Field(default=100, ge=1)
    bins: int = Field(default=10, ge=2)
    epsilon: float = Field(default=1e-4, gt=0, lt=1)
    gate: Gates = Field(default_factory=Gates)
    thresholds: Thresholds = Field(default_factory=Thresholds)


def monitor_names(root: Path) -> list[str]:
    return group_names(root, "monitor")


def load_monitor(root: Path, name: str = "default", overrides: Sequence[str] = ()) -> MonitorConfig:
    """``conf/monitor/<name>.yaml`` under ``root`` with Hydra ``overrides`` of its keys
    (``thresholds.psi=0.3``): one :class:`MMPError` line for an unknown file, key or value.
    Run outside a checkout (no conf/monitor/), ``default`` is the typed defaults."""
    if not monitor_names(root) and name == "default":  # outside a checkout: the typed defaults
        return _defaults_with(overrides)
    return load_group(root, "monitor", name, overrides, MonitorConfig, "--monitor")


def _defaults_with(overrides: Sequence[str]) -> MonitorConfig:
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    try:
        raw = OmegaConf.merge(OmegaConf.create(MonitorConfig().model_dump()), OmegaConf.from_dotlist(list(overrides)))
    except OmegaConfBaseException as err:
        raise MMPError("--set", f"cannot apply {list(overrides)}: {str(err).splitlines()[0]}", "KEY=VALUE of conf/monitor keys") from None
    return parse(MonitorConfig, OmegaConf.to_container(raw), "monitor", source="the default thresholds")
