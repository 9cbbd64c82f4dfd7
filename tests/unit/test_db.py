from __future__ import annotations

import pytest

from mmp.core.db import engine, redact, with_driver
from mmp.core.errors import MMPError


def test_plain_postgresql_gets_the_locked_driver_and_others_are_kept() -> None:
    assert with_driver("postgresql://u:pw@h/db", "k") == "postgresql+psycopg2://u:pw@h/db"
    assert with_driver("postgresql+psycopg2://u@h/db", "k") == "postgresql+psycopg2://u@h/db"
    assert with_driver("sqlite+pysqlite:///x.db", "k") == "sqlite+pysqlite:///x.db"
    assert with_driver("sqlite:///x.db", "k") == "sqlite:///x.db"
    with pytest.raises(MMPError, match=r"^k: the driver for postgresql\+pg8000:// is not installed \(module pg8000\)"):
        with_driver("postgresql+pg8000://u@h/db", "k")  # an explicit driver is kept, so it must be installed


def test_an_unparseable_url_names_its_key() -> None:
    with pytest.raises(MMPError, match="^databases.w.url: not a SQLAlchemy database URL"):
        with_driver("not a url", "databases.w.url")


def test_redact_masks_passwords_inside_messages() -> None:
    assert redact("cannot reach postgresql://u:s3cret@host/db (timeout)") == "cannot reach postgresql://u:***@host/db (timeout)"


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("postgresql://u:s3cret@127.0.0.1:abc/db", r"the port is not a number"),
        ("mysql://u:s3cret@127.0.0.1/db", r"the driver for mysql:// is not installed \(module MySQLdb\)"),
        ("mariadb+pymysql://u:s3cret@127.0.0.1/db", r"the driver for mariadb\+pymysql:// is not installed \(module pymysql\)"),
        ("foo://u:s3cret@127.0.0.1/db", r"unknown database type 'foo'"),
    ],
    ids=["non-numeric port", "mysql without its driver", "mariadb without its driver", "unknown scheme"],
)
def test_a_url_that_cannot_make_an_engine_is_one_line_without_its_password(url: str, rule: str) -> None:
    with pytest.raises(MMPError, match=rf"^databases.w.url: {rule}") as err:
        engine(url, "databases.w.url")
    assert "s3cret" not in str(err.value) and "\n" not in str(err.value)
