"""bot/generation/language.py: which language a prompt is in (English or not, and which), with a few CJK names
or emoji in an English prompt still English."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from bot.generation.language import NON_ENGLISH_SHARE, Language, detect_language, letter_counts, request_language
from bot.generation.prompt_text import clean_prompt


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("a portrait of 李白 in the style of ukiyo-e 🌸", Language.ENGLISH),
        ("a red fox in the snow", Language.ENGLISH),
        ("A cat named 小白 sleeping on a sofa", Language.ENGLISH),
        ("Tokyo street at night, 渋谷, neon signs, ネオン", Language.ENGLISH),
        ("a poster with the text 新年快乐 in gold calligraphy", Language.ENGLISH),
        ("Café au lait, crème brûlée, naïve still life", Language.ENGLISH),  # Latin script: not told apart
        ("ＡＢＣ full-width letters", Language.ENGLISH),
        ("🌸🌸🌸 2048 !!!", Language.ENGLISH),  # no letters at all
        ("", Language.ENGLISH),
        ("一只猫在月光下", Language.CHINESE),
        ("画一只猫", Language.CHINESE),
        ("一只可爱的猫 sitting under the moon, 月光下, 高清", Language.CHINESE),  # mixed, mostly Chinese
        ("masterpiece, best quality, 1girl, 穿着汉服的少女, 站在樱花树下", Language.CHINESE),
        ("赛博朋克风格的城市夜景, neon, 8k", Language.CHINESE),
        ("東京タワーの夜景", Language.JAPANESE),
        ("桜の木の下で", Language.JAPANESE),
        ("ｶﾀｶﾅ", Language.JAPANESE),  # half-width katakana
        ("서울의 밤거리", Language.KOREAN),
        ("кошка в лунном свете", Language.OTHER),
        ("قطة في ضوء القمر", Language.OTHER),
    ],
)
def test_examples(prompt: str, language: Language) -> None:
    assert detect_language(prompt) is language
    assert detect_language(prompt).is_english is (language is Language.ENGLISH)


def test_the_negative_prompt_counts_when_the_prompt_is_english() -> None:
    assert request_language("a cat", "模糊, 低质量") is Language.CHINESE
    assert request_language("a cat", "blurry") is Language.ENGLISH
    assert request_language("一只猫", "blurry") is Language.CHINESE
    assert request_language("a cat", None) is Language.ENGLISH


def test_only_letters_count() -> None:
    assert letter_counts("a1 b2, 猫! 🌸\u200b") == {"latin": 2, "han": 1, "kana": 0, "hangul": 0, "other": 0}


_LATIN_WORDS = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz"), min_size=1, max_size=10)
_HAN = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
_NOISE = st.text(st.sampled_from("0123456789 ,.!?-:;()[]'\"🌸🦊✨🎨❤️\u200b\ufe0f\n"), max_size=12)


@st.composite
def english_with_names(draw: st.DrawFn) -> str:
    """An English prompt of at least 4 words with a short Chinese name or two: under the threshold."""
    words = draw(st.lists(_LATIN_WORDS, min_size=4, max_size=30))
    latin = sum(map(len, words))
    budget = int(latin * NON_ENGLISH_SHARE / (1 - NON_ENGLISH_SHARE) - 1e-9)  # strictly under the share
    names = draw(st.lists(st.text(_HAN, min_size=1, max_size=3), max_size=3))
    kept, used = [], 0
    for name in names:
        if used + len(name) < budget:
            kept.append(name)
            used += len(name)
    parts = words + kept
    order = draw(st.permutations(parts))
    return " ".join(order)


@settings(max_examples=300, deadline=None)
@given(english_with_names(), _NOISE)
def test_english_with_a_few_cjk_names_stays_english(prompt: str, noise: str) -> None:
    assert detect_language(prompt) is Language.ENGLISH
    assert detect_language(prompt + noise) is Language.ENGLISH


@settings(max_examples=300, deadline=None)
@given(st.text(_HAN, min_size=1, max_size=40), st.lists(_LATIN_WORDS, max_size=5), _NOISE)
def test_mostly_chinese_is_chinese(chinese: str, words: list[str], noise: str) -> None:
    latin = sum(map(len, words))
    assume(len(chinese) >= latin)  # at least as many Chinese letters as Latin ones
    prompt = f"{chinese} {' '.join(words)}{noise}"
    assert detect_language(prompt) is Language.CHINESE


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=60), _NOISE)
def test_punctuation_digits_emoji_and_invisibles_never_change_the_answer(text: str, noise: str) -> None:
    assert detect_language(text + noise) is detect_language(text) is detect_language(noise + text)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=["Cs"]), max_size=60))
def test_cleaning_the_prompt_does_not_change_its_language(text: str) -> None:
    """The builder detects the cleaned prompt; the router and the builder must agree with any raw text."""
    assert detect_language(clean_prompt(text)) is detect_language(text)


@settings(max_examples=200, deadline=None)
@given(st.text(_HAN, min_size=1, max_size=20), st.lists(_LATIN_WORDS, min_size=1, max_size=20))
def test_adding_english_words_never_makes_english_non_english(chinese: str, words: list[str]) -> None:
    base = " ".join(words)
    assume(detect_language(base + " " + chinese) is Language.ENGLISH)
    assert detect_language(base + " " + chinese + " " + base) is Language.ENGLISH
