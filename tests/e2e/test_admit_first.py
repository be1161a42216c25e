"""Admission before expensive work (issue 17, item 5), end to end.

A member the admission refuses (a blocked role, blocked after banned words, a channel where generation is
off, a used-up quota, a running cooldown, too many jobs at once) gets the same friendly refusal as before,
but from a pre-check run before the image work: Discord's CDN (the fake's ``/attachments/``) or the source
host (the simulator's result images) serves nothing, and nothing is uploaded to LiblibAI. Every way in is
covered: /restyle, /imagine ``image:``, reply + mention, the "Restyle image" form, and Vary / Upscale.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import pytest

from bot.models import JobState
from bot.quotas.service import COOLDOWN
from tests.e2e.conftest import Env
from tests.e2e.helpers import job_for_token
from tests.e2e.test_actions import button
from tests.e2e.test_imagine import wait_result
from tests.e2e.test_quotas import admin, private_reply, queued_or_refused
from tests.e2e.test_restyle import png, wait_reply
from tests.fake_discord import FakeDiscord

MEMBER = 8_600_000_000_000_001
MUTED = 8_600_000_000_000_101


def downloads(fake: FakeDiscord) -> list[object]:
    """Every member image the bot fetched from the fake's CDN."""
    return fake.calls_to("GET", "/attachments/")


async def job_count(env: Env) -> int:
    return len(await env.runtime.store.list_jobs(list(JobState)))


async def imagine_once(env: Env, *, wait_for: JobState = JobState.SUCCEEDED) -> None:
    """A text-only job by MEMBER (no image: nothing downloaded), which uses quota and starts a cooldown."""
    inter = await env.fake.slash("imagine", {"prompt": "a lamp"}, user_id=MEMBER)
    await job_for_token(env.runtime.store, inter.token, wait_for)


# -- the refusals: each sets one up for MEMBER and returns the text the member reads -------------------


async def blocked_role(env: Env) -> str:
    env.fake.add_role(MUTED, "Muted")
    env.fake.add_member(MEMBER, name="member", roles=[MUTED])
    await admin(env.fake, "quota", "role", {"role": MUTED, "preset": "blocked"})
    return "do not allow"


async def blocked_after_banned_words(env: Env) -> str:
    env.fake.add_member(MEMBER, name="member")
    await admin(env.fake, "settings", "words", {"action": "add", "words": "gore"})
    await admin(env.fake, "settings", "strikes", {"limit": 1, "window_hours": 1, "block_hours": 2})
    strike = await env.fake.slash("imagine", {"prompt": "gore"}, user_id=MEMBER)
    assert "blocked from generating" in await private_reply(env.fake, strike)
    return "blocked from generating"


async def channel_off(env: Env) -> str:
    env.fake.add_member(MEMBER, name="member")
    await admin(env.fake, "settings", "channels", {"mode": "listed"})
    return "not enabled in this channel"


async def quota_used_up(env: Env) -> str:
    env.fake.add_member(MEMBER, name="member")
    await admin(env.fake, "quota", "set", {"images_per_day": 1})
    await imagine_once(env)
    return "daily image limit: 1/1"


async def cooling_down(env: Env) -> str:
    env.fake.add_member(MEMBER, name="member")
    await admin(env.fake, "quota", "set", {"cooldown_seconds": 600})
    await imagine_once(env)
    return "Slow down"


async def too_many_at_once(env: Env) -> str:
    env.fake.add_member(MEMBER, name="member")
    env.sim.set_durations(queued=0.02, running=30.0, auditing=0.02)  # the first job is still running
    await admin(env.fake, "quota", "set", {"max_active": 1})
    await imagine_once(env, wait_for=JobState.RUNNING)
    return "already have 1 job(s)"


Refusal = Callable[[Env], Awaitable[str]]
REFUSALS: dict[str, Refusal] = {
    "blocked-role": blocked_role,
    "blocked-after-banned-words": blocked_after_banned_words,
    "channel-off": channel_off,
    "quota-used-up": quota_used_up,
    "cooldown": cooling_down,
    "too-many-at-once": too_many_at_once,
}


@dataclass
class Before:
    jobs: int
    submits: int
    image_downloads: int


async def before(env: Env) -> Before:
    assert downloads(env.fake) == [] and env.sim.counters.uploads == 0
    counters = env.sim.counters
    return Before(await job_count(env), counters.submit_requests, counters.image_downloads)


async def assert_nothing_fetched_or_uploaded(env: Env, was: Before) -> None:
    assert downloads(env.fake) == []  # Discord's CDN served nothing
    assert env.sim.counters.image_downloads == was.image_downloads  # nor did LiblibAI's result host
    assert env.sim.counters.uploads == 0
    assert env.sim.counters.submit_requests == was.submits
    assert await job_count(env) == was.jobs


@pytest.mark.parametrize("refusal", REFUSALS.values(), ids=REFUSALS.keys())
async def test_a_refused_restyle_downloads_and_uploads_nothing(env: Env, refusal: Refusal) -> None:
    expected = await refusal(env)
    was = await before(env)
    image = env.fake.host_file("image.png", png(256, 256))
    inter = await env.fake.slash("restyle", {"prompt": "make it blue"}, user_id=MEMBER, attachments={"image": image})
    assert expected in await private_reply(env.fake, inter)
    await assert_nothing_fetched_or_uploaded(env, was)


async def test_a_refused_imagine_with_images_downloads_and_uploads_nothing(env: Env) -> None:
    expected = await channel_off(env)
    was = await before(env)
    files = {"image": env.fake.host_file("a.png", png()), "control_image": env.fake.host_file("b.png", png())}
    options = {"prompt": "paint it", "control_type": "depth"}
    inter = await env.fake.slash("imagine", options, user_id=MEMBER, attachments=files)
    assert expected in await private_reply(env.fake, inter)
    await assert_nothing_fetched_or_uploaded(env, was)


async def test_a_refused_reply_mention_downloads_and_uploads_nothing(env: Env) -> None:
    fake = env.fake
    expected = await cooling_down(env)
    was = await before(env)
    target = await fake.user_message("here", user_id=fake.bot_user_id, attachments=[fake.host_file("r.png", png())])
    ask = await fake.user_message(
        "make it snow",
        user_id=MEMBER,
        reply_to=int(target["id"]),
        attachments=[fake.host_file("s.png", png())],
        mention_bot=True,
    )
    refusal = await wait_reply(fake, int(ask["id"]))
    assert expected in refusal.json["content"]
    await assert_nothing_fetched_or_uploaded(env, was)


async def test_a_refused_restyle_form_downloads_and_uploads_nothing(env: Env) -> None:
    fake = env.fake
    expected = await blocked_role(env)
    was = await before(env)
    target = await fake.user_message("look", attachments=[fake.host_file("m.png", png())])
    inter = await fake.context_menu("Restyle image", int(target["id"]), user_id=MEMBER)
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    assert call.json["type"] == 9  # the form opens: it costs nothing
    submit = await fake.submit_modal(call.json["data"]["custom_id"], {"instruction": "watercolor", "mode": []})
    assert expected in await private_reply(fake, submit)
    await assert_nothing_fetched_or_uploaded(env, was)


async def test_refused_vary_and_upscale_fetch_no_result_image_and_upload_nothing(env: Env) -> None:
    """Vary and an image-to-image Upscale use a result as the source: refused, they fetch none of it."""
    fake, sim = env.fake, env.sim
    fake.add_member(MEMBER, name="member")
    await admin(fake, "quota", "set", {"images_per_day": 1})
    image = fake.host_file("image.png", png(256, 256))
    inter = await fake.slash(
        "restyle", {"prompt": "oil paint", "mode": "dreamtech-xl"}, user_id=MEMBER, attachments={"image": image}
    )
    await wait_result(fake, inter.token)  # the day's one image, an img2img result (so it offers Upscale)
    message = fake.original_message(inter)
    assert message is not None
    await job_for_token(env.runtime.store, inter.token)
    fetched, uploads, jobs = len(downloads(fake)), sim.counters.uploads, await job_count(env)
    result_downloads, submits = sim.counters.image_downloads, sim.counters.submit_requests
    for action in ("vary", "upscale"):
        click = await fake.click(int(message["id"]), button(message, action), user_id=MEMBER)
        assert "daily image limit: 1/1" in await private_reply(fake, click)
    assert sim.counters.image_downloads == result_downloads  # the result image was not fetched again
    assert sim.counters.uploads == uploads  # nor copied into LiblibAI's storage
    assert len(downloads(fake)) == fetched and sim.counters.submit_requests == submits
    assert await job_count(env) == jobs


async def test_an_admitted_restyle_claims_its_cooldown_once_and_the_next_is_refused_before_fetching(env: Env) -> None:
    """The pre-check claims nothing: the job that starts holds the one cooldown, claimed at enqueue, and the
    next attempt is refused before its image is fetched."""
    fake = env.fake
    fake.add_member(MEMBER, name="member")
    await admin(fake, "quota", "set", {"cooldown_seconds": 600})
    image = fake.host_file("image.png", png(256, 256))
    first = await fake.slash("restyle", {"prompt": "sketch"}, user_id=MEMBER, attachments={"image": image})
    assert await queued_or_refused(fake, first) == "queued"
    [job] = await env.runtime.store.list_jobs(list(JobState))  # stored before "Queued" is shown
    until = await env.runtime.store.get_timer(fake.guild_id, MEMBER, COOLDOWN)
    assert until is not None and abs((until - job.created_at).total_seconds() - 600) < 5
    assert len(downloads(fake)) == 1
    again = await fake.slash("restyle", {"prompt": "again"}, user_id=MEMBER, attachments={"image": image})
    assert "Slow down" in await private_reply(fake, again)
    assert len(downloads(fake)) == 1
    assert await env.runtime.store.get_timer(fake.guild_id, MEMBER, COOLDOWN) == until  # untouched
    assert [j.id for j in await env.runtime.store.list_jobs(list(JobState))] == [job.id]
