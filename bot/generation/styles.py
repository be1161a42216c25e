"""Style presets: the one validation of a style (``/style add|edit`` and ``[[styles]]``), the catalog a server
sees (its own styles over the bot-wide ones), and what a style does to a request (its text around the prompt,
its LoRA preset).

A server's styles are read through a short cache (every /imagine with a style, and every keystroke of the
``style`` autocomplete, looks them up); this process's changes clear it at once, another process's show
within ``STYLES_TTL`` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from bot.errors import BotError, InvalidRequestError
from bot.generation.builder import ASPECT_RATIOS, RequestBuilder
from bot.generation.prompt_text import clean_prompt
from bot.generation.resolution import Resolved, Source
from bot.i18n import N_
from bot.models import STYLE_FIELDS, GenerationRequest, Style
from bot.settings import StyleSettings
from bot.storage import StyleStore

log = logging.getLogger(__name__)

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
MAX_AFFIX = 500  # characters of a prefix or a suffix
MAX_NEGATIVE = 1000
MAX_DESCRIPTION = 100
MAX_SERVER_STYLES = 50
STYLES_TTL = 5.0  # seconds
_GLUED = ",.;:!?)）。，；："  # a suffix starting with one of these follows the prompt without a space


Vet = Callable[[Style], Awaitable[None]]
"""A further check of a validated style before it is stored (raises a BotError to refuse it)."""


class UnknownStyleError(BotError):
    def __init__(self, name: str, available: Iterable[str]) -> None:
        names = ", ".join(f"`{n}`" for n in available)
        if names:
            super().__init__(N_("There is no style `{name}` here. Available styles: {names}."), name=name, names=names)
        else:
            super().__init__(N_("There is no style `{name}` here, and no style is defined yet."), name=name)


def style_name(raw: str) -> str:
    """A style's name as typed (trimmed, lowercased), or InvalidRequestError when it breaks the naming rule."""
    name = raw.strip().lower()
    if not NAME.fullmatch(name):
        raise InvalidRequestError(
            "style", N_("a style name is 1-32 lowercase letters, digits, - or _, starting with a letter or digit.")
        )
    return name


def _text(value: str | None, field: str, limit: int) -> str:
    text = clean_prompt(value)
    if len(text) > limit:
        raise InvalidRequestError(
            field, N_("{length} characters is too long; the limit is {limit}."), length=len(text), limit=limit
        )
    return text


def check_style(style: Style, builder: RequestBuilder) -> Style:
    """``style`` normalised (name, trimmed texts, the mode's full name), or InvalidRequestError naming the field at
    fault: a bad name, a text too long, an unknown mode, aspect or LoRA preset, an option its mode cannot take,
    a strength outside 0-1, or a style that sets nothing."""
    name = style_name(style.name)
    description = _text(style.description, "description", MAX_DESCRIPTION)
    prefix = _text(style.prefix, "prefix", MAX_AFFIX)
    suffix = _text(style.suffix, "suffix", MAX_AFFIX)
    negative = _text(style.negative, "negative", MAX_NEGATIVE) or None
    mode = builder.resolve_mode(style.mode) if style.mode and style.mode.strip() else None
    aspect = style.aspect.strip() if style.aspect and style.aspect.strip() else None
    lora = style.lora.strip().lower() if style.lora and style.lora.strip() else None
    if aspect is not None and aspect not in ASPECT_RATIOS:
        raise InvalidRequestError("aspect", N_("choose one of {choices}."), choices=", ".join(ASPECT_RATIOS))
    if style.strength is not None and not 0.0 <= style.strength <= 1.0:
        raise InvalidRequestError("strength", N_("strength must be between 0 and 1."))
    if mode is not None:
        info = builder.mode_info(mode)  # unknown: "unknown mode ... Available: ..."
        if negative and not info.supports_negative:
            raise InvalidRequestError(
                "negative", N_("{label} does not take a negative prompt; try a custom model."), label=info.label
            )
        if style.strength is not None and not info.supports_strength:
            raise InvalidRequestError("strength", N_("{label} has no strength setting."), label=info.label)
        # The style's own text must suit its mode too (e.g. English only): a trial build with a stand-in prompt.
        builder.build(
            " ".join(p for p in (prefix, "x", suffix) if p),
            mode=mode,
            negative_prompt=negative,
            aspect_ratio=aspect,
            has_image=info.needs_image,
        )
    if lora is not None:
        model = builder.custom_model(mode) if mode else None
        if model is None:
            raise InvalidRequestError("lora", N_("a LoRA preset belongs to a custom model: give the style that mode."))
        if model.lora_preset(lora) is None:
            presets = ", ".join(p.name for p in model.lora_presets) or "-"
            raise InvalidRequestError(
                "lora",
                N_("{model} has no LoRA preset `{name}`. Its presets: {presets}."),
                model=model.name,
                name=lora,
                presets=presets,
            )
    checked = Style(
        name=name,
        description=description,
        prefix=prefix,
        suffix=suffix,
        negative=negative,
        mode=mode,
        aspect=aspect,
        lora=lora,
        strength=style.strength,
        guild_id=style.guild_id,
    )
    if not set(checked.values()) - {"description"}:
        raise InvalidRequestError(
            "style", N_("a style must set at least one of prefix, suffix, negative, mode, aspect, lora or strength.")
        )
    return checked


def styled_prompt(prompt: str, style: Style | None) -> str:
    """The member's prompt with the style's prefix before it and its suffix after it."""
    if style is None:
        return prompt
    text = " ".join(p for p in (style.prefix, prompt) if p)
    if style.suffix:
        text += style.suffix if style.suffix[0] in _GLUED else " " + style.suffix
    return text


def with_style_loras(request: GenerationRequest, style: Style | None, builder: RequestBuilder) -> GenerationRequest:
    """``request`` with the style's LoRA preset, when the request's mode (a custom model) has one of that name;
    in any other mode the preset does not apply."""
    if style is None or style.lora is None:
        return request
    model = builder.custom_model(request.mode)
    preset = model.lora_preset(style.lora) if model is not None else None
    if preset is None:
        return request
    return request.with_(loras=tuple((lo.model_id, lo.weight) for lo in preset.loras))


def bot_wide_styles(configured: Iterable[StyleSettings], builder: RequestBuilder) -> dict[str, Style]:
    """The ``[[styles]]`` of the settings, checked like a server's; ValueError naming the style at fault."""
    styles: dict[str, Style] = {}
    for entry in configured:
        try:
            style = check_style(Style(**entry.model_dump()), builder)
        except InvalidRequestError as exc:
            raise ValueError(f"styles: {entry.name!r}: {exc.field}: {exc.reason}") from None
        styles[style.name] = style
    return styles


class StyleCatalog:
    """The styles a server offers (its own, then the bot-wide ones it does not override), and the server
    styles' rules: validated, at most ``MAX_SERVER_STYLES`` per server, names unique in a server. Changes are
    made through ``GuildAdminService``, which records them in the audit trail."""

    def __init__(self, store: StyleStore, builder: RequestBuilder, configured: Iterable[StyleSettings] = ()) -> None:
        self._store = store
        self._builder = builder
        self._bot = bot_wide_styles(configured, builder)
        self._cache: dict[int, tuple[float, asyncio.Future[list[Style]]]] = {}

    @property
    def builder(self) -> RequestBuilder:
        return self._builder

    def bot_wide(self) -> list[Style]:
        return sorted(self._bot.values(), key=lambda s: s.name)

    async def server_styles(self, guild_id: int) -> list[Style]:
        now = time.monotonic()
        cached = self._cache.get(guild_id)
        if cached is None or now - cached[0] >= STYLES_TTL:
            cached = (now, asyncio.ensure_future(self._store.list_styles(guild_id)))
            self._cache[guild_id] = cached
        try:
            return list(await asyncio.shield(cached[1]))
        except Exception:
            if self._cache.get(guild_id) is cached:
                del self._cache[guild_id]  # never cache a failed read
            raise

    async def available(self, guild_id: int | None) -> list[Style]:
        """Every style usable here, by name: the server's own, then the bot-wide ones (direct messages: those)."""
        own = await self.server_styles(guild_id) if guild_id is not None else []
        names = {s.name for s in own}
        return sorted([*own, *(s for s in self._bot.values() if s.name not in names)], key=lambda s: s.name)

    async def find(self, guild_id: int | None, name: str) -> Style | None:
        wanted = name.strip().lower()
        return next((s for s in await self.available(guild_id) if s.name == wanted), None)

    async def get(self, guild_id: int | None, name: str) -> Style:
        """The style ``name`` here, or UnknownStyleError listing the available ones."""
        found = await self.find(guild_id, name)
        if found is None:
            raise UnknownStyleError(name.strip().lower()[:32], [s.name for s in await self.available(guild_id)])
        return found

    async def in_use(self, guild_id: int | None, chosen: Resolved[str]) -> Resolved[Style]:
        """The style ``chosen`` names (see ``resolution.choose_style``). One the member named (an option or a
        flag) must exist; a preferred one that does not exist here (another server's, or since removed) is
        left out, as is a preferred style while they name another."""
        if chosen.value is None or chosen.source is None:
            return Resolved()
        if chosen.explicit:
            return Resolved(await self.get(guild_id, chosen.value), chosen.source)
        found = await self.find(guild_id, chosen.value)
        if found is None:
            log.info("preferred style %r is not available in guild %s: not applied", chosen.value, guild_id)
            return Resolved()
        return Resolved(found, Source.PREFERENCE)

    # -- a server's styles (GuildAdminService audits each change) ----------------------------------

    def _forget(self, guild_id: int) -> None:
        self._cache.pop(guild_id, None)

    async def add(self, guild_id: int, style: Style, *, vet: Vet | None = None) -> Style:
        """Add a server style; ``vet``: one more check of the validated style before it is stored."""
        checked = check_style(dataclasses.replace(style, guild_id=guild_id), self._builder)
        if vet is not None:
            await vet(checked)
        if len(await self._store.list_styles(guild_id)) >= MAX_SERVER_STYLES:
            raise BotError(N_("A server can have at most {limit} styles."), limit=MAX_SERVER_STYLES)
        if not await self._store.insert_style(checked):
            raise BotError(
                N_("This server already has a style `{name}`: change it with /style edit."), name=checked.name
            )
        self._forget(guild_id)
        return checked

    async def edit(
        self,
        guild_id: int,
        name: str,
        changes: Mapping[str, Any],
        unset: Iterable[str] = (),
        *,
        vet: Vet | None = None,
    ) -> Style:
        """Set ``changes`` and clear ``unset`` fields of the server's style ``name``; returns it as saved.
        ``vet``: as for ``add``."""
        current = await self._own(guild_id, style_name(name))
        cleared: dict[str, Any] = {
            f: ("" if f in ("description", "prefix", "suffix") else None)
            for f in unset
            if f in STYLE_FIELDS and f not in changes
        }
        if not changes and not cleared:
            raise BotError(N_("Nothing to change: give at least one option."))
        checked = check_style(dataclasses.replace(current, **cleared, **changes), self._builder)
        if vet is not None:
            await vet(checked)
        if not await self._store.update_style(checked):
            raise UnknownStyleError(current.name, [s.name for s in await self.available(guild_id)])
        self._forget(guild_id)
        return checked

    async def remove(self, guild_id: int, name: str) -> Style:
        current = await self._own(guild_id, style_name(name))
        await self._store.delete_style(guild_id, current.name)
        self._forget(guild_id)
        return current

    async def _own(self, guild_id: int, name: str) -> Style:
        """The server's own style ``name``; a bot-wide one is not the server's to change."""
        found = next((s for s in await self._store.list_styles(guild_id) if s.name == name), None)
        if found is not None:
            return found
        if name in self._bot:
            raise BotError(
                N_("`{name}` is a bot-wide style: add a style of the same name here to replace it on this server."),
                name=name,
            )
        raise UnknownStyleError(name, [s.name for s in await self.available(guild_id)])
