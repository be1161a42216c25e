"""``liblib-bot check`` against the fake Discord and the LiblibAI simulator: the good case and each problem."""

from __future__ import annotations

import asyncio
import io
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.liblib import endpoints as ep
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.ops.check import REQUIRED_PERMISSIONS, invite_url, run_checks
from bot.ops.cli import main as cli_main
from bot.settings import DEFAULT_BASE_URL, Settings, SimulatorSettings
from tests.fake_discord import FakeDiscord
from tests.fake_discord.state import APPLICATION_ID

INVITE = (
    f"https://discord.com/oauth2/authorize?client_id={APPLICATION_ID}"
    "&scope=bot+applications.commands&permissions=274878024704"
)


# The route probes pass the submit rate limiter: the tests' account takes 50 a second.
FAST_SUBMITS = 50.0


@pytest.fixture
async def sim() -> AsyncIterator[Simulator]:
    async with Simulator(SimulatorSettings(port=0), submit_per_second=FAST_SUBMITS) as simulator:
        yield simulator


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord(validate_spec=False)
    await server.start()  # no discord.py patching: check takes the URL from the settings
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def settings_for(fake: FakeDiscord, sim: Simulator, tmp_path: Path, **sections: dict[str, Any]) -> Settings:
    data: dict[str, Any] = {
        "discord": {"token": fake.token, "api_base_url": fake.api_base},
        "liblib": {
            "base_url": sim.base_url,
            "access_key": DEV_ACCESS_KEY,
            "secret_key": DEV_SECRET_KEY,
            "submit_per_second": FAST_SUBMITS,
        },
        "storage": {"url": f"sqlite:///{tmp_path / 'data' / 'bot.db'}"},
    }
    for name, values in sections.items():
        data[name] = {k: v for k, v in {**data.get(name, {}), **values}.items() if v is not None}
    return Settings(**data)


async def check(settings: Settings) -> tuple[int, str]:
    out = io.StringIO()
    code = await run_checks(settings, out)
    return code, out.getvalue()


def test_the_invite_asks_for_exactly_the_permissions_the_bot_needs() -> None:
    assert REQUIRED_PERMISSIONS.value == 274878024704
    granted = {name for name, value in REQUIRED_PERMISSIONS if value}
    assert granted == {
        "read_messages",  # discord.py's name for View Channel
        "send_messages",
        "send_messages_in_threads",
        "embed_links",
        "attach_files",
        "read_message_history",
    }
    assert not REQUIRED_PERMISSIONS.administrator and not REQUIRED_PERMISSIONS.mention_everyone
    assert invite_url(APPLICATION_ID) == INVITE
    assert discord.Permissions(274878024704) == REQUIRED_PERMISSIONS


async def test_good_settings_pass_and_print_the_invite_url(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    code, out = await check(settings_for(fake, sim, tmp_path))
    assert code == 0, out
    assert "ok    Discord token: logged in as fakebot" in out
    # The simulator tags its answers: check says so, even though the keys are configured.
    assert f"ok    LiblibAI keys: your key pair is accepted by a LiblibAI SIMULATOR at {sim.base_url}" in out
    assert "every image would be SIMULATED" in out
    assert "ok    storage: SQLite database" in out
    assert INVITE in out
    assert "All checks passed." in out
    assert sim.counters.status_queries == 1 and sim.counters.submits == 0  # one free, signed call
    assert [c.path for c in fake.calls] == ["/users/@me", "/oauth2/applications/@me"]
    assert fake.token not in out and DEV_SECRET_KEY not in out


async def test_missing_token(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    code, out = await check(settings_for(fake, sim, tmp_path, discord={"token": None}))
    assert code == 1
    assert "FAIL  Discord token: not set." in out and "DISCORD_TOKEN" in out
    assert "Invite URL: needs a working Discord token" in out
    assert fake.calls == []


async def test_rejected_token(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    code, out = await check(settings_for(fake, sim, tmp_path, discord={"token": "not-the-token"}))
    assert code == 1
    assert "FAIL  Discord token: rejected by Discord (401 Unauthorized)" in out
    assert "not-the-token" not in out


async def test_discord_unreachable(fake: FakeDiscord, sim: Simulator, tmp_path: Path, closed_port: int) -> None:
    api = f"http://127.0.0.1:{closed_port}/api/v10"
    code, out = await check(settings_for(fake, sim, tmp_path, discord={"api_base_url": api}))
    assert code == 1
    assert f"FAIL  Discord: cannot reach Discord at {api}" in out
    assert "ok    LiblibAI keys" in out  # the other checks still ran


async def test_missing_liblib_keys_say_the_simulator_would_be_used(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    real_api = {"base_url": DEFAULT_BASE_URL}
    code, out = await check(
        settings_for(fake, sim, tmp_path, liblib={"access_key": None, "secret_key": None, **real_api})
    )
    assert code == 1
    assert "FAIL  LiblibAI keys: LIBLIB_ACCESS_KEY and LIBLIB_SECRET_KEY not set" in out
    assert "built-in simulator" in out
    code, out = await check(settings_for(fake, sim, tmp_path, liblib={"secret_key": None, **real_api}))
    assert "FAIL  LiblibAI keys: LIBLIB_SECRET_KEY not set" in out
    assert sim.counters.status_queries == 0


async def test_missing_keys_with_base_url_at_a_simulator_use_its_dev_pair(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """``liblib-bot simulate`` in another terminal and base_url pointing at it: as the bot would, check signs
    with the dev pair there, and says every image would be simulated."""
    code, out = await check(settings_for(fake, sim, tmp_path, liblib={"access_key": None, "secret_key": None}))
    assert code == 0, out
    assert (
        "ok    LiblibAI keys: not set: the simulator's dev key pair is accepted by a LiblibAI SIMULATOR at "
        f"{sim.base_url}: every image would be SIMULATED"
    ) in out
    assert sim.counters.status_queries == 1 and sim.counters.auth_failures == 0


async def test_missing_keys_with_base_url_elsewhere_say_the_dev_pair_was_refused(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with Simulator(SimulatorSettings(port=0), accounts={"owner-key": "owner-secret"}) as other:
        where = other.base_url
        code, out = await check(settings_for(fake, other, tmp_path, liblib={"access_key": None, "secret_key": None}))
    assert code == 1, out
    assert f"FAIL  LiblibAI keys: not set, and LiblibAI at {where} refused the simulator's dev key pair" in out


async def test_rejected_liblib_keys(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    code, out = await check(settings_for(fake, sim, tmp_path, liblib={"secret_key": "wrong-secret"}))
    assert code == 1
    assert f"FAIL  LiblibAI keys: rejected by LiblibAI at {sim.base_url}" in out
    assert "wrong-secret" not in out
    assert sim.counters.auth_failures == 1


async def test_each_family_s_routes_are_reported_served_without_spending(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    code, out = await check(settings_for(fake, sim, tmp_path))
    assert code == 0, out
    for family in ("star3", "kontext", "custom"):
        assert f"ok    LiblibAI {family} routes: served" in out
    assert (sim.counters.submits, sim.balance()) == (0, sim.initial_balance)


async def test_a_family_liblib_does_not_serve_is_named(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    sim.stop_serving(ep.STAR3_TEXT2IMG, ep.STAR3_IMG2IMG)
    code, out = await check(settings_for(fake, sim, tmp_path))
    assert code == 0, out  # the bot still works: its members get other modes
    [line] = [line for line in out.splitlines() if "LiblibAI star3 routes" in line]
    assert line.startswith("WARN  LiblibAI star3 routes: NOT served by this account")
    assert ep.STAR3_TEXT2IMG in line and ep.STAR3_IMG2IMG in line and "star3_use_ultra_routes = false" in line
    assert "ok    LiblibAI kontext routes: served" in out and "ok    LiblibAI custom routes: served" in out
    sim.stop_serving(ep.KONTEXT_IMG2IMG, http_404=True)  # one route of a family, as a bare 404
    _code, out = await check(settings_for(fake, sim, tmp_path))
    assert f"WARN  LiblibAI kontext routes: NOT served by this account ({ep.KONTEXT_IMG2IMG})" in out
    assert sim.counters.submits == 0


async def test_routes_are_not_probed_with_keys_that_do_not_work(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    _code, out = await check(settings_for(fake, sim, tmp_path, liblib={"secret_key": "wrong-secret"}))
    assert " routes: " not in out and sim.counters.submit_requests == 0


async def test_liblib_access_denied_and_out_of_points(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    settings = settings_for(fake, sim, tmp_path)
    sim.inject("403", route="status")
    code, out = await check(settings)
    assert code == 1 and "no API entitlement or no API points" in out
    sim.inject("100021", route="status")
    code, out = await check(settings)
    assert code == 1 and "FAIL  LiblibAI points: the account at LiblibAI" in out and "out of points" in out


async def test_liblib_unreachable(fake: FakeDiscord, sim: Simulator, tmp_path: Path, closed_port: int) -> None:
    base = f"http://127.0.0.1:{closed_port}"
    code, out = await check(settings_for(fake, sim, tmp_path, liblib={"base_url": base}))
    assert code == 1
    assert f"FAIL  LiblibAI: cannot reach LiblibAI at {base}" in out
    assert "ok    Discord token" in out and INVITE in out


async def test_storage_under_a_file_is_refused(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    (tmp_path / "data").write_text("not a directory")
    code, out = await check(settings_for(fake, sim, tmp_path))
    assert code == 1
    assert f"FAIL  storage: cannot create {tmp_path / 'data' / 'bot.db'}: {tmp_path / 'data'} is not a directory" in out


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere")
async def test_unwritable_storage_directory(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        settings = settings_for(fake, sim, tmp_path, storage={"url": f"sqlite:///{locked / 'sub' / 'bot.db'}"})
        code, out = await check(settings)
    finally:
        locked.chmod(0o700)
    assert code == 1
    assert f"FAIL  storage: cannot create {locked / 'sub' / 'bot.db'}: {locked} is not writable" in out


# -- through the command line ----------------------------------------------------------------------


async def test_cli_check_reads_the_settings_file(
    fake: FakeDiscord,
    sim: Simulator,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    restore_logging: None,
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        f'[discord]\napi_base_url = "{fake.api_base}"\n'
        f'[liblib]\nbase_url = "{sim.base_url}"\naccess_key = "{DEV_ACCESS_KEY}"\nsubmit_per_second = {FAST_SUBMITS}\n'
        f'[storage]\nurl = "sqlite:///{tmp_path / "bot.db"}"\n'
    )
    monkeypatch.setenv("DISCORD_TOKEN", fake.token)
    monkeypatch.setenv("LIBLIB_SECRET_KEY", DEV_SECRET_KEY)
    # main() runs its own event loop: give it a thread, the servers keep running in this one.
    code = await asyncio.to_thread(cli_main, ["--config", str(config), "check"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert INVITE in out


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[discord]\ntoken = ", "not valid TOML"),
        ("[discord]\ntokn = 'x'\n", "discord.tokn"),
        ("[metrics]\nport = 70000\n", "metrics.port"),
    ],
)
def test_cli_check_reports_invalid_settings_precisely(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, expected: str
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(content)
    assert cli_main(["--config", str(config), "check"]) == 2
    out = capsys.readouterr().out
    assert out.startswith("FAIL  settings: ") and expected in out


def test_cli_check_reports_a_missing_settings_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["--config", str(tmp_path / "nope.toml"), "check"]) == 2
    assert f"FAIL  settings: settings file not found: {tmp_path / 'nope.toml'}" in capsys.readouterr().out


async def test_the_recorded_balance_and_its_forecast_are_shown(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    from bot.billing import BalanceBook, BalanceReading
    from bot.models import utcnow
    from bot.storage import open_store

    settings = settings_for(fake, sim, tmp_path, balance={"low_threshold": 5000})
    code, out = await check(settings)
    assert "ok    balance: no record yet" in out
    async with open_store(settings.storage.url) as store:
        await BalanceBook(store, settings.balance).record(BalanceReading(1234, utcnow()))
    code, out = await check(settings)
    assert code == 0, out
    assert "ok    balance: 1234 points, reported " in out
    assert "nothing spent in the last 7 days; BELOW the alert threshold 5000" in out


# -- what run uses: every storage backend, the URL, where values came from -------------------------------


def write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_an_unsupported_storage_scheme_fails_check_and_run_alike(tmp_path: Path) -> None:
    config = write(tmp_path / "c.toml", '[storage]\nurl = "mysql://x"\n[liblib]\nbase_url = "ftp://host"\n')
    out = io.StringIO()
    from bot.ops.check import main as check_main

    assert check_main(config, out) == 2
    text = out.getvalue()
    assert "FAIL  settings:" in text and "unsupported storage URL scheme 'mysql'" in text
    assert "liblib.base_url: Value error, must be an http(s) URL" in text
    assert cli_main(["--config", config, "run"]) == 2  # run refuses the same settings before anything starts


def test_a_bad_bot_wide_style_fails_check_and_run_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """[[styles]] are checked against the configured modes, like /style add, before anything starts."""
    config = write(tmp_path / "c.toml", '[[styles]]\nname = "noir"\nprefix = "film noir"\nmode = "midjourney"\n')
    out = io.StringIO()
    from bot.ops.check import main as check_main

    assert check_main(config, out) == 2
    assert "FAIL  settings: invalid settings: styles: 'noir': mode: unknown mode `midjourney`" in out.getvalue()
    assert cli_main(["--config", config, "run"]) == 2
    assert "styles: 'noir': mode: unknown mode `midjourney`" in capsys.readouterr().err


def test_a_misspelt_key_gets_the_closest_valid_one(tmp_path: Path) -> None:
    from bot.ops.check import main as check_main

    out = io.StringIO()
    assert check_main(write(tmp_path / "c.toml", "[quotas]\nimage_per_day = 3\n"), out) == 2
    assert "quotas.image_per_day: unknown key (did you mean quotas.images_per_day?)" in out.getvalue()


async def test_postgresql_is_probed_for_its_schema_and_migrations(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path, pg_store_url: str, pg_schema_url: str, closed_port: int
) -> None:
    code, out = await check(settings_for(fake, sim, tmp_path, storage={"url": pg_store_url}))
    assert code == 0, out
    assert "ok    storage: PostgreSQL " in out and "migrations up to date" in out
    code, out = await check(settings_for(fake, sim, tmp_path, storage={"url": pg_schema_url}))
    assert code == 0 and "migration(s) pending, applied at the next start" in out  # a fresh, empty schema
    down = f"postgresql://postgres:hunter2@127.0.0.1:{closed_port}/test"
    code, out = await check(settings_for(fake, sim, tmp_path, storage={"url": down}))
    assert code == 1 and "FAIL  storage: PostgreSQL postgresql://postgres:***@127.0.0.1" in out
    assert "hunter2" not in out


def test_check_says_where_values_came_from_and_warns_when_the_environment_overrides_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.config_sources import provenance
    from bot.ops.check import settings_findings

    file_data = {"storage": {"url": "postgresql://db/bot"}, "quotas": {"images_per_day": 5}}
    environ = {"LIBBOT_STORAGE__URL": "sqlite:////data/bot.db", "DISCORD_TOKEN": "t", "LIBBOT_DEFAULTS_FILE": "x"}
    lines = [f.line() for f in settings_findings(provenance("config.toml", file_data, environ))]
    assert (
        lines[0] == "ok    settings: valid (file config.toml; from the environment: DISCORD_TOKEN, LIBBOT_STORAGE__URL)"
    )
    assert lines[1:] == [
        "WARN  settings: LIBBOT_STORAGE__URL in the environment overrides storage.url from config.toml: "
        "the file's value is ignored"
    ]


def test_a_defaults_file_is_overridden_by_the_settings_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The container's defaults (LIBBOT_DEFAULTS_FILE) sit below the owner's file: [storage] url in the file wins."""
    from bot.settings import load_settings_with_sources

    defaults = write(
        tmp_path / "defaults.toml", '[storage]\nurl = "sqlite:////data/bot.db"\n[metrics]\nenabled = true\n'
    )
    config = write(tmp_path / "config.toml", '[storage]\nurl = "postgresql://db/bot"\n')
    monkeypatch.setenv("LIBBOT_DEFAULTS_FILE", defaults)
    settings, sources = load_settings_with_sources(config)
    assert settings.storage.url == "postgresql://db/bot" and settings.metrics.enabled is True
    assert sources.override_warnings() == [] and "LIBBOT_DEFAULTS_FILE" not in sources.from_env.values()


async def test_warnings_logged_during_the_checks_come_after_the_lines(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = settings_for(fake, sim, tmp_path)
    db = tmp_path / "data" / "bot.db"
    db.parent.mkdir()
    db.write_bytes(b"")
    db.chmod(0o644)  # the store tightens it and logs a warning while the balance check opens it
    _code, out = await check(settings)
    lines = out.splitlines()
    notes = [i for i, line in enumerate(lines) if line.startswith("note  ")]
    checks = [i for i, line in enumerate(lines) if line.startswith(("ok  ", "FAIL", "WARN"))]
    assert notes and min(notes) > max(checks), out


async def test_check_changes_no_schema_on_postgresql_or_sqlite(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path, pg_schema_url: str
) -> None:
    """A check before an upgrade must leave the database as it is: the balance is read without migrating (it is
    "not read" while migrations are pending), and the next start still has them to apply."""
    import sqlite3

    from tests.pg import raw_pg

    code, out = await check(settings_for(fake, sim, tmp_path, storage={"url": pg_schema_url}))
    assert code == 0 and "migration(s) pending" in out, out
    assert "ok    balance: not read: the database has migrations pending" in out
    tables = await raw_pg(pg_schema_url, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    assert tables == []  # before the fix: the balance check had created and migrated every table

    db = tmp_path / "old.db"
    sqlite3.connect(db).close()  # an existing SQLite file the bot has not migrated yet
    code, out = await check(settings_for(fake, sim, tmp_path, storage={"url": f"sqlite:///{db}"}))
    assert "ok    balance: not read: the database has migrations pending" in out, out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall() == []
