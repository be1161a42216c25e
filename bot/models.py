"""Domain records: jobs, their states and the generation request (no discord/aiohttp imports)."""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Self

from bot.i18n import Text


class JobState(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DELIVERING = "delivering"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATES


ACTIVE_STATES = frozenset({JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DELIVERING})
TERMINAL_STATES = frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED})

# Every allowed move; the store refuses anything else (guarded UPDATE ... WHERE state = ?).
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SUBMITTING, JobState.CANCELLED, JobState.EXPIRED, JobState.FAILED}),
    # back to QUEUED only when the API provably did not create the task (429, 100054, connect error)
    JobState.SUBMITTING: frozenset({JobState.RUNNING, JobState.QUEUED, JobState.FAILED, JobState.CANCELLED}),
    JobState.RUNNING: frozenset({JobState.DELIVERING, JobState.FAILED, JobState.CANCELLED, JobState.EXPIRED}),
    JobState.DELIVERING: frozenset({JobState.SUCCEEDED, JobState.FAILED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.EXPIRED: frozenset(),
}


class JobKind(StrEnum):
    IMAGINE = "imagine"
    RESTYLE = "restyle"
    REROLL = "reroll"
    VARY = "vary"
    UPSCALE = "upscale"
    ZOOM_OUT = "zoomout"  # Zoom Out 1.5x / 2x (outpainting around the image)
    MAKE_SQUARE = "square"  # outpainting to a square
    PAN = "pan"  # outpainting on one side
    BLEND = "blend"  # /blend: several images into one


class FailureReason(StrEnum):
    """Why a job failed; each maps to a distinct user-facing message."""

    INVALID_PARAMETER = "invalid_parameter"
    BANNED_PROMPT = "banned_prompt"
    AUDIT_REJECTED = "audit_rejected"
    GENERATION_FAILED = "generation_failed"
    SERVICE_TIMEOUT = "service_timeout"
    SERVICE_ERROR = "service_error"
    IMAGE_UNREACHABLE = "image_unreachable"
    CONFIG_ERROR = "config_error"
    OUT_OF_POINTS = "out_of_points"
    SUBMIT_UNKNOWN = "submit_unknown"
    DEADLINE = "deadline"
    DELIVERY_FAILED = "delivery_failed"
    CANCELLED = "cancelled"
    MODE_UNAVAILABLE = "mode_unavailable"  # LiblibAI does not serve the mode's route on this account


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_job_id() -> str:
    """A short, URL- and custom-id-safe id (10 lowercase base32-ish characters)."""
    return secrets.token_hex(5)


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    """What a member asked for, after validation; enough to rebuild the LiblibAI submit."""

    mode: str  # "star3", "kontext", a newer family's ("seedream", "img1", ...), a custom model's name, "comfy:<name>"
    prompt: str
    negative_prompt: str | None = None
    aspect_ratio: str | None = None
    count: int = 1
    seed: int | None = None
    steps: int | None = None
    kontext_model: str | None = None  # "pro" | "max"
    guidance_scale: float | None = None
    cfg_scale: float | None = None
    sampler: int | None = None
    source_images: tuple[str, ...] = ()  # fetchable URLs (first is the main source)
    strength: float | None = None  # img2img denoising strength (custom) ; ignored where unsupported
    mask_image: str | None = None
    control_type: str | None = None
    control_image: str | None = None
    width: int | None = None
    height: int | None = None
    hires: bool = False  # upscale: render through the mode's high-resolution option
    variation: str | None = None  # a Vary: "subtle" | "strong", mapped per family (bot.generation.variation)
    simulated: bool = False
    enhance: bool = False  # let LiblibAI rewrite the prompt first (Seedream promptMagic, libDream usePreLlm)
    quality: str | None = None  # Smart IMG1: "turbo" | "normal" | "masterpiece" (None: normal)
    # Set when the member named no mode and the bot chose another than their default (bot.generation.routing):
    # the default it would have used, and the prompt's language when that was the reason (bot.generation.language).
    routed_from: str | None = None
    routed_language: str | None = None
    # Custom models: the LoRAs (model id, weight) to use instead of the model's configured ones (a style's preset).
    loras: tuple[tuple[str, float], ...] | None = None

    @property
    def is_img2img(self) -> bool:
        return bool(self.source_images)

    def to_json(self) -> str:
        data = asdict(self)
        data["source_images"] = list(self.source_images)
        return json.dumps(data, ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, raw: str) -> Self:
        data: dict[str, Any] = json.loads(raw)
        data["source_images"] = tuple(data.get("source_images") or ())
        if data.get("loras") is not None:
            data["loras"] = tuple((str(model_id), float(weight)) for model_id, weight in data["loras"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in data.items() if k in known})

    def with_(self, **changes: Any) -> GenerationRequest:
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class ResultImage:
    url: str
    seed: int | None = None
    width: int | None = None
    height: int | None = None


@dataclass(frozen=True, slots=True)
class ResultVideo:
    """A video a ComfyUI workflow made (its URL, like an image's, expires after 7 days)."""

    url: str
    cover_url: str | None = None


@dataclass(frozen=True, slots=True)
class JobResult:
    images: tuple[ResultImage, ...]
    points_cost: int = 0
    blocked_count: int = 0
    account_balance: int | None = None
    simulated: bool = False  # answered by a simulator (its tag was seen), not by LiblibAI
    videos: tuple[ResultVideo, ...] = ()

    def to_json(self) -> str:
        data: dict[str, Any] = {
            "images": [asdict(i) for i in self.images],
            "points_cost": self.points_cost,
            "blocked_count": self.blocked_count,
            "account_balance": self.account_balance,
            "simulated": self.simulated,
        }
        if self.videos:
            data["videos"] = [asdict(v) for v in self.videos]
        return json.dumps(data)

    @classmethod
    def from_json(cls, raw: str) -> Self:
        data = json.loads(raw)
        return cls(
            images=tuple(ResultImage(**i) for i in data.get("images", [])),
            points_cost=int(data.get("points_cost", 0)),
            blocked_count=int(data.get("blocked_count", 0)),
            account_balance=data.get("account_balance"),
            simulated=bool(data.get("simulated", False)),
            videos=tuple(ResultVideo(**v) for v in data.get("videos", [])),
        )


@dataclass(frozen=True, slots=True)
class UsageDebit:
    """One quota counter a job reserves: ``scope`` is "user" or "guild", ``window`` e.g. "day:2026-11-23".

    The store increments it only while the new totals stay within the limits (None: unlimited),
    in one transaction with the job insert; a refund subtracts exactly what was reserved.
    """

    scope: str
    scope_id: int
    window: str
    images: int
    points: int
    max_images: int | None = None
    max_points: int | None = None

    def images_fit(self, used_images: int) -> bool:
        return self.max_images is None or used_images + self.images <= self.max_images

    def fits(self, used_images: int, used_points: int) -> bool:
        """Whether this debit fits on a counter at (``used_images``, ``used_points``). The store applies the
        same rule atomically at enqueue (its checked increment); here it serves refusal messages and
        advisory pre-checks."""
        return self.images_fit(used_images) and (
            self.max_points is None or used_points + self.points <= self.max_points
        )


@dataclass(slots=True)
class Job:
    id: str
    user_id: int
    channel_id: int
    guild_id: int | None
    request: GenerationRequest
    kind: JobKind = JobKind.IMAGINE
    state: JobState = JobState.QUEUED
    created_at: datetime = field(default_factory=utcnow)
    state_changed_at: datetime = field(default_factory=utcnow)
    generate_uuid: str | None = None
    submitted_at: datetime | None = None
    finished_at: datetime | None = None
    # Where progress and results go: the interaction (while its token lives), else the channel.
    application_id: int | None = None
    interaction_token: str | None = None
    interaction_expires_at: datetime | None = None
    progress_message_id: int | None = None
    reply_to_message_id: int | None = None
    result_message_id: int | None = None
    parent_job_id: str | None = None
    locale: str = "en-US"
    points_reserved: int = 0  # the estimate the debits reserved
    points_cost: int | None = None  # LiblibAI's bill, once known (None: nothing billed, or not known yet)
    debits: tuple[UsageDebit, ...] = ()
    refunded: bool = False
    result: JobResult | None = None
    failure_reason: FailureReason | None = None
    failure_detail: Text | None = None  # why it failed, rendered in the job's language at the edge
    percent: float | None = None
    submit_attempts: int = 0
    not_before: datetime | None = None  # re-queued after a 429/100054: do not submit before this
    fingerprint: str | None = None  # bot.generation.fingerprint.request_fingerprint(request): finds identical requests
    parent_message_id: int | None = None  # for button actions: the message the button was on (credited)
    # Set (by the store only) when the member cancelled a job LiblibAI already accepted: it stays RUNNING until
    # its task ends there (it is billed and keeps its slot), then ends CANCELLED, charged what LiblibAI billed.
    cancel_requested_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES

    @property
    def cancel_requested(self) -> bool:
        return self.cancel_requested_at is not None


# -- styles and personal defaults ---------------------------------------------------------------------

STYLE_FIELDS = ("description", "prefix", "suffix", "negative", "mode", "aspect", "lora", "strength")


@dataclass(frozen=True, slots=True)
class Style:
    """A named preset for /imagine (``style:`` or ``--style``): text around the prompt and default options.

    Bot-wide styles come from the settings (``[[styles]]``, ``guild_id`` None); a server's admins add their own
    (``/style add``), and a server style wins over a bot-wide one of the same name on that server."""

    name: str
    description: str = ""
    prefix: str = ""  # put before the member's prompt
    suffix: str = ""  # put after it
    negative: str | None = None  # the negative prompt, where the mode takes one
    mode: str | None = None
    aspect: str | None = None
    lora: str | None = None  # a LoRA preset of the (custom) mode: [[models.custom.lora_presets]]
    strength: float | None = None  # image-to-image strength, where the mode has one
    guild_id: int | None = None  # the server that owns it; None: bot-wide

    def values(self) -> dict[str, Any]:
        """The fields it sets (``STYLE_FIELDS`` that are not empty)."""
        return {name: getattr(self, name) for name in STYLE_FIELDS if getattr(self, name) not in (None, "")}


PREFERENCE_FIELDS = ("mode", "aspect", "count", "style", "language")


@dataclass(frozen=True, slots=True)
class Preferences:
    """A member's personal defaults (``/prefer``), bot-wide: used whenever they name nothing else."""

    mode: str | None = None
    aspect: str | None = None
    count: int | None = None
    style: str | None = None
    language: str | None = None  # "en-US" | "zh-CN": replies in it whatever their Discord language

    def values(self) -> dict[str, Any]:
        """The defaults that are set."""
        return {name: getattr(self, name) for name in PREFERENCE_FIELDS if getattr(self, name) is not None}


# -- a job's result images --------------------------------------------------------------------------


def result_image_count(job: Job) -> int:
    return len(job.result.images) if job.result else 0


def result_image(job: Job, index: int) -> ResultImage:
    if job.result is None or not 0 <= index < len(job.result.images):
        raise IndexError(index)
    return job.result.images[index]


def has_result(job: Job) -> bool:
    return job.state is JobState.SUCCEEDED and result_image_count(job) > 0
