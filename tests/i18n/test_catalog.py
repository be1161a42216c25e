"""The catalogs: every string marked with t(...) in bot/ and cogs/ exists in Chinese with the same fields."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import discord
import pytest
from discord import app_commands

from bot.i18n import CHINESE, ENGLISH, CatalogTranslator, Text, language_of, t, zh_cn

ROOT = Path(__file__).resolve().parents[2]


def _literals(node: ast.expr | None) -> list[str]:
    """The string constants an argument can be: a literal, or either branch of ``a if c else b``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _literals(node.body) + _literals(node.orelse)
    return []


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _sources() -> list[tuple[Path, ast.Module]]:
    paths = [*ROOT.joinpath("bot").rglob("*.py"), *ROOT.joinpath("cogs").rglob("*.py")]
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in paths]


# The markers, and nothing else: a message id is the first argument of t / N_ / Text (mark a literal with N_
# where it is defined, gettext-style); an option name shown in an error is InvalidRequestError's first argument.
_MSGID_MARKERS = frozenset({"t", "N_", "Text"})
_FIELD_MARKER = "InvalidRequestError"


def _marked(sources: list[tuple[Path, ast.Module]]) -> tuple[dict[str, str], dict[str, str]]:
    """(msgid -> where, field name -> where) for every marked literal in bot/ and cogs/."""
    texts: dict[str, str] = {}
    fields: dict[str, str] = {}
    for path, tree in sources:
        where = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name, at = _call_name(node), f"{where}:{node.lineno}"
            if name in _MSGID_MARKERS:
                texts.update(dict.fromkeys(_literals(node.args[0]), at))
            elif name == _FIELD_MARKER:
                fields.update(dict.fromkeys(_literals(node.args[0]), at))
    return texts, fields


def _marked_strings() -> dict[str, str]:
    return _marked(_sources())[0]


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


def test_every_field_named_in_an_error_has_a_chinese_name() -> None:
    """InvalidRequestError fields are shown with the option's localized name (flags stay as typed)."""
    _, fields = _marked(_sources())
    missing = [
        f"{where}: {name!r}"
        for name, where in sorted(fields.items())
        if not name.startswith("--") and name not in zh_cn.NAMES and name not in zh_cn.TEXTS
    ]
    assert not missing, "\n".join(missing)


def test_the_scan_finds_errors_and_deferred_messages() -> None:
    """The scan itself: a regression here would make the catalog test pass vacuously."""
    texts, fields = _marked(_sources())
    assert "No job `{job_id}` was found." in texts  # a BotError's message
    assert "Cancelled." in texts  # a stored failure detail
    assert "The image generation failed." in texts  # a LiblibError human text
    assert "the file is empty." in texts and "image" in fields  # InvalidRequestError(field, message)
    assert "Reroll" in texts  # N_ in the button table
    assert "Slow down: try again in {seconds:.0f}s." in texts  # t(...) at the edge


def test_every_user_facing_error_message_is_marked() -> None:
    """The convention the scan relies on, checked at run time: every BotError, LiblibError and DeliveryError
    message a member can read is a catalogued msgid (so an unmarked literal cannot slip past the scan)."""
    import bot.errors as errors_module
    from bot.liblib import errors as liblib_errors

    texts = _marked_strings()
    humans = [
        cls.human
        for cls in vars(liblib_errors).values()
        if isinstance(cls, type) and issubclass(cls, Exception) and isinstance(getattr(cls, "human", None), str)
    ]
    assert humans and all(h in texts for h in humans), [h for h in humans if h not in texts]
    samples = [errors_module.JobNotFoundError("x"), errors_module.QueueFullError(), errors_module.NotJobOwnerError()]
    assert all(e.text.msgid in texts for e in samples)


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
    assert await translator.translate(app_commands.locale_str("control_image"), zh, text_ctx) is None
    assert (
        await translator.translate(app_commands.locale_str("imagine"), discord.Locale.british_english, name_ctx) is None
    )


def test_stored_details_render_in_the_readers_language() -> None:
    """Failure details are stored as a msgid and parameters, nested Texts included, and rendered at the edge."""
    human = "The image service rejected the request's parameters."
    detail = Text("{reason} ({detail})", {"reason": Text(human), "detail": "width too large"})
    stored = Text.from_json(detail.to_json())
    assert stored == detail
    assert stored.render("en-US") == f"{human} (width too large)"
    assert stored.render("zh-CN") == f"{zh_cn.TEXTS[human]}（width too large）"
    assert Text.from_json("Cancelled.").render("zh-CN") == zh_cn.TEXTS["Cancelled."]  # a detail stored as text
    assert Text.from_json('{"not": "a text"}') == Text('{"not": "a text"}')


async def test_locale_resolver_order() -> None:
    from bot.i18n import LocaleResolver

    servers = {1: "zh-CN", 2: None}

    async def server_language(guild_id: int) -> str | None:
        return servers.get(guild_id)

    resolver = LocaleResolver("en-US", server_language)
    assert await resolver.for_guild(1) == CHINESE
    assert await resolver.for_guild(2) == ENGLISH
    assert await resolver.for_guild(2, discord.Locale.chinese) == CHINESE  # the guild's own locale
    assert await LocaleResolver("zh-CN").for_guild(None) == CHINESE


async def test_a_members_own_language_comes_first() -> None:
    """member preference (/prefer) > Discord language > server > bot default; a failed look-up is skipped."""
    from bot.i18n import LocaleResolver

    chosen = {7: "en-US", 8: None}

    async def member_language(user_id: int) -> str | None:
        if user_id == 9:
            raise RuntimeError("database down")
        return chosen.get(user_id)

    async def server_language(guild_id: int) -> str | None:
        return "zh-CN"

    resolver = LocaleResolver("zh-CN", server_language, member_language)
    assert await resolver.member_choice(7) == ENGLISH
    assert await resolver.for_guild(1, user_id=7) == ENGLISH  # over the server's Chinese
    assert await resolver.for_guild(1, user_id=8) == CHINESE  # no choice: the server's
    assert await resolver.for_guild(1, user_id=9) == CHINESE  # a failed look-up never breaks a reply
    assert await resolver.member_choice(None) is None


def test_bot_errors_render_in_both_languages_and_keep_english_message() -> None:
    from bot.errors import InvalidRequestError, JobNotFoundError

    error = InvalidRequestError("seed", "the seed must be between 0 and {limit}.", limit=9)
    assert error.message == "**seed**: the seed must be between 0 and 9." == str(error)
    assert error.localized("zh-CN") == f"**{zh_cn.NAMES['seed']}**: 种子必须在 0 到 9 之间。"
    assert JobNotFoundError("abc").localized("zh-CN") == "找不到任务 `abc`。"
