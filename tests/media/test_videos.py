"""Result videos: attached when they fit one Discord message, otherwise left to their link."""

from __future__ import annotations

from bot.liblib import LiblibPayloadTooLargeError, LiblibServerError
from bot.media.results import DISCORD_REQUEST_BYTES
from bot.media.videos import attachable_videos, is_video_file, video_extension
from bot.models import GenerationRequest, Job, JobResult, ResultVideo

MB = 1024 * 1024


class FakeCdn:
    """A ResultSource serving bodies of given sizes (None: the download fails)."""

    def __init__(self, sizes: dict[str, int | None]) -> None:
        self.sizes = sizes
        self.asked: list[tuple[str, int]] = []

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        self.asked.append((url, max_bytes))
        size = self.sizes[url]
        if size is None:
            raise LiblibServerError("503", status=503)
        if size > max_bytes:
            raise LiblibPayloadTooLargeError(f"{size} > {max_bytes}")
        return b"v" * size


def job_with(*urls: str) -> Job:
    result = JobResult(images=(), videos=tuple(ResultVideo(url) for url in urls))
    return Job(
        id="j1",
        user_id=1,
        channel_id=2,
        guild_id=3,
        request=GenerationRequest(mode="comfy:x", prompt="p"),
        result=result,
    )


async def test_videos_that_fit_are_attached_with_their_extension() -> None:
    cdn = FakeCdn({"https://x/a.mp4": 2 * MB, "https://x/b.webm?sig=1": 1 * MB})
    files = await attachable_videos(cdn, job_with("https://x/a.mp4", "https://x/b.webm?sig=1"), max_file_bytes=10 * MB)
    assert [f.filename for f in files] == ["j1_video1.mp4", "j1_video2.webm"]
    assert all(is_video_file(f.filename) for f in files) and not is_video_file("j1_1.png")


async def test_too_large_or_failing_videos_are_left_to_their_links() -> None:
    cdn = FakeCdn({"https://x/big.mp4": 11 * MB, "https://x/gone.mp4": None, "https://x/ok.mp4": MB})
    job = job_with("https://x/big.mp4", "https://x/gone.mp4", "https://x/ok.mp4")
    files = await attachable_videos(cdn, job, max_file_bytes=10 * MB)
    assert [f.filename for f in files] == ["j1_video3.mp4"]


async def test_the_images_already_in_the_message_leave_less_room() -> None:
    cdn = FakeCdn({"https://x/a.mp4": 5 * MB})
    files = await attachable_videos(
        cdn, job_with("https://x/a.mp4"), max_file_bytes=10 * MB, already=DISCORD_REQUEST_BYTES - MB
    )
    assert files == [] and cdn.asked == [("https://x/a.mp4", MB)]


def test_video_extension_defaults_to_mp4() -> None:
    assert video_extension("https://x/v") == ".mp4" and video_extension("https://x/v.MOV") == ".mov"
