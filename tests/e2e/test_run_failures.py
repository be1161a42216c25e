"""``python -m bot run`` when Discord says no, is not there, or never answers; and a stop at any moment.

The bot runs as a real process (``tests/e2e/process.py``) against loopback servers: the fake Discord (which
answers 401 to a wrong token), a closed port, and a server that accepts connections and never answers.
Each failure is one log line naming the cause and what to do, with its documented exit status
(``bot/ops/problems.py``), and never a traceback; SIGTERM always ends it with 0.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.ops import problems
from tests.e2e.process import BotProcess, start, write_settings
from tests.fake_discord import FakeDiscord

pytestmark = pytest.mark.slow


class SilentServer:
    """Accepts TCP connections, reads whatever comes, and never answers (a hanging Discord or database)."""

    def __init__(self) -> None:
        self.connected = asyncio.Event()
        self._server: asyncio.Server | None = None
        self._held: set[asyncio.Task[None]] = set()
        self.port = 0

    async def __aenter__(self) -> SilentServer:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in list(self._held):
            task.cancel()
        await asyncio.gather(*self._held, return_exceptions=True)
        await self._server.wait_closed()

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._held.add(task)
        self.connected.set()
        try:
            while await reader.read(65536):
                pass
        finally:
            writer.close()
            self._held.discard(task)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    server = FakeDiscord()
    await server.start()  # not patched into this process's discord.py: the bot runs elsewhere
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def silent() -> AsyncIterator[SilentServer]:
    async with SilentServer() as server:
        yield server


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def start_bot(tmp_path: Path, discord: dict[str, Any], storage_url: str | None = None) -> BotProcess:
    settings = write_settings(
        tmp_path / "bot.toml",
        {
            "discord": discord,
            "storage": {"url": storage_url or f"sqlite:///{tmp_path / 'bot.db'}"},
            "logging": {"level": "INFO"},
        },
    )
    return await start(settings, log_path=tmp_path / "bot.log")


async def exit_code(bot: BotProcess, timeout: float = 30.0) -> int:
    try:
        return await asyncio.wait_for(bot.process.wait(), timeout)
    except TimeoutError:
        await bot.kill(signal.SIGKILL)
        raise AssertionError(f"the bot did not exit within {timeout}s:\n{bot.log_tail()}") from None


def assert_one_clean_line(log: str, text: str) -> None:
    """``text`` is on exactly one line, and nothing is a traceback or a continuation of a multi-line record."""
    assert [line for line in log.splitlines() if text in line] != [], log
    assert len([line for line in log.splitlines() if text in line]) == 1, log
    assert "Traceback" not in log, log
    assert not [line for line in log.splitlines() if line[:1].isspace()], log  # no frames, no wrapped lines


def discord_at(fake: FakeDiscord, **values: Any) -> dict[str, Any]:
    return {"token": fake.token, "api_base_url": fake.api_base, "gateway_url": fake.gateway_url, **values}


async def test_a_rejected_token_is_one_line_and_exit_status_3(fake: FakeDiscord, tmp_path: Path) -> None:
    bot = await start_bot(tmp_path, discord_at(fake, token="not-the-token"))
    assert await exit_code(bot) == problems.EXIT_TOKEN_REJECTED == 3
    log = bot.log_text()
    assert_one_clean_line(log, "Discord token: rejected by Discord (401 Unauthorized)")
    assert "Reset Token" in log and "not-the-token" not in log


async def test_an_unreachable_discord_is_one_line_and_exit_status_4(tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{closed_port()}/api/v10"
    bot = await start_bot(tmp_path, {"token": "some-token", "api_base_url": api})
    assert await exit_code(bot) == problems.EXIT_UNREACHABLE == 4
    assert_one_clean_line(bot.log_text(), f"Discord: cannot reach Discord at {api}: ")


async def test_a_discord_that_never_answers_gives_up_after_the_login_timeout(
    silent: SilentServer, tmp_path: Path
) -> None:
    api = f"http://127.0.0.1:{silent.port}/api/v10"
    started = time.monotonic()
    bot = await start_bot(tmp_path, {"token": "some-token", "api_base_url": api, "login_timeout": 1.0})
    assert await exit_code(bot) == problems.EXIT_UNREACHABLE
    assert silent.connected.is_set()  # it did get through to the silent server, which never answered
    assert time.monotonic() - started < 20  # start-up plus 1 s, not discord.py's 5-minute request timeout
    assert_one_clean_line(bot.log_text(), f"the API at {api} did not answer within 1 s ([discord] login_timeout)")


async def test_an_unreachable_gateway_after_the_login_is_one_line_and_exit_status_4(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    gateway = f"ws://127.0.0.1:{closed_port()}/"
    bot = await start_bot(tmp_path, discord_at(fake, gateway_url=gateway, login_timeout=5.0))
    assert await exit_code(bot) == problems.EXIT_UNREACHABLE
    log = bot.log_text()
    assert_one_clean_line(log, f"Discord: cannot reach Discord at {gateway}: ")
    assert "[discord] gateway_url" in log


async def test_a_privileged_intent_not_enabled_is_one_line_and_exit_status_5(fake: FakeDiscord, tmp_path: Path) -> None:
    """message_content_intent = true, but the intent is not switched on in the Developer Portal (4014)."""
    fake.gateway.privileged_intents_enabled = False
    bot = await start_bot(tmp_path, discord_at(fake, message_content_intent=True))
    assert await exit_code(bot) == problems.EXIT_REFUSED == 5
    log = bot.log_text()
    assert_one_clean_line(log, "Discord: the Message Content intent is not enabled for this application")
    assert "message_content_intent = false" in log


async def test_sigterm_during_the_login_hang_is_a_clean_stop(silent: SilentServer, tmp_path: Path) -> None:
    api = f"http://127.0.0.1:{silent.port}/api/v10"
    bot = await start_bot(tmp_path, {"token": "some-token", "api_base_url": api, "login_timeout": 120.0})
    await asyncio.wait_for(silent.connected.wait(), 30)  # logging in: the request is out, no answer comes
    assert await bot.kill(signal.SIGTERM) == problems.EXIT_STOPPED == 0
    log = bot.log_text()
    assert "stop signal received" in log
    assert "Traceback" not in log and " ERROR " not in log, log


async def test_sigterm_while_starting_up_is_a_clean_stop(silent: SilentServer, tmp_path: Path) -> None:
    """Before the login: the database (a PostgreSQL that never answers) is still being opened."""
    bot = await start_bot(
        tmp_path, {"token": "some-token"}, storage_url=f"postgresql://bot@127.0.0.1:{silent.port}/bot"
    )
    await asyncio.wait_for(silent.connected.wait(), 30)
    assert await bot.kill(signal.SIGTERM) == 0
    log = bot.log_text()
    assert "Traceback" not in log and " ERROR " not in log, log


async def test_sigterm_while_connected_is_a_clean_stop_and_no_voice_warning_is_logged(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    bot = await start_bot(tmp_path, discord_at(fake))
    await bot.wait_ready(fake)
    assert await bot.kill(signal.SIGTERM) == 0
    log = bot.log_text()
    assert "Traceback" not in log, log
    assert "PyNaCl" not in log and "davey" not in log and "voice" not in log, log  # the bot has no voice
