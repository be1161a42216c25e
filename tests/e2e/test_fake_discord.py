"""The fake Discord harness itself: a throwaway bot, defined here, driven end to end through the real discord.py.

Every test runs the real ``commands.Bot`` against ``tests.fake_discord.FakeDiscord`` over loopback HTTP and a
websocket, and asserts only on what the fake recorded or on what the bot observed.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands
from PIL import Image

from tests.fake_discord import FakeDiscord, run_bot
from tests.fake_discord.records import DROPPED
from tests.fake_discord.spec import load_spec


def _png(width: int = 4, height: int = 3) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


PNG = _png()


class AgainView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=60)

    @discord.ui.button(label="Again", custom_id="echo:again", style=discord.ButtonStyle.primary)
    async def again(self, interaction: discord.Interaction, button: discord.ui.Button[AgainView]) -> None:
        await interaction.response.defer()
        assert interaction.message is not None
        assert interaction.channel is not None
        await interaction.channel.send(  # type: ignore[union-attr]
            f"<@{interaction.user.id}> again",
            file=discord.File(io.BytesIO(PNG), filename="again.png"),
            reference=interaction.message,
            allowed_mentions=discord.AllowedMentions(users=[interaction.user]),
        )


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text: discord.ui.TextInput[FeedbackModal] = discord.ui.TextInput(
        label="Your feedback", custom_id="feedback:text", max_length=200
    )

    def __init__(self) -> None:
        super().__init__(custom_id="feedback")

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"thanks: {self.text.value}", ephemeral=True)


class EchoBot(commands.Bot):
    """Slash-only test bot: the prefix parser is off, mentions are answered by a listener."""

    def __init__(self, guild_id: int, **options: Any) -> None:
        super().__init__(
            command_prefix=commands.when_mentioned,
            intents=options.pop("intents", discord.Intents.default()),
            allowed_mentions=discord.AllowedMentions.none(),
            guild_ready_timeout=0.05,
            max_ratelimit_timeout=5.0,
            **options,
        )
        self.guild = discord.Object(guild_id)
        self.outcomes: list[BaseException | str] = []
        self.seen: list[discord.Message] = []
        self.gate = asyncio.Event()
        self.slow_delay = 0.0

    async def setup_hook(self) -> None:
        self.tree.add_command(echo)
        self.tree.add_command(feedback)
        self.tree.add_command(wait)
        self.tree.add_command(slow)
        self.tree.add_command(secret)
        self.tree.add_command(describe)
        self.tree.add_command(greet)
        self.tree.add_command(inspect)
        self.tree.add_command(quick)
        self.tree.copy_global_to(guild=self.guild)
        await self.tree.sync(guild=self.guild)

    async def on_message(self, message: discord.Message) -> None:
        if message.author.bot:
            return
        self.seen.append(message)
        if self.user in message.mentions:
            resolved = message.reference.resolved if message.reference else None
            previous = resolved.content if isinstance(resolved, discord.Message) else None
            await message.reply(f"heard {message.content!r} after {previous!r}", mention_author=True)


@app_commands.command(description="Echo text back")
@app_commands.describe(text="What to echo")
async def echo(interaction: discord.Interaction[EchoBot], text: app_commands.Range[str, 1, 100]) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.edit_original_response(content=f"echo: {text}")
    await interaction.followup.send("a file", file=discord.File(io.BytesIO(PNG), filename="echo.png"), view=AgainView())


@echo.autocomplete("text")
async def echo_autocomplete(interaction: discord.Interaction[EchoBot], current: str) -> list[app_commands.Choice[str]]:
    return [app_commands.Choice(name=f"{current}-{i}", value=f"{current}-{i}") for i in range(3)]


@app_commands.command(description="Defer, then answer with a follow-up only")
async def quick(interaction: discord.Interaction[EchoBot]) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.followup.send(
        "quick result", file=discord.File(io.BytesIO(PNG), filename="q.png"), ephemeral=True
    )


@app_commands.command(description="Send feedback")
async def feedback(interaction: discord.Interaction[EchoBot]) -> None:
    await interaction.response.send_modal(FeedbackModal())


@app_commands.command(description="Defer, wait for the test, then edit")
async def wait(interaction: discord.Interaction[EchoBot]) -> None:
    await interaction.response.defer(thinking=True)
    await interaction.client.gate.wait()
    try:
        await interaction.edit_original_response(content="done")
    except discord.HTTPException as exc:
        interaction.client.outcomes.append(exc)


@app_commands.command(description="Ack too late")
async def slow(interaction: discord.Interaction[EchoBot]) -> None:
    await asyncio.sleep(interaction.client.slow_delay)  # past the fake's ack deadline on purpose: under test
    try:
        await interaction.response.defer()
    except discord.HTTPException as exc:
        interaction.client.outcomes.append(exc)


@app_commands.command(description="Admins only")
@app_commands.default_permissions(manage_guild=True)
async def secret(interaction: discord.Interaction[EchoBot]) -> None:
    await interaction.response.send_message("admin ok", ephemeral=True)


@app_commands.context_menu(name="Describe")
async def describe(interaction: discord.Interaction[EchoBot], message: discord.Message) -> None:
    await interaction.response.send_message(f"target says {message.content!r}")


@app_commands.context_menu(name="Greet")
async def greet(interaction: discord.Interaction[EchoBot], member: discord.Member) -> None:
    await interaction.response.send_message(f"hello {member.name}, admin={member.guild_permissions.administrator}")


@app_commands.command(description="Inspect an attachment")
async def inspect(interaction: discord.Interaction[EchoBot], image: discord.Attachment) -> None:
    await interaction.response.defer(ephemeral=True, thinking=True)
    data = await image.read()
    await interaction.followup.send(f"{image.filename} {image.content_type} {image.width}x{image.height} {len(data)}")


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
    assert fake.spec_errors == []
    assert fake.unexpected == []


@pytest.fixture
async def bot(fake: FakeDiscord) -> AsyncIterator[EchoBot]:
    async with run_bot(EchoBot(fake.guild_id), fake) as bot:
        yield bot


def _is_callback(interaction_id: int) -> Any:
    return lambda c: c.path.startswith(f"/interactions/{interaction_id}/")


async def test_login_ready_and_sync(fake: FakeDiscord, bot: EchoBot) -> None:
    assert [c.path for c in fake.calls[:3]] == [
        "/users/@me",
        "/oauth2/applications/@me",
        f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands",
    ]
    assert fake.identify_count == 1
    assert fake.gateway_connected
    assert fake.intents == discord.Intents.default().value
    assert fake.sync_count == 1
    assert {c["name"] for c in fake.commands} == {
        "echo",
        "quick",
        "feedback",
        "wait",
        "slow",
        "secret",
        "inspect",
        "Describe",
        "Greet",
    }
    assert bot.user is not None
    assert bot.user.id == fake.bot_user_id
    guild = bot.get_guild(fake.guild_id)
    assert guild is not None
    assert guild.get_channel(fake.channel_id) is not None
    assert all(c.headers.get("Authorization") == f"Bot {fake.token}" for c in fake.calls)


async def test_slash_defer_edit_followup_click(fake: FakeDiscord, bot: EchoBot) -> None:
    interaction = await fake.slash("echo", {"text": "fox"})

    ack = await fake.wait_for_ack(interaction)
    assert ack.json == {"type": 5}
    edit = await fake.wait_for_call(lambda c: c.method == "PATCH" and c.route.endswith("@original"))
    assert edit.json["content"] == "echo: fox"
    followup = await fake.wait_for_call(lambda c: c.method == "POST" and c.route.startswith("/webhooks/"))
    assert followup.status == 200
    assert [(f.filename, f.content) for f in followup.files] == [("echo.png", PNG)]

    original = fake.original_message(interaction)
    assert original is not None
    assert original["content"] == "echo: fox"
    followup_message = fake.messages[int(followup.response["id"])]
    assert followup_message["id"] != original["id"]  # edit-original first, so the follow-up is new
    [attachment] = followup_message["attachments"]
    assert (attachment["content_type"], attachment["width"], attachment["height"]) == ("image/png", 4, 3)
    assert fake.attachment_bytes(attachment) == PNG
    async with aiohttp.ClientSession() as session, session.get(attachment["url"]) as response:
        assert await response.read() == PNG

    click = await fake.click(int(followup_message["id"]), "echo:again", user_id=fake.admin_id)
    assert (await fake.wait_for_ack(click)).json == {"type": 6}
    send = await fake.wait_for_call(lambda c: c.method == "POST" and c.route == "/channels/{channel_id}/messages")
    reply = fake.messages[int(send.response["id"])]
    assert reply["type"] == 19
    assert reply["message_reference"]["message_id"] == followup_message["id"]
    assert reply["content"] == f"<@{fake.admin_id}> again"
    assert [u["id"] for u in reply["mentions"]] == [str(fake.admin_id)]
    assert fake.attachment_bytes(reply["attachments"][0]) == PNG
    # Every message the bot created recorded its allowed_mentions; nothing parses mentions freely.
    bot_messages = [m for m in fake.messages.values() if m["author"]["id"] == str(fake.bot_user_id)]
    assert len(bot_messages) == 3
    assert all(m["allowed_mentions"] is not None and m["allowed_mentions"]["parse"] == [] for m in bot_messages)
    assert reply["allowed_mentions"]["users"] == [fake.admin_id]


async def test_followup_right_after_defer_edits_the_loading_message(fake: FakeDiscord, bot: EchoBot) -> None:
    interaction = await fake.slash("quick")
    await fake.wait_for_ack(interaction)
    followup = await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")
    original = fake.original_message(interaction)
    assert original is not None
    # Discord's compatibility rule: the first follow-up after a defer replaces the loading message.
    assert followup.response["id"] == original["id"]
    assert original["content"] == "quick result"
    assert not original["flags"] & 128  # no longer "thinking"
    assert not original["flags"] & 64  # the follow-up's ephemeral flag is ignored
    assert [int(a["size"]) for a in original["attachments"]] == [len(PNG)]
    assert sum(m["author"]["id"] == str(fake.bot_user_id) for m in fake.messages.values()) == 1


async def test_autocomplete(fake: FakeDiscord, bot: EchoBot) -> None:
    interaction = await fake.autocomplete("echo", {"text": "ca"}, focused="text")
    await fake.wait_for_ack(interaction)
    response = fake.interaction_response(interaction)
    assert response is not None
    assert response["type"] == 8
    assert [c["value"] for c in response["data"]["choices"]] == ["ca-0", "ca-1", "ca-2"]


async def test_modal_submit(fake: FakeDiscord, bot: EchoBot) -> None:
    opened = await fake.slash("feedback")
    await fake.wait_for_ack(opened)
    assert fake.interaction_response(opened)["type"] == 9  # type: ignore[index]
    with pytest.raises(LookupError):
        await fake.submit_modal("feedback", {"nope": "x"})
    submitted = await fake.submit_modal("feedback", {"feedback:text": "great bot"})
    ack = await fake.wait_for_ack(submitted)
    assert ack.json["type"] == 4
    assert ack.json["data"]["content"] == "thanks: great bot"
    assert ack.json["data"]["flags"] == 64


async def test_context_menu_resolves_the_target(fake: FakeDiscord, bot: EchoBot) -> None:
    target = await fake.user_message("a quiet message")
    interaction = await fake.context_menu("Describe", int(target["id"]))
    ack = await fake.wait_for_ack(interaction)
    # Without the message content intent the gateway copy was blank, but the resolved target is full.
    assert bot.seen[-1].content == ""
    assert ack.json["data"]["content"] == "target says 'a quiet message'"
    assert fake.messages[int(ack.response["resource"]["message"]["id"])]["type"] == 23

    greeting = await fake.user_context_menu("Greet", fake.admin_id)
    assert (await fake.wait_for_ack(greeting)).json["data"]["content"] == "hello admin, admin=True"


async def test_reply_with_mention_delivers_content_and_reference(fake: FakeDiscord, bot: EchoBot) -> None:
    interaction = await fake.slash("echo", {"text": "owl"})
    await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")
    original = fake.original_message(interaction)
    assert original is not None
    calls_before = len(fake.calls)
    message = await fake.user_message("make it blue", reply_to=int(original["id"]), mention_bot=True)
    send = await fake.wait_for_call(lambda c: c.route == "/channels/{channel_id}/messages", since=calls_before)
    assert send.json["content"] == "heard 'make it blue' after 'echo: owl'"
    assert send.json["message_reference"]["message_id"] == int(message["id"])
    assert send.json["allowed_mentions"] == {"parse": [], "replied_user": True}
    reply = fake.messages[int(send.response["id"])]
    assert [u["id"] for u in reply["mentions"]] == [str(fake.user_id)]
    assert message["type"] == 19
    assert bot.seen[-1].reference is not None


async def test_429_with_via_is_retried_transparently(fake: FakeDiscord, bot: EchoBot) -> None:
    fake.fail_next("PATCH", "/messages/@original", 429, retry_after=0.05)
    interaction = await fake.slash("echo", {"text": "rl"})
    await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")
    edits = fake.calls_to("PATCH", "/messages/@original")
    assert [c.status for c in edits] == [429, 200]
    assert edits[0].response["retry_after"] == 0.05
    assert edits[0].response["global"] is False
    assert fake.original_message(interaction)["content"] == "echo: rl"  # type: ignore[index]


async def test_expired_token_raises_401_50027(fake: FakeDiscord, bot: EchoBot) -> None:
    interaction = await fake.slash("wait")
    await fake.wait_for_ack(interaction)
    fake.expire_interaction_tokens()
    bot.gate.set()
    call = await fake.wait_for_call(lambda c: c.method == "PATCH")
    assert (call.status, call.code) == (401, 50027)
    await _until(lambda: bot.outcomes)
    [error] = bot.outcomes
    assert isinstance(error, discord.HTTPException)
    assert (error.status, error.code) == (401, 50027)


async def test_ack_after_deadline_and_double_ack(fake: FakeDiscord, bot: EchoBot) -> None:
    fake.ack_deadline, bot.slow_delay = 0.05, 0.1
    late = await fake.slash("slow")
    call = await fake.wait_for_call(_is_callback(late.id))
    assert (call.status, call.code) == (404, 10062)
    await _until(lambda: bot.outcomes)
    assert isinstance(bot.outcomes[0], discord.NotFound)
    assert bot.outcomes[0].code == 10062

    fake.ack_deadline, bot.slow_delay = 3.0, 0.0
    ok = await fake.slash("slow")
    await fake.wait_for_ack(ok)
    url = f"{fake.api_base}/interactions/{ok.id}/{ok.token}/callback"
    async with aiohttp.ClientSession() as session, session.post(url, json={"type": 5}) as response:
        assert response.status == 400
        assert (await response.json())["code"] == 40060


async def test_default_member_permissions(fake: FakeDiscord, bot: EchoBot) -> None:
    with pytest.raises(PermissionError):
        await fake.slash("secret")
    interaction = await fake.slash("secret", user_id=fake.admin_id)
    assert (await fake.wait_for_ack(interaction)).json["data"]["content"] == "admin ok"
    with pytest.raises(LookupError):
        await fake.slash("nope")
    with pytest.raises(ValueError, match="length"):
        await fake.slash("echo", {"text": "x" * 101})


async def test_gateway_resume_replays_missed_events(fake: FakeDiscord, bot: EchoBot) -> None:
    await fake.disconnect_gateway(resume=True, wait=False)
    fake.add_channel(1_300_000_000_000_000_099, "while-away")  # dispatched while the bot is away
    await fake.wait_for_gateway()
    assert (fake.identify_count, fake.resume_count) == (1, 1)
    await fake.settle()
    assert bot.get_channel(1_300_000_000_000_000_099) is not None
    await fake.slash("echo", {"text": "back"})
    await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")


class QuickReidentifyBot(EchoBot):
    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        """discord.py sleeps 5 s before every re-IDENTIFY; tests skip that."""


async def test_gateway_heartbeats_invalid_session_and_close_codes() -> None:
    async with FakeDiscord(heartbeat_interval_ms=20) as fake, run_bot(QuickReidentifyBot(fake.guild_id), fake) as bot:
        await _until(lambda: fake.gateway.heartbeat_count >= 3)  # periodic heartbeats are ACKed
        await fake.disconnect_gateway(resume=False)  # op 9 INVALID_SESSION: a fresh IDENTIFY
        assert (fake.identify_count, fake.resume_count) == (2, 0)
        await fake.disconnect_gateway(close_code=4000)  # an abrupt, resumable close
        assert (fake.identify_count, fake.resume_count) == (2, 1)
        assert bot.is_ready()
        interaction = await fake.slash("echo", {"text": "still here"})
        await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")
        assert fake.original_message(interaction)["content"] == "echo: still here"  # type: ignore[index]
    assert fake.spec_errors == []


async def test_members_intent_chunks_the_guild(fake: FakeDiscord) -> None:
    intents = discord.Intents.default()
    intents.members = True
    async with run_bot(EchoBot(fake.guild_id, intents=intents), fake) as bot:
        guild = bot.get_guild(fake.guild_id)
        assert guild is not None
        assert guild.chunked
        admin = guild.get_member(fake.admin_id)
        assert admin is not None
        assert admin.guild_permissions.administrator
        # op 8 REQUEST_GUILD_MEMBERS is answered with GUILD_MEMBERS_CHUNK (echoing the nonce).
        assert {m.id for m in await guild.chunk()} >= {fake.user_id, fake.admin_id, fake.bot_user_id}
        [found] = await guild.query_members(user_ids=[fake.owner_id])
        assert found.name == "owner"
    assert sum(frame["op"] == 8 for frame in fake.gateway.received) == 2


async def test_attachment_option_is_resolved_and_downloadable(fake: FakeDiscord, bot: EchoBot) -> None:
    image = fake.host_file("cat.png", _png(8, 5))
    interaction = await fake.slash("inspect", attachments={"image": image})
    assert interaction.data["resolved"]["attachments"][image["id"]] == image
    await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")
    original = fake.original_message(interaction)
    assert original is not None
    assert original["content"] == f"cat.png image/png 8x5 {len(_png(8, 5))}"
    assert original["flags"] & 64  # the defer was ephemeral
    assert fake.calls_to("GET", "/attachments/")[0].status == 200


async def test_channel_failures_map_to_discord_errors(fake: FakeDiscord, bot: EchoBot) -> None:
    channel = bot.get_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake.set_channel_permissions(fake.channel_id, attach_files=False)
    await fake.settle()
    assert not channel.permissions_for(channel.guild.me).attach_files  # CHANNEL_UPDATE reached the bot
    with pytest.raises(discord.Forbidden) as denied:
        await channel.send(file=discord.File(io.BytesIO(PNG), filename="a.png"))
    assert denied.value.code == 50013
    fake.set_channel_permissions(fake.channel_id)

    fake.attachment_size_limit = 10
    with pytest.raises(discord.HTTPException) as too_big:
        await channel.send(file=discord.File(io.BytesIO(PNG), filename="a.png"))
    assert (too_big.value.status, too_big.value.code) == (413, 40005)

    first = await channel.send("once", nonce="job-1")
    second = await channel.send("once", nonce="job-1")  # Discord deduplicates enforced nonces
    assert first.id == second.id
    assert sum(m["content"] == "once" for m in fake.messages.values()) == 1
    with pytest.raises(discord.HTTPException) as long_nonce:
        await channel.send("x", nonce="r" * 26)
    assert long_nonce.value.code == 50035
    if fake.spec is not None:  # the spec flags the same request; expected here
        assert len(fake.spec_errors) == 1
        assert "nonce" in fake.spec_errors.pop()

    fake.fail_next("POST", f"/channels/{fake.channel_id}/messages", 403)
    with pytest.raises(discord.Forbidden):
        await channel.send("nope")
    fake.delete_channel(fake.channel_id)
    with pytest.raises(discord.NotFound) as gone:
        await bot.fetch_channel(fake.channel_id)
    assert gone.value.code == 10003


async def test_dropped_connections_fail_the_request_without_handling_it(fake: FakeDiscord, bot: EchoBot) -> None:
    channel = await bot.fetch_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    path = f"/channels/{fake.channel_id}/messages"
    fake.drop_next("POST", path)
    with pytest.raises(aiohttp.ServerDisconnectedError):  # a ClientError, not an OSError
        await channel.send("lost")
    fake.drop_next("POST", path, reset=True)
    with pytest.raises(aiohttp.ClientOSError) as reset:  # an OSError too; discord.py retries only errno 54/10054
        await channel.send("reset")
    assert isinstance(reset.value, OSError)
    sent = await channel.send("through")
    assert [c.status for c in fake.calls_to("POST", path)] == [DROPPED, DROPPED, 200]
    assert [m["content"] for m in fake.messages.values() if m["channel_id"] == str(fake.channel_id)] == ["through"]
    assert sent.content == "through"


async def test_stalled_requests_are_answered_late_or_dropped_at_stop(fake: FakeDiscord, bot: EchoBot) -> None:
    channel = await bot.fetch_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    fake.stall_next("POST", "/messages", 0.2, when=lambda c: (c.json or {}).get("content") == "late")
    started = asyncio.get_running_loop().time()
    await channel.send("late")
    assert asyncio.get_running_loop().time() - started >= 0.2
    fake.stall_next("POST", "/messages", 60.0)
    with pytest.raises(TimeoutError):  # the client gives up; the fake still holds the request
        async with asyncio.timeout(0.1):
            await channel.send("never")
    assert [m["content"] for m in fake.messages.values() if m["channel_id"] == str(fake.channel_id)] == ["late"]


async def test_rest_surface_is_spec_valid(fake: FakeDiscord, bot: EchoBot) -> None:
    """Routes a bot commonly calls beyond the interaction flow; the fixture checks every body against the spec."""
    guild = await bot.fetch_guild(fake.guild_id)
    assert guild.owner_id == fake.admin_id
    member = await guild.fetch_member(fake.user_id)
    assert member.name == "alice"
    assert (await bot.fetch_user(fake.owner_id)).name == "owner"
    assert (await bot.application_info()).owner.id == fake.owner_id
    assert {c.name for c in await guild.fetch_channels()} == {"general"}
    channel = await bot.fetch_channel(fake.channel_id)
    assert isinstance(channel, discord.TextChannel)
    async with channel.typing():
        sent = await channel.send(
            "hello", embed=discord.Embed(title="t", description="d").add_field(name="a", value="b")
        )
    await sent.add_reaction("👍")
    await sent.remove_reaction("👍", bot.user)  # type: ignore[arg-type]
    edited = await sent.edit(content="hello again")
    assert edited.edited_at is not None
    assert [m.id async for m in channel.history(limit=5)] == [sent.id]
    assert (await channel.fetch_message(sent.id)).content == "hello again"
    await sent.delete()
    assert fake.deleted_message_ids == [sent.id]
    synced = await bot.tree.fetch_commands(guild=discord.Object(fake.guild_id))
    assert "echo" in {c.name for c in synced}

    dm = await (await bot.fetch_user(fake.user_id)).create_dm()
    await dm.send("psst")
    seen = len(bot.seen)
    await fake.user_message("a secret in a DM", dm=True)  # DMs keep their content without the intent
    await _until(lambda: len(bot.seen) > seen)
    assert bot.seen[-1].content == "a secret in a DM"
    assert isinstance(bot.seen[-1].channel, discord.DMChannel)

    interaction = await fake.slash("echo", {"text": "bye"})
    followup = await fake.wait_for_call(lambda c: c.route.startswith("/webhooks/") and c.method == "POST")
    webhook = discord.Webhook.partial(fake.application_id, interaction.token, client=bot)
    message = await webhook.fetch_message(int(followup.response["id"]))
    await message.edit(content="changed")
    await message.delete()
    original = await webhook.fetch_message(fake.original_message(interaction)["id"])  # type: ignore[index]
    assert original.content == "echo: bye"
    await original.delete()
    assert fake.original_message(interaction) is None
    assert len(fake.unexpected) == 0


async def test_auto_sharded_client_gets_its_shard(fake: FakeDiscord) -> None:
    client = discord.AutoShardedClient(intents=discord.Intents.default(), guild_ready_timeout=0.05)
    async with run_bot(client, fake):
        assert client.shard_count == 1
        assert client.get_guild(fake.guild_id) is not None
    assert fake.gateway.shard == [0, 1]
    assert fake.calls_to("GET", "/gateway/bot")


async def test_spec_is_loaded_when_present(fake: FakeDiscord) -> None:
    if load_spec() is None:
        pytest.skip("../shared/discord-openapi.json is not available")
    assert fake.spec is not None
    errors = fake.spec.check_request("POST", "/channels/1/messages", {"content": "x", "tts": "no"})
    assert errors
    assert "tts" in errors[0]


async def _until(predicate: Any) -> None:
    async with asyncio.timeout(5):
        while not predicate():
            await asyncio.sleep(0.005)
