"""The submit path and unserved routes: the mode is marked unavailable, the job failed with a refund, and jobs
queued in that mode meanwhile are failed without a request."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from bot.liblib import endpoints as ep
from bot.liblib.availability import ModeAvailability
from bot.models import FailureReason, GenerationRequest, JobState
from tests.jobs.helpers import new_job, open_parts


async def test_an_unserved_route_marks_the_mode_and_fails_the_job_refunded(tmp_path: Path) -> None:
    modes = ModeAvailability(60.0)
    async with open_parts(tmp_path, availability=modes) as (sim, store, sink, runner, _queue):
        sim.stop_serving(ep.STAR3_TEXT2IMG)
        await store.enqueue(new_job("a"))
        job = await runner._submitter.next_job()
        assert job is not None
        await runner._submitter.submit(job)
        failed = await store.get_job("a")
        assert failed is not None and failed.state is JobState.FAILED
        assert failed.failure_reason is FailureReason.MODE_UNAVAILABLE and failed.refunded
        assert [j.id for j in sink.failures] == ["a"]
        assert not modes.is_available("star3") and modes.is_available("kontext-pro")
        assert sim.counters.submits == 0


async def test_jobs_queued_in_an_unavailable_mode_fail_without_a_request(tmp_path: Path) -> None:
    modes = ModeAvailability(60.0)
    async with open_parts(tmp_path, availability=modes) as (sim, store, _sink, runner, _queue):
        modes.mark_unavailable("star3")
        await store.enqueue(new_job("b", user=2))
        kontext = GenerationRequest(mode="kontext", prompt="一只猫", kontext_model="pro")
        await store.enqueue(dataclasses.replace(new_job("c", user=3), request=kontext))
        for _ in range(2):
            job = await runner._submitter.next_job()
            assert job is not None
            await runner._submitter.submit(job)
        b, c = await store.get_job("b"), await store.get_job("c")
        assert b is not None and b.state is JobState.FAILED and b.refunded
        assert b.failure_reason is FailureReason.MODE_UNAVAILABLE
        assert c is not None and c.state is JobState.RUNNING  # another mode is unaffected
        assert sim.counters.submit_requests == 1  # only c's
