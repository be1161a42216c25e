from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.errors import InvalidRequestError
from bot.media.codec import normalize_for_discord, sniff_input


def encode(fmt: str, size=(256, 256), mode="RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (200, 30, 30)).save(out, fmt)
    return out.getvalue()


@pytest.mark.parametrize(("fmt", "ext"), [("PNG", "png"), ("JPEG", "jpg"), ("WEBP", "webp")])
def test_accepts_real_images(fmt: str, ext: str) -> None:
    img = sniff_input(encode(fmt))
    assert (img.extension, img.width, img.height) == (ext, 256, 256)


def test_gif_becomes_first_frame_png() -> None:
    img = sniff_input(encode("GIF", mode="P"))
    assert img.extension == "png" and img.data.startswith(b"\x89PNG")


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        (b"", "empty"),
        (b"GIF89a not really", "not a readable image"),
        (b"hello, I am a text file named cat.png", "not a readable image"),
        (encode("PNG")[:200], "corrupt"),
        (encode("BMP"), "only PNG"),
        (encode("PNG", size=(5000, 100)), "largest allowed side"),
        (encode("PNG", size=(10, 10)), "each side"),
    ],
)
def test_refuses_bad_inputs(data: bytes, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        sniff_input(data)
    assert fragment in info.value.message


def test_decompression_bomb_is_refused_without_decoding() -> None:
    out = io.BytesIO()
    Image.new("1", (20000, 20000)).save(out, "PNG")  # tiny file, 400 megapixels
    with pytest.raises(InvalidRequestError):
        sniff_input(out.getvalue())


def test_oversized_file_refused() -> None:
    with pytest.raises(InvalidRequestError) as info:
        sniff_input(b"\x89PNG" + b"0" * 100, max_bytes=50)
    assert "limit" in info.value.message


def test_normalize_keeps_small_png_and_shrinks_large() -> None:
    small = encode("PNG")
    assert normalize_for_discord(small, "a", max_bytes=10_000_000).data == small
    noisy = Image.effect_noise((1024, 1024), 100).convert("RGB")
    out = io.BytesIO()
    noisy.save(out, "PNG")
    fitted = normalize_for_discord(out.getvalue(), "b", max_bytes=60_000)
    assert len(fitted.data) <= 60_000 and fitted.filename == "b.jpg"
