"""The catalogs: every string marked with t(...) in bot/ and cogs/ exists in Chinese with the same fields."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.i18n import CHINESE, ENGLISH, CatalogTranslator, language_of, t
from bot.locales import zh_cn

ROOT = Path(__file__).resolve().parents[2]


def _marked_strings() -> dict[str, str]:
    """msgid -> where it is used, for every t("literal", ...) call in the code."""
    found: dict[str, str] = {}
    for path in [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id == "t"
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
            ):
                found[node.args[0].value] = f"{path.relative_to(ROOT)}:{node.lineno}"
    return found


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_every_marked_message_is_translated_with_the_same_fields() -> None:
    problems = []
    for msgid, where in sorted(_marked_strings().items()):
        zh = zh_cn.TEXTS.get(msgid)
        if zh is None:
            problems.append(f"{where}: no zh-CN for {msgid!r}")
        elif _fields(zh) != _fields(msgid):
            problems.append(f"{where}: fields differ for {msgid!r}: {_fields(msgid)} vs {_fields(zh)}")
    assert not problems, "\n".join(problems)


def test_catalog_texts_keep_their_fields() -> None:
    bad = [k for k, v in zh_cn.TEXTS.items() if _fields(k) != _fields(v)]
    assert not bad


@pytest.mark.parametrize(
    ("locale", "language"),
    [("zh-CN", CHINESE), (discord.Locale.chinese, CHINESE), ("zh-TW", ENGLISH), ("en-GB", ENGLISH), (None, ENGLISH)],
)
def test_language_of(locale: object, language: str) -> None:
    assert language_of(locale) == language  # type: ignore[arg-type]


def test_t_formats_in_both_languages() -> None:
    msgid = "Generate images from a prompt"
    assert t(msgid, "en-US") == msgid
    assert t(msgid, "zh-CN") == zh_cn.TEXTS[msgid]
    assert t("not in any catalog {n}", "zh-CN", n=3) == "not in any catalog 3"


async def test_translator_uses_the_name_catalog_for_names_only() -> None:
    translator = CatalogTranslator()
    name_ctx = app_commands.TranslationContext(app_commands.TranslationContextLocation.command_name, None)
    text_ctx = app_commands.TranslationContext(app_commands.TranslationContextLocation.command_description, None)
    zh = discord.Locale.chinese
    assert await translator.translate(app_commands.locale_str("imagine"), zh, name_ctx) == zh_cn.NAMES["imagine"]
    assert await translator.translate(app_commands.locale_str("imagine"), zh, text_ctx) is None
    assert (
        await translator.translate(app_commands.locale_str("imagine"), discord.Locale.british_english, name_ctx) is None
    )
