"""Metrics: the points counter counts what LiblibAI billed for finished jobs, delivered or not."""

from __future__ import annotations

import dataclasses

from bot.models import GenerationRequest, Job, JobState
from bot.ops.metrics import Metrics


def finished(state: JobState, points: int | None, *, refunded: bool = False) -> Job:
    job = Job(id="j", user_id=1, channel_id=2, guild_id=3, request=GenerationRequest(mode="star3", prompt="x"))
    return dataclasses.replace(job, state=state, points_cost=points, refunded=refunded)


def test_points_spent_counts_every_billed_end_and_nothing_refunded() -> None:
    metrics = Metrics()
    metrics.job_entered(finished(JobState.SUCCEEDED, 8))
    metrics.job_entered(finished(JobState.CANCELLED, 58))  # cancelled after the submit: billed
    metrics.job_entered(finished(JobState.FAILED, 16))  # an audit-blocked batch: billed
    metrics.job_entered(finished(JobState.FAILED, 0, refunded=True))
    metrics.job_entered(finished(JobState.CANCELLED, None, refunded=True))  # cancelled while queued
    metrics.job_entered(finished(JobState.DELIVERING, 8))  # not finished yet
    assert metrics.registry.get_sample_value("liblib_bot_points_spent_total") == 8 + 58 + 16
