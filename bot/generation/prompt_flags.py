"""Midjourney-style flags inside a prompt: ``a fox --ar 16:9 --no blur --seed 42``.

Flags are recognised only as whole words starting with ``--`` followed by a letter, so prompts such
as "well--known" or "— dash" are left alone. Slash-command options win over flags
(``bot.generation.resolution`` has the whole order).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.errors import InvalidRequestError
from bot.i18n import N_

KNOWN_FLAGS = ("--ar", "--aspect", "--no", "--seed", "--count", "--steps", "--mode", "--style")
_FLAG = re.compile(r"(?:(?<=\s)|^)--([A-Za-z][\w-]*)(?=\s|$)")


@dataclass(frozen=True, slots=True)
class PromptFlags:
    prompt: str
    aspect_ratio: str | None = None
    negative_prompt: str | None = None
    seed: int | None = None
    count: int | None = None
    steps: int | None = None
    mode: str | None = None
    style: str | None = None  # a style preset's name (bot.generation.styles)


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise InvalidRequestError(
            name, N_("`{name}` needs a whole number, not `{value}`."), name=name, value=value[:20]
        ) from None


def parse_flags(text: str) -> PromptFlags:
    """Split ``text`` into the prompt and its flags; an unknown or empty flag is a friendly error."""
    matches = list(_FLAG.finditer(text))
    if not matches:
        return PromptFlags(prompt=text.strip())
    prompt = text[: matches[0].start()].strip()
    values: dict[str, str] = {}
    for index, match in enumerate(matches):
        name = f"--{match.group(1).lower()}"
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip()
        if name not in KNOWN_FLAGS:
            raise InvalidRequestError(name, N_("unknown flag. Known flags: {known}."), known=", ".join(KNOWN_FLAGS))
        if not value:
            raise InvalidRequestError(name, N_("this flag needs a value, e.g. `--ar 16:9`."))
        if name in values or (name in ("--ar", "--aspect") and ("--ar" in values or "--aspect" in values)):
            raise InvalidRequestError(name, N_("this flag is given twice."))
        values[name] = value
    single = {k: v.split()[0] if k != "--no" else v for k, v in values.items()}
    for name, value in values.items():
        if name != "--no" and len(value.split()) > 1:
            raise InvalidRequestError(name, N_("expected one value, got `{value}`."), value=value[:40])
    return PromptFlags(
        prompt=prompt,
        aspect_ratio=single.get("--ar") or single.get("--aspect"),
        negative_prompt=single.get("--no"),
        seed=_int("--seed", single["--seed"]) if "--seed" in single else None,
        count=_int("--count", single["--count"]) if "--count" in single else None,
        steps=_int("--steps", single["--steps"]) if "--steps" in single else None,
        mode=single["--mode"].lower() if "--mode" in single else None,
        style=single["--style"].lower() if "--style" in single else None,
    )
