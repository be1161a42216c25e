"""Suite-wide isolation: settings read the environment, so tests start from a clean one."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

# PostgreSQL fixtures for every test directory (skipped with a reason when no database is reachable).
from tests.pg import _pg_run_schema_url, pg_schema_url, pg_store_url, pg_url  # noqa: F401


# Property tests are reproducible by default (the same examples every run: a red CI is never luck); explore new
# examples with HYPOTHESIS_PROFILE=explore, and add what it finds as an @example.
settings.register_profile("repeatable", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


@pytest.fixture(autouse=True)
def _isolated_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LIBBOT_") or name in ("LIBLIB_ACCESS_KEY", "LIBLIB_SECRET_KEY", "DISCORD_TOKEN"):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that configure logging (``setup_logging``, the CLI's ``main``): put it back afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    levels = {n: logging.getLogger(n).level for n in ("discord", "aiosqlite", "aiohttp.access")}
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)
