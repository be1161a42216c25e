"""The one owner of "which language is this prompt in": English, or Chinese, Japanese, Korean, other.

Star-3 and custom checkpoints take English only, so the only question that matters today is English or not;
the name of the language is for the member ("Chinese prompt → libDream").

The rule: among the prompt's letters (digits, punctuation, symbols, emoji, marks and invisible characters do
not count), the share written in another script than Latin. At ``NON_ENGLISH_SHARE`` or more the prompt is not
English. So an English prompt that names a few things in Chinese ("a portrait of 李白 in the style of ukiyo-e 🌸":
2 letters of 31) stays English, "一只猫在月光下" is Chinese, and a mixed prompt whose substance is Chinese
("masterpiece, 1girl, 穿着汉服的少女, 站在樱花树下": 13 of 39) is Chinese. Which one: any kana makes it Japanese
(Japanese mixes kanji with kana; Chinese has none), Hangul Korean, Han Chinese, any other script "other".
Latin-script languages (French, German, ...) cannot be told from English this way and count as English.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum

from bot.generation.prompt_text import strip_ignorable
from bot.i18n import N_

NON_ENGLISH_SHARE = 0.3


class Language(StrEnum):
    ENGLISH = "en"
    CHINESE = "zh"
    JAPANESE = "ja"
    KOREAN = "ko"
    OTHER = "other"

    @property
    def is_english(self) -> bool:
        return self is Language.ENGLISH

    @property
    def label(self) -> str:
        """The language's name, a msgid (render it with ``t``)."""
        return LANGUAGE_LABELS[self]


LANGUAGE_LABELS: dict[Language, str] = {
    Language.ENGLISH: N_("English"),
    Language.CHINESE: N_("Chinese"),
    Language.JAPANESE: N_("Japanese"),
    Language.KOREAN: N_("Korean"),
    Language.OTHER: N_("Non-English"),
}


def _script(ch: str) -> str:
    """ "latin", "han", "kana", "hangul" or "other" for a letter (common blocks by range, the rest by name)."""
    code = ord(ch)
    if code < 0x80:
        return "latin"
    if 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
        return "han"
    if 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF:
        return "kana"
    if 0xAC00 <= code <= 0xD7AF:
        return "hangul"
    name = unicodedata.name(ch, "")
    if name.startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH", "IDEOGRAPHIC")):  # also 々 〆
        return "han"
    for script, marks in _SCRIPT_NAMES:
        if any(mark in name for mark in marks):
            return script
    return "other"


_SCRIPT_NAMES = (("latin", ("LATIN",)), ("kana", ("HIRAGANA", "KATAKANA")), ("hangul", ("HANGUL",)))


def letter_counts(text: str) -> dict[str, int]:
    """How many letters of each script ``text`` has (NFKC first: full-width Latin is Latin, half-width kana kana)."""
    counts = {"latin": 0, "han": 0, "kana": 0, "hangul": 0, "other": 0}
    for ch in unicodedata.normalize("NFKC", strip_ignorable(text)):
        if unicodedata.category(ch).startswith("L"):
            counts[_script(ch)] += 1
    return counts


def detect_language(text: str | None) -> Language:
    """The prompt's language by the rule above; a text without letters (emoji, digits) counts as English."""
    counts = letter_counts(text or "")
    letters = sum(counts.values())
    foreign = letters - counts["latin"]
    if not letters or foreign < NON_ENGLISH_SHARE * letters:
        return Language.ENGLISH
    if counts["kana"] and counts["kana"] >= counts["hangul"]:
        return Language.JAPANESE
    if counts["hangul"]:
        return Language.KOREAN
    if counts["han"] >= counts["other"]:
        return Language.CHINESE
    return Language.OTHER


def request_language(prompt: str | None, negative: str | None = None) -> Language:
    """The language an English-only mode would have to understand: the prompt's, or else the negative prompt's
    (an English prompt with a Chinese negative prompt is not English either)."""
    language = detect_language(prompt)
    if language.is_english and negative:
        return detect_language(negative)
    return language
