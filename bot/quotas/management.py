"""GuildAdminService: every change a server admin makes, validated, stored and recorded in the audit trail."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from bot.errors import BotError
from bot.generation.styles import StyleCatalog
from bot.i18n import N_
from bot.models import Style
from bot.quotas.policy import SERVER, ConfigError, GuildConfig, ScopeConfig, validate_change
from bot.quotas.service import BLOCKED, COOLDOWN, QuotaService, member_usage_scope
from bot.quotas.words import normalize, word_matcher
from bot.storage.base import AuditEntry, PromptLogEntry, QuotaStore

log = logging.getLogger(__name__)

MAX_BANNED_WORDS = 500


class SettingsChangeError(BotError):
    pass


class GuildAdminService:
    def __init__(self, store: QuotaStore, quotas: QuotaService, styles: StyleCatalog | None = None) -> None:
        self._store = store
        self._quotas = quotas
        self._styles = styles

    @property
    def quotas(self) -> QuotaService:
        return self._quotas

    async def config(self, guild_id: int) -> GuildConfig:
        return await self._quotas.config(guild_id)

    async def _audit(self, guild_id: int, actor_id: int, action: str, detail: Mapping[str, Any]) -> None:
        entry = AuditEntry(
            guild_id=guild_id,
            actor_id=actor_id,
            action=action,
            detail=json.dumps(detail, ensure_ascii=False, sort_keys=True),
            created_at=self._quotas.now(),
        )
        await self._store.append_audit(entry)
        log.info("admin change guild=%s actor=%s %s %s", guild_id, actor_id, action, entry.detail)

    async def update(
        self,
        guild_id: int,
        actor_id: int,
        scope: str,
        changes: Mapping[str, Any] | None = None,
        *,
        unset: Iterable[str] = (),
    ) -> ScopeConfig:
        """Set ``changes`` and remove ``unset`` keys in one scope; returns the scope's new settings."""
        changes = dict(changes or {})
        unset = [k for k in unset if k not in changes]
        if not changes and not unset:
            raise SettingsChangeError(N_("Nothing to change: give at least one option."))
        raw = await self._store.get_guild_config(guild_id)
        try:
            merged = validate_change(scope, raw.get(scope, {}), changes, unset)
        except ConfigError as exc:
            raise SettingsChangeError(N_("That change was refused: {detail}"), detail=str(exc)) from exc
        await self._store.set_guild_config(guild_id, scope, merged or None)
        self._quotas.forget_config(guild_id)
        await self._audit(guild_id, actor_id, f"set {scope}", {"set": changes, "unset": sorted(unset)})
        return ScopeConfig.model_validate(merged)

    async def clear(self, guild_id: int, actor_id: int, scope: str) -> None:
        """Remove every setting of one scope (it inherits everything again)."""
        await self._store.set_guild_config(guild_id, scope, None)
        self._quotas.forget_config(guild_id)
        await self._audit(guild_id, actor_id, f"clear {scope}", {})

    async def edit_banned_words(
        self, guild_id: int, actor_id: int, *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[str]:
        """Add/remove banned words (compared normalised); starts from the bot-wide list when none is set."""
        config = await self.config(guild_id)
        server = config.get(SERVER)
        if server is not None and "banned_words" in server.model_fields_set and server.banned_words is not None:
            words = list(server.banned_words)
        else:
            words = list(self._quotas.defaults.banned_words)
        known = {normalize(w).strip() for w in words}
        for word in add:
            key = normalize(word).strip()
            if key and key not in known:
                words.append(word.strip())
                known.add(key)
        dropped = {normalize(w).strip() for w in remove}
        words = [w for w in words if normalize(w).strip() not in dropped]
        if len(words) > MAX_BANNED_WORDS:
            raise SettingsChangeError(N_("A server can ban at most {limit} words."), limit=MAX_BANNED_WORDS)
        await self.update(guild_id, actor_id, SERVER, {"banned_words": words})
        return words

    async def reset_member(self, guild_id: int, actor_id: int, user_id: int) -> None:
        """Zero the member's usage today and this month and end their cooldown."""
        policy = await self._quotas.policy_for(guild_id, user_id=user_id, channel_id=None)
        windows = self._quotas.windows(policy)
        await self._store.reset_usage(member_usage_scope(guild_id), user_id, [windows.day, windows.month])
        await self._store.set_timer(guild_id, user_id, COOLDOWN, None)
        await self._audit(
            guild_id, actor_id, "reset usage", {"member": user_id, "windows": [windows.day, windows.month]}
        )

    async def lift_block(self, guild_id: int, actor_id: int, user_id: int) -> bool:
        """End a banned-word block and forget the member's strikes; True when a block was running."""
        until = await self._store.get_timer(guild_id, user_id, BLOCKED)
        await self._store.set_timer(guild_id, user_id, BLOCKED, None)
        strikes = await self._store.clear_strikes(guild_id, user_id)
        active = until is not None and until > self._quotas.now()
        await self._audit(
            guild_id, actor_id, "lift block", {"member": user_id, "was_blocked": active, "strikes": strikes}
        )
        return active

    # -- style presets (/style) ---------------------------------------------------------------------

    @property
    def styles(self) -> StyleCatalog:
        if self._styles is None:
            raise RuntimeError("GuildAdminService was built without a StyleCatalog")
        return self._styles

    async def _refuse_banned_words(self, guild_id: int, style: Style) -> None:
        """A style's text goes into members' prompts: a banned word there would strike every member using it."""
        policy = await self._quotas.policy_for(guild_id, user_id=None, channel_id=None)
        word = word_matcher(policy.banned_words).find(f"{style.prefix} {style.suffix}", style.negative)
        if word is not None:
            raise SettingsChangeError(N_("That style's text contains a word banned on this server. Nothing was saved."))

    async def add_style(self, guild_id: int, actor_id: int, style: Style) -> Style:
        """Add a server style (validated by the catalog), recorded in the audit trail."""

        async def vet(checked: Style) -> None:
            await self._refuse_banned_words(guild_id, checked)

        added = await self.styles.add(guild_id, style, vet=vet)
        await self._audit(guild_id, actor_id, f"add style {added.name}", added.values())
        return added

    async def edit_style(
        self, guild_id: int, actor_id: int, name: str, changes: Mapping[str, Any], *, unset: Iterable[str] = ()
    ) -> Style:
        unset = [k for k in unset if k not in changes]

        async def vet(checked: Style) -> None:
            await self._refuse_banned_words(guild_id, checked)

        edited = await self.styles.edit(guild_id, name, changes, unset, vet=vet)
        await self._audit(
            guild_id, actor_id, f"edit style {edited.name}", {"set": dict(changes), "unset": sorted(unset)}
        )
        return edited

    async def remove_style(self, guild_id: int, actor_id: int, name: str) -> Style:
        removed = await self.styles.remove(guild_id, name)
        await self._audit(guild_id, actor_id, f"remove style {removed.name}", removed.values())
        return removed

    async def audit_log(self, guild_id: int, *, limit: int = 20) -> list[AuditEntry]:
        return await self._store.list_audit(guild_id, limit=limit)

    async def prompt_log(self, guild_id: int, *, user_id: int | None = None, limit: int = 20) -> list[PromptLogEntry]:
        return await self._store.list_prompt_log(guild_id, user_id=user_id, limit=limit)
