"""The one owner of a prompt's invisible characters: which are removed before anything else sees the text.

Invisible characters carry nothing an image model can use, but they can hide a banned word from the check
(``n\\u034fude``) and reach LiblibAI's own moderation. The request builder cleans every prompt with
``clean_prompt`` (so they never reach LiblibAI), and the banned-word matcher strips them with
``strip_ignorable`` from both its words and the text.

Removed: format characters (Unicode category Cf: zero-width spaces and joiners, bidi controls, the soft
hyphen, tag characters, ...), the other default-ignorable code points (the combining grapheme joiner, the
Hangul fillers, variation selectors, Mongolian free variation selectors, the reserved ignorable blocks) and
control characters other than whitespace. ``tests/generation/test_prompt_text.py`` checks the table against
the running Python's Unicode database.
"""

from __future__ import annotations

import re
import unicodedata

_IGNORABLE = re.compile(
    "["
    "\x00-\x08\x0e-\x1b\x7f-\x84\x86-\x9f"  # control characters other than whitespace
    "\u00ad\u034f\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2"
    "\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164"
    "\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufffb"
    "\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3\U0001d173-\U0001d17a"
    "\U000e0000-\U000e0fff"  # tags, variation selectors supplement, reserved default-ignorables
    "]"
)


def strip_ignorable(text: str) -> str:
    """``text`` without format, default-ignorable and (non-whitespace) control characters."""
    return _IGNORABLE.sub("", text)


def clean_prompt(text: str | None) -> str:
    """The prompt as sent: invisible characters removed, NFC, runs of spaces collapsed on each line, the line
    breaks kept (idempotent: cleaning the result again changes nothing)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", strip_ignorable(text))
    return "\n".join(" ".join(line.split()) for line in text.splitlines()).strip()
