"""Pure builders for progress, result and failure messages. Echoed prompts are always escaped."""

from __future__ import annotations

import math
import re
from datetime import datetime

import discord

from bot.errors import discord_time
from bot.generation.families import mode_name
from bot.generation.language import Language
from bot.i18n import N_, Locale, t
from bot.jobs.admission import Quote
from bot.jobs.sink import Progress, Stage
from bot.models import FailureReason, GenerationRequest, Job, JobKind, JobResult

COLOR_PROGRESS = 0x5865F2
COLOR_DONE = 0x57F287
COLOR_FAILED = 0xED4245
PROMPT_PREVIEW = 900
BAR_CELLS = 10

FAILURE_TITLES: dict[FailureReason, str] = {
    FailureReason.INVALID_PARAMETER: N_("Invalid parameter"),
    FailureReason.BANNED_PROMPT: N_("Prompt refused"),
    FailureReason.AUDIT_REJECTED: N_("Output filtered by audit"),
    FailureReason.GENERATION_FAILED: N_("Generation failed"),
    FailureReason.SERVICE_TIMEOUT: N_("Image service timed out"),
    FailureReason.SERVICE_ERROR: N_("Image service error"),
    FailureReason.IMAGE_UNREACHABLE: N_("Input image unusable"),
    FailureReason.CONFIG_ERROR: N_("Bot configuration problem"),
    FailureReason.OUT_OF_POINTS: N_("Out of LiblibAI points"),
    FailureReason.SUBMIT_UNKNOWN: N_("Submission not confirmed"),
    FailureReason.DEADLINE: N_("Took too long"),
    FailureReason.DELIVERY_FAILED: N_("Could not deliver the result"),
    FailureReason.CANCELLED: N_("Cancelled"),
    FailureReason.MODE_UNAVAILABLE: N_("Model not available"),
}


# Any @everyone/@here or <@id>, <@!id>, <@&id> (discord.utils.escape_mentions misses short ids).
_MENTION = re.compile(r"@(?=everyone|here|[!&]?\d)")


ORIGIN_LABELS: dict[JobKind, str] = {
    JobKind.REROLL: N_("🔁 Reroll"),
    JobKind.VARY: N_("🎲 Variation"),
    JobKind.UPSCALE: N_("🔍 Upscale"),
    JobKind.RESTYLE: N_("🎨 Restyle"),
    JobKind.IMAGINE: N_("Remake"),
    JobKind.ZOOM_OUT: N_("🔭 Zoom Out"),
    JobKind.MAKE_SQUARE: N_("🔳 Make Square"),
    JobKind.PAN: N_("↔️ Pan"),
}
# A Vary's credit says how strong it was (jobs from before there were two strengths say "Variation").
VARIATION_LABELS: dict[str, str] = {"subtle": N_("🎲 Subtle variation"), "strong": N_("🌀 Strong variation")}
VARIATION_NAMES: dict[str, str] = {"subtle": N_("vary (subtle)"), "strong": N_("vary (strong)")}


def message_link(guild_id: int | None, channel_id: int, message_id: int) -> str:
    return f"https://discord.com/channels/{guild_id or '@me'}/{channel_id}/{message_id}"


# Job kinds as members read them ("reroll of abc").
KIND_NAMES: dict[str, str] = {
    "imagine": N_("imagine"),
    "reroll": N_("reroll"),
    "vary": N_("vary"),
    "upscale": N_("upscale"),
    "restyle": N_("restyle"),
    "zoomout": N_("zoom out"),
    "square": N_("make square"),
    "pan": N_("pan"),
    "blend": N_("blend"),
}

# Job states as members read them.
STATE_NAMES: dict[str, str] = {
    "queued": N_("queued"),
    "submitting": N_("submitting"),
    "running": N_("running"),
    "delivering": N_("delivering"),
    "succeeded": N_("succeeded"),
    "failed": N_("failed"),
    "cancelled": N_("cancelled"),
    "expired": N_("expired"),
}


def kind_name(kind: object, locale: Locale) -> str:
    return t(KIND_NAMES.get(str(kind), str(kind)), locale)


def _vary_strength(job: Job) -> str | None:
    """The strength a Vary recorded ("subtle" or "strong"); None for other jobs and older Varys."""
    variation = job.request.variation
    return variation if job.kind is JobKind.VARY and variation in VARIATION_NAMES else None


def job_kind_name(job: Job, locale: Locale) -> str:
    """The job's kind as members read it; a Vary says how strong ("vary (strong)")."""
    strength = _vary_strength(job)
    return t(VARIATION_NAMES[strength], locale) if strength else kind_name(job.kind, locale)


def state_name(state: object, locale: Locale) -> str:
    return t(STATE_NAMES.get(str(state), str(state)), locale)


def origin_text(job: Job, locale: Locale = None) -> str | None:
    """ "Reroll of [job abc](link)" for jobs started from another job's result."""
    if not job.parent_job_id:
        return None
    locale = locale or job.locale
    strength = _vary_strength(job)
    if strength:
        label = t(VARIATION_LABELS[strength], locale)
    else:
        label = t(ORIGIN_LABELS[job.kind], locale) if job.kind in ORIGIN_LABELS else str(job.kind).capitalize()
    target = t("job `{job_id}`", locale, job_id=job.parent_job_id)
    if job.parent_message_id:
        target = f"[{target}]({message_link(job.guild_id, job.channel_id, job.parent_message_id)})"
    return t("{label} of {target}", locale, label=label, target=target)


def escape_prompt(text: str, limit: int = PROMPT_PREVIEW) -> str:
    """Escape markdown and mentions so an echoed prompt renders as typed and pings nobody."""
    clean = _MENTION.sub("@\u200b", discord.utils.escape_markdown(text))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def is_simulated(job: Job) -> bool:
    """Whether the job went to a simulator: known when it was asked for, or from the simulator's answers."""
    return job.request.simulated or (job.result is not None and job.result.simulated)


def describe_mode(job: Job, locale: Locale = None) -> str:
    r = job.request
    mode = mode_name(r)
    img2img = t(" (img2img)", locale) if r.is_img2img else ""
    simulated = t(" · simulated", locale) if is_simulated(job) else ""
    return f"{mode}{img2img}{simulated}"


def route_note(request: GenerationRequest, locale: Locale = None) -> str | None:
    """Why the request is in another mode than the member's default ("Chinese prompt → kontext-pro"), or None
    when it was not routed (``bot.generation.routing``)."""
    if request.routed_from is None:
        return None
    mode = mode_name(request)
    if request.routed_language is not None:
        try:
            language = t(Language(request.routed_language).label, locale)
        except ValueError:
            language = request.routed_language
        return t("🌐 {language} prompt → {mode}", locale, language=language, mode=mode)
    return t("↪️ {default} is not available on this account → {mode}", locale, default=request.routed_from, mode=mode)


def _stage_text(progress: Progress, locale: Locale) -> str:
    stage = progress.stage
    if stage is Stage.QUEUED:
        text = t("⏳ Queued — position **{position}**", locale, position=progress.position or "?")
        if progress.eta:
            text += t(", about {duration}", locale, duration=_duration(progress.eta))
        return text
    if stage is Stage.SUBMITTING:
        return t("📤 Submitting to LiblibAI…", locale)
    if stage is Stage.WAITING:
        return t("⏳ Accepted by LiblibAI, waiting for a worker…", locale) + _gauge(progress, locale)
    if stage is Stage.GENERATING:
        text = t("🎨 Generating{percent}", locale, percent=_gauge(progress, locale))
        if progress.elapsed is not None:
            text += t(" · {duration} elapsed", locale, duration=_duration(progress.elapsed))
        return text
    if stage is Stage.AUDITING:
        return t("🔍 Content audit…", locale) + _gauge(progress, locale)
    return t("📥 Delivering…", locale)


def progress_bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """``█████░░░░░``: whole cells only, so a bar below 100 % is never drawn full."""
    filled = max(0, min(cells, int(fraction * cells)))
    return "█" * filled + "░" * (cells - filled)


def _gauge(progress: Progress, locale: Locale) -> str:
    """The bar, the percent (rounded down: never "100%" before the result) and the time left, while LiblibAI
    has the job (``bot.jobs.progress`` decides the figures); nothing without a percent."""
    if progress.percent is None:
        return ""
    text = f" `{progress_bar(progress.percent)}` {int(progress.percent * 100)}%"
    if progress.eta is None:
        return text + t(" · almost done", locale)
    return text + t(" · about {duration} left", locale, duration=_duration(math.ceil(progress.eta)))


def progress_text(job: Job, progress: Progress) -> str:
    """The progress message, in the job's language (chosen when it was started). While queued it quotes the
    job's estimated cost: what it reserved at admission (``QuotaService.estimate_points``, the price table)."""
    locale = job.locale
    text = _stage_text(progress, locale)
    if progress.stage is Stage.QUEUED and job.points_reserved > 0:
        text += t(" · ≈ {points} points", locale, points=job.points_reserved)
    origin = ""
    if job.parent_job_id:
        origin = t(" · {kind} of `{job_id}`", locale, kind=job_kind_name(job, locale), job_id=job.parent_job_id)
    note = route_note(job.request, locale)
    routed = f"\n{note}" if note else ""
    prompt = escape_prompt(job.request.prompt, 200)
    return f"{text}\n> {prompt}\n`{job.id}` · {describe_mode(job, locale)}{origin}{routed}"


def quote_question(request: GenerationRequest, quote: Quote, *, expires_at: datetime, locale: Locale) -> str:
    """Asking the member to confirm a job's estimated cost (the server's threshold is below it)."""
    text = t(
        "💰 This request (**{mode}**, {count} image(s)) costs about **{points} points**. This server asks before "
        "spending more than {threshold} points. Queue it? The question expires {when}.",
        locale,
        mode=mode_name(request),
        count=request.count,
        points=quote.points,
        threshold=quote.confirm_above or 0,
        when=discord_time(expires_at),
    )
    note = route_note(request, locale)
    return f"{text}\n> {escape_prompt(request.prompt, 200)}" + (f"\n{note}" if note else "")


def cheaper_offer(request: GenerationRequest, quote: Quote, locale: Locale) -> tuple[str, str]:
    """The line added to a points refusal that offers ``request`` (a cheaper mode), and its button's label."""
    mode = mode_name(request)
    line = t(
        "💡 A cheaper mode fits what you have left: **{mode}**, about {points} points.",
        locale,
        mode=mode,
        points=quote.points,
    )
    return line, t("Use {mode} (≈ {points} points)", locale, mode=mode, points=quote.points)


def cancelled_text(job: Job, actor_id: int) -> str:
    """The progress message once cancelled: refunded while it waited; still charged once LiblibAI accepted it."""
    locale = job.locale
    text = t("🚫 Cancelled by <@{user_id}>.", locale, user_id=actor_id)
    if job.cancel_requested:
        text += " " + t(
            "LiblibAI had already accepted it and cannot stop it: the image service still charges this job, "
            "so it counts toward the quota.",
            locale,
        )
    elif job.debits:
        text += " " + t("Your quota was refunded.", locale)
    return f"{text}\n> {escape_prompt(job.request.prompt, 200)}\n`{job.id}` · {describe_mode(job, locale)}"


def charged_points(job: Job) -> int | None:
    """The points a job that ended was charged although it delivered nothing (LiblibAI billed it), else None."""
    return job.points_cost if job.points_cost and not job.refunded else None


def result_embed(
    job: Job,
    result: JobResult,
    *,
    elapsed: float,
    note: str | None = None,
    locale: Locale = None,
    attached_videos: int = 0,
) -> discord.Embed:
    """The result, in ``locale`` (a re-post: the asker's language) or the job's language. ``attached_videos``:
    how many of the result's videos the message carries (the rest were too large: the links say so)."""
    locale = locale or job.locale
    r = job.request
    embed = discord.Embed(description=escape_prompt(r.prompt), color=COLOR_DONE)
    origin = origin_text(job, locale)
    if origin:
        embed.add_field(name=t("From", locale), value=origin, inline=False)
    routed = route_note(r, locale)
    embed.add_field(name=t("Mode", locale), value=describe_mode(job, locale) + (f"\n{routed}" if routed else ""))
    seeds = ", ".join(str(i.seed) for i in result.images if i.seed is not None) or t("random", locale)
    if result.images or not result.videos:
        embed.add_field(name=t("Seed", locale) if len(result.images) == 1 else t("Seeds", locale), value=seeds)
    size = next(((i.width, i.height) for i in result.images if i.width), None)
    if size:
        embed.add_field(name=t("Size", locale), value=f"{size[0]}×{size[1]}")
    embed.add_field(name=t("Points", locale), value=str(result.points_cost))
    embed.add_field(name=t("Time", locale), value=_duration(elapsed))
    if r.negative_prompt:
        embed.add_field(name=t("Negative", locale), value=escape_prompt(r.negative_prompt, 300), inline=False)
    if result.blocked_count:
        embed.add_field(
            name=t("Audit", locale),
            value=t("{count} image(s) were filtered by the content audit.", locale, count=result.blocked_count),
            inline=False,
        )
    if result.videos:
        embed.add_field(name=t("Video", locale), value=video_note(result, attached_videos, locale), inline=False)
    if note:
        embed.add_field(name=t("Note", locale), value=note, inline=False)
    footer = t("job {job_id}", locale, job_id=job.id)
    if job.parent_job_id:
        footer += t(" · {kind} of {job_id}", locale, kind=job_kind_name(job, locale), job_id=job.parent_job_id)
    if is_simulated(job):
        footer += t(" · simulated (LiblibAI simulator, no real generation)", locale)
    embed.set_footer(text=footer)
    return embed


def more_images_text(job: Job, first: int, last: int, total: int, locale: Locale = None) -> str:
    """The text of a result's further message when its images take more than one (Discord shows 10 a message)."""
    return t(
        "🖼️ Images {first}–{last} of {total} · job `{job_id}`",
        locale or job.locale,
        first=first,
        last=last,
        total=total,
        job_id=job.id,
    )


def video_note(result: JobResult, attached: int, locale: Locale) -> str:
    """What a ComfyUI workflow's video result is, said plainly: attached, or too large and linked."""
    links = " · ".join(
        f"[{t('video {number}', locale, number=n)}]({v.url})" for n, v in enumerate(result.videos, start=1)
    )
    if attached >= len(result.videos):
        text = t(
            "🎬 This workflow made a video, not a picture: it is attached. Link (valid for 7 days): {links}",
            locale,
            links=links,
        )
    else:
        text = t(
            "🎬 This workflow made a video, not a picture, and it is too large to attach here. "
            "Open it with the link (valid for 7 days): {links}",
            locale,
            links=links,
        )
    return text[:1024]


def withheld_note(locale: Locale) -> str:
    """Why a result shows no images: ``Presentation.withholds`` (a flagged batch outside age-restricted channels)."""
    return t(
        "The content audit filtered part of this batch, so this server shows the rest only in "
        "age-restricted channels. Use `/show` there to see them.",
        locale,
    )


def failure_embed(job: Job) -> discord.Embed:
    locale = job.locale
    reason = job.failure_reason or FailureReason.SERVICE_ERROR
    description = job.failure_detail.render(locale) if job.failure_detail else ""
    charged = charged_points(job)
    if charged is not None:
        note = t(
            "LiblibAI charged {points} points for this job, so it counts toward the quota.", locale, points=charged
        )
        description = f"{description}\n{note}".strip()
    embed = discord.Embed(title=f"❌ {t(FAILURE_TITLES[reason], locale)}", description=description, color=COLOR_FAILED)
    embed.add_field(name=t("Prompt", locale), value=escape_prompt(job.request.prompt, 300) or "—", inline=False)
    footer = t("job {job_id}", locale, job_id=job.id)
    if job.refunded:
        footer += t(" · quota refunded", locale)
    elif charged is not None:
        footer += t(" · {points} points charged", locale, points=charged)
    embed.set_footer(text=footer)
    return embed
