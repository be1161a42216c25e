"""Result images fitted for Discord: delivered once (the runner), fetched again (re-posts), handed back to
LiblibAI (Vary, Upscale).

Images come from the result URLs LiblibAI returned, downloaded through the LiblibClient; delivery and
re-posts share ``download_result_files``. Those URLs may expire; a re-post, a Vary or an Upscale then falls
back to the image as posted on Discord (bot/discord_app/repost.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from bot import liblib
from bot.errors import BotError
from bot.i18n import N_
from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES
from bot.media.codec import ImageFile, normalize_for_discord, sniff_input
from bot.media.transport import ImageTransport
from bot.media.workers import ImageWorkers
from bot.models import Job, result_image

log = logging.getLogger(__name__)

MAX_DOWNLOAD_BYTES = 50 * 1024 * 1024
DISCORD_REQUEST_BYTES = 24 * 1024 * 1024  # keep under Discord's 25 MiB per message
MAX_FILES_PER_MESSAGE = 10  # Discord's limit; a larger result (Seedream: up to 15) takes several messages


class ResultUnavailableError(BotError):
    def __init__(self, job_id: str) -> None:
        super().__init__(N_("The images of job `{job_id}` are no longer available."), job_id=job_id)


def per_file_limit(count: int, max_file_bytes: int) -> int:
    """Each file's share of a message (``count`` files are posted, at most 10 to a message)."""
    return min(max_file_bytes, DISCORD_REQUEST_BYTES // max(1, min(count, MAX_FILES_PER_MESSAGE)))


def message_batches(files: list[ImageFile]) -> list[list[ImageFile]]:
    """``files`` in the messages that carry them: at most 10 to a message, in order (none: one empty batch)."""
    step = MAX_FILES_PER_MESSAGE
    return [files[i : i + step] for i in range(0, len(files), step)] or [[]]


class ResultSource(Protocol):
    """Where result images are downloaded from: the LiblibClient (delivery) or the ImageTransport (re-posts)."""

    async def download(self, url: str, *, max_bytes: int) -> bytes: ...


PostedImage = Callable[[], Awaitable[tuple[bytes, str]]]
"""A result image as posted on Discord: its bytes and a URL they can be fetched from (raises
ResultUnavailableError when it is gone too)."""


async def download_result_files(
    source: ResultSource, job: Job, *, max_file_bytes: int, workers: ImageWorkers
) -> list[ImageFile]:
    """The job's result images, fitted for Discord (each within ``max_file_bytes``, each message's ten within
    Discord's request cap) on ``workers``. Raises the download's LiblibError, or LiblibResponseValidationError
    for an image that cannot be decoded (not an image, or cut short)."""
    images = job.result.images if job.result else ()
    limit = per_file_limit(len(images), max_file_bytes)
    files = []
    for index, image in enumerate(images):
        raw = await source.download(image.url, max_bytes=MAX_DOWNLOAD_BYTES)
        try:
            files.append(await workers.run(normalize_for_discord, raw, f"{job.id}_{index + 1}", max_bytes=limit))
        except (OSError, ValueError) as exc:  # Pillow: not an image, or cut short
            raise liblib.LiblibResponseValidationError(f"result image {index + 1} is unreadable") from exc
    return files


async def fetch_result_files(transport: ImageTransport, job: Job, *, max_file_bytes: int) -> list[ImageFile]:
    """A past job's result images for a re-post (raises ResultUnavailableError when they are gone)."""
    if not (job.result and job.result.images):
        raise ResultUnavailableError(job.id)
    try:
        return await download_result_files(transport, job, max_file_bytes=max_file_bytes, workers=transport.workers)
    except liblib.LiblibError as exc:
        log.info("job %s: stored result images unavailable (%s)", job.id, type(exc).__name__)
        raise ResultUnavailableError(job.id) from exc


async def result_image_bytes(
    transport: ImageTransport, job: Job, index: int, *, posted: PostedImage | None = None
) -> tuple[bytes, str]:
    """Result image ``index`` as LiblibAI stored it, and the URL it came from; once that URL has expired, the
    image as posted on Discord (``posted``). Raises ResultUnavailableError when neither has it."""
    url = result_image(job, index).url
    try:
        return await transport.download(url, max_bytes=MAX_DOWNLOAD_BYTES), url
    except liblib.LiblibError as exc:
        if posted is None:
            raise ResultUnavailableError(job.id) from exc
        log.info(
            "job %s: result image %d unavailable (%s); using the posted copy", job.id, index + 1, type(exc).__name__
        )
        return await posted()


async def source_from_result(
    transport: ImageTransport, job: Job, index: int, *, stem: str, posted: PostedImage | None = None
) -> str:
    """A URL LiblibAI can fetch for result image ``index``: checked, then copied into LiblibAI's storage
    when the transport uploads (so it outlives the result URL); a too-large image passes by URL.

    When LiblibAI's result URL is gone (they expire), the image comes from ``posted`` (the copy on Discord)."""
    raw, url = await result_image_bytes(transport, job, index, posted=posted)
    if len(raw) > MAX_INPUT_IMAGE_BYTES:
        return url
    image = await transport.workers.run(sniff_input, raw, field="image")
    return await transport.publish(image, source_url=url, stem=stem)
