"""The model checks: class paths, search ranges, hyperparameter names and values at every depth
of a (possibly nested) recipe; then the estimator is built (not fitted) to check its constructor
and that it suits the task. Pure functions that return every problem at once.

A value is checked against what the estimator itself declares, the rules its ``fit`` would
apply much later: scikit-learn's ``_parameter_constraints``, else the constructor's type
annotations (LightGBM's documented types, mmp's own models). A search range is checked at the
values a trial can take: its bounds, each choice and its default."""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mmp.core.config import ModelConfig, TaskType, parse
from mmp.core.errors import MMPError, collect
from mmp.modeling.recipe import (
    SearchRange,
    Site,
    build_estimator,
    check_hyperparameters,
    check_task,
    import_class,
    is_range,
    is_recipe,
    recipe_part,
    walk,
)

# ``check(name, value)``: None when the value is allowed, else what is allowed.
ValueCheck = Callable[[str, Any], str | None]


def model_problems(spec: ModelConfig, task: TaskType | None, seed: int = 42) -> list[MMPError]:
    if spec.kind != "tabular":  # no estimator: the kind's settings (model.llm) are typed in ModelConfig
        return []
    errors = recipe_problems(spec.model_dump(), "model")
    if errors:
        return errors
    estimator, errors = collect(build_estimator, spec, seed)
    if estimator is not None and task is not None:
        errors += collect(check_task, estimator, task)[1]
    return errors


def recipe_problems(recipe: Mapping[str, Any], key: str) -> list[MMPError]:
    """Walk a (possibly nested) recipe and report every problem, not just the first."""
    spec, errors = collect(parse, ModelConfig, recipe_part(recipe), key)
    if spec is None:
        return errors
    cls, errors = collect(import_class, spec.class_path, f"{key}.class_path")
    if cls is not None:
        errors += collect(check_hyperparameters, cls, list(spec.hyperparameters), f"{key}.hyperparameters")[1]
        errors += value_problems(cls, spec.hyperparameters, f"{key}.hyperparameters")
    walk(
        spec.hyperparameters,
        Site(key, "").nested(),
        on_range=lambda at, raw: errors.extend(collect(parse, SearchRange, dict(raw), at.key)[1]),
        on_recipe=lambda at, raw: errors.extend(recipe_problems(raw, at.key)),
    )
    return errors


def value_problems(cls: type, hyperparameters: Mapping[str, Any], key: str) -> list[MMPError]:
    """Every fixed value, and every value a search range can take, against the rules ``cls``
    declares; one problem per value, naming the key, the value and what is allowed."""
    check = value_check(cls)
    if check is None:
        return []
    errors = []
    for name, value in hyperparameters.items():
        for label, candidate in candidates(value):
            allowed = check(name, candidate)
            if allowed is not None:
                errors.append(MMPError(f"{key}.{name}", f"{label}{candidate!r} is not a valid value for {cls.__name__}", allowed))
    return errors


def candidates(value: Any) -> Iterator[tuple[str, Any]]:
    """The values a recipe entry can hand the constructor, each with how to name it. A nested
    recipe is checked on its own; a broken range is reported by the range check."""
    if is_recipe(value) or (isinstance(value, (list, tuple)) and any(is_recipe(v) for v in value)):
        return
    if not is_range(value):
        yield "", value
        return
    search = collect(parse, SearchRange, dict(value))[0]
    if search is None:
        return
    if search.type == "categorical":
        yield from (("choice ", choice) for choice in search.choices or [])
    else:
        cast = int if search.type == "int" else float
        yield from (("range low ", cast(search.low)), ("range high ", cast(search.high)))
    if search.default is not None:
        yield "default ", search.default


def value_check(cls: type) -> ValueCheck | None:
    """How ``cls`` declares its valid values, or None when it declares none."""
    constraints = getattr(cls, "_parameter_constraints", None)
    if isinstance(constraints, dict) and constraints:
        return sklearn_check(cls, constraints)
    hints = constructor_types(cls)
    return annotation_check(hints) if hints else None


def sklearn_check(cls: type, constraints: dict[str, Any]) -> ValueCheck:
    from sklearn.utils._param_validation import InvalidParameterError, validate_parameter_constraints

    def check(name: str, value: Any) -> str | None:
        if name not in constraints:
            return None
        try:
            validate_parameter_constraints({name: constraints[name]}, {name: value}, caller_name=cls.__name__)
        except InvalidParameterError as err:
            # "The 'x' parameter of C must be an int in the range [1, inf). Got 'abc' instead."
            found = re.search(r" must be (.*)\. Got .* instead\.$", str(err), re.DOTALL)
            return found.group(1) if found else str(err)
        return None

    return check


def constructor_types(cls: type) -> dict[str, Any]:
    """The constructor's resolved type annotations; empty when they cannot be resolved."""
    try:
        hints = typing.get_type_hints(cls.__init__)  # type: ignore[misc]
    except (NameError, TypeError, AttributeError):  # an annotation its module cannot resolve
        return {}
    return {name: hint for name, hint in hints.items() if name != "return"}


def annotation_check(hints: dict[str, Any]) -> ValueCheck:
    from pydantic import ConfigDict, PydanticUserError, TypeAdapter, ValidationError

    config = ConfigDict(arbitrary_types_allowed=True, strict=True)  # strict: 'abc' is never an int

    def check(name: str, value: Any) -> str | None:
        if name not in hints:
            return None
        try:
            adapter = TypeAdapter(hints[name], config=config)
        except (PydanticUserError, TypeError):  # a type pydantic cannot check: accept, never guess
            return None
        # YAML has lists where a constructor may declare a tuple.
        for form in (value, tuple(value)) if isinstance(value, list) else (value,):
            try:
                adapter.validate_python(form)
                return None
            except ValidationError:
                pass
        return type_label(hints[name])

    return check


def type_label(hint: Any) -> str:
    """``Optional[Union[int, str]]`` as ``int, str or None``."""
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        labels = list(dict.fromkeys(type_label(arg) for arg in typing.get_args(hint)))
        return ", ".join(labels[:-1]) + f" or {labels[-1]}" if len(labels) > 1 else labels[0]
    origin = typing.get_origin(hint) or hint
    return getattr(origin, "__name__", str(hint))
