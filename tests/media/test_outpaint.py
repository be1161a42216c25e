"""Zoom Out, Make Square and Pan: the canvas geometry (bot/media/outpaint.py) and its drawing
(bot/media/canvas.py): the result's pixels sit exactly where expected, the mask is white exactly on the new area."""

from __future__ import annotations

import io
import random

import pytest
from PIL import Image

from bot.errors import InvalidRequestError
from bot.liblib.endpoints import IMG1_INPAINT_MAX_BYTES
from bot.media.canvas import KEPT, NEW, draw_outpaint, enlarge, render_outpaint
from bot.media.outpaint import CanvasLimits, Outpaint, Placement, place

ROOMY = CanvasLimits(max_side=8192, max_pixels=8192 * 8192)
IMG1 = CanvasLimits(max_side=2048, max_pixels=2048 * 2048)


@pytest.mark.parametrize(
    ("kind", "size", "expected"),
    [
        (Outpaint.ZOOM_OUT_2, (1024, 1024), Placement(2048, 2048, 512, 512, 1024, 1024)),
        (Outpaint.ZOOM_OUT_15, (1024, 768), Placement(1536, 1152, 256, 192, 1024, 768)),
        (Outpaint.SQUARE, (1024, 768), Placement(1024, 1024, 0, 128, 1024, 768)),
        (Outpaint.SQUARE, (768, 1024), Placement(1024, 1024, 128, 0, 768, 1024)),
        (Outpaint.PAN_RIGHT, (1024, 768), Placement(1536, 768, 0, 0, 1024, 768)),
        (Outpaint.PAN_LEFT, (1024, 768), Placement(1536, 768, 512, 0, 1024, 768)),
        (Outpaint.PAN_DOWN, (1024, 768), Placement(1024, 1152, 0, 0, 1024, 768)),
        (Outpaint.PAN_UP, (1024, 768), Placement(1024, 1152, 0, 384, 1024, 768)),
    ],
)
def test_the_image_sits_where_each_kind_puts_it(kind: Outpaint, size: tuple[int, int], expected: Placement) -> None:
    assert place(kind, *size, ROOMY) == expected


def test_pans_extend_only_their_side() -> None:
    for kind, grows in [
        (Outpaint.PAN_RIGHT, "right"),
        (Outpaint.PAN_LEFT, "left"),
        (Outpaint.PAN_UP, "top"),
        (Outpaint.PAN_DOWN, "bottom"),
    ]:
        p = place(kind, 1000, 600, ROOMY)
        left, top, right, bottom = p.box
        margins = {"left": left, "top": top, "right": p.width - right, "bottom": p.height - bottom}
        assert {side for side, margin in margins.items() if margin} == {grows}, kind
        assert (p.image_width, p.image_height) == (1000, 600)  # never scaled while within the limits


def test_make_square_on_a_square_image_is_refused() -> None:
    with pytest.raises(InvalidRequestError) as refused:
        place(Outpaint.SQUARE, 1024, 1024, ROOMY)
    assert "already square" in refused.value.message


@pytest.mark.parametrize("kind", list(Outpaint))
@pytest.mark.parametrize("size", [(1024, 1024), (2048, 2048), (4096, 4096), (2720, 1536), (1000, 3000), (97, 131)])
def test_the_canvas_always_keeps_within_the_limits_and_holds_the_whole_image(
    kind: Outpaint, size: tuple[int, int]
) -> None:
    if kind is Outpaint.SQUARE and size[0] == size[1]:
        return
    p = place(kind, *size, IMG1)
    assert p.within(IMG1)
    left, top, right, bottom = p.box
    assert left >= 0 and top >= 0 and right <= p.width and bottom <= p.height
    assert p.scaled == ((p.image_width, p.image_height) != size)
    assert abs(p.image_width / p.image_height - size[0] / size[1]) < 0.08  # scaled, never stretched far
    assert p.width * p.height > p.image_width * p.image_height  # something new to paint


def noise(width: int, height: int, seed: int = 3) -> Image.Image:
    return Image.frombytes("RGB", (width, height), random.Random(seed).randbytes(width * height * 3))


def test_the_drawn_canvas_carries_the_exact_pixels_and_the_mask_is_white_exactly_on_the_new_area() -> None:
    picture = noise(64, 48)
    placement = place(Outpaint.PAN_RIGHT, 64, 48, ROOMY)
    canvas, mask = draw_outpaint(picture, placement)
    assert canvas.size == mask.size == (96, 48)
    assert canvas.crop(placement.box).tobytes() == picture.tobytes()
    for x in range(canvas.width):
        for y in range(canvas.height):
            inside = x < 64  # the image keeps the left edge; the new area is on the right
            assert mask.getpixel((x, y)) == (KEPT if inside else NEW), (x, y)


def test_a_zoomed_out_render_within_img1s_4_mb_keeps_the_result_in_the_middle() -> None:
    picture = noise(256, 256)
    out = io.BytesIO()
    picture.save(out, "PNG")
    drawn = render_outpaint(out.getvalue(), Outpaint.ZOOM_OUT_2, IMG1, max_bytes=IMG1_INPAINT_MAX_BYTES)
    assert (drawn.canvas.width, drawn.canvas.height) == (drawn.mask.width, drawn.mask.height) == (512, 512)
    assert drawn.canvas.content_type == "image/png" and drawn.mask.content_type == "image/png"
    with Image.open(io.BytesIO(drawn.canvas.data)) as canvas, Image.open(io.BytesIO(drawn.mask.data)) as mask:
        assert canvas.convert("RGB").crop((128, 128, 384, 384)).tobytes() == picture.tobytes()
        assert mask.convert("L").crop((128, 128, 384, 384)).getextrema() == (KEPT, KEPT)
        assert mask.convert("L").crop((0, 0, 512, 128)).getextrema() == (NEW, NEW)


def test_a_canvas_too_large_for_the_limit_becomes_a_jpeg_and_the_mask_follows_its_size() -> None:
    out = io.BytesIO()
    noise(1360, 1360).save(out, "PNG")  # incompressible: ~5.5 MB as PNG, over IMG1's 4 MB
    drawn = render_outpaint(out.getvalue(), Outpaint.ZOOM_OUT_15, IMG1, max_bytes=IMG1_INPAINT_MAX_BYTES)
    assert len(drawn.canvas.data) <= IMG1_INPAINT_MAX_BYTES and len(drawn.mask.data) <= IMG1_INPAINT_MAX_BYTES
    assert drawn.canvas.content_type == "image/jpeg"
    assert (drawn.mask.width, drawn.mask.height) == (drawn.canvas.width, drawn.canvas.height)


def test_enlarge_resamples_to_the_target_size() -> None:
    out = io.BytesIO()
    noise(32, 24).save(out, "PNG")
    big = enlarge(out.getvalue(), (64, 48), max_bytes=10 * 1024 * 1024)
    assert (big.width, big.height, big.content_type) == (64, 48, "image/png")


def test_a_broken_result_is_refused_in_words() -> None:
    with pytest.raises(InvalidRequestError):
        render_outpaint(b"not an image", Outpaint.ZOOM_OUT_2, IMG1, max_bytes=IMG1_INPAINT_MAX_BYTES)
