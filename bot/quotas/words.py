"""Banned-word matching that works for Chinese, Japanese and Korean as well as Latin scripts.

Both sides are compared after NFKC normalisation and casefolding (full-width letters, ligatures and
case do not hide a word). Words with CJK characters match as substrings, since those scripts do not
put spaces between words; other words match on word boundaries, so "ass" does not hit "class".
Only a normalised copy is searched: the member's prompt is never changed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK = re.compile(f"[{_CJK_RANGES}]")
# A letter, digit or underscore of a spaced script: what must not touch a Latin word's edges
# (a CJK character may: "画一个badword女孩" contains "badword").
_SPACED_WORD_CHAR = f"[^\\W{_CJK_RANGES}]"
# Invisible characters someone could slip inside a word to dodge the filter.
_INVISIBLE = re.compile("[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def normalize(text: str) -> str:
    return _INVISIBLE.sub("", unicodedata.normalize("NFKC", text)).casefold()


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


class WordMatcher:
    """Finds the first banned word in a text; build once per word list."""

    def __init__(self, words: Iterable[str]) -> None:
        self._substrings: list[tuple[str, str]] = []  # (normalised, as configured)
        patterns: list[tuple[re.Pattern[str], str]] = []
        for word in words:
            norm = normalize(word).strip()
            if not norm:
                continue
            if has_cjk(norm):
                self._substrings.append((norm, word))
            else:
                # Look-arounds, not \b: \b fails next to punctuation at a word's edge ("c++").
                inner = r"\s+".join(re.escape(part) for part in norm.split())
                edge = _SPACED_WORD_CHAR
                patterns.append((re.compile(f"(?<!{edge}){inner}(?!{edge})"), word))
        self._patterns = patterns

    def __bool__(self) -> bool:
        return bool(self._substrings or self._patterns)

    def find(self, *texts: str | None) -> str | None:
        """The configured banned word found in any of ``texts``, or None."""
        for text in texts:
            if not text:
                continue
            norm = normalize(text)
            for needle, word in self._substrings:
                if needle in norm:
                    return word
            for pattern, word in self._patterns:
                if pattern.search(norm):
                    return word
        return None
