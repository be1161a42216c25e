"""Delivery: download a finished job's images, post them through the sink (retrying transient refusals), settle.

The images are paid for by then, so a transient Discord failure (the sink's ``DeliveryError(permanent=False)``:
network, timeout, 5xx, rate limit) is tried again with backoff until shortly before the job's delivering
deadline; the sink is idempotent per job, so posting again, or delivering a DELIVERING job again after a
crash or from a second scan, never posts twice.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from bot import liblib
from bot.backoff import retry_delay
from bot.i18n import N_, Text
from bot.jobs._parts import RunnerPart, RunnerParts
from bot.jobs.events import log_job_event
from bot.jobs.sink import DeliveryError, Progress, Stage
from bot.media.codec import ImageFile
from bot.media.results import download_result_files
from bot.media.videos import attachable_videos
from bot.media.workers import ImageWorkers
from bot.models import FailureReason, Job, JobResult, JobState, utcnow
from bot.storage import Settlement

log = logging.getLogger(__name__)

RETRY_CAP_STEPS = 4  # the longest wait between two posts, in multiples of the first (retry_base)
# Retrying stops this long before the delivering deadline (at most a tenth of it), so the last post has ended
# before the watchdog fails the job: a result must not land on a job already failed and refunded.
LAST_POST_ALLOWANCE = 30.0


class _NoLongerDeliveringError(Exception):
    """The job left DELIVERING while a post was being retried (the watchdog failed it)."""


class Deliverer(RunnerPart):
    def __init__(
        self, parts: RunnerParts, *, images: ImageWorkers, max_image_bytes: int, retry_base: float, deadline: float
    ) -> None:
        super().__init__(parts)
        self._images = images  # where the result images are decoded and fitted, off the event loop
        self._max_image_bytes = max_image_bytes
        self.retry_base = retry_base  # seconds before posting a result again (the backoff's first step)
        self._deadline = deadline  # seconds a job may stay DELIVERING (the watchdog fails it after that)
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
            delivered = len(files) + len(job.result.videos)  # a video too large to attach is delivered as a link
            files += await attachable_videos(
                self._client, job, max_file_bytes=self._max_image_bytes, already=sum(len(f.data) for f in files)
            )
            message_id = await self._post(job, job.result, files)
        except asyncio.CancelledError:
            raise
        except _NoLongerDeliveringError:
            log.info("job %s: stopped delivering, the job is no longer delivering", job.id)
            return
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
            settlement=Settlement(images=delivered, points=job.result.points_cost),
            result_message_id=message_id,
        )
        if done is not None:
            log_job_event(done, "delivered", images=delivered)
            self._metrics.job_entered(done)

    async def _post(self, job: Job, result: JobResult, files: list[ImageFile]) -> int | None:
        """Post through the sink; a transient failure (Discord unreachable, a timeout, 5xx or a rate limit
        beyond discord.py's own retries) is tried again with backoff until shortly before the deadline."""
        allowance = min(LAST_POST_ALLOWANCE, self._deadline / 10)
        give_up_at = job.state_changed_at + timedelta(seconds=self._deadline - allowance)
        attempt = 0
        while True:
            attempt += 1
            try:
                return await self._sink.deliver(job, result, files)
            except DeliveryError as exc:
                if exc.permanent:
                    raise
                # The hint is set only for a rate limit discord.py did not wait out itself.
                delay = retry_delay(
                    attempt,
                    exc.retry_after,
                    base=self.retry_base,
                    cap=RETRY_CAP_STEPS * self.retry_base,
                    floor=self.retry_base / 2,
                )
                if utcnow() + timedelta(seconds=delay) > give_up_at:
                    raise
                log.warning("job %s: delivery failed (%s); trying again in %.2fs", job.id, exc, delay)
                await asyncio.sleep(delay)
            current = await self._store.get_job(job.id)
            if current is None or current.state is not JobState.DELIVERING:
                raise _NoLongerDeliveringError(job.id)

    async def _fail(self, job: Job, detail: Text) -> None:
        await self._failer.fail(job, (JobState.DELIVERING,), FailureReason.DELIVERY_FAILED, detail)
