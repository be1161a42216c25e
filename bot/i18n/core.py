"""Two languages, English and Simplified Chinese, gettext-style: the English text is the message id.

- ``t(msgid, locale, **params)`` renders a user-facing message in a language (see ``LocaleResolver``
  for which one). Mark every user-facing string with ``t`` (or ``N_`` / ``Text`` for a message
  rendered later) so the catalog test finds it.
- ``Text`` is a message kept unrendered (an error, a stored failure detail, a parameter of another
  message) and rendered in the reader's language at the edge.
- ``CatalogTranslator`` gives Discord the localized command names, descriptions, option names and
  choice names; discord.py turns every plain command string into a ``locale_str`` for it.

Catalogs live in ``bot/locales``: names (which Discord restricts to lowercase letters, digits, - and _)
apart from texts.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import discord
from discord import app_commands

from bot.i18n import zh_cn

log = logging.getLogger(__name__)

ENGLISH = "en-US"
CHINESE = "zh-CN"
SUPPORTED = (ENGLISH, CHINESE)

_TEXTS: dict[str, dict[str, str]] = {CHINESE: zh_cn.TEXTS}
_NAMES: dict[str, dict[str, str]] = {CHINESE: zh_cn.NAMES}

Locale = str | discord.Locale | None


def supported_language(locale: Locale) -> str | None:
    """zh-CN for Simplified Chinese, en-US for any English; None for a language we do not speak."""
    if locale is None:
        return None
    value = locale.value if isinstance(locale, discord.Locale) else str(locale)
    if value == CHINESE:
        return CHINESE
    if value == "en" or value.startswith("en-"):
        return ENGLISH
    return None


def language_of(locale: Locale, default: str = ENGLISH) -> str:
    """The supported language for a Discord locale, else ``default`` (English unless told)."""
    return supported_language(locale) or (default if default in SUPPORTED else ENGLISH)


def t(msgid: str, locale: Locale = None, /, **params: object) -> str:
    """``msgid`` in the member's language, formatted with ``params`` (str.format fields).

    A ``Text`` parameter is rendered in the same language first."""
    language = language_of(locale)
    text = _TEXTS.get(language, {}).get(msgid, msgid)
    if not params:
        return text
    return text.format(**{k: v.render(language) if isinstance(v, Text) else v for k, v in params.items()})


def N_(msgid: str) -> str:  # noqa: N802 (gettext's name for "mark, translate later")
    """Mark a string for the catalog without translating it here (``t(value, locale)`` renders it)."""
    return msgid


def field_name(name: str, locale: Locale) -> str:
    """An option or field name as the member sees it in Discord's UI (the localized option name)."""
    language = language_of(locale)
    return _NAMES.get(language, {}).get(name) or _TEXTS.get(language, {}).get(name) or name


@dataclass(frozen=True, slots=True)
class Text:
    """A message rendered later, in the reader's language: a msgid and its parameters (which may be Texts).

    Failure details are stored this way (``to_json``) and rendered at the edge in the job's language."""

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)

    def render(self, locale: Locale) -> str:
        return t(self.msgid, locale, **self.params)

    def __str__(self) -> str:
        return self.render(ENGLISH)

    def to_json(self) -> str:
        return json.dumps(_encode_text(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Text:
        """A stored Text; a plain string (stored before details were structured) is its own msgid."""
        try:
            data = json.loads(raw)
        except ValueError:
            return cls(raw)
        return _decode_text(data) if isinstance(data, dict) and "msgid" in data else cls(raw)


def _encode_text(text: Text) -> dict[str, object]:
    params = {k: {"text": _encode_text(v)} if isinstance(v, Text) else v for k, v in text.params.items()}
    return {"msgid": text.msgid, "params": params}


def _decode_text(data: dict[str, Any]) -> Text:
    params = {
        k: _decode_text(v["text"]) if isinstance(v, dict) and "text" in v else v
        for k, v in dict(data.get("params") or {}).items()
    }
    return Text(str(data["msgid"]), params)


class LocaleResolver:
    """Which language to answer in, first that applies:

    1. the member's own choice (``/prefer set language:``), whatever their Discord language;
    2. the member's Discord language, when we speak it (English or Simplified Chinese);
    3. the server's default (``/settings language``);
    4. the bot-wide ``[discord] default_locale``.

    A reply + mention has no Discord language: 1, then 3, then Chinese for a zh-CN server, then 4."""

    def __init__(
        self,
        default: str = ENGLISH,
        server_language: Callable[[int], Awaitable[str | None]] | None = None,
        member_language: Callable[[int], Awaitable[str | None]] | None = None,
    ) -> None:
        self.default = language_of(default)
        self._server_language = server_language
        self._member_language = member_language

    async def server_default(self, guild_id: int | None) -> str | None:
        if guild_id is None or self._server_language is None:
            return None
        try:
            return supported_language(await self._server_language(guild_id))
        except Exception:  # a language lookup must never break a reply
            log.warning("could not read the server language of guild %s", guild_id, exc_info=True)
            return None

    async def member_choice(self, user_id: int | None) -> str | None:
        """The language the member chose for the bot's replies (``/prefer``), if any."""
        if user_id is None or self._member_language is None:
            return None
        try:
            return supported_language(await self._member_language(user_id))
        except Exception:  # a language lookup must never break a reply
            log.warning("could not read the preferred language of user %s", user_id, exc_info=True)
            return None

    async def for_interaction(self, interaction: discord.Interaction) -> str:
        chosen = await self.member_choice(interaction.user.id)
        if chosen is not None:
            return chosen
        own = supported_language(interaction.locale)
        if own is not None:
            return own
        return await self.server_default(interaction.guild_id) or self.default

    async def for_guild(
        self, guild_id: int | None, preferred_locale: Locale = None, *, user_id: int | None = None
    ) -> str:
        """No member locale (a reply + mention): the member's choice (``user_id``), the server default, else a
        zh-CN server's own locale, else the bot default."""
        chosen = await self.member_choice(user_id)
        if chosen is not None:
            return chosen
        server = await self.server_default(guild_id)
        if server is not None:
            return server
        return CHINESE if supported_language(preferred_locale) == CHINESE else self.default


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
