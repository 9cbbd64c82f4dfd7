"""Database URLs, one rule for every connection the project opens (SQL sources, batch input,
the online store, the Optuna storage): ``postgresql://`` means the locked driver, psycopg2.
SQLAlchemy 2.1 would otherwise pick psycopg 3, which is not installed. And a URL is only ever
printed with its password masked."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mmp.core.errors import MMPError

EXAMPLES = "e.g. sqlite:///file.db or postgresql://user@host/db"


def with_driver(url: str, key: str) -> str:
    """``url`` with psycopg2 made explicit for plain ``postgresql://``; an explicit ``+driver``
    is kept. A URL SQLAlchemy cannot parse, of an unknown database type or whose driver is not
    installed is an error under ``key`` that never shows the URL (it may hold a password)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise MMPError(key, "not a SQLAlchemy database URL", EXAMPLES) from None
    except ValueError:  # SQLAlchemy reads the port with int(); nothing else in a URL raises this
        raise MMPError(key, "the port is not a number", "host:5432, or no port for the default") from None
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
        url = parsed.render_as_string(hide_password=False)
    try:  # what create_engine would do first, here so every connection fails the same way
        parsed.get_dialect().import_dbapi()
    except NoSuchModuleError:
        raise MMPError(key, f"unknown database type {parsed.drivername!r}", EXAMPLES) from None
    except ImportError as err:
        raise MMPError(
            key, f"the driver for {parsed.drivername}:// is not installed (module {err.name})", f"install it, or {EXAMPLES}"
        ) from None
    return url


def engine(url: str, key: str, **options: Any) -> Any:
    """A SQLAlchemy engine for ``url`` (see :func:`with_driver`)."""
    from sqlalchemy import create_engine

    return create_engine(with_driver(url, key), **options)


def failure_reason(err: BaseException, values: Mapping[str, Any]) -> str:
    """What the database said about a failed connection or statement, in one line: the driver's
    own message, unwrapped from pandas' ``DatabaseError`` and SQLAlchemy's errors (whose text
    lists the SQL and the bound parameters), with every bound value the database echoes in
    quotes (``invalid input syntax for type integer: "..."``) masked, and URLs redacted."""
    cause = err
    while getattr(cause, "orig", None) is None and cause.__cause__ is not None:
        cause = cause.__cause__
    cause = getattr(cause, "orig", None) or cause
    lines = str(cause).strip().splitlines()
    message = lines[0] if lines else ""
    for value in _flat(values.values()):
        for quote in ("'", '"'):
            message = message.replace(f"{quote}{value}{quote}", f"{quote}***{quote}")
    return redact(f"{type(cause).__name__}: {message}")


def _flat(values: Any) -> list[str]:
    out: list[str] = []
    for value in values:
        out += _flat(value) if isinstance(value, (list, tuple, set)) else [str(value)]
    return out


def redact(text: str) -> str:
    """``text`` (a URL, or a message holding URLs) with every URL password masked."""
    return re.sub(r"//([^:/@\s]+):[^@/\s]*@", r"//\1:***@", text)
