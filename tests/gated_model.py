"""A classifier whose ``fit`` waits at a gate: lets the distributed-tuning tests hold trials in
the RUNNING state for as long as they need, instead of racing the trials' own duration.

The gate is the file named by ``MMP_TEST_GATE``: ``fit`` blocks until it exists (no gate set:
no wait). A worker process imports this module through ``model.class_path``."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

from sklearn.linear_model import LogisticRegression

GATE_ENV = "MMP_TEST_GATE"
LIMIT_S = 600.0  # a gate never opened is a test bug: fail the trial instead of hanging the worker


class GatedLogisticRegression(LogisticRegression):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> GatedLogisticRegression:
        gate = os.environ.get(GATE_ENV)
        deadline = time.monotonic() + LIMIT_S
        while gate and not Path(gate).exists():
            if time.monotonic() > deadline:
                raise TimeoutError(f"gate {gate} was never opened")
            time.sleep(0.05)
        return super().fit(X, y, sample_weight)


CRASH_ENV = "MMP_TEST_CRASH_ONCE"


class CrashOnceLogisticRegression(GatedLogisticRegression):
    """The first ``fit`` in any process (it claims the file named by ``MMP_TEST_CRASH_ONCE``)
    kills its own process, as the OOM killer would; every other ``fit`` waits at the gate."""

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> CrashOnceLogisticRegression:
        try:
            os.close(os.open(os.environ[CRASH_ENV], os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return super().fit(X, y, sample_weight)
        os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError("unreachable")
