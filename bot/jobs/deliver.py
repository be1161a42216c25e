"""Delivery: download a finished job's images, post them through the sink (retrying transient refusals), settle.

The images are paid for by then, so a transient Discord refusal is tried again; the sink is idempotent per
job, so delivering a DELIVERING job again after a crash or from a second scan never posts twice.
"""

from __future__ import annotations

import asyncio
import logging

from bot import liblib
from bot.backoff import retry_delay
from bot.i18n import N_, Text
from bot.jobs._parts import RunnerPart, RunnerParts
from bot.jobs.events import log_job_event
from bot.jobs.sink import DeliveryError, Progress, Stage
from bot.media.codec import ImageFile
from bot.media.results import download_result_files
from bot.media.workers import ImageWorkers
from bot.models import FailureReason, Job, JobResult, JobState
from bot.storage import Settlement

log = logging.getLogger(__name__)

DELIVERY_ATTEMPTS = 3


class Deliverer(RunnerPart):
    def __init__(self, parts: RunnerParts, *, images: ImageWorkers, max_image_bytes: int, retry_base: float) -> None:
        super().__init__(parts)
        self._images = images  # where the result images are decoded and fitted, off the event loop
        self._max_image_bytes = max_image_bytes
        self.retry_base = retry_base  # seconds before posting a result again (the backoff's first step)
        self._delivering: set[str] = set()  # job ids this process is delivering now

    def is_delivering(self, job_id: str) -> bool:
        return job_id in self._delivering

    async def deliver(self, job: Job) -> None:
        if job.id in self._delivering:
            return
        self._delivering.add(job.id)
        try:
            # The delivery scan may have listed the job before another delivery of it (here) finished.
            current = await self._store.get_job(job.id)
            if current is None or current.state is not JobState.DELIVERING:
                return
            await self._deliver_now(current)
        finally:
            self._delivering.discard(job.id)

    async def _deliver_now(self, job: Job) -> None:
        if job.result is None:
            raise RuntimeError(f"job {job.id} is delivering without a result")
        await self._sink.progress(job, Progress(Stage.DELIVERING))
        try:
            files = await download_result_files(
                self._client, job, max_file_bytes=self._max_image_bytes, workers=self._images
            )
            message_id = await self._post(job, job.result, files)
        except asyncio.CancelledError:
            raise
        except DeliveryError as exc:
            log.warning("job %s: delivery failed: %s", job.id, exc)
            await self._fail(job, exc.text)
            return
        except liblib.LiblibError as exc:
            self._metrics.liblib_error(exc)
            reason = Text(exc.human)
            await self._fail(
                job, Text(N_("The images could not be downloaded from the image service: {reason}"), {"reason": reason})
            )
            return
        except Exception:
            # Never leave a job in DELIVERING until its deadline because of an unforeseen error.
            log.exception("job %s: unexpected error while delivering", job.id)
            await self._fail(job, Text(N_("Something went wrong while delivering.")))
            return
        done = await self._store.transition(
            job.id,
            JobState.DELIVERING,
            JobState.SUCCEEDED,
            settlement=Settlement(images=len(files), points=job.result.points_cost),
            result_message_id=message_id,
        )
        if done is not None:
            log_job_event(done, "delivered", images=len(files))
            self._metrics.job_entered(done)

    async def _post(self, job: Job, result: JobResult, files: list[ImageFile]) -> int | None:
        """Post through the sink; a transient refusal (Discord unreachable, 5xx or a long rate limit beyond
        discord.py's own retries) is tried again."""
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                return await self._sink.deliver(job, result, files)
            except DeliveryError as exc:
                if exc.permanent or attempt == DELIVERY_ATTEMPTS:
                    raise
                # A DeliveryError carries no server hint: discord.py has already waited out Discord's own.
                delay = retry_delay(attempt, None, base=self.retry_base, cap=4 * self.retry_base)
                log.warning("job %s: delivery failed (%s); trying again in %.0fs", job.id, exc, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _fail(self, job: Job, detail: Text) -> None:
        await self._failer.fail(job, (JobState.DELIVERING,), FailureReason.DELIVERY_FAILED, detail)
