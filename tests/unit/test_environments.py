"""APP_ENV selects conf/env/<env>.yaml; runtime settings never enter params.yaml."""

from __future__ import annotations

import pytest

from mmp.commands.params import compose
from mmp.errors import MMPError
from mmp.settings import load_settings
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
    with pytest.raises(MMPError, match="conf/env/prod.yaml: cannot resolve a setting") as err:
        load_settings("prod", ROOT)
    assert "set the environment variable" in str(err.value)


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
