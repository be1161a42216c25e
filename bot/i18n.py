"""Two languages, English and Simplified Chinese, gettext-style: the English text is the message id.

- ``t(msgid, locale, **params)`` renders a user-facing message in the member's language (the
  interaction's locale, else the server's default). Mark every user-facing string with ``t`` so
  the catalog test can find it.
- ``CatalogTranslator`` gives Discord the localized command names, descriptions, option names and
  choice names; discord.py turns every plain command string into a ``locale_str`` for it.

Catalogs live in ``bot/locales``: names (which Discord restricts to lowercase letters, digits, - and _)
apart from texts.
"""

from __future__ import annotations

import discord
from discord import app_commands

from bot.locales import zh_cn

ENGLISH = "en-US"
CHINESE = "zh-CN"
SUPPORTED = (ENGLISH, CHINESE)

_TEXTS: dict[str, dict[str, str]] = {CHINESE: zh_cn.TEXTS}
_NAMES: dict[str, dict[str, str]] = {CHINESE: zh_cn.NAMES}


def language_of(locale: str | discord.Locale | None, default: str = ENGLISH) -> str:
    """The supported language for a Discord locale: zh-CN for Simplified Chinese, else English."""
    if locale is None:
        return default if default in SUPPORTED else ENGLISH
    value = locale.value if isinstance(locale, discord.Locale) else str(locale)
    if value == CHINESE:
        return CHINESE
    return ENGLISH


def t(msgid: str, locale: str | discord.Locale | None = None, /, **params: object) -> str:
    """``msgid`` in the member's language, formatted with ``params`` (str.format fields)."""
    text = _TEXTS.get(language_of(locale), {}).get(msgid, msgid)
    return text.format(**params) if params else text


class CatalogTranslator(app_commands.Translator):
    async def translate(
        self, string: app_commands.locale_str, locale: discord.Locale, context: app_commands.TranslationContextTypes
    ) -> str | None:
        language = language_of(locale)
        if language == ENGLISH:
            return None
        names = context.location in (
            app_commands.TranslationContextLocation.command_name,
            app_commands.TranslationContextLocation.group_name,
            app_commands.TranslationContextLocation.parameter_name,
        )
        if not names:
            return _TEXTS.get(language, {}).get(string.message)
        catalog = _NAMES.get(language, {})
        # A qualified key ("settings strikes limit") wins over the bare name ("limit").
        qualified = _qualified_name(context)
        return catalog.get(qualified) if qualified in catalog else catalog.get(string.message)


def _qualified_name(context: app_commands.TranslationContextTypes) -> str:
    data = context.data
    if isinstance(data, app_commands.Parameter):
        return f"{data.command.qualified_name} {data.name}"
    return str(getattr(data, "qualified_name", ""))
