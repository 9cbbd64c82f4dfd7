"""Deploy and rollback against a real MLflow registry (a temp SQLite store) holding tiny
registered versions: the champion alias moves, each move is an event, the history decides
where a rollback goes, and every refusal is one line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from mmp.cli import main
from mmp.core.errors import MMPError
from mmp.ops.deploy import deploy, deployed_versions, rollback
from mmp.ops.events import EventStore
from tests.conftest import mmp

# a real MLflow store: its schema migrations alone take seconds; one worker, in file order (the
# refusals use the versions the tests above deployed)
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("deploy")]
MODEL = "credit-default"


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Any]:
    """A SQLite registry with versions 1-4 of MODEL and 1 of `fraud`, none deployed."""
    from mlflow import MlflowClient

    root = tmp_path_factory.mktemp("registry")
    uri = f"sqlite:///{root}/mlflow.db"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    for name, versions in ((MODEL, 4), ("fraud", 1)):
        client.create_registered_model(name)
        for n in range(versions):
            package = root / name / str(n + 1)
            package.mkdir(parents=True)
            (package / "MLmodel").write_text(f"# {name} {n + 1}\n")
            client.create_model_version(name, source=str(package))
    return uri, client


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    with EventStore(f"sqlite:///{tmp_path}/events.db") as s:
        yield s


def champion(client: Any, name: str = MODEL) -> str:
    return str(client.get_model_version_by_alias(name, "champion").version)


def moves(store: EventStore) -> list[tuple[str, str | None, str, str]]:
    return [(e.kind, e.payload["from_version"], e.payload["to_version"], e.payload["reason"]) for e in store.list() if e.model == MODEL]


def test_deploys_and_rollbacks_follow_the_recorded_history(registry: tuple[str, Any], store: EventStore) -> None:
    _, client = registry
    day = date(2026, 1, 7)
    assert deploy(MODEL, 1, "first model", store, day=day, client=client).line() == f"{MODEL}@champion: version (none) -> 1"
    deploy(MODEL, "2", "passed the gate, beat the champion", store, day=day, client=client)
    deploy(MODEL, 3, "retrained on day 7", store, day=day, client=client)
    assert not deploy(MODEL, 3, "re-run of day 7", store, day=day, client=client).recorded, "the same deploy again changes nothing"
    assert rollback(MODEL, store, client=client).line() == f"{MODEL}@champion: version 3 -> 2"
    assert champion(client) == "2"
    assert rollback(MODEL, store, reason="2 misbehaves too", client=client).to_version == "1"
    deploy(MODEL, 3, "fixed", store, client=client)
    assert deployed_versions(store, MODEL) == ["1", "3"]
    assert rollback(MODEL, store, client=client).to_version == "1", "back to what was deployed before 3, not to 2"
    assert moves(store) == [
        ("deployment", None, "1", "first model"),
        ("deployment", "1", "2", "passed the gate, beat the champion"),
        ("deployment", "2", "3", "retrained on day 7"),
        ("rollback", "3", "2", "rollback"),
        ("rollback", "2", "1", "2 misbehaves too"),
        ("deployment", "1", "3", "fixed"),
        ("rollback", "3", "1", "rollback"),
    ]
    events = store.list()
    assert [e.version for e in events] == ["1", "2", "3", "2", "1", "3", "1"] and events[0].day == day
    assert len({e.key for e in events}) == 7

    # A crash after the alias moved and before the event was written: the re-run records it.
    client.set_registered_model_alias(MODEL, "champion", "4")
    assert deploy(MODEL, 4, "re-run after a crash", store, client=client).line() == f"{MODEL}@champion: version 1 -> 4"
    assert moves(store)[-1] == ("deployment", "1", "4", "re-run after a crash")
    assert rollback(MODEL, store, to=2, client=client).to_version == "2" and deployed_versions(store, MODEL) == ["2"]
    client.set_registered_model_alias(MODEL, "champion", "3")  # moved outside the store (`mmp promote`)
    assert rollback(MODEL, store, client=client).line() == f"{MODEL}@champion: version 3 -> 2", "back to the last recorded deployment"


def test_without_a_history_rollback_takes_the_highest_version_below(registry: tuple[str, Any], store: EventStore) -> None:
    _, client = registry
    client.set_registered_model_alias(MODEL, "champion", "3")  # moved by `mmp promote`, not recorded
    assert rollback(MODEL, store, client=client).line() == f"{MODEL}@champion: version 3 -> 2"


def test_refusals_are_one_line(registry: tuple[str, Any], store: EventStore) -> None:
    _, client = registry
    client.set_registered_model_alias("fraud", "champion", "1")
    cases = {
        "--model: no registered model 'nope' (allowed: credit-default, fraud)": lambda: rollback("nope", store, client=client),
        "--to: registered model 'credit-default' has no version 9 (allowed: 1, 2, 3, 4)": lambda: rollback(
            MODEL, store, to=9, client=client
        ),
        "version: 'v2' is not a version number (allowed: a registered version, e.g. 3)": lambda: deploy(
            MODEL, "v2", "", store, client=client
        ),
        "registered model 'fraud': has no version deployed before version 1 and none below it to roll back to (allowed: --to VERSION of an "
        "existing version)": lambda: rollback("fraud", store, client=client),
    }
    for message, call in cases.items():
        with pytest.raises(MMPError) as err:
            call()
        assert str(err.value) == message
    client.delete_registered_model_alias("fraud", "champion")
    with pytest.raises(MMPError, match=r"^registered model 'fraud': has no version aliased 'champion' to roll back"):
        rollback("fraud", store, client=client)
    assert store.list() == [], "a refusal records nothing"


@pytest.mark.cli
def test_mmp_deploy_and_rollback_commands(
    registry: tuple[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    uri, client = registry
    events = f"sqlite:///{tmp_path}/events.db"
    env = {"MLFLOW_TRACKING_URI": uri, "MMP_EVENTS_URL": events}
    client.set_registered_model_alias(MODEL, "champion", "2")
    assert (
        mmp("deploy", "--model", MODEL, "--version", "4", MLFLOW_TRACKING_URI=uri, MMP_EVENTS_URL=events).stdout.strip()
        == f"{MODEL}@champion: version 2 -> 4"
    )
    assert (
        mmp("rollback", "--model", MODEL, "--reason", "bad day", MLFLOW_TRACKING_URI=uri, MMP_EVENTS_URL=events).stdout.strip()
        == f"{MODEL}@champion: version 4 -> 2"
    ), "back to the version the recorded deployment replaced"
    assert champion(client) == "2"
    with EventStore(events) as store:
        assert moves(store) == [("deployment", "2", "4", "manual deploy"), ("rollback", "4", "2", "bad day")]

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(SystemExit) as exit_:
        main(["rollback", "--model", "nope"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and err.splitlines()[0] == "error: --model: no registered model 'nope' (allowed: credit-default, fraud)"
