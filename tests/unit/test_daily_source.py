"""The day's labelled rows from each kind of source (synthetic with a scenario, a file glob, a
partitioned directory, a SQL query with the day bound, on SQLite and the local PostgreSQL), and
the typed settings and scenarios that choose them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from mmp.core.errors import MMPError
from mmp.core.parsing import parse
from mmp.core.settings import RuntimeSettings
from mmp.data import copula
from mmp.data.daily import DriftKnobs, SourceSettings, day_batch, knobs_for, load_scenario, scenario_names
from mmp.data.synthetic import credit_default
from tests.conftest import ROOT
from tests.unit.test_sql_source import fresh_postgres

DAYS = [date(2026, 1, 6), date(2026, 1, 7)]


def rows_of(day: date, n: int = 3) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": [day.day * 10 + i for i in range(n)], "day": [day] * n, "amount": [1.5 * i for i in range(n)], "label": [0, 1, 0][:n]}
    )


def test_the_shipped_scenarios_parse_and_switch_on_from_their_day() -> None:
    assert scenario_names(ROOT) == ["broken", "drift", "stable"]
    stable, drift, broken = (load_scenario(ROOT, name) for name in ("stable", "drift", "broken"))
    assert not stable.knobs.active
    assert not drift.knobs_on(6).active and drift.knobs_on(7).mean_shift
    assert broken.knobs_on(7).label("default") == 1.0
    settings = SourceSettings(scenario="drift", start=date(2026, 1, 1))
    assert not knobs_for(settings, date(2026, 1, 6), ROOT).active and knobs_for(settings, date(2026, 1, 7), ROOT).active
    later = settings.model_copy(update={"drift_from": 10})
    assert not knobs_for(later, date(2026, 1, 9), ROOT).active and knobs_for(later, date(2026, 1, 10), ROOT).active


def test_a_synthetic_day_follows_the_scenario(tmp_path: Path) -> None:
    model = copula.fit(credit_default(600, 0), target="default", time_col="application_date", id_cols=("customer_id",))
    copula.save(model, tmp_path / "copula.json")
    settings = SourceSettings(distribution=str(tmp_path / "copula.json"), rows=300, scenario="drift")
    day6, day7 = (day_batch(settings, day, root=ROOT) for day in DAYS)
    stable7 = day_batch(settings.model_copy(update={"scenario": "stable"}), DAYS[1], root=ROOT)
    assert len(day7) == 300 and (day7["application_date"] == pd.Timestamp(DAYS[1])).all()
    assert day7["credit_score"].median() > stable7["credit_score"].median() + 30  # drifted from day 7
    pd.testing.assert_frame_equal(day_batch(settings, DAYS[0], root=ROOT), day6)  # same date, same rows
    own = day_batch(settings.model_copy(update={"knobs": DriftKnobs(label_shift=1.0)}), DAYS[1], root=ROOT)
    assert own["credit_score"].equals(stable7["credit_score"])  # own knobs replace the scenario's


def test_files_by_glob_with_the_days_codes_and_a_date_column(tmp_path: Path) -> None:
    for day in DAYS:
        (tmp_path / "landing" / f"{day:%Y-%m-%d}").mkdir(parents=True)
        rows_of(day).to_parquet(tmp_path / "landing" / f"{day:%Y-%m-%d}" / "part-0.parquet")
    rows_of(DAYS[1], 2).assign(id=[90, 91]).to_csv(tmp_path / "landing" / f"{DAYS[1]:%Y-%m-%d}" / "late.csv", index=False)
    by_folder = day_batch(SourceSettings(kind="files", glob="landing/%Y-%m-%d/*"), DAYS[1], root=tmp_path)
    assert sorted(by_folder["id"]) == [70, 71, 72, 90, 91]
    pd.concat([rows_of(d) for d in DAYS]).to_csv(tmp_path / "all.csv", index=False)
    by_column = day_batch(SourceSettings(kind="files", glob="all.csv", date_col="day"), DAYS[0], root=tmp_path)
    assert list(by_column["id"]) == [60, 61, 62]
    with pytest.raises(MMPError, match=r"source.glob: no file matches 'landing/2026-01-08/\*' for 2026-01-08"):
        day_batch(SourceSettings(kind="files", glob="landing/%Y-%m-%d/*"), date(2026, 1, 8), root=tmp_path)
    with pytest.raises(MMPError, match="has no rows for 2026-01-08"):
        day_batch(SourceSettings(kind="files", glob="all.csv", date_col="day"), date(2026, 1, 8), root=tmp_path)


def test_a_partitioned_directory(tmp_path: Path) -> None:
    for day in DAYS:
        folder = tmp_path / "lake" / f"date={day.isoformat()}"
        folder.mkdir(parents=True)
        rows_of(day).to_parquet(folder / "part-0.parquet")
    batch = day_batch(SourceSettings(kind="partitioned", directory="lake"), DAYS[0], root=tmp_path)
    assert list(batch["id"]) == [60, 61, 62]
    with pytest.raises(MMPError, match="source.directory: no partition lake/date=2026-01-08"):
        day_batch(SourceSettings(kind="partitioned", directory="lake"), date(2026, 1, 8), root=tmp_path)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_sql_query_with_the_day_as_a_bound_parameter(backend: str, tmp_path: Path) -> None:
    (tmp_path / "queries").mkdir()
    (tmp_path / "queries" / "day.sql").write_text(
        "SELECT id, amount, label FROM batches WHERE day = :day AND amount >= :least ORDER BY id\n"
    )
    settings = SourceSettings(kind="sql", query="queries/day.sql", database="warehouse", params={"least": 1.0})

    def check(url: str) -> None:
        engine = sa.create_engine(url)
        pd.concat([rows_of(d) for d in DAYS]).to_sql("batches", engine, index=False, dtype={"day": sa.Date()})
        engine.dispose()
        runtime = RuntimeSettings({"databases": {"warehouse": {"url": url}}})
        assert list(day_batch(settings, DAYS[1], root=tmp_path, runtime=runtime)["id"]) == [71, 72]

    if backend == "sqlite":
        check(f"sqlite:///{tmp_path / 'warehouse.db'}")
    else:
        with fresh_postgres() as url:
            check(url)


def test_settings_are_typed_per_kind() -> None:
    with pytest.raises(MMPError, match="glob is not a setting of kind synthetic"):
        parse(SourceSettings, {"glob": "x/*.csv"}, "source")
    with pytest.raises(MMPError, match="kind sql needs query and database"):
        parse(SourceSettings, {"kind": "sql"}, "source")
    with pytest.raises(MMPError, match=r"source.kind: .*'synthetic', 'files', 'partitioned' or 'sql'"):
        parse(SourceSettings, {"kind": "kafka"}, "source")
    with pytest.raises(MMPError, match="source.scenario: no scenario 'nope'"):
        knobs_for(SourceSettings(scenario="nope"), DAYS[0], ROOT)
