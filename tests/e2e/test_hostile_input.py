"""Hostile prompts and option values through the real bot: a correct result or a clear ephemeral error,
never a ping, never an API call for invalid input."""

from __future__ import annotations

import json
import re

import pytest

from bot.models import JobState
from tests.e2e.conftest import Env, assert_no_pings
from tests.e2e.test_imagine import wait_result

PING = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>")

HOSTILE_PROMPTS = [
    "@everyone @here <@&123456789012345678> <@123456789012345678> a red fox",
    "```py\nprint('hi')\n``` **bold** __under__ ||spoiler|| > quote # heading a fox",
    "a fox \u200b\u200d\u2066 with \u202eRTL\u202c text \ufeff",
    "a fox <@0> <#123456789012345678> <t:0:R> [link](https://example.com)",
]


def _shown_texts(call) -> list[str]:
    body = call.json or {}
    texts = [body.get("content") or ""]
    for embed in body.get("embeds") or []:
        texts += [embed.get("title") or "", embed.get("description") or ""]
        texts += [f.get("value", "") for f in embed.get("fields") or []]
    return texts


@pytest.mark.parametrize("prompt", HOSTILE_PROMPTS)
async def test_hostile_prompts_get_a_result_that_pings_nobody(env: Env, prompt: str) -> None:
    inter = await env.fake.slash("imagine", {"prompt": prompt})
    result = await wait_result(env.fake, inter.token)
    for text in _shown_texts(result):
        assert not PING.search(text), text
    assert_no_pings(env.fake)
    sent = json.dumps(env.sim.tasks()[-1].params, ensure_ascii=False)
    assert "fox" in sent
    assert "\u200b" not in sent and "\u202e" not in sent


@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"prompt": " \u200b\u200b "}, "prompt"),
        ({"prompt": "a fox --count 9"}, "count"),
        ({"prompt": "a fox --seed -5"}, "seed"),
        ({"prompt": "a fox --steps 999"}, "steps"),
        ({"prompt": "a fox --ar 99:1"}, "aspect"),
        ({"prompt": "a fox", "mode": "no-such-model"}, "mode"),
        ({"prompt": "a fox", "negative": "blur", "mode": "kontext-pro"}, "negative"),
    ],
)
async def test_invalid_values_get_an_ephemeral_error_and_no_api_call(env: Env, options: dict, field: str) -> None:
    inter = await env.fake.slash("imagine", options)
    call = await env.fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
    assert field in call.json["data"]["content"].lower()
    assert "Traceback" not in call.json["data"]["content"]
    await env.fake.handled()  # the handler returned: nothing was queued, nothing can be submitted
    assert await env.runtime.store.list_jobs(list(JobState)) == []
    assert env.sim.counters.submit_requests == 0


@pytest.mark.parametrize(
    "options",
    [{"prompt": "x" * 2001}, {"prompt": "a", "count": 16}, {"prompt": "a", "count": 0}, {"prompt": "a", "steps": 61}],
)
async def test_values_beyond_declared_bounds_never_reach_the_bot(env: Env, options: dict) -> None:
    """The synced declaration carries the bounds, so Discord's client refuses them (the fake mirrors it)."""
    with pytest.raises(ValueError, match="outside"):
        await env.fake.slash("imagine", options)
