"""Model kinds under test, each trained on tiny data and packaged the way its kind ships."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mmp.core.config import Params, parse, read_params
from mmp.data.synthetic import credit_default
from mmp.inference.wrapper import ModelWrapper
from mmp.pipeline import steps
from tests.conftest import ROOT, pipeline_env
from tests.serving.conftest import free_port, wait_ready

CREATED = datetime(2024, 1, 1)


@dataclass(frozen=True)
class Trained:
    model: ModelWrapper  # the in-process wrapper, as its kind's train returned it
    package: Path
    rows: pd.DataFrame  # labelled raw rows it was not trained on


def tabular(class_path: str, **hyperparameters: Any) -> Callable[[Path], Trained]:
    """A recipe of the tabular kind (any sklearn-API estimator), fitted by ``Scorer.train`` on
    300 synthetic rows and packaged by the package step."""

    def build(dest: Path) -> Trained:
        from mmp.inference.scorer import Scorer

        raw = read_params(ROOT / "params.yaml")
        raw.update(seed=0, features={}, model={"class_path": class_path, "hyperparameters": hyperparameters})
        params = parse(Params, raw)
        prepared = steps.prepare(credit_default(300, 7), params.data, params.seed)
        model = Scorer.train(prepared.train, params)
        metrics = model.evaluate(prepared.test)
        steps.package(dest, model.featurizer, model.model, model.schema, metrics, params, CREATED)
        return Trained(model, dest, prepared.test)

    return build


def echo(dest: Path) -> Trained:
    """The test-only kind named by import path (tests.kinds.echo), packaged by save_package."""
    from mmp.inference.pyfunc import save_package
    from tests.kinds.echo import EchoModel

    model = EchoModel.train(pd.DataFrame(), {"prefix": "echo: "})
    scratch = dest.with_name(dest.name + "-artifacts")
    scratch.mkdir()
    save_package(dest, model.save(scratch), CREATED)
    rows = pd.DataFrame({"question": ["ping", "héllo", ""], "answer": ["echo: ping", "wrong", "echo: "]})
    return Trained(model, dest, rows)


def llm(dest: Path) -> Trained:
    """The llm_graph kind of ``+experiment=llm_qa`` (the scripted offline chat model), packaged
    by its package step; ``rows`` are the golden set."""
    import yaml

    from mmp.data.sources import load_rows
    from mmp.inference.llm import LLMGraph
    from mmp.ops.params import compose
    from mmp.pipeline.llm_steps import golden_schema, package_graph

    params = parse(Params, yaml.safe_load(compose(ROOT, ["+experiment=llm_qa"])))
    with contextlib.chdir(ROOT):  # the recipe's paths (golden set, prompts, script) are the repository's
        rows = load_rows(params.data, params.seed)
        spec = LLMGraph.train(pd.DataFrame(), params)
    schema = golden_schema(rows, params.data)
    model = LLMGraph(spec, schema, {"kind": LLMGraph.kind})
    package_graph(dest, spec, schema, model.evaluate(rows), params, CREATED, [])
    return Trained(model, dest, rows)


def kind_env(**extra: str) -> dict[str, str]:
    """The environment of a fresh process: mmp, and the test kinds importable by path."""
    return pipeline_env(ROOT, PYTHONPATH=f"{ROOT / 'src'}:{ROOT}", **extra)


@contextmanager
def served(package: Path) -> Iterator[str]:
    """``mmp serve`` of ``package`` (real uvicorn on a free port) until the block ends; its URL."""
    port = free_port()
    cmd = [sys.executable, "-m", "mmp", "serve", "--model", str(package), "--port", str(port), "--no-access-log"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=kind_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url)
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


@pytest.fixture(scope="session")
def echo_package(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return echo(tmp_path_factory.mktemp("echo") / "package")
