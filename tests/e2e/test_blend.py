"""/blend end to end (issue 20 item 4): 2–5 images into one through a mode that takes that many references (the
member's, else the cheapest the server allows), every image fetched by LiblibAI, with the admission's pre-check
before any is downloaded and the same queue, quota and cost rules as /imagine."""

from __future__ import annotations

from typing import Any

from bot.generation.blending import DEFAULT_PROMPT
from bot.liblib import endpoints as ep
from bot.models import JobKind, JobState
from tests.e2e.conftest import Env
from tests.e2e.helpers import job_for_token, result_of
from tests.e2e.test_admit_first import downloads
from tests.e2e.test_quotas import admin, private_reply
from tests.e2e.test_quotes import choice, question, spending
from tests.e2e.test_restyle import png, sha
from tests.fake_discord import FakeDiscord

MEMBER = 8_900_000_000_000_001
COLORS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (200, 200, 30), (30, 200, 200)]


def images(fake: FakeDiscord, count: int) -> tuple[dict[str, dict[str, Any]], list[bytes]]:
    data = [png(256 + 16 * n, 256, COLORS[n]) for n in range(count)]
    files = {f"image{n + 1}": fake.host_file(f"image{n + 1}.png", d, "image/png") for n, d in enumerate(data)}
    return files, data


async def test_blend_sends_every_image_to_the_cheapest_mode_that_takes_them(env: Env) -> None:
    files, data = images(env.fake, 3)
    inter = await env.fake.slash("blend", {"prompt": "a fox made of these colours"}, attachments=files)
    result = await result_of(env.fake, inter)
    [task] = env.sim.tasks()
    # Seedream 4.0 (20 points) is the cheapest that takes 3 references: Seedream 4.5 25, IMG1 30, Kontext max 58.
    assert task.path == ep.SEEDREAM and task.params["model"] == ep.SEEDREAM_40_MODEL
    assert len(task.params["referenceImages"]) == 3
    assert sorted(env.sim.counters.source_digests) == sorted(sha(d) for d in data)  # LiblibAI fetched every image
    assert task.params["prompt"] == "a fox made of these colours"
    job = await job_for_token(env.runtime.store, inter.token)
    assert job.kind is JobKind.BLEND and job.request.source_images == tuple(task.params["referenceImages"])
    assert (job.points_reserved, job.points_cost) == (20, 20)
    assert result.files and "a fox made of these colours" in result.json["embeds"][0]["description"]


async def test_blend_without_a_prompt_says_what_it_asked_for(env: Env) -> None:
    files, _ = images(env.fake, 2)
    inter = await env.fake.slash("blend", {"mode": "kontext-max", "aspect": "16:9"}, attachments=files)
    await result_of(env.fake, inter)
    [task] = env.sim.tasks()
    assert task.path == ep.KONTEXT_IMG2IMG and task.params["model"] == "max" and len(task.params["image_list"]) == 2
    assert task.params["prompt"] == DEFAULT_PROMPT and task.params["aspectRatio"] == "16:9"


async def test_the_cheapest_mode_is_the_cheapest_the_server_allows(env: Env) -> None:
    await admin(env.fake, "settings", "models", {"allowed": "star3, img1, kontext-max"})
    files, data = images(env.fake, 5)
    inter = await env.fake.slash("blend", {}, attachments=files)
    await result_of(env.fake, inter)
    [task] = env.sim.tasks()
    assert task.path == ep.IMG1_GENERATE and len(task.params["image_list"]) == 5  # Kontext max takes 4 at most
    assert sorted(env.sim.counters.source_digests) == sorted(sha(d) for d in data)


async def test_a_mode_that_cannot_take_them_all_is_refused_before_anything_is_fetched(env: Env) -> None:
    files, _ = images(env.fake, 5)
    inter = await env.fake.slash("blend", {"mode": "kontext-max"}, attachments=files)
    assert "at most 4 reference image" in await private_reply(env.fake, inter)
    assert not downloads(env.fake) and env.sim.counters.submit_requests == 0


async def test_a_refused_member_costs_no_download(env: Env) -> None:
    fake = env.fake
    fake.add_member(MEMBER, name="member")
    await admin(fake, "quota", "set", {"images_per_day": 0})
    files, _ = images(fake, 2)
    inter = await fake.slash("blend", {}, attachments=files, user_id=MEMBER)
    assert "do not allow generating" in await private_reply(fake, inter)  # 0: none at all
    assert not downloads(fake) and env.sim.counters.uploads == 0 and env.sim.counters.submit_requests == 0


async def test_a_blend_above_the_threshold_is_confirmed_before_its_images_are_fetched(env: Env) -> None:
    fake = env.fake
    await spending(fake, 10)
    files, data = images(fake, 2)
    inter = await fake.slash("blend", {"mode": "seedream-4.5"}, attachments=files)
    asked = await question(fake, inter)
    assert "25 points" in asked["content"] and not downloads(fake)
    confirm = await fake.click(int(asked["id"]), choice(asked, "yes"))
    await result_of(fake, confirm)
    assert sorted(env.sim.counters.source_digests) == sorted(sha(d) for d in data)
    job = await job_for_token(env.runtime.store, confirm.token)
    assert job.kind is JobKind.BLEND and job.state is JobState.SUCCEEDED
