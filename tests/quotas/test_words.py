"""Banned words: disguises are seen through, ordinary prompts are left alone (bot/quotas/words.py, folding.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.quotas.words import WordMatcher, normalize

ROOT = Path(__file__).resolve().parents[2]
CORPUS = [
    line.strip()
    for line in (Path(__file__).parent / "ordinary_prompts.txt").read_text(encoding="utf-8").splitlines()
    if line.strip() and not line.startswith("#")
]
# An ordinary list: short words that sit inside many innocent ones ("ass" in "class", "sex" in "Sussex").
ORDINARY_BANNED = (
    "ass",
    "nude",
    "sex",
    "porn",
    "anal",
    "tit",
    "cum",
    "cock",
    "dick",
    "gore",
    "nsfw",
    "naked",
    "boob",
    "pussy",
    "xxx",
    "hentai",
    "裸体",
    "色情",
    "血腥",
    "做爱",
    "露点",
)
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(
    "text",
    [
        "n u d e",
        "n.u.d.e",
        "nudes",
        "nüde",
        "nud\u0435",  # Cyrillic е
        "nu\u034fde",  # combining grapheme joiner
        "nu\u180ede",  # Mongolian vowel separator
        "nu\u3164de",  # Hangul filler
        "nu\ufe0fde",  # variation selector 16
        "nu\U000e0041\U000e007fde",  # tag characters
        "a n_u_d_e photo",
        "N-U-D-E",
        "n u d e s",
        "ＮＵＤＥＳ",
        "n\u0308u\u0301d\u0327e\u0336",  # stacked marks
        "\u0274\u1d1c\u1d05\u1d07",  # small capitals
        "🅽🆄🅳🅴",
        "ΝUDE",  # Greek capital nu
        "画一个n u d e女孩",
        "nude_pic",
    ],
)
def test_latin_disguises_are_seen_through(text: str) -> None:
    assert WordMatcher(["nude", "裸体"]).find(f"a photo, {text}, soft light") == "nude"


@pytest.mark.parametrize(
    "text",
    ["裸 体", "裸　体", "裸\u200b体", "画裸\u034f体女孩", "裸.体", "画一个 裸 体 女孩", "裸\U000e0020体", "裸\u0301体"],
)
def test_cjk_disguises_are_seen_through(text: str) -> None:
    """Spelled out, each character stands alone: "画裸 体女孩" cannot be told from "金色 情侣" without a dictionary."""
    assert WordMatcher(["nude", "裸体"]).find(text) == "裸体"


@pytest.mark.parametrize(
    ("word", "text"),
    [
        ("pussy", "pussies"),
        ("ass", "asses"),
        ("two words", "two-words"),
        ("two words", "t w o w o r d s"),
        ("sex", "ЅЕХ"),  # Cyrillic capitals
        ("porn", "РОRN"),
        ("hentai", "ｈｅｎｔａｉｓ"),
    ],
)
def test_plurals_phrases_and_confusables(word: str, text: str) -> None:
    assert WordMatcher([word]).find(text) == word


@pytest.mark.parametrize(
    "text",
    [
        "a scenic landscape",
        "Sunday",
        "nuance",
        "studio",
        "sussex",
        "assassin",
        "class",
        "an al fresco lunch",  # "an al" is not "anal" split
        "a fluffy pom dog",  # "m" is not folded to "rn"
        "金色 情侣",  # "色 情" joins two words, it does not spell one
        "彩色，情绪饱满",
        "nudism",
        "the letter n",
    ],
)
def test_ordinary_words_are_not_banned(text: str) -> None:
    assert WordMatcher(ORDINARY_BANNED).find(text) is None


def test_plurals_only_from_three_letters() -> None:
    assert WordMatcher(["i", "ho"]).find("this is a hose, hos") is None
    assert WordMatcher(["ho"]).find("ho ho ho") == "ho"


def test_no_false_positives_on_ordinary_prompts() -> None:
    assert len(CORPUS) >= 300
    matcher = WordMatcher(ORDINARY_BANNED)
    assert [(line, matcher.find(line)) for line in CORPUS if matcher.find(line)] == []


# -- generated disguises and generated ordinary text -----------------------------------------------

IGNORABLE = ["\u200b", "\u200d", "\u00ad", "\u034f", "\u180e", "\u3164", "\ufe0f", "\U000e0041", "\u2066", "\ufeff"]
MARKS = ["\u0300", "\u0301", "\u0308", "\u0327", "\u0336", "\u20dd"]
LOOKALIKES = {
    "a": "аɑαａ𝐚",
    "e": "еҽｅ𝐞ℯ",
    "o": "оοօｏ𝐨",
    "s": "ѕꜱｓ𝐬",
    "x": "хⅹｘ𝐱",
    "p": "рρｐ𝐩",
    "u": "υսｕ𝐮",
    "d": "ԁｄ𝐝ⅾ",
    "n": "ոｎ𝐧",
    "r": "гᴦｒ𝐫",
    "i": "іιｉ𝐢",
    "y": "уүｙ𝐲",
}
SEPARATORS = [" ", ".", "-", "_", "*", "·", "/", "|", "\u3000", "  ", "💋"]


@st.composite
def disguised(draw: st.DrawFn, word: str) -> str:
    """``word`` written with look-alikes, random case, marks and invisible characters, maybe spelled out."""
    chars = []
    for char in word:
        if char in LOOKALIKES and draw(st.booleans()):
            char = draw(st.sampled_from(LOOKALIKES[char]))
        elif draw(st.booleans()):
            char = char.upper()
        if draw(st.booleans()):
            char += draw(st.sampled_from(MARKS))
        chars.append(char + "".join(draw(st.lists(st.sampled_from(IGNORABLE), max_size=2))))
    if draw(st.booleans()):
        return "".join(c + draw(st.sampled_from(SEPARATORS)) for c in chars[:-1]) + chars[-1]
    return "".join(chars)


@FAST
@given(st.data(), st.sampled_from(["nude", "porn", "sex", "pussy", "裸体", "色情"]))
def test_generated_disguises_are_found(data: st.DataObject, word: str) -> None:
    hidden = data.draw(disguised(word))
    before = data.draw(st.sampled_from(["", "a ", "画一个 ", "photo of ", "(", "\n"]))
    after = data.draw(st.sampled_from(["", " girl", " 女孩", ", 8k", ")", "!"]))
    assert WordMatcher(ORDINARY_BANNED).find(before + hidden + after) == word


VOCABULARY = sorted({token for line in CORPUS for token in line.replace(",", " ").split()})


@FAST
@given(st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=12), st.sampled_from([" ", ", ", " - ", "，", "\n"]))
def test_ordinary_words_joined_anyhow_stay_ordinary(words: list[str], separator: str) -> None:
    assert WordMatcher(ORDINARY_BANNED).find(separator.join(words)) is None


POOL = st.sampled_from(
    [*"aAeEnNuUdD 裸体 -._", *IGNORABLE, *MARKS, *"".join(LOOKALIKES.values()), "Ι", "Ν", "ᑎ", "➀", "İ", "ß", "ﾇｰﾄﾞ"]
)


@FAST
@given(st.lists(POOL, max_size=12).map("".join))
def test_folding_is_stable(text: str) -> None:
    """Folding twice changes nothing, so words compared folded (the admin list's de-duplication) agree."""
    assert normalize(normalize(text)) == normalize(text)


def test_a_word_list_is_compiled_once() -> None:
    from bot.quotas.words import word_matcher

    assert word_matcher(("nude", "裸体")) is word_matcher(("nude", "裸体"))
    assert word_matcher(("nude",)) is not word_matcher(("nude", "裸体"))


def test_confusables_are_read_from_the_installed_package_without_network() -> None:
    """The UTS #39 data ships inside confusable-homoglyphs: folding works with every socket refused."""
    script = (
        "import socket\n"
        "def refuse(*a, **k):\n"
        "    raise OSError('network is off')\n"
        "socket.socket.connect = refuse\n"
        "socket.create_connection = refuse\n"
        "socket.getaddrinfo = refuse\n"
        "from bot.quotas.words import WordMatcher\n"
        "assert WordMatcher(['nude']).find('n\\u0443d\\u0435') is None\n"  # Cyrillic у is "y": "nyde"
        "assert WordMatcher(['nude']).find('\\u0578ud\\u0435') == 'nude'\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "CONFUSABLE_DATA"} | {"PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", script], check=True, env=env, cwd=ROOT, timeout=60)
