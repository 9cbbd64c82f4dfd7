"""``mmp simulate``: consecutive days of the loop on synthetic data, in a clone of the
repository with its own MLflow store and events store (the user's registry and workspace are
never touched), then the timeline report: ``timeline.png``, ``timeline.csv`` and the events
table as ``events.csv`` and ``events.md``."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from mmp.core.errors import MMPError

WORK = "work"  # the clone the days run in, under the output directory


@dataclass(frozen=True)
class Simulation:
    days: int
    scenario: str
    start: date
    drift_from: int | None = None  # the first drifted day (1-based); None: the scenario's own
    rows: int = 1000  # rows per day
    train_rows: int = 4000  # rows of the first champion's training data
    overrides: tuple[str, ...] = ()  # conf/daily `--set` for every day
    recipe: tuple[str, ...] = ()  # `dvc exp run -S` for the first champion

    def daily_args(self) -> list[str]:
        sets = [f"source.scenario={self.scenario}", f"source.rows={self.rows}", f"source.start={self.start.isoformat()}"]
        if self.drift_from is not None:
            sets.append(f"source.drift_from={self.drift_from}")
        return [arg for s in [*sets, *self.overrides] for arg in ("--set", s)]


def python(args: list[str], cwd: Path, log: Path) -> int:
    from mmp.ops.daily.retrain import child_env

    proc = subprocess.run([sys.executable, "-m", *args], cwd=cwd, capture_output=True, text=True, env=child_env())
    with log.open("a") as out:
        out.write(f"$ {' '.join(args)}\n{proc.stdout}{proc.stderr}\n")
    return proc.returncode


def clone(root: Path, dest: Path) -> Path:
    """A clone of the repository's HEAD: the days' experiments and stores stay in it."""
    if (dest / ".git").is_dir():
        return dest
    proc = subprocess.run(["git", "clone", "--quiet", str(root), str(dest)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise MMPError("--output", f"cannot clone the repository into {dest}: {proc.stderr.strip()[:200]}", "a writable directory")
    return dest


def bootstrap(work: Path, sim: Simulation, log: Path) -> None:
    """The first champion: the recipe trained on ``train_rows`` rows and promoted."""
    if python(["dvc", "exp", "run", "-S", f"data.rows={sim.train_rows}", *(a for o in sim.recipe for a in ("-S", o))], work, log):
        raise MMPError("mmp simulate", f"training the first champion failed (see {log})", "a recipe that trains")
    if python(["mmp", "promote"], work, log):
        raise MMPError("mmp simulate", f"promoting the first champion failed (see {log})", "a recipe that passes the evaluate gate")
    if python(["mmp", "synth", "fit", "--output", "models/distribution"], work, log):
        raise MMPError("mmp simulate", f"fitting the distribution model failed (see {log})", "training rows the copula can fit")


def run(root: Path, output: Path, sim: Simulation) -> list[str]:
    """Run the days; the one-line result of each. An alert does not stop the simulation."""
    from mmp.ops.daily.retrain import child_env
    from mmp.ops.events import EventStore

    output.mkdir(parents=True, exist_ok=True)
    work = clone(root, output / WORK)
    log = output / "simulate.log"
    if not (work / "events.db").is_file():
        bootstrap(work, sim, log)
    lines = []
    for n in range(sim.days):
        day = sim.start + timedelta(days=n)
        proc = subprocess.run(
            [sys.executable, "-m", "mmp", "daily", "--date", day.isoformat(), "--json", *sim.daily_args()],
            cwd=work,
            capture_output=True,
            text=True,
            env=child_env(),
        )
        with log.open("a") as out:
            out.write(f"$ mmp daily --date {day}\n{proc.stdout}{proc.stderr}\n")
        lines.append(day_line(proc, day, log))
    with EventStore(f"sqlite:///{work / 'events.db'}") as store:
        write_report(output, store.list(), sim)
    return lines


def day_line(proc: subprocess.CompletedProcess, day: date, log: Path) -> str:
    """The day's one-line summary; a day that ended in anything but its result (a crash, bad
    input) stops the simulation. An alert (exit 1 with a result) does not."""
    import json

    from mmp.ops.daily.loop import DayResult

    try:
        raw = json.loads(proc.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise MMPError(f"mmp daily --date {day}", f"exited {proc.returncode} without a result: {last}", f"see {log}") from None
    raw["day"] = date.fromisoformat(raw["day"])
    raw.pop("exit_code")
    return DayResult(**raw).line()


def write_report(output: Path, events: list, sim: Simulation) -> None:
    from mmp.core.io import atomic_path
    from mmp.ops.daily.timeline import events_frame, markdown, timeline, timeline_png

    frame = timeline(events)
    table = events_frame(events)
    files = {
        "timeline.png": timeline_png(frame, next((e.payload["metric"] for e in events if e.kind == "gate"), "f1")),
        "timeline.csv": frame.to_csv(index=False).encode(),
        "events.csv": table.to_csv(index=False).encode(),
        "events.md": (f"# {sim.days} days, scenario {sim.scenario}\n\n" + markdown(table)).encode(),
    }
    for name, data in files.items():
        with atomic_path(output / name) as tmp:
            tmp.write_bytes(data)
