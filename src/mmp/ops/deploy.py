"""Deployments: the MLflow ``champion`` alias (or MLFLOW_MODEL_STAGE's) is what is deployed.
:func:`deploy` moves it to a version and :func:`rollback` moves it back to the previous one;
each move is a ``deployment`` or ``rollback`` event in the events store (from-version,
to-version, reason), so the store holds the model's deployment history.

The alias moves first and the event is recorded after: a crash between the two leaves the
alias moved and the event missing, and running the same deploy again records it (a deploy to
the version already deployed and recorded changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mmp.core.errors import MMPError

if TYPE_CHECKING:
    from mmp.ops.events import Event, EventStore

MOVES = ("deployment", "rollback")


@dataclass(frozen=True)
class Move:
    model: str
    alias: str
    from_version: str | None
    to_version: str
    recorded: bool  # False: nothing changed (already deployed and recorded)

    def line(self) -> str:
        if not self.recorded:
            return f"{self.model}@{self.alias} is version {self.to_version} already"
        return f"{self.model}@{self.alias}: version {self.from_version or '(none)'} -> {self.to_version}"


def deploy(model_name: str, version: str | int, reason: str, store: EventStore, *, day: date | None = None, client: Any = None) -> Move:
    """Move the champion alias of ``model_name`` to ``version`` and record a ``deployment``."""
    from mmp.ops.tracking.registry import champion_alias

    client = client or registry_client()
    alias, version = champion_alias(), str(version)
    _version(client, model_name, version, "version")
    current = _current(client, model_name, alias)
    history = deployed_versions(store, model_name)
    if current == version and history and history[-1] == version:
        return Move(model_name, alias, current, version, recorded=False)
    if current != version:
        client.set_registered_model_alias(model_name, alias, version)
    # After a crash between the move and the record, the alias already points here: the
    # version it replaced is the last one the store saw deployed.
    replaced = current if current != version else (history[-1] if history else None)
    return _record(store, "deployment", Move(model_name, alias, replaced, version, recorded=True), reason, day)


def rollback(model_name: str, store: EventStore, *, to: str | int | None = None, reason: str = "", client: Any = None) -> Move:
    """Move the champion alias of ``model_name`` back to ``to``, by default the version deployed
    before the current one (:func:`previous_version`), and record a ``rollback``."""
    from mmp.ops.tracking.registry import champion_alias

    client = client or registry_client()
    alias = champion_alias()
    current = _current(client, model_name, alias)
    if current is None:
        raise MMPError(f"registered model {model_name!r}", f"has no version aliased {alias!r} to roll back", "deploy a version first")
    target = str(to) if to is not None else previous_version(client, store, model_name, current)
    _version(client, model_name, target, "--to")
    if target == current:
        return Move(model_name, alias, current, target, recorded=False)
    client.set_registered_model_alias(model_name, alias, target)
    return _record(store, "rollback", Move(model_name, alias, current, target, recorded=True), reason or "rollback", None)


def deployed_versions(store: EventStore, model_name: str) -> list[str]:
    """The model's deployed versions as a stack, from its deployment and rollback events in
    order: a deployment pushes its version (above the one it replaced, when the history starts
    there); a rollback pops back to its target."""
    stack: list[str] = []
    for event in _moves(store, model_name):
        target, replaced = str(event.payload["to_version"]), event.payload.get("from_version")
        if event.kind == "deployment":
            if not stack and replaced is not None:  # deployed before the history began
                stack.append(str(replaced))
            stack.append(target)
            continue
        while stack and stack[-1] != target:
            stack.pop()
        if not stack:
            stack.append(target)
    return stack


def previous_version(client: Any, store: EventStore, model_name: str, current: str) -> str:
    """The version to roll back to: the one deployed before ``current`` in the recorded history;
    when the alias was moved outside it (``mmp promote``), the last one it recorded; with no
    history, the highest registered version below ``current``."""
    stack = deployed_versions(store, model_name)
    if stack and stack[-1] != current:
        return stack[-1]
    if len(stack) >= 2:
        return stack[-2]
    lower = sorted(int(v.version) for v in client.search_model_versions(f"name = '{model_name}'") if int(v.version) < int(current))
    if not lower:
        raise MMPError(
            f"registered model {model_name!r}",
            f"has no version deployed before version {current} and none below it to roll back to",
            "--to VERSION of an existing version",
        )
    return str(lower[-1])


def registry_client(repo: Path | None = None) -> Any:
    """An MLflow client of the registry the runtime settings name (``mlflow.tracking_uri``)."""
    from mlflow import MlflowClient

    from mmp.core.settings import load_settings
    from mmp.core.tracking import prepare_tracking

    uri = load_settings(root=repo).mlflow.tracking_uri
    prepare_tracking(uri)
    return MlflowClient(tracking_uri=uri, registry_uri=uri)


def _moves(store: EventStore, model_name: str) -> list[Event]:
    return [e for e in store.list(model=model_name) if e.kind in MOVES]


def _record(store: EventStore, kind: str, move: Move, reason: str, day: date | None) -> Move:
    """The event of ``move``. Its key numbers the model's moves, so a repeated deploy that
    changed nothing (returned before this) never records twice."""
    number = len(_moves(store, move.model)) + 1
    payload = {"from_version": move.from_version, "to_version": move.to_version, "alias": move.alias, "reason": reason}
    store.append(kind, f"{move.model}/{kind}/{number}", day or datetime.now(UTC).date(), payload, model=move.model, version=move.to_version)
    return move


def _current(client: Any, model_name: str, alias: str) -> str | None:
    from mmp.ops.tracking.registry import version_by_alias

    _model(client, model_name)
    found = version_by_alias(client, model_name, alias)
    return None if found is None else str(found.version)


def _model(client: Any, model_name: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(model_name)
    except MlflowException as err:
        if err.error_code not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"):
            raise
        known = sorted(m.name for m in client.search_registered_models(max_results=50))
        raise MMPError("--model", f"no registered model {model_name!r}", ", ".join(known) or "none registered yet") from None


def _version(client: Any, model_name: str, version: str, where: str) -> None:
    from mlflow.exceptions import MlflowException

    _model(client, model_name)
    if not version.isdigit():
        raise MMPError(where, f"{version!r} is not a version number", "a registered version, e.g. 3")
    try:
        client.get_model_version(model_name, version)
    except MlflowException as err:
        if err.error_code not in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE"):
            raise
        versions = sorted(int(v.version) for v in client.search_model_versions(f"name = '{model_name}'"))
        raise MMPError(
            where, f"registered model {model_name!r} has no version {version}", ", ".join(map(str, versions)) or "none"
        ) from None
