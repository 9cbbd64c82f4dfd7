"""SQL sources: ``data.source_uri: sql://<database>/<query file>``.

- The connection URL comes from the runtime settings (``databases.<database>.url`` in
  conf/env/<APP_ENV>.yaml, typically ``${oc.env:...}``), never from params.
- The query lives in a ``.sql`` file (plain SQL with ``:name`` placeholders) or a ``.sql.j2``
  file rendered by a *sandboxed* Jinja environment. Jinja may shape the structure (optional
  columns and conditions), but a user value never becomes SQL text: ``{{ params.start_date }}``
  renders as the placeholder ``:start_date`` and the value is sent as a bound parameter.
- Identifiers (table/column names) are the one thing a template pastes as text; they come from
  ``data.identifiers``, and each must be listed in ``data.allowed_identifiers`` for its name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from mmp.core.errors import MMPError

if TYPE_CHECKING:  # the checks that featurize and train import need no runtime settings
    from mmp.core.settings import RuntimeSettings

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class Placeholder:
    """What ``{{ params.x }}`` renders to: ``:x``. Truthiness follows the value, so a template
    can write ``{% if params.region %} AND region = {{ params.region }}{% endif %}``."""

    def __init__(self, name: str, value: Any, used: set[str], known: dict[str, Any]):
        self.name, self.value, self.used, self.known = name, value, used, known

    def __str__(self) -> str:
        if self.name not in self.known:
            raise MMPError(f"data.params.{self.name}", "is used by the query template but not set", f"-S +data.params.{self.name}=...")
        self.used.add(self.name)
        return f":{self.name}"

    def __bool__(self) -> bool:
        return self.value is not None and self.value != "" and self.value != []


class Placeholders(dict[str, Placeholder]):
    """``params`` in a template: an unset parameter is falsy (``{% if params.x %}``), and
    rendering it is an error that names it. The values are kept in private attributes: a
    public ``values`` would shadow ``dict.values``, and the sandbox hides ``_`` names from
    templates (``params._values`` is a placeholder like any other)."""

    def __init__(self, values: dict[str, Any], used: set[str]):
        super().__init__()
        self._values, self._used = values, used

    def __missing__(self, name: str) -> Placeholder:
        return Placeholder(name, self._values.get(name), self._used, self._values)


def check_identifiers(identifiers: dict[str, str], allowed: dict[str, list[str]]) -> dict[str, str]:
    """Every identifier must be in its allowlist (and look like an identifier at all)."""
    errors: list[MMPError] = []
    for name, value in identifiers.items():
        options = allowed.get(name)
        if options is None:
            errors.append(MMPError(f"data.identifiers.{name}", "has no allowlist", f"add data.allowed_identifiers.{name}: [...]"))
        elif value not in options or not IDENTIFIER.match(str(value)):
            errors.append(MMPError(f"data.identifiers.{name}", f"{value!r} is not an allowed identifier", ", ".join(map(str, options))))
    if errors:
        from mmp.core.errors import raise_all

        raise_all(errors)
    return dict(identifiers)


def render_query(template: str, is_jinja: bool, params: dict[str, Any], identifiers: dict[str, str], allowed: dict[str, list[str]]) -> Any:
    """The query as a SQLAlchemy ``TextClause`` with every user value bound, never inlined."""
    from sqlalchemy import BindParameter, bindparam, text

    used: set[str] = set()
    sql = template
    if is_jinja:
        from jinja2 import StrictUndefined, TemplateError
        from jinja2.sandbox import SandboxedEnvironment

        env = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False)
        placeholders = Placeholders(params, used)
        try:
            sql = env.from_string(template).render(params=placeholders, ident=check_identifiers(identifiers, allowed))
        except TemplateError as err:
            raise MMPError(
                "data.source_uri", f"cannot render the query template: {err}", "data.params / data.identifiers it uses"
            ) from None
    else:
        used = {k for k in params if re.search(rf"(?<!:):{re.escape(k)}\b", sql)}
    binds: list[BindParameter[Any]] = [bindparam(k, params[k], expanding=isinstance(params[k], list)) for k in sorted(used)]
    return text(sql).bindparams(*binds)


def parse_uri(uri: str) -> tuple[str, str]:
    """``sql://warehouse/queries/loans.sql.j2`` -> (``warehouse``, ``queries/loans.sql.j2``)."""
    database, _, query = uri.removeprefix("sql://").partition("/")
    if not database or not query.endswith((".sql", ".sql.j2")):
        raise MMPError("data.source_uri", f"bad SQL source {uri!r}", "sql://<database>/<path/to/query.sql or .sql.j2>")
    return database, query


def query_file(root: Path, query: str) -> Path:
    """The query file, which must lie inside the repository: the query is part of the recipe
    (DVC tracks it as a dependency of prepare), and a path that leaves the repository, absolute
    or through ``..``, would read whatever file the machine holds there."""
    base = root.resolve()
    path = (base / query).resolve()
    if not path.is_relative_to(base):
        raise MMPError("data.source_uri", f"the query file {query} is outside the repository", "a path relative to the repository root")
    if not path.exists():
        raise MMPError("data.source_uri", f"query file not found: {query}", "a .sql or .sql.j2 file relative to the repo root")
    return path


def read_sql(
    uri: str, params: dict[str, Any], identifiers: dict[str, str], allowed: dict[str, list[str]], settings: RuntimeSettings, root: Path
) -> pd.DataFrame:
    from pandas.errors import DatabaseError
    from sqlalchemy.exc import SQLAlchemyError

    from mmp.core.db import engine as make_engine
    from mmp.core.db import failure_reason

    database, query = parse_uri(uri)
    path = query_file(root, query)
    url = settings.database(database).url
    stmt = render_query(path.read_text(), query.endswith(".j2"), params, identifiers, allowed)
    engine = make_engine(url, f"databases.{database}.url")
    sqlite_file = engine.url.database if engine.url.get_backend_name() == "sqlite" else None
    if sqlite_file and sqlite_file != ":memory:" and not Path(sqlite_file).exists():
        # SQLite would silently create an empty database file; say what is missing instead.
        raise MMPError(
            "data.source_uri",
            f"the SQLite database of {database!r} does not exist",
            f"create it, or point databases.{database}.url elsewhere",
        )
    try:
        with engine.connect() as conn:
            return pd.read_sql(stmt, conn)
    except (SQLAlchemyError, DatabaseError) as err:  # pandas 3 wraps a failed statement in DatabaseError
        # The message names the database, never the URL (it may hold a password), nor the values.
        raise MMPError("data.source_uri", f"query on database {database!r} failed: {failure_reason(err, params)}") from None
    finally:
        engine.dispose()
