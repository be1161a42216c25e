"""``liblib-bot backup PATH``: a consistent copy of the database, safe while the bot runs.

SQLite runs in WAL mode: recent commits may live only in ``bot.db-wal``, so copying ``bot.db`` alone can lose
them (or copy a torn page). SQLite's online backup API copies a consistent snapshot through a connection,
whatever the other processes do. PostgreSQL has its own tool: the command prints the ``pg_dump`` line.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import TextIO
from urllib.parse import parse_qs, urlsplit

from bot.settings import POSTGRES_SCHEMES
from bot.storage.postgres import redacted
from bot.storage.sqlite import sqlite_path_from_url


class BackupError(Exception):
    """A backup that cannot be made; the message says why and what to do."""


def backup_sqlite(source: str, target: Path) -> int:
    """Copy the SQLite database ``source`` to ``target`` (a new file, mode 0600); returns its size in bytes."""
    if source == ":memory:":
        raise BackupError("the store is an in-memory SQLite database: there is nothing on disk to back up")
    if not Path(source).is_file():
        raise BackupError(f"no database at {source} (has the bot run with this configuration?)")
    if target.exists():
        raise BackupError(f"{target} already exists: choose a new file name")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # prompts and tokens: owner-only
    os.close(fd)
    try:
        source_uri = f"file:{Path(source).resolve()}?mode=ro"
        with closing(sqlite3.connect(source_uri, uri=True)) as src, closing(sqlite3.connect(target)) as dst:
            src.backup(dst, pages=1024)  # in steps: writers are blocked only briefly
            dst.execute("PRAGMA journal_mode=DELETE")  # a single self-contained file
            check = dst.execute("PRAGMA integrity_check").fetchone()
        if check is None or check[0] != "ok":
            raise BackupError(f"the copy failed its integrity check: {check}")
    except (sqlite3.Error, BackupError):
        target.unlink(missing_ok=True)
        raise
    return target.stat().st_size


def pg_dump_command(url: str, target: Path) -> str:
    """The ``pg_dump`` line for a PostgreSQL store (the password stays out: use PGPASSWORD or ~/.pgpass)."""
    parts = urlsplit(url)
    schema = parse_qs(parts.query).get("search_path", [None])[0]
    plain = redacted(parts._replace(query="").geturl()).replace(":***@", "@")
    line = f"pg_dump --format=custom --file={target} --dbname='{plain}'"
    return line + (f" --schema={schema}" if schema else "")


def main(url: str, target: str, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    path = Path(target)
    if url.startswith(POSTGRES_SCHEMES):
        print("The store is PostgreSQL: back it up with pg_dump (consistent while the bot runs):", file=out)
        print(f"  {pg_dump_command(url, path)}", file=out)
        print("Restore into an empty database with: pg_restore --dbname=<url> " + str(path), file=out)
        return 0
    try:
        source = sqlite_path_from_url(url)
        size = backup_sqlite(source, path)
    except (ValueError, BackupError, sqlite3.Error, OSError) as exc:
        print(f"error: backup failed: {exc}", file=sys.stderr)
        return 1
    print(f"Backed up {source} to {path} ({size} bytes, consistent while the bot runs).", file=out)
    print(f"Restore: stop the bot, copy {path} over {source}, delete {source}-wal and {source}-shm, start.", file=out)
    return 0
