"""Hostile input, generated: nothing a member can type or attach crashes validation.

Each input either becomes a valid request/image or raises InvalidRequestError (shown ephemerally);
no other exception escapes, and echoed prompts can never ping.
"""

from __future__ import annotations

import io
import re
import struct
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from bot.discord_app.ui.embeds import escape_prompt
from bot.errors import InvalidRequestError
from bot.generation.builder import PROMPT_MAX_CHARS, RequestBuilder
from bot.generation.prompt_flags import parse_flags
from bot.media.codec import MAX_INPUT_SIDE, InputImage, sniff_input
from bot.settings import ModelsSettings

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
PING = re.compile(r"@(everyone|here)\b|<@[!&]?\d+>")
INVISIBLE = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")

hostile_text = st.one_of(
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "@everyone",
                "@here",
                "<@123>",
                "<@!456>",
                "<@&789>",
                "```",
                "**",
                "||",
                "~~",
                "> ",
                "# ",
                "\u200b",
                "\u202e",
                "\u2066",
                "\ufeff",
                "--ar",
                "--no",
                "--seed",
                "--count",
                "16:9",
                "99999999999",
                "画一只猫",
                "猫",
                "a fox",
                "\n",
                " ",
                "--",
                "—",
                "-1",
                "\x00",
            ]
        ),
        max_size=40,
    ).map(" ".join),
)


def _image(fmt: str, size: tuple[int, int] = (96, 80)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(out, fmt)
    return out.getvalue()


VALID = {fmt: _image(fmt) for fmt in ("PNG", "JPEG", "WEBP", "GIF")}


def _sniff_is_safe(data: bytes) -> InputImage | None:
    try:
        return sniff_input(data)
    except InvalidRequestError as exc:
        assert exc.field == "image" and exc.reason  # noqa: PT017 - either outcome is valid; the error must be well-formed
        return None


@FAST
@given(st.binary(max_size=4096))
def test_arbitrary_bytes_never_crash_the_sniffer(data: bytes) -> None:
    _sniff_is_safe(data)


@FAST
@given(st.sampled_from(sorted(VALID)), st.data())
def test_truncated_or_corrupted_images_are_refused_or_accepted_cleanly(fmt: str, data: st.DataObject) -> None:
    original = VALID[fmt]
    cut = data.draw(st.integers(min_value=0, max_value=len(original)))
    blob = bytearray(original[:cut])
    for index in data.draw(st.lists(st.integers(min_value=0, max_value=max(0, len(blob) - 1)), max_size=8)):
        if blob:
            blob[index] ^= 0xFF
    image = _sniff_is_safe(bytes(blob))
    if image is not None:
        assert image.content_type in ("image/png", "image/jpeg", "image/webp")


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny PNG claiming huge dimensions (a decompression bomb's header)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("size", [(MAX_INPUT_SIDE + 1, 64), (30_000, 30_000), (2**31 - 1, 2**31 - 1)])
def test_huge_dimensions_and_bombs_are_refused_before_decoding(size: tuple[int, int]) -> None:
    with pytest.raises(InvalidRequestError):
        sniff_input(_png_header_only(*size))


def test_wrong_type_behind_a_right_extension_is_judged_by_content() -> None:
    with pytest.raises(InvalidRequestError, match="not a readable image"):
        sniff_input(b"%PDF-1.7 pretending to be cat.png")
    bmp = io.BytesIO()
    Image.new("RGB", (96, 96)).save(bmp, "BMP")
    with pytest.raises(InvalidRequestError, match="PNG, JPEG, WebP and GIF"):
        sniff_input(bmp.getvalue())


@FAST
@given(hostile_text)
def test_prompt_flags_parse_or_refuse(text: str) -> None:
    try:
        flags = parse_flags(text)
    except InvalidRequestError as exc:
        assert exc.reason  # noqa: PT017 - either outcome is valid; the error must be well-formed
        return
    assert isinstance(flags.prompt, str)


@FAST
@given(hostile_text, st.sampled_from(["star3", "kontext-pro", "dreamtech-xl", None]))
def test_request_builder_validates_or_refuses(text: str, mode: str | None) -> None:
    builder = RequestBuilder(ModelsSettings())
    try:
        request = builder.build(text, mode=mode)
    except InvalidRequestError as exc:
        assert exc.field and exc.reason  # noqa: PT017 - either outcome is valid; the error must be well-formed
        return
    assert request.prompt.strip() and len(request.prompt) <= PROMPT_MAX_CHARS
    assert not INVISIBLE.search(request.prompt)


@FAST
@given(hostile_text)
def test_echoed_prompts_can_never_ping(text: str) -> None:
    assert not PING.search(escape_prompt(text, limit=10_000))


@pytest.mark.parametrize("length", [PROMPT_MAX_CHARS + 1, 10_000])
def test_overlong_prompts_are_refused_with_the_limit(length: int) -> None:
    with pytest.raises(InvalidRequestError, match=str(PROMPT_MAX_CHARS)):
        RequestBuilder(ModelsSettings()).build("a" * length)
