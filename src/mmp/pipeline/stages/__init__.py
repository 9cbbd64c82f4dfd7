"""DVC stage entry points: ``python -m mmp.pipeline.stages.<name>``. Each reads its params and
inputs, calls its step in :mod:`mmp.pipeline.steps` and writes the result atomically. Paths
come as arguments from dvc.yaml, where each is declared once."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mmp.core.errors import run_cli
from mmp.core.io import atomic_path
from mmp.core.threads import choose_openmp_wait_policy

# `dvc plots` reads every dvc.yaml outside a stage output; a stage's plots are declared in
# metrics/plots/<live dir name>/dvc.yaml, beside (not inside) the live directory it describes.
PLOTS_CONFIG_DIR = "plots"


# A failed `dvc exp run` leaves the workspace half-way: params.yaml composed for the failed run,
# dvc.lock and metrics/ rewritten by the stages that finished, the failed stage's outputs
# deleted. This puts back the last committed results and touches nothing else (README "When a
# run fails"): git restores the small files, `git clean` drops the run's new files under
# metrics/, and `dvc checkout` restores the cached outputs that the restored dvc.lock names.
RESTORE_COMMAND = "git checkout HEAD -- params.yaml dvc.lock metrics && git clean -fdq -- metrics && dvc checkout"


def run_stage(main: Callable[[list[str]], int | None]) -> None:
    """``run_cli`` for a stage: after any failure, also say how to get the last good state back."""
    choose_openmp_wait_policy()  # before LightGBM loads: the stage modules import it lazily
    try:
        run_cli(main)
    except SystemExit as stop:
        if stop.code:
            print_restore_hint()
        raise
    except BaseException:
        traceback.print_exc()
        print_restore_hint()
        sys.exit(1)


def print_restore_hint() -> None:
    root = os.environ.get("DVC_ROOT", "")
    # Only in the user's workspace: a queued or --temp run works in a copy under .dvc/tmp/ and
    # leaves the workspace as it was; outside DVC nobody changed params.yaml.
    if root and f"{os.sep}.dvc{os.sep}tmp{os.sep}" not in f"{root}{os.sep}":
        print(f"to get the last committed results back: {RESTORE_COMMAND}", file=sys.stderr)


def parser(doc: str | None, **paths: str) -> argparse.ArgumentParser:
    """An argument parser whose options are the stage's input/output paths."""
    p = argparse.ArgumentParser(description=(doc or "").strip().splitlines()[0] if doc else None)
    for name, help_text in paths.items():
        p.add_argument(f"--{name.replace('_', '-')}", required=True, help=help_text)
    p.add_argument("--params", default="params.yaml", help="the composed recipe (default: params.yaml)")
    return p


@contextmanager
def live(directory: str | os.PathLike) -> Iterator[Any]:
    """A dvclive logger for a stage's plot data. It writes into a temporary sibling of
    ``directory`` that replaces it only when the stage completes, so a killed stage leaves the
    previous curves whole (never 12 of 301 lines). Then the plots this run wrote, and only
    those, are declared with readable titles in ``plots_config(directory)``."""
    from dvclive import Live

    class StageLive(Live):
        def _init_dvc(self) -> None:
            # dvclive opens the DVC repo and git here (about 1 s of each stage's start-up) only
            # for its own dvc.yaml, experiment saving and Studio: all off here (dvcyaml=None,
            # save_dvc_exp=False), as the stage declares its plots itself.
            self._dvc_file = self._init_dvc_file()

        def next_step(self) -> None:
            # dvclive's next_step also rewrites its summary file (deleted below), queues Studio
            # data and fsyncs a VS Code signal file, at every step: 0.5-1 s for LightGBM's 300
            # rounds. The curve rows are written by log_metric, so the files are the same; and
            # while the stage runs they lie in a temporary directory nobody watches.
            self.step += 1

        def log_sklearn_plot(
            self,
            kind: str,
            labels: Any,
            predictions: Any,
            name: str | None = None,
            title: str | None = None,
            x_label: str | None = None,
            y_label: str | None = None,
            normalized: bool | None = None,
            **kwargs: Any,
        ) -> Any:
            config: dict[str, Any] = {"title": title, "x_label": x_label, "y_label": y_label, "normalized": normalized}
            if kind == "confusion_matrix" and (name or kind) not in self._plots:  # dvclive then uses this plot
                plot_config = {k: v for k, v in config.items() if v is not None}  # as dvclive builds it
                self._plots[name or kind] = counted_confusion_plot()(name or kind, self.plots_dir, **plot_config)
            return super().log_sklearn_plot(kind, labels, predictions, name=name, **config, **kwargs)

    final = Path(directory)
    with atomic_path(final) as tmp:
        with StageLive(dir=str(tmp), dvcyaml=None, save_dvc_exp=False, report=None) as logger:
            yield logger
        Path(logger.metrics_file).unlink(missing_ok=True)  # dvclive's summary: the last curve point, read by nobody
        declarations = plot_declarations(tmp, final, logger)
    write_plots_config(final, declarations)


# DVC's confusion templates count one record per test row; these (in .dvc/plots/, the project's
# template directory) are the same templates summing a ``count`` field instead.
COUNTED_TEMPLATES = {"confusion": "confusion_counts", "confusion_normalized": "confusion_normalized_counts"}


def counted_confusion_plot() -> type:
    """dvclive's confusion matrix plot writing one ``{"actual", "predicted", "count"}`` record
    per pair that occurs, drawn by the counted twin of its DVC template (COUNTED_TEMPLATES).
    dvclive writes a record per test row: 14 MB of JSON at 400k test rows, committed to git by
    every `dvc exp run` (the live directory is a git-tracked output), and about 7 s to write."""
    import json
    from collections import Counter

    from dvclive.plots.sklearn import ConfusionMatrix

    class CountedConfusionMatrix(ConfusionMatrix):
        def __init__(self, name: str, output_folder: str, **plot_config: Any) -> None:
            super().__init__(name, output_folder, **plot_config)
            self.plot_config["template"] = COUNTED_TEMPLATES[self.plot_config["template"]]

        def dump(self, val: Any, **kwargs: Any) -> None:
            pairs = Counter(zip(map(str, val[0]), map(str, val[1]), strict=True))
            records = [{"actual": a, "predicted": p, "count": n} for (a, p), n in sorted(pairs.items())]
            Path(self.output_path).parent.mkdir(parents=True, exist_ok=True)
            Path(self.output_path).write_text(json.dumps(records, indent=2) + "\n", encoding="utf-8")

    return CountedConfusionMatrix


def plots_config(directory: Path) -> Path:
    return directory.parent / PLOTS_CONFIG_DIR / directory.name / "dvc.yaml"


def plot_declarations(written: Path, final: Path, logger: Any) -> list[dict[str, Any] | str]:
    """`dvc.yaml` plot entries for what dvclive wrote under ``written`` (to be moved to ``final``):
    the step curves as one training-curve plot, each logged plot with its template, axes
    and title, and each logged PNG image. Paths are relative to the config's directory."""
    config_dir = plots_config(final).parent

    def rel(path: Path) -> str:
        return Path(os.path.relpath(final / path.relative_to(written), config_dir)).as_posix()

    plots: list[dict[str, Any] | str] = []
    curves = sorted((written / "plots" / "metrics").rglob("*.tsv"))
    if curves:  # dvclive names a curve's column after its file
        y = {rel(curve): curve.stem for curve in curves}
        plots.append({f"{final.name}: training curve": {"x": "step", "y": y, "title": f"Training curve: {', '.join(y.values())}"}})
    for plot in logger._plots.values():  # dvclive's own record of each logged plot and its config
        plots.append({rel(Path(plot.output_path)): dict(plot.plot_config)})
    for name, image in logger._images.items():  # PNGs (log_image), titled after their file name
        plots.append({rel(Path(image.output_path)): {"title": Path(name).stem.replace("_", " ").capitalize()}})
    return plots


def write_plots_config(directory: Path, declarations: list[dict[str, Any] | str]) -> None:
    """Declare exactly ``declarations`` for ``directory``, so `dvc plots show` never looks for
    a plot this task does not produce. The file is written even when empty: it stays a tracked
    file whose change `dvc exp run` commits (it leaves new untracked files out)."""
    import yaml

    config = plots_config(directory)
    header = f"# Written by the stage that writes {directory.as_posix()}: the plots of its last run.\n"
    with atomic_path(config) as tmp:
        tmp.write_text(header + yaml.safe_dump({"plots": declarations}, sort_keys=False))


def checked_params(path: str, *sections: str) -> Any:
    """params.yaml parsed and validated the way ``mmp validate`` does it, limited to the
    sections this stage depends on (so prepare never imports a model library or the tuning code)."""
    from mmp.core.config import read_params
    from mmp.pipeline.checks import validate

    return validate(read_params(path), None, sections)


@contextmanager
def cluster(params: Any) -> Iterator[Any]:
    """The Dask client of ``compute=dask`` (a LocalCluster sized by ``params.compute``, or the
    scheduler of the runtime setting DASK_SCHEDULER_ADDRESS), closed when the stage is done."""
    from mmp.core.cluster import dask_client
    from mmp.core.settings import load_settings

    with dask_client(params.compute, load_settings().dask) as client:
        yield client
