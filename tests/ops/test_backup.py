"""``liblib-bot backup``: a consistent copy of a live SQLite database (WAL included), restorable as is."""

from __future__ import annotations

import asyncio
import io
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from bot.models import GenerationRequest, Job, JobState
from bot.ops.backup import main as backup
from bot.ops.backup import pg_dump_command
from bot.ops.cli import main as cli
from bot.storage import open_store


def job_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT * FROM jobs ORDER BY id").fetchall()


def a_job(n: int) -> Job:
    return Job(id=f"job{n:05d}", user_id=n, channel_id=1, guild_id=7, request=GenerationRequest("star3", f"fox {n}"))


async def test_backup_of_a_live_database_restores_to_an_identical_job_table(tmp_path: Path) -> None:
    db = tmp_path / "bot.db"
    target = tmp_path / "backups" / "bot-backup.db"
    async with open_store(f"sqlite:///{db}") as store:
        for n in range(200):
            await store.enqueue(a_job(n))
        # The recent commits are in the write-ahead log: a plain copy of bot.db misses them.
        shutil.copy(db, tmp_path / "naive.db")
        assert len(job_rows(tmp_path / "naive.db")) < 200

        writing = True

        async def writer() -> int:
            n = 200
            while writing:
                await store.enqueue(a_job(n))
                n += 1
                await asyncio.sleep(0)
            return n

        task = asyncio.create_task(writer())
        out = io.StringIO()
        code = await asyncio.to_thread(backup, f"sqlite:///{db}", str(target), out)
        writing = False
        written = await task
    assert code == 0, out.getvalue()
    assert "consistent while the bot runs" in out.getvalue() and "Restore:" in out.getvalue()
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    copied = job_rows(target)
    live = {row[0]: row for row in job_rows(db)}
    assert 200 <= len(copied) <= written
    assert all(live[row[0]] == row for row in copied)  # a snapshot: every row exactly as committed
    ids = [row[0] for row in copied]
    assert ids == [f"job{n:05d}" for n in range(len(copied))]  # no gap: a prefix of the commits

    restored = tmp_path / "restored" / "bot.db"
    restored.parent.mkdir()
    shutil.copy(target, restored)  # the documented restore: the single file is the whole database
    async with open_store(f"sqlite:///{restored}") as store:
        assert len(await store.list_jobs(list(JobState))) == len(copied)
    assert job_rows(restored) == copied


def test_backup_refuses_to_overwrite_and_reports_a_missing_database(tmp_path: Path, capsys) -> None:
    existing = tmp_path / "exists.db"
    existing.write_bytes(b"keep me")
    assert backup(f"sqlite:///{tmp_path / 'none.db'}", str(tmp_path / "b.db")) == 1
    assert "no database at" in capsys.readouterr().err
    sqlite3.connect(tmp_path / "bot.db").close()
    assert backup(f"sqlite:///{tmp_path / 'bot.db'}", str(existing)) == 1
    assert "already exists" in capsys.readouterr().err and existing.read_bytes() == b"keep me"


def test_postgresql_prints_the_pg_dump_line_without_the_password(capsys) -> None:
    out = io.StringIO()
    url = "postgresql://bot:s3cret@db.example:5432/libbot?search_path=bot_schema"
    assert backup(url, "/backups/libbot.dump", out) == 0
    text = out.getvalue()
    assert "s3cret" not in text and "pg_restore" in text
    assert pg_dump_command(url, Path("/b.dump")) == (
        "pg_dump --format=custom --file=/b.dump --dbname='postgresql://bot@db.example:5432/libbot' --schema=bot_schema"
    )


def test_the_cli_backs_up_the_configured_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    db = tmp_path / "bot.db"
    sqlite3.connect(db).close()
    monkeypatch.setenv("LIBBOT_STORAGE__URL", f"sqlite:///{db}")
    assert cli(["backup", str(tmp_path / "copy.db")]) == 0
    assert "Backed up" in capsys.readouterr().out and (tmp_path / "copy.db").exists()
