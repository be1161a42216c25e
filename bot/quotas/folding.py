"""Folding text for the banned-word check: what two spellings count as the same.

``normalize`` folds the configured words and the member's text the same way:

1. invisible characters go (``bot.generation.prompt_text`` owns the list: zero-width characters, tags,
   variation selectors, Hangul fillers, ...), then NFKC folds full-width letters, ligatures and styled letters;
2. combining marks go ("nüde", stacked "zalgo" marks), except the kana voicing marks (ト is not ド);
3. confusables fold to one representative of their class, from the Unicode UTS #39 data shipped with
   ``confusable-homoglyphs`` (read from the installed package, never downloaded): a Cyrillic "е" reads as "e",
   "ᑎ" as "n". ASCII is left as it is, so "m" never becomes "rn" and "pom" never reads as "porn"; a letter only
   folds to letters, so a dash stays a separator. Then everything is casefolded.

The folded copy is only compared: the prompt sent to LiblibAI is ``clean_prompt``'s, never this.
"""

from __future__ import annotations

import functools
import re
import unicodedata

from confusable_homoglyphs.confusables import confusables_data

from bot.generation.prompt_text import strip_ignorable

# Combining kana voicing marks change the kana (ト/ド): they stay.
_KANA_MARKS = frozenset("\u3099\u309a")
# The library wraps right-to-left letters in left-to-right marks in its data.
_LRM = "\u200e"


def _build_confusables() -> dict[str, str]:
    """Each confusable code point -> the representative of its class.

    The library's data links each UTS #39 source to its prototype in both directions and drops which is which.
    A source has exactly one link (its prototype); a prototype links to all its sources. So a code point with
    one link whose other end has several (or is a sequence, like "rn") is a source; two code points linked only
    to each other form a class of two, represented by the ASCII one, else the lower code point.
    """
    links: dict[str, dict[str, None]] = {}
    for key, entries in confusables_data.items():
        targets = links.setdefault(key.replace(_LRM, ""), {})
        targets.update(dict.fromkeys(entry["c"].replace(_LRM, "") for entry in entries))
    table: dict[str, str] = {}
    for char, targets in links.items():
        if len(char) != 1 or len(targets) != 1:
            continue
        [target] = targets
        if len(target) != 1 or len(links.get(target, ())) > 1 or _rank(target) < _rank(char):
            table[char] = target
    return table


def _rank(char: str) -> tuple[bool, int]:
    return (not char.isascii(), ord(char))


_CONFUSABLES = _build_confusables()
# "Fancy text" letters that UTS #39 leaves out and NFKC keeps: small capitals (ɴᴜᴅᴇ) and negative circled and
# squared capitals (🅝🅤🅓🅔, 🅽🆄🅳🅴).
_FANCY_NAME = re.compile(r"(?:LATIN LETTER SMALL CAPITAL|NEGATIVE (?:CIRCLED|SQUARED) LATIN CAPITAL LETTER) ([A-Z])")
_FANCY = {
    chr(cp): match.group(1).lower()
    for block in (range(0x0250, 0x02B0), range(0x1D00, 0x1D80), range(0xA700, 0xA800), range(0x1F100, 0x1F200))
    for cp in block
    if (match := _FANCY_NAME.fullmatch(unicodedata.name(chr(cp), "")))
}


def _fold_step(char: str) -> str:
    """One confusable look-up for ``char``, casefolded.

    A letter folds only to letters and a symbol only to symbols (so "—" stays a separator instead of becoming
    the look-alike "ー"). The character as written is looked up first (Greek "Ν" is "n"; lowercase "ν" is "v"),
    then its lowercase form; an uppercase look-alike of "l" is an "I" ("NUDΙTY" reads as "nudity").
    """
    if char in _FANCY:
        return _FANCY[char]
    lower = char.casefold()
    found = []
    for form in (char, lower):
        target = _CONFUSABLES.get(form)
        if target is not None and target.isalnum() == char.isalnum():
            if target.isascii():
                return "i" if target == "l" and form != lower else target.casefold()
            found.append(target)
    return (found[0] if found else lower).casefold()


@functools.lru_cache(maxsize=8192)  # bounded: a member can send any of a million code points
def _fold_char(char: str) -> str:
    """A non-ASCII character's representative, casefolded (following chains such as ᑎ -> Ո -> ո -> n)."""
    seen = {char}
    folded = _fold_step(char)
    while len(folded) == 1 and not folded.isascii() and folded not in seen:
        seen.add(folded)
        folded = _fold_step(folded)
    return folded


def _drop_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text)
    kept = "".join(c for c in decomposed if c in _KANA_MARKS or unicodedata.category(c) not in ("Mn", "Me"))
    return unicodedata.normalize("NFC", kept)


def _fold(text: str) -> str:
    text = strip_ignorable(unicodedata.normalize("NFKC", strip_ignorable(text)))
    if text.isascii():
        return text.casefold()
    text = "".join(c if c.isascii() else _fold_char(c) for c in _drop_marks(text)).casefold()
    return _drop_marks(text)  # casefolding can add a mark ("İ" -> "i̇")


def normalize(text: str) -> str:
    """``text`` folded for comparing: invisible characters and combining marks gone, confusables and case folded."""
    for _ in range(3):  # a look-alike can itself fold further ("➀" -> "①" -> "1"); stable after two rounds
        folded = _fold(text)
        if folded == text:
            break
        text = folded
    return text
