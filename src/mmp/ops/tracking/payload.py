"""What one MLflow run holds, built from one experiment's files: params flattened as DVC shows
them, metrics, dvclive step metrics, plots, datasets, output hashes and the packaged model."""

from __future__ import annotations

import csv
import io
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mmp.core.config import registered_model_name
from mmp.core.errors import MMPError
from mmp.data.schema import InputSchema
from mmp.inference.model_card import DataFile
from mmp.ops.tracking.state import Identity, RepoFiles, load_yaml, lock_entries

CARD = "MODEL_CARD.md"
KIND_TAG = "mmp.model.kind"  # on the run and the registered version: what serves the package
_VAR = re.compile(r"\$\{paths\.(\w+)\}")


@dataclass
class RunPayload:
    identity: Identity
    model_name: str
    tags: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    steps: dict[str, list[tuple[int, float]]] = field(default_factory=dict)
    artifacts: dict[str, bytes] = field(default_factory=dict)  # artifact path -> content
    datasets: list[DataFile] = field(default_factory=list)
    package: Path | None = None
    package_md5: str | None = None
    schema: InputSchema | None = None  # the package's input schema: what its registered model must hold
    kind: str | None = None  # the package's model kind (mmp.inference.wrapper), tagged on the run and version


def flatten(tree: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings joined with dots (DVC's view of params); lists stay values."""
    if not isinstance(tree, dict):
        return {prefix: tree}
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        flat.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def param_value(value: Any) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) or value is None else str(value)


def numeric_metrics(tree: Any, prefix: str) -> dict[str, float]:
    out = {}
    for key, value in flatten(tree, prefix).items():
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
            out[key] = float(value)
    return out


def step_series(tsv: str) -> dict[str, list[tuple[int, float]]]:
    """dvclive's ``plots/metrics/*.tsv``: a ``step`` column and one column per metric."""
    rows = list(csv.DictReader(io.StringIO(tsv), delimiter="\t"))
    series: dict[str, list[tuple[int, float]]] = {}
    for row in rows:
        for name, value in row.items():
            if name in ("step", "timestamp") or value in (None, ""):
                continue
            series.setdefault(name, []).append((int(row["step"]), float(value)))
    return series


def dvc_paths(dvc_yaml: dict[str, Any]) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The ``vars: paths`` block and, per stage, its metrics files (variables substituted)."""
    paths: dict[str, str] = {}
    for block in dvc_yaml.get("vars", []):
        if isinstance(block, dict):
            paths.update(block.get("paths", {}))
    metrics = {}
    for name, stage in dvc_yaml.get("stages", {}).items():
        entries = [next(iter(m)) if isinstance(m, dict) else m for m in stage.get("metrics", [])]
        metrics[name] = [_VAR.sub(lambda m: paths.get(m.group(1), m.group(0)), e) for e in entries]
    return paths, metrics


def build_payload(files: RepoFiles, identity: Identity, scratch: Path) -> RunPayload:
    params = load_yaml(files.read("params.yaml"))
    lock = load_yaml(files.read("dvc.lock"))
    paths, stage_metrics = dvc_paths(load_yaml(files.read("dvc.yaml")))
    name = registered_model_name(params.get("registry", {}).get("model_name"), params.get("data", {}).get("source_uri", ""))
    payload = RunPayload(identity, model_name=name)
    payload.params = {k: param_value(v) for k, v in flatten(params).items()}
    for stage, metric_files in stage_metrics.items():
        for path in metric_files:
            raw = files.read(path)
            if raw is not None:
                # The evaluate stage's test metrics are THE metrics (roc_auc, f1, ...); the
                # others are prefixed by their file (data.rows.train, tune.best_value, ...).
                payload.metrics.update(numeric_metrics(json.loads(raw), "" if stage == "evaluate" else Path(path).stem))
    # The per-column profile is an artifact, not metrics: one metric per source column would
    # bury the run's figures (it is kept out of `dvc exp show` for the same reason).
    profile = files.read(paths["data_profile"]) if paths.get("data_profile") else None
    if profile is not None:
        payload.artifacts[Path(paths["data_profile"]).name] = profile
    for prefix in _set(paths.get("train_live"), paths.get("tune_live")):
        for path in files.files_under(f"{prefix}/plots/metrics"):
            if path.endswith(".tsv"):
                name = Path(prefix).name + "/" + Path(path).relative_to(f"{prefix}/plots/metrics").with_suffix("").as_posix()
                for column, points in step_series(_read_listed(files, path).decode()).items():
                    payload.steps[name if column == Path(path).stem else f"{name}/{column}"] = points
    for prefix in _set(paths.get("train_live"), paths.get("eval_live")):
        for path in files.files_under(f"{prefix}/plots"):
            artifact = f"plots/{Path(prefix).name}/{Path(path).relative_to(f'{prefix}/plots').as_posix()}"
            payload.artifacts[artifact] = _read_listed(files, path)
    examples = f"{paths['eval_live']}/examples.jsonl" if paths.get("eval_live") else None
    raw_examples = files.read(examples) if examples else None
    if raw_examples is not None:  # an LLM graph's per-example results on the golden set
        payload.artifacts["evaluation/examples.jsonl"] = raw_examples
    payload.datasets = _datasets(files, lock, paths.get("prepared", "data/prepared"), payload.metrics)
    packaged = files.package(paths.get("package", "models/package"), lock, scratch)
    outs = lock_entries(lock, "outs")
    if packaged is not None:
        payload.package, payload.package_md5 = packaged
        outs[paths.get("package", "models/package")] = payload.package_md5  # fresher than a lock written mid-run
        if (payload.package / CARD).is_file():
            payload.artifacts[CARD] = (payload.package / CARD).read_bytes()
        payload.schema = package_schema(payload.package)
        payload.kind = model_kind(payload.package)
    payload.tags = _tags(identity, outs, payload.package_md5, payload.kind)
    return payload


def package_schema(package: Path) -> InputSchema:
    """The input schema a model package ships (the ``schema`` artifact its MLmodel lists)."""
    try:
        listed = load_yaml((package / "MLmodel").read_bytes())["flavors"]["python_function"]["artifacts"]
        return InputSchema.read(package / listed["schema"]["path"])
    except (KeyError, TypeError, OSError, ValueError) as err:
        raise MMPError(
            str(package), f"has no readable input schema ({type(err).__name__}: {err})", "a package built by the package stage"
        ) from None


def model_kind(package: Path) -> str:
    """The model kind a package's metadata.json names (``tabular`` for packages older than kinds)."""
    from mmp.inference.wrapper import package_kind

    try:
        listed = load_yaml((package / "MLmodel").read_bytes())["flavors"]["python_function"]["artifacts"]
        return package_kind(json.loads((package / listed["metadata"]["path"]).read_text()))
    except (KeyError, TypeError, OSError, ValueError) as err:
        raise MMPError(
            str(package), f"has no readable metadata.json ({type(err).__name__}: {err})", "a package built by the package stage"
        ) from None


def _set(*values: str | None) -> list[str]:
    """The values that are set (a ``vars: paths`` entry may be absent or empty)."""
    return [v for v in values if v]


def _read_listed(files: RepoFiles, path: str) -> bytes:
    """A file ``files_under`` listed exists, so failing to read it is an error, not a skip."""
    raw = files.read(path)
    if raw is None:
        raise MMPError(path, "is listed in the experiment but cannot be read")
    return raw


def _datasets(files: RepoFiles, lock: dict[str, Any], prepared: str, metrics: dict[str, float]) -> list[DataFile]:
    found = []
    for split in ("train", "test"):
        path = f"{prepared}/{split}.parquet"
        md5 = files.data_md5(path, lock)
        if md5:
            found.append(DataFile(split, path, int(metrics.get(f"data.rows.{split}", 0)), md5))
    return found


def _tags(identity: Identity, outs: dict[str, str], package_md5: str | None, kind: str | None = None) -> dict[str, str]:
    tags = {
        "mmp.exp_key": identity.key,
        "mmp.git.commit": identity.commit,
        "mlflow.source.git.commit": identity.commit,
        "mmp.dvc.exp_name": identity.exp_name or "",
        "mmp.dvc.baseline_rev": identity.baseline or "",
    }
    tags.update({f"mmp.dvc.out.{path}": md5 for path, md5 in sorted(outs.items())})
    if package_md5:
        tags["mmp.package.md5"] = package_md5
    if kind:
        tags[KIND_TAG] = kind
    return {k: v for k, v in tags.items() if v}
