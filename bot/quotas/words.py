"""Banned-word matching that sees through the usual disguises, in Chinese, Japanese and Korean as in Latin scripts.

Words and text are compared folded (``bot.quotas.folding.normalize``: no invisible characters or combining marks;
confusables, full-width forms and case folded). Then:

- a word of a spaced script ("nude") matches a whole word of the text, so "ass" does not hit "class", "assassin"
  or "Sussex"; a CJK character or an underscore does not extend a word ("画一个nude女孩", "nude_pic"); its simple
  plurals match too ("nudes", "asses", "pussies");
- a word with CJK characters ("裸体") matches anywhere, since those scripts put no spaces between words;
- a phrase ("two words") matches with one separator between its words ("two  words", "two-words");
- any word also matches spelled out with one separator (a run of spaces, or one punctuation mark, symbol or
  underscore) between characters that each stand alone: "n u d e", "n.u.d.e", "n u d e s", "裸 体", "裸　体".
  A split anywhere else is ordinary text: "an al" is not "anal", and "金色 情侣" does not spell "色情".

Only a folded copy is searched: the prompt sent to LiblibAI is the request builder's ``clean_prompt``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.quotas.folding import normalize

__all__ = ["WordMatcher", "has_cjk", "normalize", "word_matcher"]

_CJK_RANGES = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\U00020000-\U0002fa1f"
_CJK_CHAR = f"[{_CJK_RANGES}]"
_CJK = re.compile(_CJK_CHAR)
# A letter or digit of a spaced script: what a word of those scripts is made of.
_SPACED_CHAR = f"[^\\W_{_CJK_RANGES}]"
_SPACED_WORD = re.compile(f"{_SPACED_CHAR}+")
# One separator: a run of whitespace, or one punctuation mark, symbol or underscore.
_SEPARATOR = r"(?:\s+|[^\w\s]|_)"
_SEPARATORS = re.compile(_SEPARATOR)
# Characters that each stand alone, one separator apart: a spelled-out word, Latin ("n.u.d.e") or CJK ("裸 体").
_SPELLED = tuple(re.compile(f"(?<!{c}){c}(?:{_SEPARATOR}{c})+(?!{c})") for c in (_SPACED_CHAR, _CJK_CHAR))


def has_cjk(text: str) -> bool:
    return _CJK.search(text) is not None


def _plurals(word: str) -> list[str]:
    """``word`` and its simple English plurals, longest first: nudes, asses, pussies (only from three letters on:
    "i" must not make "is")."""
    if not (len(word) >= 3 and word.isascii() and word.isalpha()):
        return [word]
    forms = {word, word + "s"}
    if word.endswith(("s", "x", "z", "ch", "sh", "o")):
        forms.add(word + "es")
    if word.endswith("y") and word[-2] not in "aeiou":
        forms.add(word[:-1] + "ies")
    return sorted(forms, key=lambda form: (-len(form), form))


@dataclass(frozen=True, slots=True)
class _Text:
    """A text folded once, with what the rules look up in it."""

    folded: str
    words: frozenset[str]  # the whole words of spaced scripts
    spelled: tuple[str, ...]  # the characters of each spelled-out run, separators dropped

    @classmethod
    def scan(cls, text: str) -> _Text:
        folded = normalize(text)
        runs = tuple(_SEPARATORS.sub("", m.group()) for spelled in _SPELLED for m in spelled.finditer(folded))
        return cls(folded, frozenset(_SPACED_WORD.findall(folded)), runs)


@dataclass(frozen=True, slots=True)
class _Rule:
    """How one banned word is found; most words need no regular expression."""

    word: str  # as configured
    whole: frozenset[str] = frozenset()  # forms that match as a whole word
    anywhere: str | None = None  # a CJK word: a substring
    pattern: re.Pattern[str] | None = None  # a phrase, or a word with punctuation ("c++")
    spelled: tuple[str, ...] = ()  # forms that match spelled out

    @classmethod
    def of(cls, word: str, norm: str) -> _Rule:
        parts = norm.split()
        cjk = has_cjk(norm)
        ends = [parts[-1]] if cjk else _plurals(parts[-1])
        joined, head = "".join(parts), "".join(parts[:-1])
        spelled = tuple(head + end for end in ends) if len(joined) > 1 and joined.isalnum() else ()
        if len(parts) == 1 and cjk:
            return cls(word, anywhere=norm, spelled=spelled)
        if len(parts) == 1 and _SPACED_WORD.fullmatch(norm):
            return cls(word, whole=frozenset(ends), spelled=spelled)
        body = _SEPARATOR.join([*map(re.escape, parts[:-1]), "(?:" + "|".join(map(re.escape, ends)) + ")"])
        pattern = re.compile(body if cjk else f"(?<!{_SPACED_CHAR}){body}(?!{_SPACED_CHAR})")
        return cls(word, pattern=pattern, spelled=spelled)

    def matches(self, text: _Text) -> bool:
        return (
            not self.whole.isdisjoint(text.words)
            or (self.anywhere is not None and self.anywhere in text.folded)
            or (self.pattern is not None and self.pattern.search(text.folded) is not None)
            or any(form in run for run in text.spelled for form in self.spelled)
        )


class WordMatcher:
    """Finds the first banned word in a text; build once per word list (``word_matcher`` caches them)."""

    def __init__(self, words: Iterable[str]) -> None:
        self._rules = [_Rule.of(word, norm) for word in words if (norm := normalize(word).strip())]

    def __bool__(self) -> bool:
        return bool(self._rules)

    def find(self, *texts: str | None) -> str | None:
        """The configured banned word found in any of ``texts``, or None."""
        for text in texts:
            if not text:
                continue
            scanned = _Text.scan(text)
            for rule in self._rules:
                if rule.matches(scanned):
                    return rule.word
        return None


@functools.lru_cache(maxsize=64)
def word_matcher(words: tuple[str, ...]) -> WordMatcher:
    """The matcher for a word list, built once per distinct list."""
    return WordMatcher(words)
