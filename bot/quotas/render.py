"""Plain-text views of quotas and settings for Discord replies (pure functions; no Discord objects)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from bot.errors import discord_time
from bot.quotas.policy import Policy, ScopeConfig
from bot.quotas.service import Counter, TopReport, UsageReport
from bot.storage.base import AuditEntry, PromptLogEntry

MAX_MESSAGE = 1900  # Discord allows 2000 characters; keep a margin


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def limit_text(value: int | None) -> str:
    return "unlimited" if value is None else ("blocked" if value == 0 else str(value))


def _remaining(limit: int | None, used: int) -> str:
    return "unlimited" if limit is None else str(max(limit - used, 0))


def usage_text(report: UsageReport, *, who: str = "You") -> str:
    p, w = report.policy, report.windows
    lines = [f"**{who}** on this server:"]
    if p.blocked:
        lines.append("⛔ Blocked by role or member settings.")
    if p.exempt:
        lines.append("⭐ Exempt from member limits.")
    day_limit = None if p.exempt else p.images_per_day
    month_limit = None if p.exempt else p.images_per_month
    lines += [
        f"• Today: {report.day.images} image(s), {report.day.points} points; limit {limit_text(day_limit)}, "
        f"remaining {_remaining(day_limit, report.day.images)}. Resets {discord_time(w.day_resets_at)}.",
        f"• This month: {report.month.images} image(s), {report.month.points} points; limit "
        f"{limit_text(month_limit)}, remaining {_remaining(month_limit, report.month.images)}. "
        f"Resets {discord_time(w.month_resets_at)}.",
    ]
    if p.server_images_per_day is not None or p.server_points_per_day is not None:
        lines.append(
            f"• Server today: {report.server_day.images}/{limit_text(p.server_images_per_day)} images, "
            f"{report.server_day.points}/{limit_text(p.server_points_per_day)} points."
        )
    lines.append(f"• At most {p.max_active} job(s) at once; cooldown {p.cooldown_seconds:g}s. Time zone: {p.timezone}.")
    if report.cooldown_until:
        lines.append(f"⏳ Next generation {discord_time(report.cooldown_until)}.")
    if report.blocked_until:
        lines.append(f"⛔ Blocked for banned words until {discord_time(report.blocked_until, 'f')}.")
    return clip("\n".join(lines))


def _counter(c: Counter) -> str:
    return f"{c.images} image(s), {c.points} points"


def top_text(report: TopReport) -> str:
    lines = [
        f"**Server usage** (resets {discord_time(report.windows.day_resets_at)} / "
        f"{discord_time(report.windows.month_resets_at)})",
        f"Today: {_counter(report.server_day)} · This month: {_counter(report.server_month)}",
        "**Today**",
    ]
    lines += [f"{i}. <@{r.scope_id}>: {r.images} image(s), {r.points} points" for i, r in enumerate(report.day, 1)]
    if not report.day:
        lines.append("Nobody yet.")
    lines.append("**This month**")
    lines += [f"{i}. <@{r.scope_id}>: {r.images} image(s), {r.points} points" for i, r in enumerate(report.month, 1)]
    if not report.month:
        lines.append("Nobody yet.")
    return clip("\n".join(lines))


def policy_text(policy: Policy, *, title: str) -> str:
    models = ", ".join(policy.allowed_models) if policy.allowed_models is not None else "all"
    features = [
        name
        for name, on in (
            ("img2img", policy.img2img),
            ("custom models", policy.custom_models),
            ("count > 1", policy.multi_image),
        )
        if on
    ]
    lines = [
        f"**{title}**",
        f"• Images per member: {limit_text(policy.images_per_day)}/day, {limit_text(policy.images_per_month)}/month"
        + (" (exempt)" if policy.exempt else "")
        + (" (blocked)" if policy.blocked else ""),
        f"• Server per day: {limit_text(policy.server_images_per_day)} images, "
        f"{limit_text(policy.server_points_per_day)} points",
        f"• Max jobs at once: {policy.max_active}; cooldown: {policy.cooldown_seconds:g}s",
        f"• Generation allowed here: {'yes' if policy.channel_allowed else 'no'}",
        f"• Models: {models}; default: {policy.default_mode or 'bot default'}",
        f"• Caps: count ≤ {policy.max_count}, steps ≤ {policy.max_steps}, "
        f"size ≤ {policy.max_side or 'any'} px; features: {', '.join(features) or 'none'}",
        f"• Banned words: {len(policy.banned_words)}; strikes: "
        + (
            f"{policy.strike_limit} in {policy.strike_window_hours:g} h → blocked {policy.strike_block_hours:g} h"
            if policy.strike_limit
            else "off"
        ),
        f"• Audit notices: {policy.audit_display}; flagged results only in age-restricted channels: "
        f"{'yes' if policy.flagged_only_nsfw else 'no'}",
        f"• Time zone for resets: {policy.timezone}",
    ]
    return clip("\n".join(lines))


def overrides_text(scopes: Iterable[tuple[str, ScopeConfig]]) -> str:
    lines = []
    for scope, config in scopes:
        values = config.set_values()
        if scope == "server" or not values:
            continue
        kind, _, ident = scope.partition(":")
        mention = {"channel": f"<#{ident}>", "role": f"<@&{ident}>", "member": f"<@{ident}>"}.get(kind, scope)
        shown = ", ".join(f"{k}={_value(v)}" for k, v in sorted(values.items()))
        lines.append(f"• {mention}: {shown}")
    return "\n".join(lines)


def _value(value: object) -> str:
    if value is None:
        return "unlimited"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def audit_text(entries: Sequence[AuditEntry]) -> str:
    if not entries:
        return "No admin changes recorded yet."
    lines = ["**Admin changes** (newest first)"]
    for e in entries:
        detail = _compact(e.detail)
        lines.append(f"{discord_time(e.created_at, 'f')} <@{e.actor_id}> **{e.action}** {detail}")
    return clip("\n".join(lines))


def _compact(detail: str) -> str:
    try:
        data = json.loads(detail)
    except ValueError:
        return detail[:200]
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if v not in ({}, [], None)}
    return f"`{json.dumps(data, ensure_ascii=False)[:300]}`" if data else ""


def prompt_log_text(entries: Sequence[PromptLogEntry]) -> str:
    if not entries:
        return "The prompt log is empty."
    lines = ["**Prompt log** (newest first)"]
    for e in entries:
        cost = f"{e.points} pts" if e.points is not None else "?"
        prompt = e.prompt.replace("`", "'")[:150]
        lines.append(
            f"{discord_time(e.created_at, 'f')} <@{e.user_id}> in <#{e.channel_id}> · `{e.job_id}` · {e.mode} · "
            f"{e.job_state or 'gone'} · {cost}\n> {prompt}"
        )
    return clip("\n".join(lines))
