"""APP_ENV selects conf/env/<env>.yaml; runtime settings are typed, resolved section by section,
reported like a bad recipe key, and never enter params.yaml."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import pytest

from mmp.core.errors import MMPError, run_cli
from mmp.core.settings import OnlineStoreSettings, RuntimeSettings, load_settings
from mmp.ops.params import compose
from tests.conftest import ROOT

SECRET = "hunter2-never-printed"


def env_copy(tmp_path: Path) -> Path:
    """A repo root holding a copy of conf/env, for tests that edit a settings file."""
    shutil.copytree(ROOT / "conf" / "env", tmp_path / "conf" / "env")
    return tmp_path


def test_each_environment_reads_the_warehouse_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMP_WAREHOUSE_URL", "postgresql://user:hunter2@db.internal/warehouse")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal")
    for env in ("local", "dev", "prod"):
        assert load_settings(env, ROOT).database("warehouse").url.endswith("@db.internal/warehouse")


def test_local_has_an_embedded_default_and_prod_requires_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMP_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal")
    assert load_settings("local", ROOT).database("warehouse").url.startswith("sqlite:///")
    prod = load_settings("prod", ROOT)
    assert prod.mlflow.tracking_uri == "http://mlflow.internal", "other sections still resolve"
    assert prod.serving.max_records == 10_000, "serving in prod never needs the warehouse password"
    with pytest.raises(MMPError) as err:
        prod.database("warehouse")
    assert str(err.value) == (
        "conf/env/prod.yaml: databases.warehouse.url: cannot be resolved: environment variable MMP_WAREHOUSE_URL is not set"
        " (allowed: set the environment variable it references)"
    )


def test_an_unresolvable_setting_is_one_clean_cli_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("MMP_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("APP_ENV", "prod")

    def main(argv: list[str]) -> None:
        load_settings(root=ROOT).database("warehouse")

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, [])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: conf/env/prod.yaml: databases.warehouse.url: cannot be resolved" in err and "Traceback" not in err


def test_environment_overrides_reach_the_typed_sections(monkeypatch: pytest.MonkeyPatch) -> None:
    overrides = {
        "MLFLOW_TRACKING_URI": "sqlite:///elsewhere.db", "MMP_MIRROR": "false", "MMP_MIRROR_REQUIRED": "true",
        "MMP_TUNE_STORAGE": "postgresql://optuna@db/optuna", "MMP_TUNE_HEARTBEAT": "2", "MMP_TUNE_GRACE": "5",
        "MMP_MAX_RECORDS": "7", "MMP_ONLINE_STORE": "redis", "MMP_ONLINE_STORE_URL": "redis://127.0.0.1:6379/0",
        "MMP_MISSING_ENTITY_STATUS": "422",
    }  # fmt: skip
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = load_settings("local", ROOT)
    assert (settings.mlflow.tracking_uri, settings.mlflow.mirror, settings.mlflow.mirror_required) == (
        "sqlite:///elsewhere.db",
        False,
        True,
    )
    assert (settings.tune.heartbeat_interval, settings.tune.grace_period) == (2, 5)
    assert settings.tune.url == "postgresql+psycopg2://optuna@db/optuna", "plain postgresql:// means the locked driver"
    assert settings.serving.max_records == 7
    assert settings.serving.online_store == OnlineStoreSettings(kind="redis", url="redis://127.0.0.1:6379/0", missing_entity_status=422)


@pytest.mark.parametrize(
    ("variable", "section", "message"),
    [
        ("MMP_MAX_RECORDS", "serving", "conf/env/local.yaml: serving.max_records: input should be a valid integer"),
        ("MMP_ONLINE_STORE", "serving", "conf/env/local.yaml: serving.online_store.kind: input should be 'none', 'sql' or 'redis'"),
        (
            "MMP_MISSING_ENTITY_STATUS",
            "serving",
            "conf/env/local.yaml: serving.online_store.missing_entity_status: input should be 404 or 422",
        ),
        ("MMP_MIRROR", "mlflow", "conf/env/local.yaml: mlflow.mirror: input should be a valid boolean"),
        ("MMP_TUNE_GRACE", "tune", "conf/env/local.yaml: tune.grace_period: input should be a valid integer"),
    ],
)
def test_a_wrong_setting_is_one_line_that_never_shows_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, section: str, message: str
) -> None:
    monkeypatch.setenv(variable, SECRET)
    with pytest.raises(MMPError) as err:
        getattr(load_settings("local", ROOT), section)
    assert str(err.value).startswith(message) and SECRET not in str(err.value)
    assert "\n" not in str(err.value)


def test_a_malformed_reference_is_reported_without_its_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMP_MIRROR", "[" + SECRET)  # oc.decode fails to parse it
    with pytest.raises(MMPError) as err:
        load_settings("local", ROOT).mlflow  # noqa: B018 - reading it is the point
    assert str(err.value).startswith("conf/env/local.yaml: mlflow.mirror: cannot be resolved") and SECRET not in str(err.value)


def test_unknown_and_missing_keys_read_like_a_bad_recipe_key(tmp_path: Path) -> None:
    root = env_copy(tmp_path)
    settings_file = root / "conf" / "env" / "local.yaml"
    settings_file.write_text(settings_file.read_text().replace("  max_records:", "  max_recods:"))
    with pytest.raises(MMPError) as err:
        load_settings("local", root).serving  # noqa: B018
    assert (
        str(err.value)
        == "conf/env/local.yaml: serving.max_recods: unknown key (allowed: max_body_bytes, max_records, online_store, prediction_log)"
    )
    assert load_settings("local", root).tune.storage, "a broken section fails alone"
    with pytest.raises(MMPError, match=r"^conf/env/local.yaml: tune.storage: required key is missing$"):
        RuntimeSettings({"tune": {"heartbeat_interval": 3}}, "conf/env/local.yaml").tune  # noqa: B018
    with pytest.raises(
        MMPError,
        match=r"^conf/env/local.yaml: servng: unknown key \(allowed: mlflow, serving, databases, tune, events, alerts, dask, llm\)$",
    ):
        RuntimeSettings({"servng": {}}, "conf/env/local.yaml")


def test_rules_across_keys_are_settings_errors() -> None:
    with pytest.raises(MMPError, match=r"^x.yaml: tune: grace_period must be at least heartbeat_interval$"):
        RuntimeSettings({"tune": {"storage": "sqlite://", "heartbeat_interval": 10, "grace_period": 5}}, "x.yaml").tune  # noqa: B018
    with pytest.raises(MMPError, match=r"^x.yaml: serving.online_store: online_store.url is required for the sql store"):
        RuntimeSettings({"serving": {"online_store": {"kind": "sql"}}}, "x.yaml").serving  # noqa: B018
    with pytest.raises(
        MMPError, match=r"^x.yaml: serving.prediction_log: prediction_log.path \(a directory\) is required for kind parquet"
    ):
        RuntimeSettings({"serving": {"prediction_log": {"kind": "parquet"}}}, "x.yaml").serving  # noqa: B018
    with pytest.raises(MMPError, match=r"^x.yaml: databases.crm.url: no connection for database 'crm'"):
        RuntimeSettings({"databases": {"warehouse": {"url": "sqlite://"}}}, "x.yaml").database("crm")


def test_errors_import_nothing_of_mmp_so_settings_cannot_form_a_cycle() -> None:
    tree = ast.parse((ROOT / "src" / "mmp" / "core" / "errors.py").read_text())
    imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
        a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    assert not {m for m in imported if m and m.startswith("mmp")}


def test_switching_environment_does_not_change_params(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMP_WAREHOUSE_URL", "postgresql://user:hunter2@db.internal/warehouse")
    composed = set()
    for env in ("local", "dev", "prod"):
        monkeypatch.setenv("APP_ENV", env)
        composed.add(compose(ROOT, []))
    assert len(composed) == 1
    text = composed.pop()
    assert "hunter2" not in text and "databases" not in text and "mlflow" not in text
    assert text == (ROOT / "params.yaml").read_text()


def test_the_mirror_switches_resolve_without_the_tracking_uri(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, tmp_path: Path
) -> None:
    """An offline prod run (MMP_MIRROR=false, no MLFLOW_TRACKING_URI) skips mirroring cleanly;
    with MMP_MIRROR_REQUIRED=true an unresolvable tracking URI fails the stage."""
    from mmp.ops.tracking.sync import mirror_after_stage

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("APP_ENV", "prod")
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("MMP_MIRROR", "false")
    with pytest.raises(MMPError, match="MLFLOW_TRACKING_URI is not set"):
        load_settings().mlflow  # noqa: B018
    assert load_settings().mirroring.mirror is False
    mirror_after_stage(ROOT, tmp_path / "mirrored.json")
    assert "MLflow mirroring is off" in capsys.readouterr().out
    assert (tmp_path / "mirrored.json").is_file(), "the stage's marker output is written even when mirroring is off"

    monkeypatch.setenv("MMP_MIRROR", "true")
    monkeypatch.setenv("MMP_MIRROR_REQUIRED", "true")
    with pytest.raises(MMPError, match=r"^mlflow.mirror_required: mirroring failed"):
        mirror_after_stage(ROOT, tmp_path / "failed.json")
    assert not (tmp_path / "failed.json").exists(), "a failed required mirror leaves no marker"
    assert "MLFLOW_TRACKING_URI is not set" in capsys.readouterr().err
