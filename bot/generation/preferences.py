"""Personal defaults (``/prefer``): a member's default mode, aspect ratio, image count, style and language.

One set per member for the whole bot (as Midjourney does): the same defaults in every server and in direct
messages. They rank below what the member types (an option or a flag) and above a style and the server's
defaults (``bot.generation.resolution``). The language ranks first for replies (``LocaleResolver``).

Read through a short cache, since every reply asks for the language: this process's changes clear it at once,
another process's show within ``PREFERENCES_TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping
from typing import Any

from bot.errors import BotError, InvalidRequestError
from bot.generation.builder import ASPECT_RATIOS
from bot.generation.resolution import Choices
from bot.generation.styles import StyleCatalog, style_name
from bot.i18n import N_, SUPPORTED
from bot.liblib.endpoints import MAX_IMAGE_COUNT
from bot.models import PREFERENCE_FIELDS, Preferences
from bot.storage import PreferenceStore

log = logging.getLogger(__name__)

PREFERENCES_TTL = 5.0  # seconds
NONE = Preferences()


class PreferenceService:
    def __init__(self, store: PreferenceStore, styles: StyleCatalog) -> None:
        self._store = store
        self._styles = styles
        self._cache: dict[int, tuple[float, asyncio.Future[Preferences | None]]] = {}

    async def get(self, user_id: int) -> Preferences:
        """The member's defaults (none set: every field None)."""
        now = time.monotonic()
        cached = self._cache.get(user_id)
        if cached is None or now - cached[0] >= PREFERENCES_TTL:
            cached = (now, asyncio.ensure_future(self._store.get_preferences(user_id)))
            self._cache[user_id] = cached
        try:
            return await asyncio.shield(cached[1]) or NONE
        except Exception:
            if self._cache.get(user_id) is cached:
                del self._cache[user_id]  # never cache a failed read
            raise

    async def language(self, user_id: int) -> str | None:
        """The language the member chose for replies, if any (``LocaleResolver`` asks first)."""
        return (await self.get(user_id)).language

    async def choices(self, user_id: int) -> tuple[Preferences, Choices]:
        """The member's defaults, and what they say as a level of the resolution. A mode no longer configured
        is left out (the member is not refused for a default they did not type)."""
        preferences = await self.get(user_id)
        mode = preferences.mode
        if mode is not None and mode not in {m.name for m in self._styles.builder.modes()}:
            log.info("preferred mode %r of user %s is no longer configured: not applied", mode, user_id)
            mode = None
        return preferences, Choices(mode=mode, aspect=preferences.aspect, count=preferences.count)

    async def update(self, user_id: int, changes: Mapping[str, Any], *, guild_id: int | None) -> Preferences:
        """Set ``changes`` (checked; a style must exist where the member asks, ``guild_id``); returns the result."""
        if not changes:
            raise BotError(N_("Nothing to change: give at least one option."))
        checked = {name: await self._checked(name, value, guild_id) for name, value in changes.items()}
        updated = dataclasses.replace(await self._read(user_id), **checked)
        await self._store.set_preferences(user_id, updated)
        self._cache.pop(user_id, None)
        return updated

    async def reset(self, user_id: int, fields: Iterable[str] | None = None) -> Preferences:
        """Forget ``fields`` (all of them when None); returns what is left."""
        names = PREFERENCE_FIELDS if fields is None else tuple(f for f in fields if f in PREFERENCE_FIELDS)
        left = dataclasses.replace(await self._read(user_id), **dict.fromkeys(names))
        await self._store.set_preferences(user_id, left)
        self._cache.pop(user_id, None)
        return left

    async def _read(self, user_id: int) -> Preferences:
        return await self._store.get_preferences(user_id) or NONE

    async def _checked(self, name: str, value: Any, guild_id: int | None) -> Any:
        builder = self._styles.builder
        if name == "mode":
            mode = builder.resolve_mode(str(value))
            builder.mode_info(mode)  # unknown: "unknown mode ... Available: ..."
            return mode
        if name == "aspect":
            if value not in ASPECT_RATIOS:
                raise InvalidRequestError("aspect", N_("choose one of {choices}."), choices=", ".join(ASPECT_RATIOS))
            return value
        if name == "count":
            if not 1 <= int(value) <= MAX_IMAGE_COUNT:
                raise InvalidRequestError(
                    "count", N_("the image count must be between 1 and {limit}."), limit=MAX_IMAGE_COUNT
                )
            return int(value)
        if name == "style":
            return (await self._styles.get(guild_id, style_name(str(value)))).name
        if name == "language":
            if value not in SUPPORTED:
                raise InvalidRequestError("language", N_("choose one of {choices}."), choices=", ".join(SUPPORTED))
            return value
        raise ValueError(f"not a preference: {name}")
