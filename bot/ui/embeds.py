"""Pure builders for progress, result and failure messages. Echoed prompts are always escaped."""

from __future__ import annotations

import re

import discord

from bot.delivery import Progress, Stage
from bot.models import FailureReason, Job, JobKind, JobResult

COLOR_PROGRESS = 0x5865F2
COLOR_DONE = 0x57F287
COLOR_FAILED = 0xED4245
PROMPT_PREVIEW = 900

FAILURE_TITLES: dict[FailureReason, str] = {
    FailureReason.INVALID_PARAMETER: "Invalid parameter",
    FailureReason.BANNED_PROMPT: "Prompt refused",
    FailureReason.AUDIT_REJECTED: "Output filtered by audit",
    FailureReason.GENERATION_FAILED: "Generation failed",
    FailureReason.SERVICE_TIMEOUT: "Image service timed out",
    FailureReason.SERVICE_ERROR: "Image service error",
    FailureReason.IMAGE_UNREACHABLE: "Input image unusable",
    FailureReason.CONFIG_ERROR: "Bot configuration problem",
    FailureReason.OUT_OF_POINTS: "Out of LiblibAI points",
    FailureReason.SUBMIT_UNKNOWN: "Submission not confirmed",
    FailureReason.DEADLINE: "Took too long",
    FailureReason.DELIVERY_FAILED: "Could not deliver the result",
    FailureReason.CANCELLED: "Cancelled",
}


# Any @everyone/@here or <@id>, <@!id>, <@&id> (discord.utils.escape_mentions misses short ids).
_MENTION = re.compile(r"@(?=everyone|here|[!&]?\d)")


ORIGIN_LABELS: dict[JobKind, str] = {
    JobKind.REROLL: "🔁 Reroll",
    JobKind.VARY: "🎲 Variation",
    JobKind.UPSCALE: "🔍 Upscale",
    JobKind.RESTYLE: "🎨 Restyle",
    JobKind.IMAGINE: "Remake",
}


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


def origin_text(job: Job) -> str | None:
    """ "Reroll of [job abc](link)" for jobs started from another job's result."""
    if not job.parent_job_id:
        return None
    label = ORIGIN_LABELS.get(job.kind, str(job.kind).capitalize())
    target = f"job `{job.parent_job_id}`"
    if job.parent_message_id:
        target = f"[{target}]({message_link(job.guild_id, job.channel_id, job.parent_message_id)})"
    return f"{label} of {target}"


def escape_prompt(text: str, limit: int = PROMPT_PREVIEW) -> str:
    """Escape markdown and mentions so an echoed prompt renders as typed and pings nobody."""
    clean = _MENTION.sub("@\u200b", discord.utils.escape_markdown(text))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def describe_mode(job: Job) -> str:
    r = job.request
    mode = r.mode if r.mode != "kontext" else f"kontext-{r.kontext_model or 'pro'}"
    return f"{mode}{' (img2img)' if r.is_img2img else ''}{' · simulated' if r.simulated else ''}"


def progress_text(job: Job, progress: Progress) -> str:
    stage = progress.stage
    if stage is Stage.QUEUED:
        text = f"⏳ Queued — position **{progress.position or '?'}**"
        if progress.eta:
            text += f", about {_duration(progress.eta)}"
    elif stage is Stage.SUBMITTING:
        text = "📤 Submitting to LiblibAI…"
    elif stage is Stage.WAITING:
        text = "⏳ Accepted by LiblibAI, waiting for a worker…"
    elif stage is Stage.GENERATING:
        pct = f" {progress.percent * 100:.0f}%" if progress.percent else ""
        text = f"🎨 Generating{pct}"
        if progress.elapsed is not None:
            text += f" · {_duration(progress.elapsed)} elapsed"
    elif stage is Stage.AUDITING:
        text = "🔍 Content audit…"
    else:
        text = "📥 Delivering…"
    origin = f" · {job.kind} of `{job.parent_job_id}`" if job.parent_job_id else ""
    return f"{text}\n> {escape_prompt(job.request.prompt, 200)}\n`{job.id}` · {describe_mode(job)}{origin}"


def cancelled_text(job: Job, actor_id: int) -> str:
    refund = " Your quota was refunded." if job.debits else ""
    return (
        f"🚫 Cancelled by <@{actor_id}>.{refund}\n> {escape_prompt(job.request.prompt, 200)}\n"
        f"`{job.id}` · {describe_mode(job)}"
    )


def result_embed(job: Job, result: JobResult, *, elapsed: float, note: str | None = None) -> discord.Embed:
    r = job.request
    embed = discord.Embed(description=escape_prompt(r.prompt), color=COLOR_DONE)
    origin = origin_text(job)
    if origin:
        embed.add_field(name="From", value=origin, inline=False)
    embed.add_field(name="Mode", value=describe_mode(job))
    seeds = ", ".join(str(i.seed) for i in result.images if i.seed is not None) or "random"
    embed.add_field(name="Seed" if len(result.images) == 1 else "Seeds", value=seeds)
    size = next(((i.width, i.height) for i in result.images if i.width), None)
    if size:
        embed.add_field(name="Size", value=f"{size[0]}×{size[1]}")
    embed.add_field(name="Points", value=str(result.points_cost))
    embed.add_field(name="Time", value=_duration(elapsed))
    if r.negative_prompt:
        embed.add_field(name="Negative", value=escape_prompt(r.negative_prompt, 300), inline=False)
    if result.blocked_count:
        embed.add_field(
            name="Audit", value=f"{result.blocked_count} image(s) were filtered by the content audit.", inline=False
        )
    if note:
        embed.add_field(name="Note", value=note, inline=False)
    footer = f"job {job.id}"
    if job.parent_job_id:
        footer += f" · {job.kind} of {job.parent_job_id}"
    if r.simulated:
        footer += " · simulated (no LiblibAI keys configured)"
    embed.set_footer(text=footer)
    return embed


def failure_embed(job: Job) -> discord.Embed:
    reason = job.failure_reason or FailureReason.SERVICE_ERROR
    embed = discord.Embed(
        title=f"❌ {FAILURE_TITLES[reason]}", description=job.failure_detail or "", color=COLOR_FAILED
    )
    embed.add_field(name="Prompt", value=escape_prompt(job.request.prompt, 300) or "—", inline=False)
    embed.set_footer(text=f"job {job.id}" + (" · quota refunded" if job.refunded else ""))
    return embed
