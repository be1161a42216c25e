"""``answer_error``: the one error → member reply, driven through a real discord.py client and the fake Discord.

A throwaway bot on ``BotTree`` has one command per kind of failure; a mention listener answers a message the
same way (as reply + mention does). Every text is checked in English and in Chinese.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.discord_app.replies import answer_error
from bot.discord_app.tree import BotTree
from bot.errors import JobNotFoundError
from tests.fake_discord import FakeDiscord, run_bot
from tests.fake_discord.records import Interaction


class Rejecting(app_commands.Transformer):
    async def transform(self, interaction: discord.Interaction, value: Any, /) -> str:
        raise app_commands.TransformerError(value, discord.AppCommandOptionType.string, self)


@app_commands.command(description="A BotError")
async def missing(interaction: discord.Interaction) -> None:
    raise JobNotFoundError("abc123")


@app_commands.command(description="A BotError after a public defer")
async def late(interaction: discord.Interaction) -> None:
    await interaction.response.defer(thinking=True)
    raise JobNotFoundError("abc123")


@app_commands.command(description="A value the transformer refuses")
async def pick(interaction: discord.Interaction, value: app_commands.Transform[str, Rejecting]) -> None:
    raise AssertionError("not reached")


@app_commands.command(description="Once a minute")
@app_commands.checks.cooldown(1, 60.0)
async def busy(interaction: discord.Interaction) -> None:
    await interaction.response.send_message("ok", ephemeral=True)


@app_commands.command(description="A failed check")
@app_commands.check(lambda interaction: False)
async def locked(interaction: discord.Interaction) -> None:
    raise AssertionError("not reached")


@app_commands.command(description="A bug")
async def crash(interaction: discord.Interaction) -> None:
    raise RuntimeError("boom")


class ErrorBot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=discord.Intents.default(),
            tree_cls=BotTree,
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
            max_ratelimit_timeout=5.0,
        )
        self.guild = discord.Object(guild_id)

    async def setup_hook(self) -> None:
        for command in (missing, late, pick, busy, locked, crash):
            self.tree.add_command(command)
        self.tree.copy_global_to(guild=self.guild)
        await self.tree.sync(guild=self.guild)

    async def on_message(self, message: discord.Message) -> None:
        if self.user in message.mentions and not message.author.bot:
            locale = "zh-CN" if "中文" in message.content else "en-US"
            await answer_error(message, JobNotFoundError("abc123"), locale)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
    assert server.spec_errors == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[ErrorBot]:
    async with run_bot(ErrorBot(fake.guild_id), fake) as client:
        yield client


async def private_text(fake: FakeDiscord, inter: Interaction) -> str:
    """The ephemeral answer to ``inter``: a type-4 callback, or a follow-up after a defer."""

    def match(c: Any) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        if f"/interactions/{inter.id}/" in c.path:
            return body.get("type") == 4 and bool(body["data"].get("flags", 0) & 64)
        return c.method == "POST" and inter.token in c.path and bool(body.get("flags", 0) & 64)

    call = await fake.wait_for_call(match)
    return str(call.json["data"]["content"] if "/callback" in call.path else call.json["content"])


EXPECTED = {
    "missing": ("No job `abc123` was found.", "找不到任务 `abc123`。"),
    "pick": ("That value is not valid: `x\\_y`.", "这个值无效：`x\\_y`。"),
    "locked": ("You don't have permission to use this command here.", "你没有权限在这里使用这个命令。"),
}


@pytest.mark.parametrize("locale", ["en-US", "zh-CN"])
@pytest.mark.parametrize("command", sorted(EXPECTED))
async def test_refusals_are_answered_privately(fake: FakeDiscord, bot: ErrorBot, command: str, locale: str) -> None:
    options = {"value": "x_y"} if command == "pick" else {}
    inter = await fake.slash(command, options, locale=locale)
    english, chinese = EXPECTED[command]
    assert await private_text(fake, inter) == (english if locale == "en-US" else chinese)


@pytest.mark.parametrize(
    ("locale", "text"), [("en-US", "Slow down: try again in 60s."), ("zh-CN", "操作太快了，请 60 秒后再试。")]
)
async def test_a_cooldown_says_when(fake: FakeDiscord, bot: ErrorBot, locale: str, text: str) -> None:
    member = fake.user_id if locale == "en-US" else fake.admin_id  # the cooldown is per member, per process
    assert await private_text(fake, await fake.slash("busy", locale=locale, user_id=member)) == "ok"
    assert await private_text(fake, await fake.slash("busy", locale=locale, user_id=member)) == text


async def test_after_a_public_defer_the_thinking_goes_and_the_answer_is_private(
    fake: FakeDiscord, bot: ErrorBot
) -> None:
    inter = await fake.slash("late", locale="zh-CN")
    assert await private_text(fake, inter) == "找不到任务 `abc123`。"
    deleted = [c for c in fake.calls if c.method == "DELETE" and inter.token in c.path]
    assert deleted and deleted[0].path.endswith("/messages/@original")


@pytest.mark.parametrize(
    ("locale", "pattern"),
    [
        ("en-US", r"Something went wrong on our side \(incident `([0-9a-f]{6})`\)\. Please try again\."),
        ("zh-CN", r"我们这边出了点问题（事件编号 `([0-9a-f]{6})`），请重试。"),
    ],
)
async def test_an_unexpected_error_is_logged_with_its_traceback_and_shown_as_an_incident(
    fake: FakeDiscord, bot: ErrorBot, caplog: pytest.LogCaptureFixture, locale: str, pattern: str
) -> None:
    caplog.set_level(logging.INFO, logger="bot.discord_app.replies")
    text = await private_text(fake, await fake.slash("crash", locale=locale))
    match = re.fullmatch(pattern, text)
    assert match is not None, text
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert match[1] in record.getMessage() and "/crash" in record.getMessage()
    assert record.exc_info is not None and isinstance(record.exc_info[1], RuntimeError)


@pytest.mark.parametrize(
    ("content", "text"), [("hello", "No job `abc123` was found."), ("中文", "找不到任务 `abc123`。")]
)
async def test_a_message_gets_a_reply_that_pings_nobody(
    fake: FakeDiscord, bot: ErrorBot, content: str, text: str
) -> None:
    asked = await fake.user_message(f"<@{fake.bot_user_id}> {content}", mention_bot=True)

    def replies(c: Any) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        return c.method == "POST" and str((body.get("message_reference") or {}).get("message_id")) == asked["id"]

    call = await fake.wait_for_call(replies)
    assert call.json["content"] == text
    assert call.json["allowed_mentions"] == {"parse": [], "replied_user": False}
