from __future__ import annotations

import pytest

from mmp.core.db import redact, with_driver
from mmp.core.errors import MMPError


def test_plain_postgresql_gets_the_locked_driver_and_others_are_kept() -> None:
    assert with_driver("postgresql://u:pw@h/db", "k") == "postgresql+psycopg2://u:pw@h/db"
    assert with_driver("postgresql+pg8000://u@h/db", "k") == "postgresql+pg8000://u@h/db"
    assert with_driver("sqlite:///x.db", "k") == "sqlite:///x.db"


def test_an_unparseable_url_names_its_key() -> None:
    with pytest.raises(MMPError, match="^databases.w.url: not a SQLAlchemy database URL"):
        with_driver("not a url", "databases.w.url")


def test_redact_masks_passwords_inside_messages() -> None:
    assert redact("cannot reach postgresql://u:s3cret@host/db (timeout)") == "cannot reach postgresql://u:***@host/db (timeout)"
