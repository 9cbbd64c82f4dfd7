"""The CLI tests use the serving tests' small real model package and database fixtures."""

from tests.serving.conftest import challenger_dir, package_dir, pg_url  # noqa: F401 - fixtures, found by pytest by name
