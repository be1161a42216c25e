"""Helpers shared by the fault matrices: a quota-debiting admission, and waiting on jobs and messages."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import time

from bot.jobs.admission import OpenAdmission, Requester
from bot.models import GenerationRequest, Job, JobState, UsageDebit
from bot.storage import Settlement, Store, open_store
from tests.fake_discord import Call, FakeDiscord

WINDOW = "day:test"
POINTS_PER_IMAGE = 8  # star3 in the simulator and in the default estimates


class DebitAdmission(OpenAdmission):
    """Stands in for the quota service: every job reserves images and estimated points on one counter."""

    async def admit(self, requester: Requester, job: Job) -> Job:
        count = job.request.count
        debit = UsageDebit(
            "user", requester.user_id, WINDOW, images=count, points=POINTS_PER_IMAGE * count, max_images=100
        )
        return dataclasses.replace(job, debits=(debit,), points_reserved=debit.points)

    async def enqueued(self, requester: Requester, job: Job) -> None:
        return None


async def seed_usage(storage_url: str, user_id: int) -> tuple[int, int]:
    """Put a settled earlier job on the member's counter, so a refund taken twice would show (counters clamp at 0)."""
    debit = UsageDebit("user", user_id, WINDOW, images=2, points=2 * POINTS_PER_IMAGE, max_images=100)
    job = Job(
        id="seed000000",
        user_id=user_id,
        channel_id=1,
        guild_id=None,
        request=GenerationRequest(mode="star3", prompt="an earlier job"),
        debits=(debit,),
    )
    async with open_store(storage_url) as store:
        await store.enqueue(job)
        steps = [JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING]
        for old, new in itertools.pairwise(steps):
            await store.transition(job.id, old, new)
        await store.transition(
            job.id, JobState.DELIVERING, JobState.SUCCEEDED, settlement=Settlement(images=2, points=16)
        )
        return await store.get_usage("user", user_id, WINDOW)


async def job_by_prompt(store: Store, prompt: str, *, timeout: float = 10.0) -> Job:
    """The stored job for ``prompt`` once it is terminal."""
    deadline = time.monotonic() + timeout
    while True:
        jobs = [j for j in await store.list_jobs(list(JobState)) if j.request.prompt == prompt]
        if jobs and jobs[0].state.terminal:
            assert len(jobs) == 1, jobs
            return jobs[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"job {prompt!r} not terminal within {timeout}s: {jobs}")
        await asyncio.sleep(0.02)


def is_original_edit(call: Call, token: str) -> bool:
    return call.method == "PATCH" and "/webhooks/" in call.path and token in call.path and "@original" in call.path


def embed_titles(call: Call) -> list[str]:
    body = call.json if isinstance(call.json, dict) else {}
    return [e.get("title") or "" for e in body.get("embeds") or []]


def footers(call: Call) -> list[str]:
    body = call.json if isinstance(call.json, dict) else {}
    return [(e.get("footer") or {}).get("text") or "" for e in body.get("embeds") or []]


async def wait_result(fake: FakeDiscord, token: str, timeout: float = 10.0) -> Call:
    """The successful edit of @original that carries the result images."""
    return await fake.wait_for_call(
        lambda c: is_original_edit(c, token) and bool(c.files) and c.status == 200, timeout=timeout
    )


async def wait_failure_notice(fake: FakeDiscord, token: str, title: str, timeout: float = 10.0) -> Call:
    """The successful edit of @original showing a failure embed whose title contains ``title``."""
    return await fake.wait_for_call(
        lambda c: is_original_edit(c, token) and c.status == 200 and any(title in t for t in embed_titles(c)),
        timeout=timeout,
    )


def channel_posts(fake: FakeDiscord, *, with_files: bool | None = None) -> list[Call]:
    """Successful message creations in the guild's text channel (the bot-token path)."""
    return [
        c
        for c in fake.calls_to("POST", f"/channels/{fake.channel_id}/messages")
        if c.status == 200 and (with_files is None or bool(c.files) == with_files)
    ]
