"""The one numbering rule for every dialect's migrations (bot/storage/_migrations.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.storage import _migrations
from bot.storage._migrations import DIALECTS, Migration, applied_names, check_sequence, load_migrations

SHIPPED = [
    Migration(1, "init", ""),
    Migration(2, "job_fingerprint", ""),
    Migration(3, "server_admin", ""),
    Migration(4, "job_retention", ""),
    Migration(5, "lease_epoch", ""),
    Migration(6, "cancel_requested", ""),
    Migration(7, "styles_and_preferences", ""),
]


def test_every_dialect_ships_the_same_migrations_in_the_same_order() -> None:
    files = {dialect: [m.file for m in load_migrations(dialect)] for dialect in DIALECTS}
    assert files == {dialect: [m.file for m in SHIPPED] for dialect in DIALECTS}


@pytest.mark.parametrize(
    ("numbers_and_names", "error"),
    [
        ([(1, "a"), (2, "b"), (3, "c")], None),
        ([], None),
        ([(2, "a")], "0002_a.sql: expected number 0001"),
        ([(1, "a"), (3, "b")], "0003_b.sql: expected number 0002"),
        ([(1, "a"), (2, "b"), (2, "c")], "0002_c.sql: expected number 0003"),
        ([(1, "a"), (2, "a")], "the name 'a' is used twice"),
    ],
)
def test_numbering_rule(numbers_and_names: list[tuple[int, str]], error: str | None) -> None:
    migrations = [Migration(version, name, "") for version, name in numbers_and_names]
    if error is None:
        assert check_sequence(migrations) == migrations
    else:
        with pytest.raises(RuntimeError, match=re.escape(error)):
            check_sequence(migrations)


def test_dialects_that_disagree_are_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for dialect, second in (("postgres", "0002_job_fingerprint.sql"), ("sqlite", "0002_server_admin.sql")):
        (tmp_path / dialect).mkdir()
        (tmp_path / dialect / "0001_init.sql").write_text("SELECT 1;")
        (tmp_path / dialect / second).write_text("SELECT 1;")
    monkeypatch.setattr(_migrations, "_shipped", lambda dialect: tmp_path / dialect)
    with pytest.raises(RuntimeError, match="the dialects' migrations differ"):
        load_migrations("sqlite")


def test_a_database_is_matched_by_name_and_number() -> None:
    assert applied_names([], SHIPPED) == set()
    assert applied_names([(1, "0001_init.sql"), (3, "0003_server_admin.sql")], SHIPPED) == {"init", "server_admin"}
    with pytest.raises(RuntimeError, match=r"newer than this code: it has migration 0004_later\.sql"):
        applied_names([(4, "0004_later.sql")], SHIPPED)
    with pytest.raises(RuntimeError, match="'server_admin' is recorded as 0002 but numbered 0003"):
        applied_names([(2, "0002_server_admin.sql")], SHIPPED)
