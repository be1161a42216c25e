"""Who sees which jobs (issue 17, item 4): a job is its requester's, and its server's members'; a direct-message
job is its requester's alone. Direct messages have no server (both guild ids are None), which must never make
two members' DM jobs look like one server's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import discord
import pytest

from bot.discord_app.ui.views import result_view
from bot.models import JobState
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import job_for_token
from tests.e2e.test_imagine import is_original_edit, wait_result
from tests.fake_discord import FakeDiscord
from tests.fake_discord.records import Interaction

STRANGER = 7_300_000_000_000_000_001
SEEDED = {"prompt": "alice's private lighthouse", "mode": "dreamtech-xl", "seed": 42}


@pytest.fixture
async def dm_env(fake: FakeDiscord, sim, tmp_path: Path) -> AsyncIterator[Env]:
    """The bot with its commands synced globally, so members can use them in direct messages too."""
    fake.add_member(STRANGER, name="stranger")
    settings = make_settings(fake, sim, tmp_path / "bot.db", discord={"dev_guild_id": None})
    async with running_bot(settings, fake) as runtime:
        yield Env(fake, sim, runtime, settings, tmp_path / "bot.db")
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def answer(fake: FakeDiscord, inter: Interaction, timeout: float = 10.0) -> tuple[str, Any]:
    """How the bot answered ``inter``: ("private", text), ("modal", title) or ("posted", call) for a public
    message with an embed (a result, a re-post)."""

    def match(c) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        if "/callback" in c.path and str(inter.id) in c.path:
            return body.get("type") == 9 or (body.get("type") == 4 and bool(body["data"].get("flags", 0) & 64))
        if inter.token not in c.path:
            return False
        if c.method == "POST" and bool(body.get("flags", 0) & 64):
            return True
        return is_original_edit(c, inter.token) and bool(body.get("embeds"))

    call = await fake.wait_for_call(match, timeout=timeout)
    if "/callback" in call.path:
        data = call.json["data"]
        return ("modal", data["title"]) if call.json["type"] == 9 else ("private", data["content"])
    if call.method == "POST":
        return "private", call.json["content"]
    return "posted", call


async def followup_text(fake: FakeDiscord, inter: Interaction) -> str:
    call = await fake.wait_for_call(lambda c: c.method == "POST" and inter.token in c.path and "/webhooks/" in c.path)
    return str(call.json)


async def test_in_direct_messages_show_and_queue_reveal_only_the_members_own_jobs(dm_env: Env) -> None:
    fake, sim, store = dm_env.fake, dm_env.sim, dm_env.runtime.store
    inter = await fake.slash("imagine", SEEDED, guild=False)
    await wait_result(fake, inter.token)
    done = await job_for_token(store, inter.token)
    assert done.guild_id is None

    # Another member's /show of it, in their own DMs or in the server: as if it did not exist.
    for in_guild in (False, True):
        show = await fake.slash("show", {"job": done.id}, user_id=STRANGER, guild=in_guild)
        kind, text = await answer(fake, show)
        assert kind == "private" and f"No job `{done.id}`" in text, (in_guild, kind)
    # Its owner may show it anywhere.
    mine = await fake.slash("show", {"job": done.id}, guild=False)
    assert (await answer(fake, mine))[0] == "posted"

    # The same seeded request in the stranger's DMs renders anew: DM re-posts are per member.
    again = await fake.slash("imagine", SEEDED, user_id=STRANGER, guild=False)
    await wait_result(fake, again.token)
    assert sim.counters.submit_requests == 2

    # /queue in DMs: the member's own DM jobs only.
    sim.set_durations(queued=0.02, running=30.0, auditing=0.02)
    working = await fake.slash("imagine", {"prompt": "alice's secret plan"}, guild=False)
    running = await job_for_token(store, working.token, JobState.RUNNING)
    theirs = await followup_text(fake, await fake.slash("queue", user_id=STRANGER, guild=False))
    assert running.id not in theirs and "secret plan" not in theirs
    assert "**1** in progress across the bot" in theirs  # the bot-wide count, without details
    own = await followup_text(fake, await fake.slash("queue", guild=False))
    assert running.id in own and "secret plan" in own
    in_guild = await followup_text(fake, await fake.slash("queue", user_id=STRANGER))
    assert running.id not in in_guild  # a DM job is no server's either

    # /usage in DMs counts the member's own DM images only.
    usage = await answer(fake, await fake.slash("usage", {}, subcommand="mine", user_id=STRANGER, guild=False))
    assert usage[0] == "private" and "Today: 1 image(s)" in usage[1]


async def test_buttons_on_a_direct_message_act_only_on_the_members_own_jobs(dm_env: Env) -> None:
    """A DM message whose buttons carry another member's DM job (as /show posted before this fix) gives the
    clicker nothing: no modal with that job's prompt, no job from it, no charge."""
    fake, sim, store = dm_env.fake, dm_env.sim, dm_env.runtime.store
    inter = await fake.slash("imagine", {"prompt": "alice's private garden"}, guild=False)
    await wait_result(fake, inter.token)
    alices = await job_for_token(store, inter.token)
    bot = dm_env.runtime.bot
    dm = await (await bot.fetch_user(STRANGER)).create_dm()
    planted = await dm.send(
        embed=discord.Embed(title="an old re-post"),
        view=result_view(alices, owner_id=STRANGER, locale="en-US"),
        allowed_mentions=discord.AllowedMentions.none(),
    )

    for action in ("remix", "reroll", "vary", "upscale"):
        click = await fake.click(planted.id, f"lb:{action}:{alices.id}:0:{STRANGER}", user_id=STRANGER)
        kind, text = await answer(fake, click)
        assert kind == "private" and f"No job `{alices.id}`" in text, (action, kind, text)
    assert not fake.modals
    assert sim.counters.submit_requests == 1
    assert [j.id for j in await store.list_jobs(list(JobState))] == [alices.id]
