"""The model registry's rules against a real MLflow SQLite store (no pipeline run): one registered
model per dataset, interface and task; one version per package; the model card per dataset."""

from __future__ import annotations

import contextlib
import json
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mmp.core.config import Params, parse, registered_model_name
from mmp.core.errors import MMPError
from mmp.core.settings import MlflowSettings
from mmp.data.schema import InputSchema
from mmp.inference.model_card import DataFile, render_card
from mmp.modeling.gate import evaluate_gate
from mmp.ops.params import compose
from mmp.ops.promote import comparable
from mmp.ops.tracking.mirror import connect, mirror_run
from mmp.ops.tracking.payload import RunPayload, package_schema
from mmp.ops.tracking.registry import CANDIDATE, register
from mmp.ops.tracking.state import exp_identity
from tests.conftest import ROOT

CREDIT = InputSchema(
    columns=[{"name": "income", "dtype": "float", "nullable": True}, {"name": "age", "dtype": "float", "nullable": True}],
    targets=["default"],
    task_type="binary",
)
DIABETES = InputSchema(
    columns=[{"name": "bmi", "dtype": "float", "nullable": False}, {"name": "age", "dtype": "float", "nullable": False}],
    targets=["target"],
    task_type="regression",
)


def composed(tmp_path: Path, *overrides: str) -> Params:
    return parse(Params, yaml.safe_load(compose(tmp_path, list(overrides))))


@pytest.fixture
def conf_copy(tmp_path: Path) -> Path:
    """conf/ plus a user's own CSV data config, as the README's new-dataset recipe writes it."""
    shutil.copytree(ROOT / "conf", tmp_path / "conf")
    (tmp_path / "conf/data/my_loans.yaml").write_text("source_uri: data/raw/my_loans.csv\ntarget_col: label\ntask_type: binary\n")
    return tmp_path


def test_each_dataset_gets_its_own_registered_model_and_model_card(conf_copy: Path) -> None:
    credit = composed(conf_copy)
    diabetes = composed(conf_copy, "data=diabetes", "model=lightgbm_regressor")
    assert credit.model_name == "credit-default"
    assert diabetes.model_name == "diabetes"
    assert composed(conf_copy, "+experiment=iris").model_name == "iris"
    assert composed(conf_copy, "data=my_loans").model_name == "my-loans"
    assert composed(conf_copy, "data=diabetes", "registry.model_name=sugar").model_name == "sugar"
    assert registered_model_name(None, "sql://warehouse/queries/loans.sql.j2") == "warehouse-loans"
    assert registered_model_name(None, "s3://bucket/raw/Loans 2024.parquet") == "loans-2024"

    def card(params: Params, schema: InputSchema) -> str:
        gate, metrics = params.evaluate.gate_for(params.data.task_type)[1], {"roc_auc": 0.8, "r2": 0.4, "rmse": 50.0}
        return render_card(params, metrics, evaluate_gate(gate, metrics, None), [], schema)

    assert "Scores loan applications" in card(credit, CREDIT)
    text = card(diabetes, DIABETES)
    assert "# Model card: diabetes" in text and "loan" not in text.lower() and "credit" not in text.lower(), text
    assert "Predicts `target` (regression) from 2 input columns of `sklearn://diabetes`" in text


def write_package(root: Path, schema: InputSchema, salt: str) -> Path:
    """The files of a model package the registry looks at: MLmodel and its schema artifact."""
    (root / "artifacts").mkdir(parents=True)
    (root / "artifacts/schema.json").write_text(json.dumps(schema.to_json()))
    (root / "artifacts/model.bin").write_text(salt)
    mlmodel = {"flavors": {"python_function": {"artifacts": {"schema": {"path": "artifacts/schema.json"}}}}}
    (root / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    return root


def payload(name: str, exp: str, package: Path, md5: str) -> RunPayload:
    return RunPayload(exp_identity("base", exp, "abc"), model_name=name, package=package, package_md5=md5, schema=package_schema(package))


def mirrored(tracker: Any, p: RunPayload) -> tuple[str, bool]:
    done = register(tracker, p, mirror_run(tracker, p))
    return str(done.version), done.new_version


@pytest.mark.slow  # a real MLflow store: its schema migrations alone take seconds
def test_a_registered_model_holds_one_interface_and_a_package_one_version(tmp_path: Path) -> None:
    tracker = connect(MlflowSettings(tracking_uri=f"sqlite:///{tmp_path}/mlflow.db", artifact_location=str(tmp_path / "art")))
    credit1 = write_package(tmp_path / "p1", CREDIT, "1")
    credit2 = write_package(tmp_path / "p2", CREDIT, "2")
    sugar = write_package(tmp_path / "p3", DIABETES, "3")
    client = tracker.client

    assert mirrored(tracker, payload("credit-default", "q1", credit1, "md5-1")) == ("1", True)
    assert mirrored(tracker, payload("credit-default", "q2", credit2, "md5-2")) == ("2", True)
    # The same package from another run (a run-cache restore of q1) keeps q1's version and,
    # being the newest run, takes the candidate alias.
    assert mirrored(tracker, payload("credit-default", "cached", credit1, "md5-1")) == ("1", False)
    assert str(client.get_model_version_by_alias("credit-default", CANDIDATE).version) == "1"
    assert len(client.search_model_versions("name = 'credit-default'")) == 2

    # Other inputs and another task under the same name: refused with one line, nothing registered.
    with pytest.raises(MMPError) as err:
        mirrored(tracker, payload("credit-default", "d1", sugar, "md5-3"))
    line = str(err.value)
    assert "\n" not in line and "registry.model_name" in line and "regression" in line, line
    assert len(client.search_model_versions("name = 'credit-default'")) == 2
    assert mirrored(tracker, payload("diabetes", "d1", sugar, "md5-3")) == ("1", True)


def test_promote_never_compares_models_with_other_inputs_or_task() -> None:
    comparable("m", ("2", CREDIT), ("champion version 1", CREDIT))
    with pytest.raises(MMPError, match=r"cannot be compared \(binary of \['default'\] vs regression"):
        comparable("m", ("2", CREDIT), ("champion version 1", DIABETES))
    fewer = InputSchema(columns=CREDIT.columns[1:], targets=["default"], task_type="binary")
    with pytest.raises(MMPError, match=r"input columns differ: income:float"):
        comparable("m", ("2", CREDIT), ("champion version 1", fewer))


@contextlib.contextmanager
def written_first_by_another_run(db: Path, table: str, sql: str, values: tuple[Any, ...]) -> Iterator[list[str]]:
    """Just before this process's first INSERT into ``table``, another connection (a parallel
    queued run) commits ``sql``: the moment after MLflow looked the row up and found nothing."""
    import sqlite3

    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    raced: list[str] = []

    def insert_first(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lstrip().upper().startswith(f"INSERT INTO {table.upper()} ") and not raced:
            raced.append(statement)
            with sqlite3.connect(db) as other:
                other.execute(sql, values)

    event.listen(Engine, "before_cursor_execute", insert_first)
    try:
        yield raced
    finally:
        event.remove(Engine, "before_cursor_execute", insert_first)
    assert raced, f"the race was not recreated: MLflow no longer inserts into {table} with such a statement"


@pytest.mark.slow  # a real MLflow store
def test_a_dataset_logged_by_a_parallel_run_between_lookup_and_insert_is_linked_not_fatal(tmp_path: Path) -> None:
    """Two queued runs of the same data mirror at once: the other run's dataset row lands between
    MLflow's lookup and its insert, and this run's mirror still links both datasets."""
    db = tmp_path / "mlflow.db"
    tracker = connect(MlflowSettings(tracking_uri=f"sqlite:///{db}", artifact_location=str(tmp_path / "art")))
    data = [DataFile("train", "data/prepared/train.parquet", 10, "a" * 32), DataFile("test", "data/prepared/test.parquet", 5, "b" * 32)]
    other = (uuid.uuid4().hex, int(tracker.experiment_id), "data/prepared/train", "a" * 32)
    sql = "INSERT INTO datasets (dataset_uuid, experiment_id, name, digest, dataset_source_type, dataset_source) VALUES (?, ?, ?, ?, 'dvc', '{}')"
    with written_first_by_another_run(db, "datasets", sql, other):
        done = mirror_run(tracker, RunPayload(exp_identity("base", "q1", "abc"), model_name="m", datasets=data))
    inputs = tracker.client.get_run(done.run_id).inputs.dataset_inputs
    assert sorted(i.dataset.digest for i in inputs) == ["a" * 32, "b" * 32]


@pytest.mark.slow  # a real MLflow store
def test_the_candidate_alias_set_by_a_parallel_run_first_is_moved_not_fatal(tmp_path: Path) -> None:
    """The other queued run sets the model's first ``candidate`` alias between MLflow's lookup of
    it and this run's insert: this run's registration still ends with the alias on its version."""
    db = tmp_path / "mlflow.db"
    tracker = connect(MlflowSettings(tracking_uri=f"sqlite:///{db}", artifact_location=str(tmp_path / "art")))
    assert mirrored(tracker, payload("credit-default", "q1", write_package(tmp_path / "p1", CREDIT, "1"), "md5-1")) == ("1", True)
    tracker.client.delete_registered_model_alias("credit-default", CANDIDATE)  # as before any run set it
    sql = "INSERT INTO registered_model_aliases (workspace, name, alias, version) VALUES ('default', ?, ?, 1)"
    with written_first_by_another_run(db, "registered_model_aliases", sql, ("credit-default", CANDIDATE)):
        done = mirrored(tracker, payload("credit-default", "q2", write_package(tmp_path / "p2", CREDIT, "2"), "md5-2"))
    assert done == ("2", True)
    assert str(tracker.client.get_model_version_by_alias("credit-default", CANDIDATE).version) == "2"
