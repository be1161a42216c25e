"""The prompt's invisible characters (bot/generation/prompt_text.py): removed before LiblibAI or a check sees them."""

from __future__ import annotations

import sys
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.generation.builder import RequestBuilder
from bot.settings import ModelsSettings

# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties) beyond the format characters: the combining
# grapheme joiner, Hangul fillers, Khmer inherent vowels, variation selectors, and the reserved ignorable blocks.
OTHER_IGNORABLE = [
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0x2065, 0x2065),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFF8),
    (0xE0000, 0xE0FFF),
]
INVISIBLE = ["\u034f", "\u180e", "\u3164", "\ufe0f", "\U000e0041", "\U000e007f", "\u00ad", "\u115f", "\ufeff", "\x00"]


def _cleaned(prompt: str) -> str:
    return RequestBuilder(ModelsSettings()).build(prompt, mode="kontext-pro").prompt


@pytest.mark.parametrize("char", INVISIBLE)
def test_the_prompt_sent_has_no_invisible_characters(char: str) -> None:
    assert _cleaned(f"a c{char}at in the snow, 裸{char}体") == "a cat in the snow, 裸体"
    request = RequestBuilder(ModelsSettings()).build("a cat", mode="dreamtech-xl", negative_prompt=f"b{char}lur")
    assert request.negative_prompt == "blur"


def test_the_table_covers_every_ignorable_character_of_this_python() -> None:
    """Every format character, non-whitespace control and other default-ignorable is removed; nothing else is."""
    from bot.generation.prompt_text import strip_ignorable

    other = {cp for low, high in OTHER_IGNORABLE for cp in range(low, high + 1)}
    for cp in range(sys.maxunicode + 1):
        char = chr(cp)
        category = unicodedata.category(char)
        ignorable = category == "Cf" or (category == "Cc" and not char.isspace()) or cp in other
        if category == "Cn" and not ignorable:
            continue  # unassigned: a later Unicode may make it a format character, and the table may list it
        assert (strip_ignorable(char) == "") == ignorable, f"U+{cp:04X} {category}"


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40), st.data())
def test_invisible_characters_anywhere_do_not_change_the_prompt(text: str, data: st.DataObject) -> None:
    from bot.generation.prompt_text import clean_prompt, strip_ignorable

    plain = strip_ignorable(text)
    noisy = "".join(c + "".join(data.draw(st.lists(st.sampled_from(INVISIBLE), max_size=2))) for c in plain)
    assert clean_prompt(noisy) == clean_prompt(plain)
    assert clean_prompt(clean_prompt(noisy)) == clean_prompt(noisy)
