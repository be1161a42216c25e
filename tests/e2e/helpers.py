"""Shared steps for the end-to-end tests of results, buttons and information commands."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bot.models import Job, JobState
from tests.e2e.test_imagine import is_original_edit, wait_result
from tests.fake_discord import FakeDiscord
from tests.fake_discord.messages import walk_components
from tests.fake_discord.records import Interaction


async def job_for_token(store, token: str, state: JobState = JobState.SUCCEEDED, timeout: float = 10.0) -> Job:
    """The job an interaction started, once it reached ``state``."""
    deadline = time.monotonic() + timeout
    while True:
        for job in await store.list_jobs([state]):
            if job.interaction_token == token:
                return job
        if time.monotonic() > deadline:
            raise AssertionError(f"no {state} job for that interaction")
        await asyncio.sleep(0.02)


async def imagine_done(fake: FakeDiscord, store, options: dict[str, Any], *, user_id: int | None = None):
    """Run /imagine to the end: (interaction, job, result message)."""
    inter = await fake.slash("imagine", options, user_id=user_id)
    await wait_result(fake, inter.token)
    job = await job_for_token(store, inter.token)
    message = fake.original_message(inter)
    assert message is not None
    return inter, job, message


def custom_ids(message: dict[str, Any]) -> list[str]:
    return [c["custom_id"] for _, c in walk_components(message["components"]) if "custom_id" in c]


def labels(message: dict[str, Any]) -> list[str]:
    return [c["label"] for _, c in walk_components(message["components"]) if c.get("type") == 2]


async def ack(fake: FakeDiscord, interaction: Interaction):
    """The callback the bot answered an interaction with."""
    return await fake.wait_for_call(lambda c: "/callback" in c.path and str(interaction.id) in c.path)


async def result_of(fake: FakeDiscord, interaction: Interaction, timeout: float = 10.0):
    """The edit of the interaction's own (new) message carrying result images."""
    return await wait_result(fake, interaction.token, timeout=timeout)


async def original_edit_with(fake: FakeDiscord, interaction: Interaction, text: str, timeout: float = 10.0):
    def match(c) -> bool:
        return is_original_edit(c, interaction.token) and text in str(c.json)

    return await fake.wait_for_call(match, timeout=timeout)


def embed_fields(call) -> dict[str, str]:
    return {f["name"]: f["value"] for f in call.json["embeds"][0].get("fields", [])}
