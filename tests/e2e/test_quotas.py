"""Quotas and server administration end to end: real bot, fake Discord, simulator, SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot.models import JobState
from bot.quotas import current_windows, get_zone
from bot.quotas.service import GUILD_SCOPE, member_usage_scope
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.test_imagine import wait_jobs, wait_result
from tests.fake_discord import FakeDiscord
from tests.fake_discord.records import Interaction

ALICE_ALT = 8_100_000_000_000_001


async def private_reply(fake: FakeDiscord, inter: Interaction, timeout: float = 10.0) -> str:
    """The ephemeral answer to ``inter``: a type-4 callback, or a follow-up after a defer."""

    def match(c) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        if "/callback" in c.path and str(inter.id) in c.path:
            return body.get("type") == 4 and bool(body["data"].get("flags", 0) & 64)
        return c.method == "POST" and inter.token in c.path and bool(body.get("flags", 0) & 64)

    call = await fake.wait_for_call(match, timeout=timeout)
    body = call.json
    return body["data"]["content"] if "/callback" in call.path else body["content"]


async def admin(fake: FakeDiscord, group: str, sub: str, options: dict[str, object] | None = None) -> str:
    inter = await fake.slash(group, options or {}, subcommand=sub, user_id=fake.admin_id)
    return await private_reply(fake, inter)


async def queued_or_refused(fake: FakeDiscord, inter: Interaction, timeout: float = 20.0) -> str:
    """How an /imagine ended: "queued" (the "Queued" edit of its response) or the private refusal's text."""

    def match(c) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        if inter.token not in c.path:
            return False
        queued = c.method == "PATCH" and "Queued" in (body.get("content") or "")
        return queued or (c.method == "POST" and bool(body.get("flags", 0) & 64))

    call = await fake.wait_for_call(match, timeout=timeout)
    return "queued" if call.method == "PATCH" else call.json["content"]


def today(tz: str = "UTC") -> str:
    from bot.models import utcnow

    return current_windows(utcnow(), get_zone(tz)).day


async def test_fifty_concurrent_imagines_with_a_limit_of_ten_accept_exactly_ten(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    sim.set_durations(queued=0.05, running=0.3, auditing=0.02)
    settings = make_settings(
        fake, sim, tmp_path / "bot.db", quotas={"images_per_day": 10}, queue={"max_active_per_user": 100}
    )
    async with running_bot(settings, fake) as runtime:
        inters = await asyncio.gather(*(fake.slash("imagine", {"prompt": f"fox {i}"}) for i in range(50)))
        jobs_created = 0
        refused = 0
        for inter in inters:
            outcome = await queued_or_refused(fake, inter)
            if outcome == "queued":
                jobs_created += 1
            else:
                refused += 1
                assert "daily image limit" in outcome and "10/10" in outcome
                assert "<t:" in outcome
        all_jobs = await runtime.store.list_jobs(list(JobState))
        assert jobs_created == 10 and refused == 40
        assert len(all_jobs) == 10
        usage = await runtime.store.get_usage(member_usage_scope(fake.guild_id), fake.user_id, today())
        assert usage[0] == 10
        await wait_jobs(runtime.store, JobState.SUCCEEDED, 10, timeout=30)
    assert sim.counters.submits == 10
    assert_no_pings(fake)


async def test_a_server_cap_on_jobs_at_once_below_the_bots_holds_under_a_burst(
    fake: FakeDiscord, sim, tmp_path: Path
) -> None:
    """/quota set max_active:2 with a bot-wide cap of 10: of 12 commands sent at once exactly 2 are queued
    (the store checks the lower cap atomically with the enqueue, not before it), and no quota is used by
    the refused ones."""
    sim.set_durations(queued=0.05, running=2.0, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db", queue={"max_active_per_user": 10})
    async with running_bot(settings, fake) as runtime:
        assert "Max jobs at once: 2" in await admin(fake, "quota", "set", {"max_active": 2})
        inters = await asyncio.gather(*(fake.slash("imagine", {"prompt": f"owl {i}"}) for i in range(12)))
        outcomes = [await queued_or_refused(fake, inter) for inter in inters]
        assert outcomes.count("queued") == 2, outcomes
        refusals = [o for o in outcomes if o != "queued"]
        assert all("already have 2 job(s)" in o for o in refusals), refusals
        assert len(await runtime.store.list_jobs(list(JobState))) == 2
        usage = await runtime.store.get_usage(member_usage_scope(fake.guild_id), fake.user_id, today())
        assert usage[0] == 2  # refused commands reserved nothing
    assert_no_pings(fake)


async def test_role_overrides_raise_and_block(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    patron, muted = 8_200_000_000_000_001, 8_200_000_000_000_002
    fake.add_role(patron, "Patron")
    fake.add_role(muted, "Muted")
    generous = 8_300_000_000_000_001
    silenced = 8_300_000_000_000_002
    both = 8_300_000_000_000_003
    fake.add_member(generous, name="patron", roles=[patron])
    fake.add_member(silenced, name="muted", roles=[muted])
    fake.add_member(both, name="both", roles=[patron, muted])
    settings = make_settings(
        fake, sim, tmp_path / "bot.db", quotas={"images_per_day": 1}, queue={"max_active_per_user": 10}
    )
    async with running_bot(settings, fake) as runtime:
        text = await admin(fake, "quota", "role", {"role": patron, "images_per_day": 3})
        assert "images_per_day=3" in text
        text = await admin(fake, "quota", "role", {"role": muted, "preset": "blocked"})
        assert "blocked=True" in text

        async def attempt(user: int) -> str:
            inter = await fake.slash("imagine", {"prompt": "a lamp"}, user_id=user)
            outcome = await queued_or_refused(fake, inter, timeout=10.0)
            return "ok" if outcome == "queued" else outcome

        assert [await attempt(generous) for _ in range(3)] == ["ok"] * 3  # the role raised 1 -> 3
        assert "3/3" in await attempt(generous)
        assert "do not allow" in await attempt(silenced)  # blocked role
        assert [await attempt(both) for _ in range(3)] == ["ok"] * 3  # the most generous role wins
        assert await attempt(fake.user_id) == "ok"  # no role: the server default (1)
        assert "1/1" in await attempt(fake.user_id)
        await wait_jobs(runtime.store, JobState.SUCCEEDED, 7, timeout=30)
    assert sim.counters.submits == 7


async def test_server_points_cap_stops_submits(env: Env) -> None:
    fake = env.fake
    text = await admin(fake, "quota", "set", {"server_points_per_day": 20})
    assert "20 points" in text
    tokens = []
    for user in (fake.user_id, fake.owner_id):  # two members share the server's budget
        inter = await fake.slash("imagine", {"prompt": "a boat"}, user_id=user)
        tokens.append(inter.token)
        await wait_result(fake, inter.token)
    third = await fake.slash("imagine", {"prompt": "one boat too many"})
    refusal = await private_reply(fake, third)
    assert "this server's daily points limit" in refusal and "/20 points" in refusal
    assert env.sim.counters.submits == 2
    images, points = await env.runtime.store.get_usage(GUILD_SCOPE, fake.guild_id, today())
    assert images == 2 and 0 < points <= 20


async def test_failure_refunds_once_even_across_a_restart(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", quotas={"images_per_day": 3})
    scope, day = member_usage_scope(fake.guild_id), today()
    async with running_bot(settings, fake) as runtime:
        first = await fake.slash("imagine", {"prompt": "kept"})
        await wait_result(fake, first.token)
        await wait_jobs(runtime.store, JobState.SUCCEEDED, 1)
        kept_images, kept_points = await runtime.store.get_usage(scope, fake.user_id, day)
        assert kept_images == 1
        sim.set_durations(queued=0.05, running=1.0, auditing=0.02)
        sim.fail_next_tasks("failed")
        await fake.slash("imagine", {"prompt": "doomed"})
        for _ in range(200):
            if await runtime.store.list_jobs([JobState.RUNNING]):
                break
            await asyncio.sleep(0.02)
        [running] = await runtime.store.list_jobs([JobState.RUNNING])
        assert (await runtime.store.get_usage(scope, fake.user_id, day))[0] == 2  # reserved
    async with running_bot(settings, fake) as runtime:  # resumes polling; the task fails at LiblibAI
        [failed] = await wait_jobs(runtime.store, JobState.FAILED, 1, timeout=15)
        assert failed.id == running.id and failed.refunded
        # A second terminal move is refused, so nothing can refund it again.
        assert await runtime.store.transition(failed.id, JobState.RUNNING, JobState.EXPIRED) is None
    async with running_bot(settings, fake) as runtime:
        assert await runtime.store.get_usage(scope, fake.user_id, day) == (kept_images, kept_points)
    assert sim.counters.submits == 2


async def test_members_without_manage_server_change_nothing(env: Env) -> None:
    fake = env.fake
    with pytest.raises(PermissionError):  # hidden by default_member_permissions ...
        await fake.slash("quota", {"images_per_day": 999}, subcommand="set", user_id=fake.user_id)
    for command in fake.guild_commands[fake.guild_id]:
        # ... but a server owner can open a command to everyone (Server Settings > Integrations),
        # and then only the runtime check stands between a member and the settings.
        if command["name"] in {"quota", "settings"}:
            command["default_member_permissions"] = None
    attempts = [
        ("quota", "set", {"images_per_day": 999}),
        ("quota", "role", {"role": fake.admin_role_id, "preset": "unlimited"}),
        ("quota", "reset", {"member": fake.user_id}),
        ("settings", "words", {"action": "remove", "words": "x"}),
        ("settings", "timezone", {"name": "Asia/Shanghai"}),
        ("settings", "channels", {"mode": "listed"}),
        ("settings", "audit", {}),
        ("settings", "log", {}),
    ]
    for group, sub, options in attempts:
        inter = await fake.slash(group, options, subcommand=sub, user_id=fake.user_id)
        assert "Manage Server" in await private_reply(fake, inter), (group, sub)
    top = await fake.slash("usage", {}, subcommand="top", user_id=fake.user_id)
    assert "Manage Server" in await private_reply(fake, top)
    store = env.runtime.store
    assert await store.get_guild_config(fake.guild_id) == {}
    assert await store.list_audit(fake.guild_id) == []


async def test_admin_changes_are_recorded_and_shown_in_the_audit(env: Env) -> None:
    fake = env.fake
    await admin(fake, "quota", "set", {"images_per_day": 7, "images_per_month": -1})
    await admin(fake, "settings", "timezone", {"name": "Asia/Shanghai"})
    refused = await admin(fake, "settings", "timezone", {"name": "Mars/Olympus"})
    assert "refused" in refused and "time zone" in refused
    text = await admin(fake, "settings", "audit")
    assert text.count(f"<@{fake.admin_id}>") == 2
    assert "set server" in text and "images_per_day" in text and "Asia/Shanghai" in text
    shown = await admin(fake, "quota", "show")
    assert "7/day, unlimited/month" in shown and "Asia/Shanghai" in shown


async def test_banned_words_are_refused_before_any_api_call_and_strikes_block(env: Env) -> None:
    fake, sim = env.fake, env.sim
    await admin(fake, "settings", "words", {"action": "add", "words": "色情, gore"})
    await admin(fake, "settings", "strikes", {"limit": 2, "window_hours": 1, "block_hours": 2})
    bad = await fake.slash("imagine", {"prompt": "一张色情图片", "mode": "kontext-pro"})
    first = await private_reply(fake, bad)
    assert "does not allow" in first and "Strike 1 of 2" in first
    bad2 = await fake.slash("imagine", {"prompt": "extra GORE please"})
    assert "blocked from generating" in await private_reply(fake, bad2)
    clean = await fake.slash("imagine", {"prompt": "a calm lake"})
    assert "blocked" in await private_reply(fake, clean)
    assert sim.counters.submit_requests == 0  # nothing reached LiblibAI
    assert "unblocked" in await admin(fake, "settings", "unblock", {"member": fake.user_id})
    # A Chinese prompt without a banned word goes through, byte for byte.
    prompt = "画一只在雪地里的红狐狸，水彩风格"
    ok = await fake.slash("imagine", {"prompt": prompt, "mode": "kontext-pro"})
    await wait_result(fake, ok.token)
    [task] = sim.tasks()
    assert task.params["prompt"] == prompt
    # "gore" is a word, not a substring of "gorgeous".
    fine = await fake.slash("imagine", {"prompt": "a gorgeous sunset"})
    await wait_result(fake, fine.token)


@pytest.mark.parametrize(
    "prompt",
    ["a n.u.d.e girl", "nud\u0435s on a beach", "a nu\U000e0041\u034fde", "画一个 裸　体 女孩", "n u d e"],
)
async def test_disguised_banned_words_are_refused_before_any_api_call(env: Env, prompt: str) -> None:
    fake, sim = env.fake, env.sim
    await admin(fake, "settings", "words", {"action": "add", "words": "nude, 裸体"})
    refused = await fake.slash("imagine", {"prompt": prompt, "mode": "kontext-pro"})
    assert "does not allow" in await private_reply(fake, refused)
    assert sim.counters.submit_requests == 0


async def test_invisible_characters_never_reach_liblib(env: Env) -> None:
    fake, sim = env.fake, env.sim
    typed = "a c\u034fat\U000e0041 in \u3164the snow\ufe0f, 雪\u180e地里的猫"
    ok = await fake.slash("imagine", {"prompt": typed, "mode": "kontext-pro"})
    await wait_result(fake, ok.token)
    [task] = sim.tasks()
    assert task.params["prompt"] == "a cat in the snow, 雪地里的猫"


async def test_channel_restrictions_and_usage_and_prompt_log(env: Env) -> None:
    fake = env.fake
    art = 8_400_000_000_000_001
    fake.add_channel(art, "art")
    await admin(fake, "settings", "channels", {"mode": "listed"})
    await admin(fake, "settings", "channel", {"channel": art, "access": "allow"})
    here = await fake.slash("imagine", {"prompt": "a tree"})
    refusal = await private_reply(fake, here)
    assert "not enabled in this channel" in refusal and f"<#{art}>" in refusal
    there = await fake.slash("imagine", {"prompt": "a tree", "count": 2}, channel_id=art)
    await wait_result(fake, there.token)
    await wait_jobs(env.runtime.store, JobState.SUCCEEDED, 1)
    mine = await private_reply(fake, await fake.slash("usage", {}, subcommand="mine"))
    assert "Today: 2 image(s)" in mine and "remaining 48" in mine and "<t:" in mine
    top = await private_reply(fake, await fake.slash("usage", {}, subcommand="top", user_id=fake.admin_id))
    assert f"1. <@{fake.user_id}>: 2 image(s)" in top
    log = await admin(fake, "settings", "log")
    [job] = await env.runtime.store.list_jobs([JobState.SUCCEEDED])
    assert f"`{job.id}`" in log and "a tree" in log and f"<#{art}>" in log and "pts" in log
    assert_no_pings(fake)


async def test_quota_exceeded_outcome_is_reported_by_the_store(env: Env) -> None:
    """The refusal comes from the store's atomic reservation (not a read-then-check in the cog)."""
    fake = env.fake
    await admin(fake, "quota", "set", {"images_per_day": 1})
    inter = await fake.slash("imagine", {"prompt": "one", "count": 2})
    text = await private_reply(fake, inter)
    assert "0/1 images used" in text and "This request needs 2" in text
    assert await env.runtime.store.list_jobs(list(JobState)) == []  # all or nothing: no job, no debit
    assert await env.runtime.store.get_usage(GUILD_SCOPE, fake.guild_id, today()) == (0, 0)


async def test_the_servers_default_model_applies_when_the_member_names_none(env: Env) -> None:
    from tests.e2e.test_imagine import wait_result

    await admin(env.fake, "settings", "models", {"default": "dreamtech-xl"})
    inter = await env.fake.slash("imagine", {"prompt": "a lighthouse"})
    await wait_result(env.fake, inter.token)
    assert env.sim.tasks()[-1].path == "/api/generate/webui/text2img"  # the custom checkpoint
    inter = await env.fake.slash("imagine", {"prompt": "a lighthouse", "mode": "star3"})
    await wait_result(env.fake, inter.token)
    assert env.sim.tasks()[-1].path.endswith("/ultra")  # an explicit mode (Star-3) still wins


async def test_audit_display_and_flagged_results_follow_the_servers_moderation_settings(env: Env) -> None:
    from tests.e2e.test_imagine import wait_result

    fake, sim = env.fake, env.sim
    nsfw = fake.add_channel(1_300_000_000_000_000_777, "after-dark", nsfw=True)
    await admin(fake, "settings", "moderation", {"flagged_only_nsfw": True})
    sim.fail_next_tasks("partial_audit")
    inter = await fake.slash("imagine", {"prompt": "two foxes", "count": 2})
    withheld = await fake.wait_for_call(
        lambda c: str(inter.token) in c.path and c.method == "PATCH" and "age-restricted" in str(c.json), timeout=10
    )
    assert not withheld.files
    assert "filtered" in str(withheld.json["embeds"])
    sim.fail_next_tasks("partial_audit")
    inter = await fake.slash("imagine", {"prompt": "two foxes", "count": 2}, channel_id=int(nsfw["id"]))
    shown = await wait_result(fake, inter.token)
    assert len(shown.files) == 1 and "filtered by the content audit" in str(shown.json["embeds"])
    await admin(fake, "settings", "moderation", {"audit_display": "silent"})
    sim.fail_next_tasks("partial_audit")
    inter = await fake.slash("imagine", {"prompt": "two foxes", "count": 2}, channel_id=int(nsfw["id"]))
    silent = await wait_result(fake, inter.token)
    assert len(silent.files) == 1 and "content audit" not in str(silent.json["embeds"])
