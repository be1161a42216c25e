"""/quota and /settings: server administration (Manage Server), thin over GuildAdminService.

``default_permissions`` hides the commands from members in Discord's UI, and ``interaction_check``
refuses anyone without Manage Server at run time too (server owners can re-grant commands to
anyone in the integration settings, and a client may invoke a hidden command anyway).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Literal

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.replies import reply_private
from bot.discord_app.requester import NotAdminError, require_admin, role_ids
from bot.discord_app.ui.quota_text import audit_text, overrides_text, policy_text, prompt_log_text, usage_text
from bot.errors import BotError
from bot.i18n import N_, LocaleResolver, Text, t
from bot.liblib.endpoints import MAX_IMAGES_ANY_FAMILY
from bot.quotas import GuildAdminService, ScopeConfig
from bot.quotas.policy import SERVER, channel_scope, member_scope, role_scope

ADMIN_PERMISSIONS = discord.Permissions(manage_guild=True)
UNLIMITED = -1  # in /quota options: no limit
MEMBER_BUDGETS = ("images_per_day", "images_per_month", "points_per_day", "points_per_month")

# How a change is confirmed: from the scope's new settings, in the member's language.
Confirm = Callable[[ScopeConfig, str], Awaitable[str]]


def target_scope(
    channel: discord.abc.GuildChannel | None = None,
    role: discord.Role | None = None,
    member: discord.Member | discord.User | None = None,
) -> str:
    given = [s for s in (channel, role, member) if s is not None]
    if len(given) > 1:
        raise BotError(N_("Choose at most one of channel, role or member."))
    if channel is not None:
        return channel_scope(channel.id)
    if role is not None:
        return role_scope(role.id)
    if member is not None:
        return member_scope(member.id)
    return SERVER


def _limits(**values: int | None) -> dict[str, Any]:
    """Option values → settings: absent options unchanged, -1 → unlimited (null)."""
    return {k: None if v == UNLIMITED else v for k, v in values.items() if v is not None}


def _present(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _guild(interaction: discord.Interaction) -> int:
    """The server of a command ``AdminCog.interaction_check`` let through (its commands are guild-only)."""
    if interaction.guild_id is None:
        raise NotAdminError()
    return interaction.guild_id


def _plain(value: Any, _locale: str) -> str:
    return str(value)


def _on_off(value: Any, locale: str) -> str:
    return t("on", locale) if value else t("off", locale)


def saved(changes: dict[str, Any], show: Callable[[Any, str], str] = _plain) -> Confirm:
    """ "✅ Saved. key=value, …": what was asked for."""

    async def confirm(_config: ScopeConfig, locale: str) -> str:
        return t("✅ Saved.", locale) + " " + ", ".join(f"{k}={show(v, locale)}" for k, v in changes.items())

    return confirm


LimitOption = app_commands.Range[int, -1, 1_000_000]


class AdminCog(commands.Cog):
    quota = app_commands.Group(
        name="quota",
        description="Image limits on this server (admins)",
        guild_only=True,
        default_permissions=ADMIN_PERMISSIONS,
    )
    settings = app_commands.Group(
        name="settings",
        description="Bot settings for this server (admins)",
        guild_only=True,
        default_permissions=ADMIN_PERMISSIONS,
    )

    def __init__(self, admin: GuildAdminService, locales: LocaleResolver) -> None:
        self.admin = admin
        self.locales = locales

    async def interaction_check(self, interaction: discord.Interaction, /) -> bool:
        """The one admin check, run by discord.py before every /quota and /settings command."""
        require_admin(interaction)
        return True

    async def _reply(self, interaction: discord.Interaction, text: Text | Callable[[str], str]) -> None:
        """Answer privately in the member's language: a message, or a rendering of the locale."""
        locale = await self.locales.for_interaction(interaction)
        await reply_private(interaction, text.render(locale) if isinstance(text, Text) else text(locale))

    async def _apply(
        self,
        interaction: discord.Interaction,
        scope: str,
        changes: dict[str, Any] | None = None,
        *,
        unset: Iterable[str] = (),
        done: Text | Confirm | None = None,
    ) -> None:
        """The one path of a settings change: GuildAdminService validates, stores and audits it, then the
        member reads ``done`` (by default "✅ Saved." and what changed)."""
        config = await self.admin.update(_guild(interaction), interaction.user.id, scope, changes, unset=unset)
        locale = await self.locales.for_interaction(interaction)
        if isinstance(done, Text):
            text = done.render(locale)
        else:
            text = await (done or saved(changes or {}))(config, locale)
        await reply_private(interaction, text)

    # -- /quota ---------------------------------------------------------------------------------

    @quota.command(name="show", description="Show the limits (and usage) of the server or of a member")
    @app_commands.describe(member="A member: their effective limits and usage")
    async def quota_show(self, interaction: discord.Interaction, member: discord.Member | None = None) -> None:
        guild_id = _guild(interaction)
        quotas = self.admin.quotas
        locale = await self.locales.for_interaction(interaction)
        if member is None:
            policy = await quotas.policy_for(guild_id, user_id=None, channel_id=None)
            config = await self.admin.config(guild_id)
            overrides = overrides_text(sorted(config.scopes.items()))
            text = policy_text(policy, title=t("Server limits and settings", locale), locale=locale)
            await reply_private(
                interaction, text + (f"\n**{t('Overrides', locale)}**\n" + overrides if overrides else "")
            )
            return
        report = await quotas.usage(guild_id, member.id, channel_id=interaction.channel_id, role_ids=role_ids(member))
        await reply_private(interaction, usage_text(report, who=member.mention, locale=locale))

    @quota.command(name="set", description="Set image limits for the server or one member (-1 = unlimited)")
    @app_commands.describe(
        images_per_day="Images per member per day (-1 unlimited, 0 none)",
        images_per_month="Images per member per month (-1 unlimited, 0 none)",
        points_per_day="LiblibAI points per member per day (-1 unlimited, 0 none)",
        points_per_month="LiblibAI points per member per month (-1 unlimited, 0 none)",
        max_active="Jobs a member may have queued or running at once",
        cooldown_seconds="Seconds between two generations by the same member",
        server_images_per_day="Images per day for the whole server (-1 unlimited)",
        server_points_per_day="LiblibAI points per day for the whole server (-1 unlimited)",
        server_points_per_month="LiblibAI points per month for the whole server (-1 unlimited)",
        member="Set an override for this member instead of the server default",
    )
    async def quota_set(
        self,
        interaction: discord.Interaction,
        images_per_day: LimitOption | None = None,
        images_per_month: LimitOption | None = None,
        points_per_day: LimitOption | None = None,
        points_per_month: LimitOption | None = None,
        max_active: app_commands.Range[int, 1, 50] | None = None,
        cooldown_seconds: app_commands.Range[int, 0, 86_400] | None = None,
        server_images_per_day: LimitOption | None = None,
        server_points_per_day: LimitOption | None = None,
        server_points_per_month: LimitOption | None = None,
        member: discord.Member | None = None,
    ) -> None:
        changes = _limits(
            images_per_day=images_per_day,
            images_per_month=images_per_month,
            points_per_day=points_per_day,
            points_per_month=points_per_month,
            server_images_per_day=server_images_per_day,
            server_points_per_day=server_points_per_day,
            server_points_per_month=server_points_per_month,
        ) | _present(max_active=max_active, cooldown_seconds=cooldown_seconds)

        async def effective(_config: ScopeConfig, locale: str) -> str:
            policy = await self.admin.quotas.policy_for(
                _guild(interaction),
                user_id=member.id if member else None,
                channel_id=None,
                role_ids=role_ids(member) if member else (),
            )
            title = t("Limits for {member}", locale, member=member.mention) if member else t("Server limits", locale)
            return t("✅ Saved.", locale) + "\n" + policy_text(policy, title=title, locale=locale)

        await self._apply(interaction, target_scope(member=member), changes, done=effective)

    @quota.command(name="role", description="Limits for a role (the most generous of a member's roles wins)")
    @app_commands.describe(
        role="The role",
        preset="limits: use the numbers below; unlimited; blocked; exempt (no member limits); remove the override",
        images_per_day="Images per member per day (-1 unlimited, 0 none)",
        images_per_month="Images per member per month (-1 unlimited, 0 none)",
        points_per_day="LiblibAI points per member per day (-1 unlimited, 0 none)",
        points_per_month="LiblibAI points per member per month (-1 unlimited, 0 none)",
        max_active="Jobs at once",
        cooldown_seconds="Seconds between two generations",
    )
    async def quota_role(
        self,
        interaction: discord.Interaction,
        role: discord.Role,
        preset: Literal["limits", "unlimited", "blocked", "exempt", "remove"] = "limits",
        images_per_day: LimitOption | None = None,
        images_per_month: LimitOption | None = None,
        points_per_day: LimitOption | None = None,
        points_per_month: LimitOption | None = None,
        max_active: app_commands.Range[int, 1, 50] | None = None,
        cooldown_seconds: app_commands.Range[int, 0, 86_400] | None = None,
    ) -> None:
        scope = role_scope(role.id)
        if preset == "remove":
            await self.admin.clear(_guild(interaction), interaction.user.id, scope)
            await self._reply(interaction, Text("✅ {role} has no quota override any more.", {"role": role.mention}))
            return
        changes = _limits(
            images_per_day=images_per_day,
            images_per_month=images_per_month,
            points_per_day=points_per_day,
            points_per_month=points_per_month,
        ) | _present(max_active=max_active, cooldown_seconds=cooldown_seconds)
        unset: list[str] = []
        if preset == "unlimited":
            changes |= dict.fromkeys(MEMBER_BUDGETS) | {"blocked": False}
        elif preset == "blocked":
            changes = {"blocked": True}
        elif preset == "exempt":
            changes |= {"exempt": True, "blocked": False}
        else:
            unset = ["blocked", "exempt"]

        async def overrides(config: ScopeConfig, locale: str) -> str:
            unlimited = t("unlimited", locale)
            shown = ", ".join(f"{k}={unlimited if v is None else v}" for k, v in sorted(config.set_values().items()))
            return f"✅ {role.mention}: {shown or t('no override', locale)}."

        await self._apply(interaction, scope, changes, unset=unset, done=overrides)

    @quota.command(name="reset", description="Reset a member's usage for today and this month")
    @app_commands.describe(member="The member whose counters go back to zero")
    async def quota_reset(self, interaction: discord.Interaction, member: discord.Member) -> None:
        await self.admin.reset_member(_guild(interaction), interaction.user.id, member.id)
        text = Text("✅ {member}'s usage for today and this month is back to zero.", {"member": member.mention})
        await self._reply(interaction, text)

    @quota.command(name="clear", description="Remove a member's personal overrides (limits and settings)")
    @app_commands.describe(member="The member")
    async def quota_clear(self, interaction: discord.Interaction, member: discord.Member) -> None:
        await self.admin.clear(_guild(interaction), interaction.user.id, member_scope(member.id))
        await self._reply(
            interaction, Text("✅ {member} now follows the server and role settings.", {"member": member.mention})
        )

    # -- /settings ------------------------------------------------------------------------------

    @settings.command(name="show", description="The effective settings (in a channel, optionally)")
    @app_commands.describe(channel="Show what applies in this channel")
    async def settings_show(self, interaction: discord.Interaction, channel: discord.TextChannel | None = None) -> None:
        policy = await self.admin.quotas.policy_for(
            _guild(interaction), user_id=None, channel_id=channel.id if channel else None
        )

        def shown(locale: str) -> str:
            title = (
                t("Settings in {channel}", locale, channel=channel.mention) if channel else t("Server settings", locale)
            )
            return policy_text(policy, title=title, locale=locale)

        await self._reply(interaction, shown)

    @settings.command(name="channels", description="Allow generation in every channel, or only in listed ones")
    @app_commands.describe(mode="all: every channel; listed: only channels allowed with /settings channel")
    async def settings_channels(self, interaction: discord.Interaction, mode: Literal["all", "listed"]) -> None:
        done = Text(
            "✅ Generation is now allowed in every channel."
            if mode == "all"
            else "✅ Generation is now allowed in listed channels only."
        )
        await self._apply(interaction, SERVER, {"channel_allowed": mode == "all"}, done=done)

    @settings.command(name="channel", description="Allow or deny generation in one channel")
    @app_commands.describe(channel="The channel", access="allow, deny, or inherit the server default")
    async def settings_channel(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel,
        access: Literal["allow", "deny", "inherit"],
    ) -> None:
        async def done(_config: ScopeConfig, locale: str) -> str:
            return f"✅ {channel.mention}: {t(access, locale)}."

        changes = {} if access == "inherit" else {"channel_allowed": access == "allow"}
        await self._apply(interaction, channel_scope(channel.id), changes, unset=["channel_allowed"], done=done)

    @settings.command(name="models", description="Allowed models and the default model")
    @app_commands.describe(
        allowed="Comma-separated model names, or 'all'",
        default="The default model here",
        channel="Only in this channel",
        role="Only for this role",
    )
    async def settings_models(
        self,
        interaction: discord.Interaction,
        allowed: app_commands.Range[str, 1, 500] | None = None,
        default: app_commands.Range[str, 1, 40] | None = None,
        channel: discord.TextChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        changes: dict[str, Any] = {}
        if allowed is not None:
            names = sorted({n.strip().lower() for n in allowed.split(",") if n.strip()})
            changes["allowed_models"] = None if names in ([], ["all"]) else names
        if default is not None:
            changes["default_mode"] = default.strip().lower()
        await self._apply(interaction, target_scope(channel, role), changes)

    @settings.command(name="caps", description="Per-request caps: image count, steps, output size")
    @app_commands.describe(
        max_count="Images per request (1-15; each mode's own limit applies too)",
        max_steps="Sampling steps",
        max_side="Longest output side in pixels",
        channel="Only in this channel",
        role="Only for this role",
    )
    async def settings_caps(
        self,
        interaction: discord.Interaction,
        max_count: app_commands.Range[int, 1, MAX_IMAGES_ANY_FAMILY] | None = None,
        max_steps: app_commands.Range[int, 1, 60] | None = None,
        max_side: app_commands.Range[int, 256, 8192] | None = None,
        channel: discord.TextChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        changes = _present(max_count=max_count, max_steps=max_steps, max_side=max_side)
        await self._apply(interaction, target_scope(channel, role), changes)

    @settings.command(name="features", description="Turn features on or off")
    @app_commands.describe(
        img2img="Starting from an image",
        custom_models="Admin-configured checkpoints",
        multi_image="More than one image per request",
        channel="Only in this channel",
        role="Only for this role",
    )
    async def settings_features(
        self,
        interaction: discord.Interaction,
        img2img: bool | None = None,
        custom_models: bool | None = None,
        multi_image: bool | None = None,
        channel: discord.TextChannel | None = None,
        role: discord.Role | None = None,
    ) -> None:
        changes = _present(img2img=img2img, custom_models=custom_models, multi_image=multi_image)
        await self._apply(interaction, target_scope(channel, role), changes, done=saved(changes, _on_off))

    @settings.command(name="words", description="The banned-words list (checked before anything is sent)")
    @app_commands.describe(action="add, remove or list", words="Comma-separated words or phrases (any language)")
    async def settings_words(
        self,
        interaction: discord.Interaction,
        action: Literal["add", "remove", "list"],
        words: app_commands.Range[str, 1, 1000] | None = None,
    ) -> None:
        guild_id = _guild(interaction)
        if action == "list":
            policy = await self.admin.quotas.policy_for(guild_id, user_id=None, channel_id=None)

            def listed(locale: str) -> str:
                shown = ", ".join(f"||{w}||" for w in policy.banned_words) or t("none", locale)
                return t("Banned words ({count}): {words}", locale, count=len(policy.banned_words), words=shown)

            await self._reply(interaction, listed)
            return
        items = [w.strip() for w in (words or "").split(",") if w.strip()]
        if not items:
            raise BotError(N_("Give the words to add or remove, separated by commas."))
        result = await self.admin.edit_banned_words(
            guild_id,
            interaction.user.id,
            add=items if action == "add" else (),
            remove=items if action == "remove" else (),
        )
        await self._reply(interaction, Text("✅ {count} banned word(s) now.", {"count": len(result)}))

    @settings.command(name="strikes", description="Banned-word strikes: how many, within how long, block for how long")
    @app_commands.describe(
        limit="Strikes before a block (0: never block)",
        window_hours="Strikes older than this are forgotten",
        block_hours="How long a block lasts",
    )
    async def settings_strikes(
        self,
        interaction: discord.Interaction,
        limit: app_commands.Range[int, 0, 100] | None = None,
        window_hours: app_commands.Range[float, 0.1, 8760.0] | None = None,
        block_hours: app_commands.Range[float, 0.1, 8760.0] | None = None,
    ) -> None:
        changes = _present(strike_limit=limit, strike_window_hours=window_hours, strike_block_hours=block_hours)
        await self._apply(interaction, SERVER, changes)

    @settings.command(name="unblock", description="Lift a member's banned-word block and clear their strikes")
    @app_commands.describe(member="The member")
    async def settings_unblock(self, interaction: discord.Interaction, member: discord.Member) -> None:
        was = await self.admin.lift_block(_guild(interaction), interaction.user.id, member.id)
        text = Text(
            "✅ {member} is unblocked." if was else "✅ {member} was not blocked; strikes cleared.",
            {"member": member.mention},
        )
        await self._reply(interaction, text)

    @settings.command(name="moderation", description="How LiblibAI's content audit results are handled")
    @app_commands.describe(
        audit_display="notice: tell members how many images the audit filtered; silent: say nothing",
        flagged_only_nsfw="Results the audit flagged only in age-restricted channels",
        audit_strikes="Count each batch the audit blocks entirely as a strike (LiblibAI still charges it)",
    )
    async def settings_moderation(
        self,
        interaction: discord.Interaction,
        audit_display: Literal["notice", "silent"] | None = None,
        flagged_only_nsfw: bool | None = None,
        audit_strikes: bool | None = None,
    ) -> None:
        changes = _present(
            audit_display=audit_display, flagged_only_nsfw=flagged_only_nsfw, audit_strikes=audit_strikes
        )
        await self._apply(interaction, SERVER, changes)

    @settings.command(name="timezone", description="The time zone whose midnight resets daily and monthly limits")
    @app_commands.describe(name="An IANA time zone, e.g. UTC, Asia/Shanghai, Europe/Paris")
    async def settings_timezone(self, interaction: discord.Interaction, name: app_commands.Range[str, 1, 64]) -> None:
        done = Text("✅ Limits now reset at midnight {timezone}.", {"timezone": name.strip()})
        await self._apply(interaction, SERVER, {"timezone": name.strip()}, done=done)

    @settings.command(name="clear", description="Remove every override of a channel, role or member")
    @app_commands.describe(channel="A channel", role="A role", member="A member")
    async def settings_clear(
        self,
        interaction: discord.Interaction,
        channel: discord.TextChannel | None = None,
        role: discord.Role | None = None,
        member: discord.Member | None = None,
    ) -> None:
        scope = target_scope(channel, role, member)
        if scope == SERVER:
            raise BotError(N_("Choose the channel, role or member whose overrides to remove."))
        await self.admin.clear(_guild(interaction), interaction.user.id, scope)
        await self._reply(interaction, Text("✅ Overrides removed."))

    @settings.command(name="audit", description="Recent changes by admins: who, what, when")
    @app_commands.describe(limit="How many entries")
    async def settings_audit(
        self, interaction: discord.Interaction, limit: app_commands.Range[int, 1, 50] = 15
    ) -> None:
        entries = await self.admin.audit_log(_guild(interaction), limit=limit)
        await self._reply(interaction, lambda locale: audit_text(entries, locale))

    @settings.command(name="log", description="Recent prompts: who asked what, where, the job and its cost")
    @app_commands.describe(member="Only this member", limit="How many entries")
    async def settings_log(
        self,
        interaction: discord.Interaction,
        member: discord.Member | None = None,
        limit: app_commands.Range[int, 1, 25] = 10,
    ) -> None:
        entries = await self.admin.prompt_log(_guild(interaction), user_id=member.id if member else None, limit=limit)
        await self._reply(interaction, lambda locale: prompt_log_text(entries, locale))

    @settings.command(name="buttons", description="Who may use the buttons under results")
    @app_commands.describe(everyone="On: any member may Reroll, Vary, Upscale, Remix or Restyle any result")
    async def settings_buttons(self, interaction: discord.Interaction, everyone: bool) -> None:
        done = Text(
            "✅ Any member may now use result buttons (Delete and Cancel stay with the requester)."
            if everyone
            else "✅ Only the requester (and admins) may now use the buttons under a result."
        )
        await self._apply(interaction, SERVER, {"buttons_open": everyone}, done=done)

    @settings.command(name="spending", description="Ask members to confirm jobs that cost more than some points")
    @app_commands.describe(
        confirm_above="Ask before a job estimated above this many points (0: every job, -1: never; empty: bot default)"
    )
    async def settings_spending(
        self, interaction: discord.Interaction, confirm_above: app_commands.Range[int, -1, 1_000_000] | None = None
    ) -> None:
        if confirm_above is None:
            done = Text("✅ This server now follows the bot's default for confirming costs.")
        elif confirm_above == UNLIMITED:
            done = Text("✅ Members are never asked to confirm a cost here.")
        elif confirm_above == 0:
            done = Text("✅ Members now confirm every job that costs points before it is queued.")
        else:
            done = Text(
                "✅ Members now confirm any job estimated above {points} points before it is queued.",
                {"points": confirm_above},
            )
        changes = {} if confirm_above is None else _limits(confirm_above_points=confirm_above)
        await self._apply(interaction, SERVER, changes, unset=["confirm_above_points"], done=done)

    @settings.command(name="language", description="The language the bot answers in on this server")
    @app_commands.describe(
        language="For members whose Discord language is neither English nor Simplified Chinese, and for mentions"
    )
    @app_commands.choices(
        language=[
            app_commands.Choice(name="English", value="en-US"),
            app_commands.Choice(name="简体中文", value="zh-CN"),
            app_commands.Choice(name="Bot default", value="default"),
        ]
    )
    async def settings_language(self, interaction: discord.Interaction, language: str) -> None:
        shown = {"en-US": "English", "zh-CN": "简体中文"}.get(language) or Text("the bot default")
        changes = {} if language == "default" else {"language": language}
        done = Text("✅ The server language is now {language}.", {"language": shown})
        await self._apply(interaction, SERVER, changes, unset=["language"], done=done)
