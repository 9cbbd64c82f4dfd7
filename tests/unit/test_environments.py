"""APP_ENV selects conf/env/<env>.yaml; runtime settings never enter params.yaml."""

from __future__ import annotations

import pytest

from mmp.core.errors import MMPError, run_cli
from mmp.core.settings import as_user_error, load_settings
from mmp.ops.params import compose
from tests.conftest import ROOT


def test_each_environment_reads_the_warehouse_url_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMP_WAREHOUSE_URL", "postgresql://user:hunter2@db.internal/warehouse")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal")
    for env in ("local", "dev", "prod"):
        assert load_settings(env, ROOT).databases.warehouse.url.endswith("@db.internal/warehouse")


def test_local_has_an_embedded_default_and_prod_requires_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MMP_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://mlflow.internal")
    assert load_settings("local", ROOT).databases.warehouse.url.startswith("sqlite:///")
    prod = load_settings("prod", ROOT)
    assert prod.mlflow.tracking_uri == "http://mlflow.internal", "other settings still resolve"
    with pytest.raises(Exception) as err:
        prod.databases.warehouse.url  # noqa: B018 - reading it is the point
    user_error = as_user_error(err.value)
    assert isinstance(user_error, MMPError)
    assert "databases.warehouse.url: cannot be resolved" in str(user_error)
    assert "MMP_WAREHOUSE_URL" in str(user_error) and "set the environment variable" in str(user_error)


def test_an_unresolvable_setting_is_one_clean_cli_error(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.delenv("MMP_WAREHOUSE_URL", raising=False)
    monkeypatch.setenv("APP_ENV", "prod")

    def main(argv: list[str]) -> None:
        load_settings(root=ROOT).databases.warehouse.url  # noqa: B018

    with pytest.raises(SystemExit) as exit_:
        run_cli(main, [])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "error: conf/env/prod.yaml: databases.warehouse.url: cannot be resolved" in err and "Traceback" not in err


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
