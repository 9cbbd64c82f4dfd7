"""Database URLs, one rule for every connection the project opens (SQL sources, batch input,
the online store, the Optuna storage): ``postgresql://`` means the locked driver, psycopg2.
SQLAlchemy 2.1 would otherwise pick psycopg 3, which is not installed. And a URL is only ever
printed with its password masked."""

from __future__ import annotations

import re
from typing import Any

from mmp.core.errors import MMPError


def with_driver(url: str, key: str) -> str:
    """``url`` with psycopg2 made explicit for plain ``postgresql://``; an explicit ``+driver``
    is kept. A URL SQLAlchemy cannot parse is an error under ``key``."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise MMPError(key, "not a SQLAlchemy database URL", "e.g. sqlite:///file.db or postgresql://user@host/db") from None
    if parsed.drivername == "postgresql":
        return parsed.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)
    return url


def engine(url: str, key: str, **options: Any) -> Any:
    """A SQLAlchemy engine for ``url`` (see :func:`with_driver`)."""
    from sqlalchemy import create_engine

    return create_engine(with_driver(url, key), **options)


def redact(text: str) -> str:
    """``text`` (a URL, or a message holding URLs) with every URL password masked."""
    return re.sub(r"//([^:/@\s]+):[^@/\s]*@", r"//\1:***@", text)
