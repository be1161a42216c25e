"""LiblibAI fault matrix through the whole bot (fake Discord + simulator + SQLite).

Each case runs two jobs for one member, whose quota counter already holds an earlier job: one job hit by
the injected fault, then one after it.
It checks that the faulted job ends correctly (delivered, or failed with its distinct message), that the
member sees a clear message in their interaction, that the quota counter holds exactly what LiblibAI billed
(a failure it billed nothing for was refunded once; a success, or a failure it billed, was charged that
once), that the job was never submitted twice, and that the bot goes on serving the next job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.discord_app.ui.embeds import FAILURE_TITLES
from bot.liblib.simulator import Simulator
from bot.models import FailureReason, Job, JobState
from bot.settings import Settings
from bot.storage import Store, open_store
from tests.e2e.conftest import make_settings, running_bot
from tests.e2e.faults import (
    POINTS_PER_IMAGE,
    WINDOW,
    DebitAdmission,
    footers,
    job_by_prompt,
    seed_usage,
    wait_failure_notice,
    wait_result,
)
from tests.fake_discord import FakeDiscord

# Fast client retries: 3 attempts per request, waits capped at 50 ms, a request times out after 1 s.
FAST_RETRIES = {"max_retries": 2, "retry_backoff_cap": 0.05, "request_timeout": 1.0}


@dataclass(frozen=True)
class Case:
    id: str
    fault: str | None = None  # Simulator.inject(fault, route=, count=, value=)
    route: str = "submit"
    count: int = 1
    value: float | None = None
    outcome: str | None = None  # Simulator.fail_next_tasks(outcome)
    images: int = 1  # images asked for
    delivered: int | None = 1  # images the member gets; None: the job fails
    reason: FailureReason | None = None  # for failures: the distinct reason (and its embed title)
    submitted: int = 1  # tasks the simulator created for the faulted job (never more than one)
    charged: bool = False  # a failure LiblibAI billed (its task succeeded there): charged, not refunded
    estimate: bool = False  # a submit of unknown outcome (LiblibAI may have billed it): charged the estimate


def ok(id: str, fault: str, route: str, count: int = 1, value: float | None = None, **kw: object) -> Case:
    return Case(id, fault, route, count, value, **kw)  # type: ignore[arg-type]


def fails(id: str, reason: FailureReason, **kw: object) -> Case:
    return Case(id, delivered=None, reason=reason, **kw)  # type: ignore[arg-type]


CASES = [
    # 429 storms: longer than the client's retry budget, so the runner's own recovery is exercised too
    # (a refused submit is re-queued; a status route that keeps refusing is polled again).
    ok("429-storm-submit", "429", "submit", count=5, value=0.01),
    ok("429-storm-status", "429", "status", count=6, value=0.01),
    # 5xx bursts: a submit is never retried after a 5xx (the task may exist), status queries are.
    fails("5xx-submit", FailureReason.SERVICE_ERROR, fault="500", submitted=0),
    ok("5xx-burst-status", "502", "status", count=6),
    # Timeouts: the submitted task exists but its uuid was lost: fail, never resubmit, settle at the estimate.
    fails("timeout-submit", FailureReason.SUBMIT_UNKNOWN, fault="timeout", value=1.5, estimate=True),
    ok("timeout-status", "timeout", "status", value=1.5),
    # Malformed and truncated JSON.
    # An unreadable 2xx answer to a submit: a task may exist (it does for truncated-submit): as a lost answer.
    fails("malformed-submit", FailureReason.SUBMIT_UNKNOWN, fault="malformed", submitted=0, estimate=True),
    ok("malformed-status", "malformed", "status", count=4),
    fails("truncated-submit", FailureReason.SUBMIT_UNKNOWN, fault="truncated", estimate=True),
    ok("truncated-status", "truncated", "status", count=4),
    # Slow responses within the request timeout.
    ok("slow-submit", "slow", "submit", value=0.4),
    ok("slow-status", "slow", "status", value=0.4),
    # Task outcomes reported by polling, and refusals at submit.
    fails("generation-failed", FailureReason.GENERATION_FAILED, outcome="failed"),
    fails("timeout-status-7", FailureReason.SERVICE_TIMEOUT, outcome="timeout"),
    fails("audit-rejected", FailureReason.AUDIT_REJECTED, outcome="audit_reject", charged=True),
    Case("audit-partial", outcome="partial_audit", images=2, delivered=1),
    fails("sensitive-prompt", FailureReason.BANNED_PROMPT, outcome="sensitive_prompt", submitted=0),
    fails("out-of-points", FailureReason.OUT_OF_POINTS, fault="100021", submitted=0),
    # Result image downloads: transient errors are retried; a dead or garbled image fails the job (billed).
    ok("image-5xx-burst", "502", "image", count=2),
    ok("image-slow", "slow", "image", value=0.4),
    fails("image-5xx-persistent", FailureReason.DELIVERY_FAILED, fault="500", route="image", count=3, charged=True),
    fails("image-not-an-image", FailureReason.DELIVERY_FAILED, fault="malformed", route="image", charged=True),
    fails("image-truncated", FailureReason.DELIVERY_FAILED, fault="truncated", route="image", charged=True),
]


async def deliver_one(fake: FakeDiscord, store: Store, prompt: str) -> Job:
    inter = await fake.slash("imagine", {"prompt": prompt})
    await wait_result(fake, inter.token)
    job = await job_by_prompt(store, prompt)
    assert job.state is JobState.SUCCEEDED, job
    return job


def cost(job: Job) -> tuple[int, int]:
    """What a finished job must leave on the quota counter: what LiblibAI billed (its delivered images, or
    the images it reserved when it delivered none), or nothing when LiblibAI billed nothing."""
    if job.refunded:
        return (0, 0)
    assert job.points_cost
    if job.state is not JobState.SUCCEEDED:
        return (job.request.count, job.points_cost)
    assert job.result is not None
    return (len(job.result.images), job.points_cost)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
async def test_liblib_fault(
    case: Case, fake: FakeDiscord, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    settings = make_settings(fake, sim, tmp_path / "bot.db", liblib=FAST_RETRIES)
    seeded = await seed_usage(settings.storage.url, fake.user_id)
    assert seeded == (2, 16)
    async with running_bot(settings, fake, admission=DebitAdmission()) as runtime:
        store = runtime.store

        served = sim.counters.faults_served
        if case.fault is not None:
            sim.inject(case.fault, route=case.route, count=case.count, value=case.value)
        if case.outcome is not None:
            sim.fail_next_tasks(case.outcome)
        prompt = f"fault case {case.id}"
        inter = await fake.slash("imagine", {"prompt": prompt, "count": case.images})

        if case.delivered is not None:
            result = await wait_result(fake, inter.token, timeout=20)
            assert len(result.files) == case.delivered
        else:
            assert case.reason is not None
            notice = await wait_failure_notice(fake, inter.token, FAILURE_TITLES[case.reason], timeout=20)
            [embed] = notice.json["embeds"]
            assert embed["description"], "the member is told why"
            assert "Error" not in embed["description"] and "Traceback" not in embed["description"]
            if case.charged:
                assert f"{job_cost(sim, prompt)} points charged" in footers(notice)[0]
                assert "charged" in embed["description"]
            elif case.estimate:
                assert f"{POINTS_PER_IMAGE * case.images} points charged" in footers(notice)[0]
                assert "may have been charged" in embed["description"]
            else:
                assert "quota refunded" in footers(notice)[0]
        job = await job_by_prompt(store, prompt)
        if case.delivered is not None:
            assert job.state is JobState.SUCCEEDED and not job.refunded
        else:
            assert job.state is JobState.FAILED and job.refunded is not (case.charged or case.estimate)
            assert job.failure_reason is case.reason
        if case.fault is not None:
            assert sim.counters.faults_served - served == case.count, "the fault was really served"

        after = await deliver_one(fake, store, "after the fault")

    # Quotas: the counter holds exactly the successful jobs' actual cost (refunded once, kept on success).
    totals = [seeded, cost(job), cost(after)]
    expected = (sum(t[0] for t in totals), sum(t[1] for t in totals))
    assert await store_usage(settings, fake.user_id) == expected
    # Never submitted twice: at most one task per job at LiblibAI.
    tasks = [t for t in sim.tasks() if prompt in str(t.params.get("prompt"))]
    assert len(tasks) == case.submitted
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], "no unexpected errors"


def job_cost(sim: Simulator, prompt: str) -> int:
    """The points the simulator billed for the task of ``prompt``."""
    [task] = [t for t in sim.tasks() if t.params.get("prompt") == prompt]
    return task.points


async def store_usage(settings: Settings, user_id: int) -> tuple[int, int]:
    """Read the counter from the database after the bot closed (everything it wrote is durable)."""
    async with open_store(settings.storage.url) as store:
        return await store.get_usage("user", user_id, WINDOW)
