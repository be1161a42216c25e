"""Schema migrations: one numbering rule and one runner for every dialect.

A migration is a file ``migrations/<dialect>/NNNN_name.sql``. The rule (``check_sequence``, applied to
every dialect whenever the shipped migrations are loaded): numbers run 0001, 0002, … with no gap and no
repeat, names never repeat, and every dialect ships the same names in the same order. A new migration
takes the next number in every dialect; a released one keeps its number and name for good.

A database records each migration it applied in ``schema_migrations`` (version, name = the file name,
applied_at) and is matched by name: a migration runs when its name is not recorded. A recorded name this
code does not know means the database is newer than the code, and a recorded number other than the
file's means a released migration was renumbered; both are refused rather than guessed at.

The runner (``migrate``) is the same for both dialects; each adapter supplies a ``MigrationSession``: one
transaction per migration that holds the database's migration lock, so processes opening a database
together apply each migration once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from typing import Final, Protocol

__all__ = ["DIALECTS", "Migration", "MigrationSession", "check_sequence", "load_migrations", "migrate", "scan"]

log = logging.getLogger(__name__)

DIALECTS: Final = ("postgres", "sqlite")
FILE_NAME: Final = re.compile(r"^(\d{4})_([A-Za-z0-9_\-]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str  # what a database is matched by: "job_fingerprint" in 0002_job_fingerprint.sql
    sql: str

    @property
    def file(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


class MigrationSession(Protocol):
    """One migration's transaction, under the database's migration lock."""

    async def recorded(self) -> Sequence[tuple[int, str]]:
        """(version, file name) of every applied migration (creating the record table when absent)."""

    async def run(self, sql: str) -> None:
        """Run a migration's script (several statements)."""

    async def record(self, migration: Migration) -> None: ...


def scan(directory: Traversable) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``directory``, sorted by number; other files are ignored."""
    found: list[Migration] = []
    for entry in directory.iterdir():
        match = FILE_NAME.match(entry.name)
        if entry.is_file() and match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: (m.version, m.name))
    return found


def check_sequence(migrations: Sequence[Migration]) -> list[Migration]:
    """The numbering rule: 0001, 0002, … with no gap and no repeat, and no name twice."""
    seen: set[str] = set()
    for expected, migration in enumerate(migrations, start=1):
        if migration.version != expected:
            raise RuntimeError(f"migration {migration.file}: expected number {expected:04d} (gap or duplicate)")
        if migration.name in seen:
            raise RuntimeError(f"migration {migration.file}: the name {migration.name!r} is used twice")
        seen.add(migration.name)
    return list(migrations)


def _shipped(dialect: str) -> Traversable:
    return resources.files("bot.storage").joinpath("migrations").joinpath(dialect)


def load_migrations(dialect: str, directory: Traversable | None = None) -> list[Migration]:
    """The migrations in ``directory``, or those shipped for ``dialect`` (which must follow the rule in
    every dialect and list the same names in the same order everywhere)."""
    if directory is not None:
        return check_sequence(scan(directory))
    shipped = {name: check_sequence(scan(_shipped(name))) for name in DIALECTS}
    files = {name: [m.file for m in migrations] for name, migrations in shipped.items()}
    if len({tuple(names) for names in files.values()}) > 1:
        raise RuntimeError(f"the dialects' migrations differ: {files}")
    return shipped[dialect]


def applied_names(recorded: Sequence[tuple[int, str]], migrations: Sequence[Migration]) -> set[str]:
    """The names of the recorded migrations, after checking each is known here under the same number."""
    known = {m.name: m for m in migrations}
    names: set[str] = set()
    for version, file in recorded:
        match = FILE_NAME.match(file)
        migration = known.get(match.group(2)) if match else None
        if migration is None:
            raise RuntimeError(f"the database schema is newer than this code: it has migration {file}, unknown here")
        if migration.version != version:
            raise RuntimeError(
                f"migration {migration.name!r} is recorded as {version:04d} but numbered "
                f"{migration.version:04d} here: a released migration keeps its number"
            )
        names.add(migration.name)
    return names


class PendingMigrationsError(RuntimeError):
    """Opened without migrating (a read such as ``check``'s) on a database this code would migrate."""


async def migrate(
    begin: Callable[[], AbstractAsyncContextManager[MigrationSession]],
    migrations: Sequence[Migration],
    *,
    apply: bool = True,
) -> int:
    """Apply every migration the database has not recorded, in order, each in its own ``begin()``
    transaction (read the records again under its lock); returns the schema version (the last number).
    ``apply=False`` changes nothing: a pending migration raises PendingMigrationsError inside its transaction,
    which rolls back whatever reading the records set up."""
    for migration in migrations:
        async with begin() as session:
            if migration.name in applied_names(await session.recorded(), migrations):
                continue
            if not apply:
                raise PendingMigrationsError(f"migration {migration.file} is not applied yet (run applies it)")
            await session.run(migration.sql)
            await session.record(migration)
        log.info("applied migration %s", migration.file)
    return migrations[-1].version if migrations else 0
