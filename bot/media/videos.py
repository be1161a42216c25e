"""Result videos (a ComfyUI workflow may make one): attached to the result when they fit Discord's upload limit.

A video is never decoded or converted: it is attached as LiblibAI made it, or, when it is too large for one
message (or cannot be downloaded now), left out; the result always carries its link (bot/discord_app/ui/embeds.py),
so the member gets it either way.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from bot import liblib
from bot.liblib.endpoints import VIDEO_EXTENSIONS
from bot.media.codec import ImageFile
from bot.media.results import DISCORD_REQUEST_BYTES, ResultSource
from bot.models import Job

log = logging.getLogger(__name__)

DEFAULT_EXTENSION = ".mp4"


def video_extension(url: str) -> str:
    path = urlsplit(url).path.lower()
    return next((ext for ext in VIDEO_EXTENSIONS if path.endswith(ext)), DEFAULT_EXTENSION)


def is_video_file(filename: str) -> bool:
    return filename.lower().endswith(VIDEO_EXTENSIONS)


async def attachable_videos(
    source: ResultSource, job: Job, *, max_file_bytes: int, already: int = 0
) -> list[ImageFile]:
    """The job's result videos that fit: each within ``max_file_bytes``, all with ``already`` bytes of images
    within Discord's request cap. A video that does not fit, or fails to download, is left to its link."""
    videos = job.result.videos if job.result else ()
    budget = DISCORD_REQUEST_BYTES - already
    files: list[ImageFile] = []
    for index, video in enumerate(videos, start=1):
        limit = min(max_file_bytes, budget)
        if limit <= 0:
            break
        try:
            data = await source.download(video.url, max_bytes=limit)
        except liblib.LiblibPayloadTooLargeError:
            log.info("job %s: video %d is larger than %d bytes; sent as a link", job.id, index, limit)
            continue
        except liblib.LiblibError as exc:
            log.warning("job %s: video %d not downloaded (%s); sent as a link", job.id, index, type(exc).__name__)
            continue
        files.append(ImageFile(f"{job.id}_video{index}{video_extension(video.url)}", data))
        budget -= len(data)
    return files
