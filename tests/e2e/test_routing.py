"""Language-aware routing and unavailable modes, end to end: the real bot against the fake Discord and the
simulator (issue 19 items 2 and 3)."""

from __future__ import annotations

import logging

import pytest

from bot.generation.families import mode_name
from bot.liblib import endpoints as ep
from bot.models import JobState
from tests.e2e.conftest import Env
from tests.e2e.helpers import embed_fields, job_for_token
from tests.e2e.test_imagine import is_original_edit, wait_embed_title, wait_result
from tests.e2e.test_quotas import admin, private_reply, queued_or_refused
from tests.fake_discord import FakeDiscord
from tests.fake_discord.records import Interaction

STAR3_ROUTES = (ep.STAR3_TEXT2IMG, ep.STAR3_IMG2IMG)


async def queued_message(fake: FakeDiscord, inter: Interaction) -> str:
    call = await fake.wait_for_call(
        lambda c: is_original_edit(c, inter.token) and "Queued" in ((c.json or {}).get("content") or "")
    )
    return str(call.json["content"])


async def test_a_chinese_prompt_without_a_mode_goes_to_a_mode_that_takes_chinese(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "一只猫在月光下"})
    queued = await queued_message(env.fake, inter)
    result = await wait_result(env.fake, inter.token)
    job = await job_for_token(env.runtime.store, inter.token)
    routed_to = mode_name(job.request)
    info = env.runtime.services.builder.mode_info(routed_to)
    assert not info.english_only and routed_to != "star3"
    assert (job.request.routed_from, job.request.routed_language) == ("star3", "zh")
    assert f"Chinese prompt → {routed_to}" in queued
    assert f"Chinese prompt → {routed_to}" in embed_fields(result)["Mode"]
    [task] = env.sim.tasks()
    assert task.path not in STAR3_ROUTES and env.sim.counters.submits == 1


async def test_the_note_is_in_the_member_s_language(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "画一只猫"}, locale="zh-CN")
    result = await wait_result(env.fake, inter.token)
    job = await job_for_token(env.runtime.store, inter.token)
    assert f"中文提示词 → {mode_name(job.request)}" in embed_fields(result)["模式"]


async def test_an_explicit_english_only_mode_keeps_its_refusal(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "一只猫在月光下", "mode": "star3"})
    assert "English prompts only" in await private_reply(env.fake, inter)
    flagged = await env.fake.slash("imagine", {"prompt": "一只猫在月光下 --mode star3"})
    assert "English prompts only" in await private_reply(env.fake, flagged)
    await env.fake.handled()
    assert await env.runtime.store.list_jobs(list(JobState)) == []
    assert env.sim.counters.submit_requests == 0


@pytest.mark.parametrize("options", [{}, {"mode": "star3"}], ids=["default", "explicit"])
async def test_english_with_a_cjk_name_is_not_routed(env: Env, options: dict[str, str]) -> None:
    prompt = "a portrait of 李白 in the style of ukiyo-e 🌸"
    inter = await env.fake.slash("imagine", {"prompt": prompt, **options})
    queued = await queued_message(env.fake, inter)
    result = await wait_result(env.fake, inter.token)
    job = await job_for_token(env.runtime.store, inter.token)
    assert (job.request.mode, job.request.routed_from) == ("star3", None)
    assert "→" not in queued and "→" not in embed_fields(result)["Mode"]
    assert [t.path for t in env.sim.tasks()] == [ep.STAR3_TEXT2IMG]


async def test_the_server_s_language_default_wins(env: Env) -> None:
    reply = await admin(env.fake, "settings", "models", {"non_english": "kontext-max"})
    assert "non_english_default=kontext-max" in reply
    inter = await env.fake.slash("imagine", {"prompt": "一只猫在月光下"})
    result = await wait_result(env.fake, inter.token)
    assert "Chinese prompt → kontext-max" in embed_fields(result)["Mode"]
    assert "auto" in await admin(env.fake, "settings", "models", {"non_english": "auto"})
    again = await env.fake.slash("imagine", {"prompt": "一只猫在月光下"})
    job = await job_for_token(env.runtime.store, again.token)
    assert mode_name(job.request) != "kontext-max"  # back to the cheapest


async def test_an_unserved_mode_fails_refunded_then_is_refused_and_the_default_falls_back(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env.sim.stop_serving(*STAR3_ROUTES)
    with caplog.at_level(logging.WARNING, logger="bot.liblib.availability"):
        first = await env.fake.slash("imagine", {"prompt": "a red fox in the snow", "mode": "star3"})
        failed = await wait_embed_title(env.fake, first.token, "Model not available")
    embed = failed.json["embeds"][0]
    assert "not available on this account" in embed["description"] and "refunded" in embed["footer"]["text"]
    job = await job_for_token(env.runtime.store, first.token, JobState.FAILED)
    assert job.refunded and job.points_cost is None
    assert env.sim.counters.submits == 0 and env.sim.balance() == env.sim.initial_balance
    markings = [r for r in caplog.records if r.name == "bot.liblib.availability"]
    assert len(markings) == 1 and markings[0].levelno == logging.WARNING and "star3" in markings[0].getMessage()
    assert 'liblib_bot_mode_unavailable{mode="star3"} 1.0' in env.runtime.metrics.render().decode()

    # The next star3 job is refused at admission: nothing is queued, nothing reaches LiblibAI.
    requests = env.sim.counters.submit_requests
    second = await env.fake.slash("imagine", {"prompt": "a red fox in the snow", "mode": "star3"})
    assert "not available on this account" in await queued_or_refused(env.fake, second)
    await env.fake.handled()
    assert env.sim.counters.submit_requests == requests
    assert [j.id for j in await env.runtime.store.list_jobs(list(JobState))] == [job.id]

    # A member without a mode of their own: the server's default (star3) falls back to the next allowed mode.
    third = await env.fake.slash("imagine", {"prompt": "a red fox in the snow"})
    queued = await queued_message(env.fake, third)
    result = await wait_result(env.fake, third.token)
    done = await job_for_token(env.runtime.store, third.token)
    routed_to = mode_name(done.request)
    assert routed_to != "star3" and (done.request.routed_from, done.request.routed_language) == ("star3", None)
    assert f"star3 is not available on this account → {routed_to}" in queued
    assert f"star3 is not available on this account → {routed_to}" in embed_fields(result)["Mode"]
    assert len([r for r in caplog.records if r.name == "bot.liblib.availability"]) == 1  # one per marking


async def test_a_bare_404_counts_as_not_served(env: Env) -> None:
    env.sim.stop_serving(*STAR3_ROUTES, http_404=True)
    inter = await env.fake.slash("imagine", {"prompt": "a red fox", "mode": "star3"})
    await wait_embed_title(env.fake, inter.token, "Model not available")
    job = await job_for_token(env.runtime.store, inter.token, JobState.FAILED)
    assert job.refunded


async def test_a_preferred_english_only_mode_is_a_default_and_is_routed(env: Env) -> None:
    """A /prefer mode is a default, not a choice for this request: a Chinese prompt leaves it for a mode that
    takes Chinese, and says so; the same mode named in the command keeps its refusal."""
    from tests.e2e.test_styles import prefer

    await prefer(env.fake, "set", {"mode": "dreamtech-xl"})  # a custom checkpoint: English prompts only
    inter = await env.fake.slash("imagine", {"prompt": "一只猫在月光下"})
    queued = await queued_message(env.fake, inter)
    await wait_result(env.fake, inter.token)
    job = await job_for_token(env.runtime.store, inter.token)
    assert job.request.routed_from == "dreamtech-xl" and job.request.routed_language == "zh"
    assert f"Chinese prompt → {mode_name(job.request)}" in queued
    explicit = await env.fake.slash("imagine", {"prompt": "一只猫在月光下", "mode": "dreamtech-xl"})
    assert "English prompts only" in await private_reply(env.fake, explicit)
