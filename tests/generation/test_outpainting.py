"""Zoom Out, Make Square and Pan: which are offered under a result (no I/O)."""

from __future__ import annotations

import pytest

from bot.generation.outpainting import known_square, outpaint_kinds, upload_limit
from bot.liblib.endpoints import IMG1_INPAINT_MAX_BYTES, MAX_INPUT_IMAGE_BYTES
from bot.media.outpaint import Outpaint
from bot.models import GenerationRequest, Job, JobResult, JobState, ResultImage


def job(request: GenerationRequest, images: int = 1) -> Job:
    result = JobResult(images=tuple(ResultImage(url=f"https://r/{n}.png") for n in range(images)))
    return Job(id="j", user_id=1, channel_id=2, guild_id=3, request=request, state=JobState.SUCCEEDED, result=result)


@pytest.mark.parametrize(
    ("request_", "square"),
    [
        (GenerationRequest(mode="star3", prompt="p"), True),  # Star-3's default is 1024²
        (GenerationRequest(mode="star3", prompt="p", aspect_ratio="16:9"), False),
        (GenerationRequest(mode="kontext", prompt="p", aspect_ratio="1:1"), True),
        (GenerationRequest(mode="img1", prompt="p"), False),  # "auto": not known
        (GenerationRequest(mode="star3", prompt="p", source_images=("u",)), False),  # follows its source
        (GenerationRequest(mode="img1-inpaint", prompt="p", width=1536, height=1024), False),  # a pan's canvas
        (GenerationRequest(mode="seedream-4.5", prompt="p", width=4096, height=4096, hires=True), True),
    ],
)
def test_a_result_known_to_be_square_offers_no_make_square(request_: GenerationRequest, square: bool) -> None:
    assert known_square(request_) is square
    kinds = outpaint_kinds(job(request_), "img1-inpaint")
    assert (Outpaint.SQUARE not in kinds) is square and len(kinds) == (6 if square else 7)


def test_only_a_result_of_one_image_and_only_when_configured() -> None:
    request = GenerationRequest(mode="star3", prompt="p", aspect_ratio="3:4")
    assert outpaint_kinds(job(request, 2), "img1-inpaint") == []
    assert outpaint_kinds(job(request), "") == []
    assert outpaint_kinds(job(request), "dreamtech-xl") == list(Outpaint)


def test_img1_inpaint_takes_4_mb_a_custom_model_10() -> None:
    assert upload_limit("img1-inpaint") == IMG1_INPAINT_MAX_BYTES
    assert upload_limit("dreamtech-xl") == MAX_INPUT_IMAGE_BYTES
