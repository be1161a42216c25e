"""Field checks for the request models, each failing with a human message that names the field."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator

from bot.liblib import endpoints

MAX_LORAS = 5
MAX_CONTROLNET_UNITS = 4
UPLOAD_NAME_MAX_CHARS = 100
# ControlNet preprocessor values (liblib-api.md §5.6): 24, 46, 47 and 67 are unused.
VALID_PREPROCESSORS = frozenset(set(range(24)) | set(range(25, 46)) | set(range(48, 67)) | {68})
VALID_UPSCALERS = frozenset(range(27))


def between(label: str, lo: float, hi: float) -> AfterValidator:
    def check(value: float) -> float:
        if value < lo or value > hi:
            raise ValueError(f"{label} must be between {_num(lo)} and {_num(hi)} (got {_num(value)})")
        return value

    return AfterValidator(check)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def _within_limit(label: str, value: str) -> str:
    if len(value) > endpoints.PROMPT_MAX_CHARS:
        raise ValueError(f"{label} is {len(value)} characters long; the limit is {endpoints.PROMPT_MAX_CHARS}")
    return value


def check_prompt(label: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"{label} must not be empty")
        return _within_limit(label, value)

    return AfterValidator(check)


def check_optional_text(label: str) -> AfterValidator:
    return AfterValidator(lambda value: _within_limit(label, value))


def check_url(label: str) -> AfterValidator:
    def check(value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"{label} must be a full public http(s) URL (got {value[:80]!r})")
        return value

    return AfterValidator(check)


def check_choice(label: str, allowed: frozenset[int]) -> AfterValidator:
    def check(value: int) -> int:
        if value not in allowed:
            raise ValueError(f"{label} {value} is not a valid value")
        return value

    return AfterValidator(check)


def check_sampler(value: int) -> int:
    if value not in endpoints.VALID_SAMPLERS:
        raise ValueError(f"sampler {value} is not valid (use 0–21, 24, 25 or 27–30; 22, 23 and 26 do not exist)")
    return value


def at_most(limit: int, what: str) -> AfterValidator:
    """An optional list of at most ``limit`` items."""

    def check(value: list[Any] | None) -> list[Any] | None:
        if value is not None and len(value) > limit:
            raise ValueError(f"at most {limit} {what} may be used (got {len(value)})")
        return value

    return AfterValidator(check)


def check_nonempty(label: str) -> AfterValidator:
    def check(value: str) -> str:
        if not value.strip():
            raise ValueError(f"{label} must not be empty")
        return value

    return AfterValidator(check)


Prompt = Annotated[str, check_prompt("prompt")]
NegativePrompt = Annotated[str, check_optional_text("negative prompt")]
ImageUrl = Annotated[str, check_url("image address")]
ImgCount = Annotated[int, between("image count", 1, endpoints.MAX_IMAGE_COUNT)]
Flag = Annotated[int, between("flag", 0, 1)]
