"""Pure builders for /help, /models, /queue and /jobs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import discord

from bot.billing import price_per_image
from bot.discord_app.ui.embeds import COLOR_PROGRESS, describe_mode, escape_prompt, kind_name, message_link, state_name
from bot.generation.builder import ModeInfo
from bot.generation.families import price_name
from bot.i18n import N_, Locale, t
from bot.jobs import QueueSnapshot
from bot.liblib.endpoints import MAX_IMAGE_COUNT
from bot.models import GenerationRequest, Job, JobState

MAX_LISTED = 10

STATE_ICONS: dict[JobState, str] = {
    JobState.QUEUED: "⏳",
    JobState.SUBMITTING: "📤",
    JobState.RUNNING: "🎨",
    JobState.DELIVERING: "📥",
    JobState.SUCCEEDED: "✅",
    JobState.FAILED: "❌",
    JobState.CANCELLED: "🚫",
    JobState.EXPIRED: "⌛",
}

HELP_TEXT = N_("""\
Generate pictures with LiblibAI, right here.

**/imagine** `prompt` — draw something. Options: `mode`, `aspect`, `count`, `seed`, `steps`, `negative`, \
`image` (start from a picture; `image2`–`image4`: more references), `enhance` (improve the prompt first), \
`quality` (Smart IMG1), `control_image` + `control_type`, `fresh`.
Flags work inside the prompt too: `--ar 16:9`, `--no <negative>`, `--seed N`, `--count N`, `--steps N`, \
`--mode <mode>` (options win over flags).

**/blend** `image1` `image2` … `image5` — 2 to 5 images into one (optional `prompt`, `aspect`, `mode`).

**Buttons under a result** — 🔁 Reroll (new seed) · 🎲 Vary (per image) · 🔍 Upscale (per image: that very image, \
larger; its cost on the button) · 🔭 Zoom Out, 🔳 Make Square, ⬅️ ➡️ ⬆️ ⬇️ Pan (a result of one image) · \
🎛️ Remix (edit the prompt, then reroll, vary, zoom or pan) · 🗑️ Delete. ✖️ Cancel while it waits (refunded) or runs \
(LiblibAI still charges a job it accepted).

**/show** `job` — post a past result again, with buttons · **/queue** — what this server is waiting for \
· **/jobs** — your recent jobs · **/models** — what each mode can do.
""")

HELP_EXAMPLES = N_("""\
`/imagine prompt: a red fox in the snow, cinematic light --ar 16:9`
`/imagine prompt: 一只在雪地里的红狐狸 mode: kontext-pro`
`/imagine prompt: a lighthouse at dusk --count 4 --mode dreamtech-xl --seed 42`
`/imagine prompt: make it autumn image: <attach a photo>`
""")


HELP_PRESETS = N_("""\
`/imagine style:<name>` or `--style <name>` in the prompt applies a style preset (`/style list`). `/prefer set` \
keeps your own defaults (mode, aspect, count, style, language) in every server. What you type wins over your \
defaults, which win over a style and the server's default.
""")


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def help_embed(locale: Locale = None) -> discord.Embed:
    embed = discord.Embed(
        title=t("LiblibAI bot — help", locale), description=t(HELP_TEXT, locale), color=COLOR_PROGRESS
    )
    embed.add_field(name=t("Styles and personal defaults", locale), value=t(HELP_PRESETS, locale), inline=False)
    embed.add_field(name=t("Examples", locale), value=t(HELP_EXAMPLES, locale), inline=False)
    return embed


def _workflow_line(mode: ModeInfo, *, default: bool, price: int, locale: Locale) -> str:
    """A ComfyUI workflow: its description, then what it takes and makes."""
    facts = [t("{points} points/image", locale, points=price), t("ComfyUI workflow", locale)]
    if mode.video:
        facts.append(t("makes a video", locale))
    if mode.needs_image:
        facts.append(t("needs an input image", locale))
    elif mode.takes_image:
        facts.append(t("takes an input image", locale))
    if mode.english_only:
        facts.append(t("English prompts", locale))
    can = [
        *([t("negative prompt", locale)] if mode.supports_negative else []),
        *([t("seed", locale)] if mode.supports_seed else []),
        *([t("aspect ratio", locale)] if mode.supports_aspect else []),
        *([t("up to {count} images", locale, count=mode.max_count)] if mode.max_count > 1 else []),
    ]
    if can:
        facts.append(", ".join(can))
    mark = t(" — **default**", locale) if default else ""
    about = f"\n{escape_prompt(mode.description, 300)}" if mode.description else ""
    return f"**{mode.label}** (`{mode.name}`){mark}{about}\n{' · '.join(facts)}"


def _mode_price(mode: ModeInfo, prices: Mapping[str, int], locale: Locale) -> str:
    """Points per image; per quality where the mode has qualities (Smart IMG1)."""
    if not mode.qualities:
        return t("{points} points/image", locale, points=price_per_image(prices, mode.name))
    each = [
        f"{q} {price_per_image(prices, price_name(GenerationRequest(mode=mode.name, prompt='', quality=q)))}"
        for q in mode.qualities
    ]
    return t("{points} points/image", locale, points=" / ".join(each))


def _mode_line(mode: ModeInfo, *, default: bool, prices: Mapping[str, int], locale: Locale) -> str:
    if mode.workflow:
        return _workflow_line(mode, default=default, price=price_per_image(prices, mode.name), locale=locale)
    can = []
    if mode.supports_vary:
        can.append(t("Vary", locale))
    if mode.supports_upscale:
        can.append(t("Upscale", locale))
    if mode.supports_negative:
        can.append(t("negative prompt", locale))
    if mode.supports_seed:
        can.append(t("seed", locale))
    if mode.supports_steps:
        can.append(t("steps", locale))
    if mode.supports_control:
        can.append(t("structure control", locale))
    if mode.supports_enhance:
        can.append(t("prompt enhancement", locale))
    if mode.needs_mask:
        can.append(t("inpainting with a mask (/restyle)", locale))
    if mode.max_count > MAX_IMAGE_COUNT:
        can.append(t("up to {count} images", locale, count=mode.max_count))
    if mode.max_references == 0:
        refs = t("prompt only", locale)
    elif mode.max_references > 1:
        refs = t("{count} reference images", locale, count=mode.max_references)
    else:
        refs = t("{count} reference image", locale, count=mode.max_references)
    language = t("English prompts", locale) if mode.english_only else t("Chinese or English prompts", locale)
    mark = t(" — **default**", locale) if default else ""
    cost = _mode_price(mode, prices, locale)
    return f"**{mode.label}** (`{mode.name}`){mark}\n{cost} · {language} · {refs} · {', '.join(can)}"


def models_embed(
    modes: Sequence[ModeInfo], *, default_mode: str, prices: Mapping[str, int], locale: Locale = None
) -> discord.Embed:
    lines = [_mode_line(m, default=m.name == default_mode, prices=prices, locale=locale) for m in modes]
    embed = discord.Embed(
        title=t("Modes and models", locale), description="\n\n".join(lines)[:4000], color=COLOR_PROGRESS
    )
    embed.set_footer(text=t("Pick one with /imagine mode:<name> or --mode <name>", locale))
    return embed


def _job_line(job: Job, locale: Locale) -> str:
    prompt = escape_prompt(job.request.prompt, 60)
    return f"`{job.id}` <@{job.user_id}> · {describe_mode(job, locale)} · {prompt}"


def queue_embed(snapshot: QueueSnapshot, *, typical: float | None, locale: Locale = None) -> discord.Embed:
    """The asker's part of the bot-wide queue (JobService.snapshot chose it); positions are bot-wide (the
    LiblibAI account is shared)."""
    here_waiting = snapshot.waiting
    here_working = snapshot.working
    summary = t(
        "**{waiting}** waiting and **{working}** in progress across the bot.",
        locale,
        waiting=snapshot.waiting_total,
        working=snapshot.working_total,
    )
    if typical is not None:
        summary += " " + t("A render takes about {duration}.", locale, duration=_duration(typical))
    embed = discord.Embed(title=t("Queue", locale), description=summary, color=COLOR_PROGRESS)
    working = []
    for job in here_working[:MAX_LISTED]:
        pct = f" {job.percent * 100:.0f}%" if job.percent else ""
        working.append(f"{STATE_ICONS[job.state]}{pct} {_job_line(job, locale)}")
    waiting = [
        t("#{position} · about {duration}", locale, position=e.position, duration=_duration(e.eta))
        + f" · {_job_line(e.job, locale)}"
        for e in here_waiting[:MAX_LISTED]
    ]
    extra = len(here_waiting) - len(waiting)
    if extra > 0:
        waiting.append(t("… and {count} more", locale, count=extra))
    embed.add_field(
        name=t("In progress here", locale), value="\n".join(working)[:1024] or t("Nothing.", locale), inline=False
    )
    embed.add_field(
        name=t("Waiting here", locale), value="\n".join(waiting)[:1024] or t("Nothing waiting.", locale), inline=False
    )
    return embed


def _job_link(job: Job) -> str | None:
    target = job.result_message_id or job.progress_message_id or job.reply_to_message_id
    return message_link(job.guild_id, job.channel_id, target) if target else None


def jobs_embed(jobs: Sequence[Job], *, positions: dict[str, int], locale: Locale = None) -> discord.Embed:
    embed = discord.Embed(title=t("Your recent jobs", locale), color=COLOR_PROGRESS)
    if not jobs:
        embed.description = t("No jobs yet. Try `/imagine`.", locale)
        return embed
    lines = []
    for job in jobs[:MAX_LISTED]:
        status = state_name(job.state, locale)
        if job.state is JobState.QUEUED and job.id in positions:
            status += f" #{positions[job.id]}"
        elif job.state is JobState.RUNNING and job.cancel_requested:
            status = t("cancelled, still running at LiblibAI", locale)
        elif job.state is JobState.RUNNING and job.percent:
            status += f" {job.percent * 100:.0f}%"
        cost = t("{points} pts", locale, points=job.points_cost) if job.points_cost is not None else "—"
        if job.refunded:
            cost += t(" (refunded)", locale)
        link = _job_link(job)
        ident = f"[`{job.id}`]({link})" if link else f"`{job.id}`"
        when = f"<t:{int(job.created_at.timestamp())}:R>"
        lines.append(
            f"{STATE_ICONS[job.state]} {ident} {kind_name(job.kind, locale)} · {status} · {cost} · {when}\n"
            f"> {escape_prompt(job.request.prompt, 80)}"
        )
    embed.description = "\n".join(lines)[:4000]
    return embed
