"""This process's cores, and how its OpenMP threads (LightGBM's, scikit-learn's) wait.

libgomp's default lets a waiting thread spin a while before it sleeps. On idle cores that is
what makes a small LightGBM fit fast: each boosting round opens several short parallel regions,
and a sleeping thread pays a futex wake-up at each (the default recipe's train stage took 6.1 s
with passive waiting against 2.6 s, on a quiet 2-core machine). On cores busy with other work,
a spinning thread holds the core its partner needs: three train stages side by side took 18 s
against 6 s with passive waiting, and under a loaded test run one fit took 20 times as long.
So the choice follows the machine's load when the process starts. Same results either way:
same threads, same arithmetic; only how threads wait changes."""

from __future__ import annotations

import os


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity, as a container or ``taskset`` sets
    it), not the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def cores_are_busy(load: float, cores: int) -> bool:
    """As much runnable work as cores, by the 1-minute load average: spinning would steal a core.
    A pipeline alone stays below it (one stage process at a time: about 1-1.5 on 2 cores, its
    earlier stages included); the cases that were slow had several OpenMP processes at once."""
    return load >= cores


def choose_openmp_wait_policy() -> None:
    """Passive waiting (``OMP_WAIT_POLICY=PASSIVE``) on busy cores, libgomp's default on idle
    ones. Call it before any OpenMP library loads: libgomp reads the setting once, when it
    loads. A policy or spin count the user set wins."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    if cores_are_busy(os.getloadavg()[0], available_cores()):
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
