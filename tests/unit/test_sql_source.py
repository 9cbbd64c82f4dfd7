"""SQL sources against real databases (SQLite, and the PostgreSQL on 127.0.0.1): values are bound
parameters, identifiers are allowlisted, injection payloads return nothing and break nothing."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mmp.core.config import DataConfig
from mmp.core.errors import MMPError
from mmp.core.settings import RuntimeSettings
from mmp.data.sql import read_sql
from tests.conftest import ROOT

ROWS = pd.DataFrame(
    {
        "id": range(1, 9),
        "region": ["north", "south", "north", "east", "x", "west", "north", "south"],
        "amount": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0],
        "created": ["2024-01-01", "2024-02-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-06-01", "2024-07-01", "2024-08-01"],
        "label": [0, 1, 0, 1, 0, 1, 0, 1],
    }
)
INJECTIONS = ["x' OR '1'='1", "1; DROP TABLE t", "north'; DROP TABLE t; --"]


def warehouse(url: str) -> RuntimeSettings:
    return RuntimeSettings({"databases": {"warehouse": {"url": url}}})


def sqlite_url(tmp: Path) -> str:
    return f"sqlite:///{tmp / 'warehouse.db'}"


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A fresh database with a unique name on the local PostgreSQL, dropped afterwards."""
    admin = None
    for user in ("postgres", "root"):
        engine = sa.create_engine(f"postgresql+psycopg2://{user}@127.0.0.1/test", isolation_level="AUTOCOMMIT")
        try:
            with engine.connect():
                admin = engine
                break
        except sa.exc.OperationalError:
            engine.dispose()
    if admin is None:
        pytest.skip("PostgreSQL on 127.0.0.1 is not reachable (users postgres/root, database test)")
    name = f"mmp_sql_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin.url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with fresh_postgres() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    url = sqlite_url(tmp_path) if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    engine = sa.create_engine(url)
    ROWS.to_sql("t", engine, index=False)
    engine.dispose()
    return url


def load(url: str, query: str = "queries/loans.sql.j2", **data: object) -> pd.DataFrame:
    fields = {"identifiers": {"table": "t"}, "allowed_identifiers": {"table": ["t", "loans"]}} | data
    cfg = DataConfig(source_uri=f"sql://warehouse/{query}", target_col="label", task_type="binary", **fields)
    return read_sql(cfg.source_uri, cfg.params, cfg.identifiers, cfg.allowed_identifiers, warehouse(url), ROOT)


def row_count(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT COUNT(*) FROM t")).scalar_one()
    engine.dispose()
    return int(count)


def test_template_shapes_the_query_with_bound_values(database: str) -> None:
    assert list(load(database).id) == list(range(1, 9))
    assert list(load(database, params={"region": "north"}).id) == [1, 3, 7]
    assert list(load(database, params={"region": "south", "start_date": "2024-03-01"}).id) == [8]
    assert list(load(database, params={"regions": ["east", "west"]}).id) == [4, 6]


@pytest.mark.parametrize("payload", INJECTIONS)
def test_injection_payloads_are_values_not_sql(database: str, payload: str) -> None:
    assert load(database, params={"region": payload}).empty, "only rows whose region IS the payload"
    assert load(database, params={"regions": [payload, "east"]}).id.tolist() == [4]
    assert row_count(database) == len(ROWS), "the table is intact"


def test_a_plain_sql_file_binds_named_parameters(database: str, tmp_path: Path) -> None:
    (tmp_path / "q.sql").write_text("SELECT id FROM t WHERE region = :region ORDER BY id")
    cfg_root = tmp_path
    frame = read_sql("sql://warehouse/q.sql", {"region": INJECTIONS[0]}, {}, {}, warehouse(database), cfg_root)
    assert frame.empty and row_count(database) == len(ROWS)
    frame = read_sql("sql://warehouse/q.sql", {"region": "x"}, {}, {}, warehouse(database), cfg_root)
    assert frame.id.tolist() == [5]


@pytest.mark.parametrize("table", ["t; DROP TABLE t", "users", "t --"])
def test_identifiers_outside_the_allowlist_are_refused(tmp_path: Path, table: str) -> None:
    url = sqlite_url(tmp_path)
    with pytest.raises(MMPError, match=r"data.identifiers.table: .* is not an allowed identifier \(allowed: t, loans\)"):
        load(url, identifiers={"table": table})


def test_missing_connection_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(MMPError, match=r"set databases.warehouse.url"):
        read_sql("sql://warehouse/queries/loans.sql.j2", {}, {"table": "t"}, {"table": ["t"]}, RuntimeSettings({}), ROOT)


def test_a_failing_query_does_not_reveal_the_url(tmp_path: Path) -> None:
    secret = "s3cr3t-" + uuid.uuid4().hex[:6]
    url = f"postgresql+psycopg2://nobody:{secret}@127.0.0.1:1/none"
    with pytest.raises(MMPError) as err:
        load(url)
    assert secret not in str(err.value) and "warehouse" in str(err.value)


def test_the_url_comes_from_the_environment_through_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmp.data.sources import load_source

    url = sqlite_url(tmp_path)
    engine = sa.create_engine(url)
    ROWS.to_sql("t", engine, index=False)
    engine.dispose()
    monkeypatch.setenv("MMP_WAREHOUSE_URL", url)
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.chdir(ROOT)
    cfg = DataConfig(
        source_uri="sql://warehouse/queries/loans.sql.j2",
        target_col="label",
        task_type="binary",
        params={"region": "north"},
        identifiers={"table": "t"},
        allowed_identifiers={"table": ["t"]},
    )
    assert load_source(cfg, seed=0).id.tolist() == [1, 3, 7]
    assert os.environ["MMP_WAREHOUSE_URL"] not in cfg.model_dump_json()


def test_a_missing_sqlite_file_is_reported_not_created(tmp_path: Path) -> None:
    with pytest.raises(MMPError, match="SQLite database of 'warehouse' does not exist"):
        load(sqlite_url(tmp_path))
    assert not (tmp_path / "warehouse.db").exists()


def test_a_failing_query_is_one_line_without_the_bound_values(database: str, tmp_path: Path) -> None:
    """pandas 3 wraps the driver's error in ``pandas.errors.DatabaseError``; its text holds the
    bound parameters (and PostgreSQL echoes a value it cannot cast): neither may be shown."""
    secret = "s3cr3t-" + uuid.uuid4().hex[:6]
    for sql in ("SELECT nope FROM t WHERE region = :region", "SELECT id FROM t WHERE id = :region"):
        (tmp_path / "q.sql").write_text(sql)
        try:
            read_sql("sql://warehouse/q.sql", {"region": secret}, {}, {}, warehouse(database), tmp_path)
        except MMPError as err:
            message = str(err)
        else:  # SQLite compares an integer with text without complaint
            assert sql.endswith("id = :region") and database.startswith("sqlite")
            continue
        assert message.startswith("data.source_uri: query on database 'warehouse' failed: "), message
        assert secret not in message and "\n" not in message


@pytest.mark.parametrize("query", ["{tmp}/q.sql", "../q.sql", "queries/../../q.sql"], ids=["absolute", "parent", "nested parent"])
def test_a_query_file_outside_the_repository_is_refused(tmp_path: Path, query: str) -> None:
    repo = tmp_path / "repo"
    (repo / "queries").mkdir(parents=True)
    (tmp_path / "q.sql").write_text("SELECT 1 AS x")
    url = sqlite_url(tmp_path)
    sa.create_engine(url).connect().close()
    uri = "sql://warehouse/" + query.format(tmp=tmp_path)
    with pytest.raises(MMPError, match=r"^data.source_uri: the query file .* is outside the repository"):
        read_sql(uri, {}, {}, {}, warehouse(url), repo)


def test_an_empty_result_says_0_rows_and_repeated_columns_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mmp.data.checks import data_problems
    from mmp.data.sources import load_source

    url = sqlite_url(tmp_path)
    engine = sa.create_engine(url)
    ROWS.to_sql("t", engine, index=False)
    engine.dispose()
    (tmp_path / "dvc.yaml").write_text("stages: {}\n")  # a repository root holding the queries and the settings
    shutil.copytree(ROOT / "conf" / "env", tmp_path / "conf" / "env")
    monkeypatch.setenv("MMP_WAREHOUSE_URL", url)
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("DVC_ROOT", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "none.sql").write_text("SELECT id, label FROM t WHERE 1 = 0")
    cfg = DataConfig(source_uri="sql://warehouse/none.sql", target_col="label", task_type="binary")
    assert [str(e) for e in data_problems(load_source(cfg, seed=0), cfg)] == ["data.source_uri: the source has 0 rows; training needs rows"]
    (tmp_path / "twice.sql").write_text("SELECT id, amount, amount, label FROM t")
    with pytest.raises(MMPError, match="column 'amount' appears 2 times in the source"):
        load_source(cfg.model_copy(update={"source_uri": "sql://warehouse/twice.sql"}), seed=0)
