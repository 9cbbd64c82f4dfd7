"""Model recipes: ``class_path`` + ``hyperparameters`` (fixed values and search ranges) into an
estimator. Pure functions: no disk, no config files."""

from __future__ import annotations

import difflib
import importlib
import inspect
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from mmp.core.config import ModelConfig, Strict, TaskType, parse, task_kind
from mmp.core.errors import MMPError, raise_all

# Optional estimator libraries and the extra that installs each.
EXTRAS = {"xgboost": "xgboost", "catboost": "catboost", "causalml": "causalml"}

# Short names a guide uses for classes whose real names differ: a recipe may use either (the
# README's "Uplift" section lists them). causalml's meta-learners are Base<S|T|X><Regressor|
# Classifier>; XGBTRegressor and the Base* names are real and need no alias.
CLASS_ALIASES = {
    f"causalml.inference.meta.{short}": f"causalml.inference.meta.Base{short}"
    for short in ("SRegressor", "TRegressor", "XRegressor", "SClassifier", "TClassifier", "XClassifier")
}


def extra_hint(extra: str) -> str:
    """How to install an optional extra, the same words for every one."""
    return f"install the extra: pip install 'modern-ml-pipeline[{extra}]' (from a checkout: pip install -e '.[{extra}]')"


class SearchRange(Strict):
    """``{type: int|float|categorical, ...}``: searched when tuning, else resolved to a default.

    Without ``default``, an int/float range resolves to its midpoint (the geometric midpoint for
    ``log: true``) and a categorical to its first choice.
    """

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = Field(default=None, gt=0)
    choices: list[Any] | None = None
    default: Any = None

    @model_validator(mode="after")
    def _check(self) -> SearchRange:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical range needs a non-empty `choices` list")
            return self
        if self.low is None or self.high is None:
            raise ValueError(f"an {self.type} range needs both `low` and `high`")
        if self.low > self.high:
            raise ValueError(f"empty range: low ({self.low}) > high ({self.high}); low must be <= high")
        if self.log and self.low <= 0:
            raise ValueError(f"a log range must be > 0 (got low={self.low})")
        return self

    def bounds(self) -> tuple[float, float]:
        """``(low, high)`` of an int/float range; the validator guarantees both are set."""
        if self.low is None or self.high is None:
            raise ValueError(f"a {self.type} range has no `low`/`high`")
        return self.low, self.high

    def midpoint(self) -> Any:
        if self.default is not None:
            return self.default
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("a categorical range has no `choices`")
            return self.choices[0]
        low, high = self.bounds()
        mid = math.sqrt(low * high) if self.log else (low + high) / 2
        return int(round(mid)) if self.type == "int" else mid


Chooser = Callable[[str, SearchRange], Any]


def is_range(value: Any) -> bool:
    return isinstance(value, Mapping) and "type" in value


def is_recipe(value: Any) -> bool:
    return isinstance(value, Mapping) and "class_path" in value


def default_chooser(name: str, search: SearchRange) -> Any:
    return search.midpoint()


@dataclass(frozen=True)
class Site:
    """Where a value sits in a recipe: its params key (for messages, e.g.
    ``model.hyperparameters.estimators.0.hyperparameters.C``) and its search name (the name a
    tuner and best_params.json use, e.g. ``estimators.0.C``)."""

    key: str
    name: str
    in_list: bool = False

    def child(self, part: str | int, in_list: bool = False) -> Site:
        return Site(f"{self.key}.{part}", f"{self.name}.{part}" if self.name else str(part), in_list)

    def nested(self) -> Site:
        """The site of a nested recipe's own hyperparameters (its names extend this one)."""
        return Site(f"{self.key}.hyperparameters", self.name)


Visit = Callable[[Site, Mapping[str, Any]], Any]


def walk(hyperparameters: Mapping[str, Any], site: Site, on_range: Visit, on_recipe: Visit) -> dict[str, Any]:
    """The one walk over a recipe's hyperparameters, used to find its ranges, to build it and to
    validate it: each search range is replaced by ``on_range(site, raw)``, each nested recipe
    (a value, or an item of a list) by ``on_recipe(site, raw)``, lists item by item; any other
    value is kept. ``on_recipe`` descends into the nested recipe itself (``site.nested()``)."""
    return {key: _walk_value(value, site.child(key), on_range, on_recipe) for key, value in hyperparameters.items()}


def _walk_value(value: Any, site: Site, on_range: Visit, on_recipe: Visit) -> Any:
    if is_range(value):
        return on_range(site, value)
    if is_recipe(value):
        return on_recipe(site, value)
    if isinstance(value, (list, tuple)):
        return [_walk_value(item, site.child(i, in_list=True), on_range, on_recipe) for i, item in enumerate(value)]
    return value


def find_ranges(hyperparameters: Mapping[str, Any], site: Site | None = None) -> dict[str, SearchRange]:
    """Every search range in a recipe, at any depth, keyed by search name; every bad range is
    reported at once."""
    found: dict[str, SearchRange] = {}
    errors: list[MMPError] = []

    def on_range(at: Site, raw: Mapping[str, Any]) -> None:
        try:
            found[at.name] = parse(SearchRange, dict(raw), prefix=at.key)
        except MMPError as err:
            errors.extend(getattr(err, "errors", [err]))

    def on_recipe(at: Site, raw: Mapping[str, Any]) -> None:
        try:
            found.update(find_ranges(raw.get("hyperparameters") or {}, at.nested()))
        except MMPError as err:
            errors.extend(getattr(err, "errors", [err]))

    walk(hyperparameters, site or Site("model.hyperparameters", ""), on_range, on_recipe)
    raise_all(errors)
    return found


def import_class(class_path: str, key: str = "model.class_path") -> type:
    class_path = CLASS_ALIASES.get(class_path, class_path)
    module_name, _, attr = class_path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        root = (err.name or module_name).split(".")[0]
        hint = extra_hint(EXTRAS[root]) if root in EXTRAS else None
        raise MMPError(key, f"cannot import module {module_name!r} for {class_path!r}", hint) from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        public = sorted(n for n, v in vars(module).items() if isinstance(v, type) and not n.startswith("_"))
        raise MMPError(key, f"{module_name!r} has no class {attr!r}{did_you_mean(attr, public)}", ", ".join(public[:30])) from None
    return cls


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``; did you mean a, b or c?`` with the names closest to a misspelt one, or nothing."""
    close = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean {', '.join(close[:-1])} or {close[-1]}?" if len(close) > 1 else f"; did you mean {close[0]}?"


def accepted_hyperparameters(cls: type[Any]) -> list[str]:
    return sorted(p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "args", "kwargs"))


def takes_kwargs(cls: type[Any]) -> bool:
    return any(p.kind is p.VAR_KEYWORD for p in inspect.signature(cls.__init__).parameters.values())


@dataclass(frozen=True)
class LibraryParameters:
    """The names an estimator accepts through ``**kwargs``, and where its library lists them."""

    names: frozenset[str]
    reference: str


# LightGBM documents every native parameter (and its aliases) on one page.
LIGHTGBM_PARAMETERS = "https://lightgbm.readthedocs.io/en/stable/Parameters.html"


def library_parameters(cls: type) -> LibraryParameters | None:
    """Names an estimator accepts through ``**kwargs``, where its library can list them.

    LightGBM's sklearn API passes any native parameter (``verbose``, ``min_data_in_leaf``...)
    through ``**kwargs``; its C library dumps the full list with aliases. This is a private
    API, pinned by the lock file; ``None`` means "cannot tell" and the names are accepted.
    """
    if cls.__module__.startswith("lightgbm"):
        from lightgbm.basic import _ConfigAliases

        names = {name for names in _ConfigAliases._get_all_param_aliases().values() for name in names}
        return LibraryParameters(frozenset(names), LIGHTGBM_PARAMETERS)
    return None


def check_hyperparameters(cls: type, names: list[str], key: str) -> None:
    """Every name must be a constructor argument (or, through ``**kwargs``, a parameter its
    library lists). A miss names the closest accepted names; the full list is shown only when it
    is short (a constructor's), else the line points to the library's own list."""
    own = accepted_hyperparameters(cls)
    unknown = [n for n in names if n not in own]
    library = library_parameters(cls) if unknown and takes_kwargs(cls) else None
    if unknown and takes_kwargs(cls):
        if library is None:
            return  # the library cannot list what its **kwargs accept: accept the names
        unknown = [n for n in unknown if n not in library.names]
    known = set(own) | (library.names if library else set())
    allowed = f"{cls.__name__}'s arguments or any parameter listed at {library.reference}" if library else ", ".join(own)
    raise_all(
        [MMPError(f"{key}.{n}", f"{cls.__name__} does not accept this hyperparameter{did_you_mean(n, known)}", allowed) for n in unknown]
    )


def build_estimator(spec: ModelConfig, seed: int, chooser: Chooser = default_chooser, site: Site | None = None) -> Any:
    """Instantiate ``spec``: ranges resolved by ``chooser``, nested recipes built recursively
    (a named list item becomes the ``(name, estimator)`` pair VotingClassifier and
    StackingClassifier expect), ``random_state`` seeded when the estimator has one and the
    recipe does not set it."""
    site = site or Site("model", "")
    cls = import_class(spec.class_path, f"{site.key}.class_path")
    check_hyperparameters(cls, list(spec.hyperparameters), f"{site.key}.hyperparameters")

    def on_range(at: Site, raw: Mapping[str, Any]) -> Any:
        return chooser(at.name, parse(SearchRange, dict(raw), prefix=at.key))

    def on_recipe(at: Site, raw: Mapping[str, Any]) -> Any:
        estimator = build_estimator(parse(ModelConfig, recipe_part(raw), prefix=at.key), seed, chooser, at)
        return (raw["name"], estimator) if at.in_list and "name" in raw else estimator

    kwargs = walk(spec.hyperparameters, site.nested(), on_range, on_recipe)
    if "random_state" in accepted_hyperparameters(cls) and "random_state" not in kwargs:
        kwargs["random_state"] = seed
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as err:
        raise MMPError(f"{site.key}.hyperparameters", f"{cls.__name__} rejected the hyperparameters: {err}") from None


def recipe_part(value: Mapping[str, Any]) -> dict[str, Any]:
    """A nested recipe without its list-item ``name``."""
    return {k: v for k, v in value.items() if k != "name"}


def is_uplift_model(estimator: Any) -> bool:
    """An uplift (causal) learner: its ``fit`` takes the ``treatment`` (mmp's S/T/X learners
    and causalml's meta-learners alike); its ``predict`` returns the estimated effect."""
    fit = getattr(estimator, "fit", None)
    return callable(fit) and "treatment" in inspect.signature(fit).parameters


def check_task(estimator: Any, task: TaskType, key: str = "model.class_path") -> None:
    """A classifier for a regression task (or the reverse), or an uplift learner for another
    task (or the reverse), is a recipe error, caught before fitting."""
    from sklearn.base import is_classifier, is_regressor

    kind = type(estimator).__name__
    if (task_kind(task) == "uplift") != is_uplift_model(estimator):
        if task_kind(task) == "uplift":
            raise MMPError(
                key, f"{kind} is not an uplift learner but data.task_type is uplift", "an uplift learner, e.g. -S model=t_learner"
            )
        raise MMPError(key, f"{kind} is an uplift learner but data.task_type is {task}", "data.task_type uplift with data.treatment_col")
    if task_kind(task) == "regression" and is_classifier(estimator):
        raise MMPError(key, f"{kind} is a classifier but data.task_type is regression", "a regressor, e.g. -S model=lightgbm_regressor")
    if task_kind(task) == "classification" and is_regressor(estimator):
        raise MMPError(key, f"{kind} is a regressor but data.task_type is {task}", "a classifier, e.g. -S model=lightgbm")


def tuned_chooser(best: Mapping[str, Any], ranges: Mapping[str, SearchRange]) -> Chooser:
    """The chooser of the final fit: a tuned value where the search produced one, else the
    range's documented default. Values for ranges the recipe no longer has are an error."""
    stale = sorted(set(best) - set(ranges))
    if stale:
        raise MMPError("best params", f"values for ranges the recipe does not have: {stale}", "re-run the tune stage (dvc exp run)")
    return lambda name, r: best[name] if name in best else r.midpoint()


def tuned_recipe(model: ModelConfig, best: Mapping[str, Any]) -> tuple[ModelConfig, dict[str, Any], str | None]:
    """(recipe, tuned values, family) from the tune stage's best_params.json: an AutoML study
    (``tune.families``) writes ``{family, model, params}`` and its family's recipe replaces
    ``model``; otherwise the file maps the recipe's own range names to values (empty when
    tuning is off)."""
    if isinstance(best.get("model"), Mapping):  # a plain study's values are scalars, never a mapping
        spec = parse(ModelConfig, dict(best["model"]), "best params model")
        return spec, dict(best.get("params") or {}), str(best.get("family"))
    return model, dict(best), None


def recipe_estimator(model: ModelConfig, task: TaskType, seed: int, best: Mapping[str, Any] | None = None) -> Any:
    """The unfitted estimator of the model recipe, with the tune step's values for its ranges
    (an AutoML study's: the family it chose) and their defaults otherwise."""
    spec, values, _ = tuned_recipe(model, best or {})
    estimator = build_estimator(spec, seed, tuned_chooser(values, find_ranges(spec.hyperparameters)))
    check_task(estimator, task)
    return estimator
