"""Suite-wide isolation: settings read the environment, so tests start from a clean one."""

from __future__ import annotations

import os

import pytest

# PostgreSQL fixtures for every test directory (skipped with a reason when no database is reachable).
from tests.pg import _pg_run_schema_url, pg_schema_url, pg_store_url, pg_url  # noqa: F401


@pytest.fixture(autouse=True)
def _isolated_settings_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("LIBBOT_") or name in ("LIBLIB_ACCESS_KEY", "LIBLIB_SECRET_KEY", "DISCORD_TOKEN"):
            monkeypatch.delenv(name, raising=False)
