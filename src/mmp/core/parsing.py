"""Typed parsing at the edge: a pydantic model that rejects unknown keys, and one function that
turns every validation problem into a one-line :class:`MMPError` naming the dotted key, the rule
and the allowed keys. The recipe (params.yaml) and the runtime settings (conf/env) share it, so
a bad key reads the same wherever it was written."""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from mmp.core.errors import MMPError, raise_all


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


T = TypeVar("T", bound=BaseModel)


def parse(model: type[T], raw: Any, prefix: str = "", *, source: str = "", reveal: bool = True) -> T:
    """Validate ``raw`` into ``model``; report every problem with its dotted key (after
    ``source``, e.g. the file it came from). ``reveal=False`` never quotes a value: runtime
    settings come from the environment, where values are secrets."""
    try:
        return model.model_validate(raw)
    except ValidationError as err:
        raise_all([_to_error(model, prefix, e, source, reveal) for e in err.errors()])
        raise  # unreachable: raise_all raises for a non-empty list


def _to_error(model: type[BaseModel], prefix: str, e: Any, source: str, reveal: bool) -> MMPError:
    loc = [str(p) for p in e["loc"]]
    key = ".".join(filter(None, [prefix, *loc])) or "(root)"
    where = f"{source}: {key}" if source else key
    if e["type"] == "extra_forbidden":
        return MMPError(where, "unknown key", ", ".join(_allowed_keys(model, loc[:-1])) or None)
    if e["type"] == "missing":
        return MMPError(where, "required key is missing")
    got = e.get("input")
    rule = e["msg"][0].lower() + e["msg"][1:]
    if "Value error, " in e["msg"]:
        rule = e["msg"].split("Value error, ", 1)[1]
    shown = reveal and got is not None and not isinstance(got, dict)
    return MMPError(where, f"{rule} (got {got!r})" if shown else rule)


def _allowed_keys(model: type[BaseModel], loc: list[str]) -> list[str]:
    """Walk ``loc`` through nested models to list the keys allowed at that level."""
    current: Any = model
    in_mapping = False  # after a dict[str, Model] field, the next part is a user key: skip it
    for part in loc:
        if in_mapping:
            in_mapping = False
            continue
        field = getattr(current, "model_fields", {}).get(part)
        if field is None:
            return []
        in_mapping = getattr(field.annotation, "__origin__", None) is dict
        current = _model_in(field.annotation)
        if current is None:
            return []
    return [field.alias or name for name, field in getattr(current, "model_fields", {}).items()]  # a key as the YAML spells it


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None
