"""Plain-text views of quotas and settings for Discord replies (pure functions; no Discord objects)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from bot.billing import BalanceReading, Forecast
from bot.errors import discord_time
from bot.i18n import Locale, t
from bot.quotas.policy import Policy, ScopeConfig
from bot.quotas.service import Counter, TopReport, UsageReport
from bot.storage.base import AuditEntry, PromptLogEntry

MAX_MESSAGE = 1900  # Discord allows 2000 characters; keep a margin


def clip(text: str, limit: int = MAX_MESSAGE) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def limit_text(value: int | None, locale: Locale = None) -> str:
    return t("unlimited", locale) if value is None else (t("blocked", locale) if value == 0 else str(value))


def _remaining(limit: int | None, used: int, locale: Locale) -> str:
    return t("unlimited", locale) if limit is None else str(max(limit - used, 0))


def usage_text(report: UsageReport, *, who: str, locale: Locale = None) -> str:
    p, w = report.policy, report.windows
    lines = [t("**{who}** on this server:", locale, who=who)]
    if p.blocked:
        lines.append(t("⛔ Blocked by role or member settings.", locale))
    if p.exempt:
        lines.append(t("⭐ Exempt from member limits.", locale))
    day_limit = None if p.exempt else p.images_per_day
    month_limit = None if p.exempt else p.images_per_month
    lines += [
        t(
            "• Today: {images} image(s), {points} points; limit {limit}, remaining {remaining}. Resets {resets}.",
            locale,
            images=report.day.images,
            points=report.day.points,
            limit=limit_text(day_limit, locale),
            remaining=_remaining(day_limit, report.day.images, locale),
            resets=discord_time(w.day_resets_at),
        ),
        t(
            "• This month: {images} image(s), {points} points; limit {limit}, remaining {remaining}. Resets {resets}.",
            locale,
            images=report.month.images,
            points=report.month.points,
            limit=limit_text(month_limit, locale),
            remaining=_remaining(month_limit, report.month.images, locale),
            resets=discord_time(w.month_resets_at),
        ),
    ]
    point_limits = (None, None) if p.exempt else (p.points_per_day, p.points_per_month)
    if point_limits != (None, None):
        lines.append(
            t(
                "• Points budget: {day_used}/{day_limit} today (remaining {day_left}), "
                "{month_used}/{month_limit} this month (remaining {month_left}).",
                locale,
                day_used=report.day.points,
                day_limit=limit_text(point_limits[0], locale),
                day_left=_remaining(point_limits[0], report.day.points, locale),
                month_used=report.month.points,
                month_limit=limit_text(point_limits[1], locale),
                month_left=_remaining(point_limits[1], report.month.points, locale),
            )
        )
    if p.server_images_per_day is not None or p.server_points_per_day is not None:
        lines.append(
            t(
                "• Server today: {images}/{image_limit} images, {points}/{point_limit} points.",
                locale,
                images=report.server_day.images,
                image_limit=limit_text(p.server_images_per_day, locale),
                points=report.server_day.points,
                point_limit=limit_text(p.server_points_per_day, locale),
            )
        )
    lines.append(
        t(
            "• At most {max_active} job(s) at once; cooldown {cooldown:g}s. Time zone: {timezone}.",
            locale,
            max_active=p.max_active,
            cooldown=p.cooldown_seconds,
            timezone=p.timezone,
        )
    )
    if report.cooldown_until:
        lines.append(t("⏳ Next generation {when}.", locale, when=discord_time(report.cooldown_until)))
    if report.blocked_until:
        until = discord_time(report.blocked_until, "f")
        lines.append(t("⛔ Blocked for banned words until {until}.", locale, until=until))
    return clip("\n".join(lines))


def _counter(c: Counter, locale: Locale) -> str:
    return t("{images} image(s), {points} points", locale, images=c.images, points=c.points)


def top_text(report: TopReport, locale: Locale = None) -> str:
    w = report.windows
    lines = [
        t(
            "**Server usage** (resets {day} / {month})",
            locale,
            day=discord_time(w.day_resets_at),
            month=discord_time(w.month_resets_at),
        ),
        t(
            "Today: {today} · This month: {month}",
            locale,
            today=_counter(report.server_day, locale),
            month=_counter(report.server_month, locale),
        ),
        t("**Today**", locale),
    ]
    lines += [
        f"{i}. <@{r.scope_id}>: {_counter(Counter(r.images, r.points), locale)}" for i, r in enumerate(report.day, 1)
    ]
    if not report.day:
        lines.append(t("Nobody yet.", locale))
    lines.append(t("**This month**", locale))
    lines += [
        f"{i}. <@{r.scope_id}>: {_counter(Counter(r.images, r.points), locale)}" for i, r in enumerate(report.month, 1)
    ]
    if not report.month:
        lines.append(t("Nobody yet.", locale))
    return clip("\n".join(lines))


def _yes_no(value: bool, locale: Locale) -> str:
    return t("yes", locale) if value else t("no", locale)


def policy_text(policy: Policy, *, title: str, locale: Locale = None) -> str:
    models = ", ".join(policy.allowed_models) if policy.allowed_models is not None else t("all", locale)
    features = [
        name
        for name, on in (
            ("img2img", policy.img2img),
            (t("custom models", locale), policy.custom_models),
            ("count > 1", policy.multi_image),
        )
        if on
    ]
    per_member = t(
        "• Images per member: {day}/day, {month}/month",
        locale,
        day=limit_text(policy.images_per_day, locale),
        month=limit_text(policy.images_per_month, locale),
    )
    per_member += t(
        "; points: {day}/day, {month}/month",
        locale,
        day=limit_text(policy.points_per_day, locale),
        month=limit_text(policy.points_per_month, locale),
    )
    if policy.exempt:
        per_member += t(" (exempt)", locale)
    if policy.blocked:
        per_member += t(" (blocked)", locale)
    strikes = (
        t(
            "{limit} in {window:g} h → blocked {block:g} h",
            locale,
            limit=policy.strike_limit,
            window=policy.strike_window_hours,
            block=policy.strike_block_hours,
        )
        if policy.strike_limit
        else t("off", locale)
    )
    if not policy.audit_strikes:
        strikes += t(" (results the audit blocks are not strikes)", locale)
    lines = [
        f"**{title}**",
        per_member,
        t(
            "• Server per day: {images} images, {points} points",
            locale,
            images=limit_text(policy.server_images_per_day, locale),
            points=limit_text(policy.server_points_per_day, locale),
        ),
        t(
            "• Server per month: {points} points",
            locale,
            points=limit_text(policy.server_points_per_month, locale),
        ),
        t(
            "• Max jobs at once: {max_active}; cooldown: {cooldown:g}s",
            locale,
            max_active=policy.max_active,
            cooldown=policy.cooldown_seconds,
        ),
        t("• Generation allowed here: {allowed}", locale, allowed=_yes_no(policy.channel_allowed, locale)),
        t(
            "• Models: {models}; default: {default}",
            locale,
            models=models,
            default=policy.default_mode or t("bot default", locale),
        ),
        t(
            "• Caps: count ≤ {count}, steps ≤ {steps}, size ≤ {side} px; features: {features}",
            locale,
            count=policy.max_count,
            steps=policy.max_steps,
            side=policy.max_side or t("any", locale),
            features=", ".join(features) or t("none", locale),
        ),
        t("• Banned words: {count}; strikes: {strikes}", locale, count=len(policy.banned_words), strikes=strikes),
        t(
            "• Audit notices: {display}; flagged results only in age-restricted channels: {flagged}",
            locale,
            display=t(policy.audit_display, locale),
            flagged=_yes_no(policy.flagged_only_nsfw, locale),
        ),
        t("• Time zone for resets: {timezone}", locale, timezone=policy.timezone),
    ]
    if policy.confirm_above_points is not None:
        lines.append(t("• Members confirm jobs above {points} points", locale, points=policy.confirm_above_points))
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


def audit_text(entries: Sequence[AuditEntry], locale: Locale = None) -> str:
    if not entries:
        return t("No admin changes recorded yet.", locale)
    lines = [t("**Admin changes** (newest first)", locale)]
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


def prompt_log_text(entries: Sequence[PromptLogEntry], locale: Locale = None) -> str:
    if not entries:
        return t("The prompt log is empty.", locale)
    lines = [t("**Prompt log** (newest first)", locale)]
    for e in entries:
        cost = t("{points} pts", locale, points=e.points) if e.points is not None else "?"
        prompt = e.prompt.replace("`", "'")[:150]
        lines.append(
            f"{discord_time(e.created_at, 'f')} <@{e.user_id}> in <#{e.channel_id}> · `{e.job_id}` · {e.mode} · "
            f"{e.job_state or 'gone'} · {cost}\n> {prompt}"
        )
    return clip("\n".join(lines))


def balance_text(reading: BalanceReading | None, outlook: Forecast | None, locale: Locale = None) -> str:
    """The account balance for admins: the last reported figure, when, and how long it lasts at the recent rate."""
    if reading is None:
        return t("LiblibAI balance: not reported yet (it arrives with the first finished job).", locale)
    line = t(
        "LiblibAI balance: **{points}** points ({when}).", locale, points=reading.points, when=discord_time(reading.at)
    )
    if outlook is None:
        return line
    if outlook.days_left is None:
        return f"{line} {t('Nothing was spent in the last {days} days.', locale, days=outlook.window_days)}"
    left = f"{outlook.days_left:.0f}" if outlook.days_left >= 1 else "<1"
    rate = t(
        "At the last {days} days' rate ({rate:.0f} points a day) it lasts about {left} day(s).",
        locale,
        days=outlook.window_days,
        rate=outlook.points_per_day,
        left=left,
    )
    return f"{line} {rate}"
