from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.errors import InvalidRequestError
from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES
from bot.media.codec import as_png_mask, as_png_or_jpeg, normalize_for_discord, sniff_input
from tests.media.samples import encoded, noise, noisy_webp


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


# -- fitting inputs into LiblibAI's upload limit --------------------------------------------------------


def test_a_large_photo_webp_is_uploaded_as_a_jpeg_within_the_limit() -> None:
    """4096² of noise: ~6 MB as WebP, ~50 MB as the PNG it used to become (refused by the client)."""
    image = sniff_input(noisy_webp())
    upload = as_png_or_jpeg(image)
    assert len(upload.data) <= MAX_INPUT_IMAGE_BYTES
    assert (upload.content_type, upload.extension) == ("image/jpeg", "jpg")
    with Image.open(io.BytesIO(upload.data)) as img:
        assert img.format == "JPEG" and img.size == (upload.width, upload.height)
    assert upload.width == upload.height >= 2048


def test_an_upload_that_does_not_fit_at_full_size_is_downscaled_keeping_its_shape() -> None:
    image = sniff_input(encoded(noise((1200, 800)), "WEBP", quality=90))
    upload = as_png_or_jpeg(image, max_bytes=150_000)
    assert len(upload.data) <= 150_000 and upload.extension == "jpg"
    assert upload.width < 1200 and abs(upload.width / upload.height - 1.5) < 0.01


def test_transparency_is_kept_as_a_png_downscaled_to_fit() -> None:
    image = sniff_input(noisy_webp(512, alpha=True))
    upload = as_png_or_jpeg(image, max_bytes=300_000)
    assert len(upload.data) <= 300_000 and upload.extension == "png"
    with Image.open(io.BytesIO(upload.data)) as img:
        assert img.mode == "RGBA" and img.getchannel("A").getextrema()[0] < 200  # still half transparent


def test_an_alpha_channel_that_is_all_opaque_does_not_force_a_png() -> None:
    opaque = noise((256, 256), "RGBA")
    opaque.putalpha(255)
    upload = as_png_or_jpeg(sniff_input(encoded(opaque, "WEBP")))
    assert upload.extension == "jpg"


def test_png_and_jpeg_within_the_limit_pass_unchanged() -> None:
    for fmt in ("PNG", "JPEG"):
        image = sniff_input(encode(fmt))
        assert as_png_or_jpeg(image) is image


def test_a_gif_frame_too_large_as_a_png_is_fitted() -> None:
    gif = encoded(noise((600, 600)).convert("P", palette=Image.Palette.ADAPTIVE), "GIF")
    image = sniff_input(gif)
    assert image.extension == "png"
    upload = as_png_or_jpeg(image, max_bytes=100_000)
    assert len(upload.data) <= 100_000


def test_a_mask_is_resized_to_the_uploaded_image_and_fits() -> None:
    detailed = sniff_input(encoded(noise((1024, 1024), "L"), "PNG"))
    mask = as_png_mask(detailed, size=(512, 512), max_bytes=100_000)
    assert (mask.width, mask.height) == (512, 512) and len(mask.data) <= 100_000
    with Image.open(io.BytesIO(mask.data)) as img:
        assert img.format == "PNG" and img.size == (512, 512) and img.mode in ("L", "1")
    plain = as_png_mask(sniff_input(encode("PNG", size=(512, 512))))
    with Image.open(io.BytesIO(plain.data)) as img:
        assert img.mode == "L"  # a mask that fits keeps its grey levels
