"""Settings: a TOML file plus ``LIBBOT_<SECTION>__<KEY>`` environment overrides (pydantic-settings).

Secrets also come from the plain variables ``LIBLIB_ACCESS_KEY``, ``LIBLIB_SECRET_KEY`` and
``DISCORD_TOKEN``. Precedence, highest first: ``LIBBOT_*`` env, the plain secret env, the TOML file.
Settings are loaded once in the composition root and passed down; nothing loads them at import.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import zoneinfo
from pathlib import Path
from typing import Any, ClassVar, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from bot.config_sources import DEFAULTS_FILE_ENV, Provenance, provenance

DEFAULT_CONFIG_PATH = Path("config.toml")
DEFAULT_BASE_URL = "https://openapi.liblibai.cloud"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DiscordSettings(_Section):
    token: SecretStr | None = None
    api_base_url: str = "https://discord.com/api/v10"
    gateway_url: str = "wss://gateway.discord.gg/"
    # Seconds `run` and `sync-commands` wait for Discord to log in (and `run` for the gateway's READY) before
    # giving up with a clear message; a Discord that accepts the connection but never answers would hang forever.
    login_timeout: float = Field(30.0, gt=0)
    dev_guild_id: int | None = None
    # "auto": sync only when the command set changed since the last sync; "always"; "never".
    sync_policy: Literal["auto", "always", "never"] = "auto"
    # The privileged Message Content intent (enable it in the Developer Portal first): lets a reply + mention
    # restyle images in other members' messages, which Discord hides from bots without it.
    message_content_intent: bool = False
    # Several processes: each runs one shard (shard_ids = [its id]) of shard_count, delivering that shard's jobs.
    shard_count: int | None = Field(None, ge=1)
    shard_ids: list[int] | None = None
    # The language of replies when neither the member's Discord language (English or Simplified
    # Chinese) nor the server's /settings language applies.
    default_locale: Literal["en-US", "zh-CN"] = "en-US"

    @model_validator(mode="after")
    def _one_shard_per_process(self) -> Self:
        if self.shard_ids is None:
            return self
        if self.shard_count is None:
            raise ValueError("discord.shard_ids needs discord.shard_count")
        if len(self.shard_ids) != 1:
            raise ValueError("discord.shard_ids: run one process per shard (a list of exactly one id)")
        if not 0 <= self.shard_ids[0] < self.shard_count:
            raise ValueError("discord.shard_ids: the shard id must be in 0 .. shard_count - 1")
        return self


# Defaults of [liblib.prices], points per image: Kontext from the API docs, Star-3 and custom measured; the newer
# families' are estimates (the docs give no price; set them from LiblibAI's price list). Smart IMG1 is priced by
# quality, for generate and inpaint alike.
DEFAULT_PRICES: dict[str, int] = {
    "star3": 8,
    "custom": 8,
    "kontext-pro": 29,
    "kontext-max": 58,
    "seedream": 20,
    "seedream-4.5": 25,
    "libdream": 20,
    "img1-turbo": 10,
    "img1-normal": 30,
    "img1-masterpiece": 60,
}


def _unlimited(value: Any) -> Any:
    """-1 in a limit means unlimited (None), as in /quota."""
    return None if value in (-1, "-1") else value


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"must be an http(s) URL such as {DEFAULT_BASE_URL}")
    return value


class LiblibSettings(_Section):
    base_url: str = DEFAULT_BASE_URL
    _base_url_is_http = field_validator("base_url")(_http_url)
    access_key: SecretStr | None = None
    secret_key: SecretStr | None = None
    submit_per_second: float = Field(1.0, gt=0)
    max_concurrent_tasks: int = Field(5, ge=1)
    connect_timeout: float = Field(10.0, gt=0)
    request_timeout: float = Field(30.0, gt=0)
    max_retries: int = Field(4, ge=0)
    retry_backoff_cap: float = Field(20.0, gt=0)
    poll_interval_min: float = Field(1.0, ge=0)
    poll_interval_max: float = Field(5.0, ge=0)
    task_timeout: float = Field(1860.0, gt=0)  # the server gives up at 30 min; we wait a little longer
    image_transport: Literal["url", "upload", "auto"] = "auto"
    # Status routes per family (liblib-api.md §6.1, §11.2); overridable because sources disagree.
    star3_status_path: str = "/api/generate/webui/status"
    custom_status_path: str = "/api/generate/webui/status"
    kontext_status_path: str = "/api/generate/status"
    comfy_status_path: str = "/api/generate/comfy/status"  # ComfyUI workflows ([[models.comfyui]])
    # Whether Star-3 uses the documented /ultra routes (§11.2: one app says they moved to /webui/*).
    star3_use_ultra_routes: bool = True
    # A mode whose route LiblibAI answers "No static resource" (or HTTP 404) is refused for this many seconds
    # (members without a mode of their own get another one), then tried again.
    unavailable_cooloff_seconds: float = Field(1800.0, gt=0)
    # Points per image, by mode or model name ([liblib.prices]): what a job reserves from points budgets before
    # LiblibAI reports its real cost (then settled at that). "custom" is the default of every custom model;
    # a custom model's own name overrides it. ``estimated_points_per_image`` is the key's old name.
    prices: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES),
        validation_alias=AliasChoices("prices", "estimated_points_per_image"),
    )

    @field_validator("prices")
    @classmethod
    def _complete_prices(cls, value: dict[str, int]) -> dict[str, int]:
        if any(v < 0 for v in value.values()):
            raise ValueError("prices are points per image: 0 or more")
        return DEFAULT_PRICES | value  # a table naming only some modes keeps the defaults of the others

    @property
    def submit_interval(self) -> float:
        """Seconds between two submits: 2 % wider than the account's rate. The server stamps arrivals, and a
        request that left a little late followed by one that left on time would otherwise look early to it."""
        return 1.02 / self.submit_per_second

    @property
    def worst_case_submit_seconds(self) -> float:
        """The longest one submit can take: the rate limiter's wait, every retry backing off as long as it may
        (a server's hint is capped there too) and the last request running to its timeout."""
        return self.submit_interval + self.max_retries * self.retry_backoff_cap + self.request_timeout

    @property
    def has_keys(self) -> bool:
        return bool(
            self.access_key
            and self.secret_key
            and self.access_key.get_secret_value()
            and self.secret_key.get_secret_value()
        )


MODE_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"
# Mode names of the built-in families, "custom" and "comfy" (the families of configured models and workflows),
# and Smart IMG1's price names: no configured model or workflow may take one.
BUILTIN_MODE_NAMES = frozenset(
    {
        "star3",
        "kontext",
        "kontext-pro",
        "kontext-max",
        "seedream",
        "seedream-4.5",
        "libdream",
        "img1",
        "img1-inpaint",
        "img1-turbo",
        "img1-normal",
        "img1-masterpiece",
        "custom",
        "comfy",
    }
)


class LoraPreset(_Section):
    model_id: str
    weight: float = Field(0.8, ge=-4, le=4)


class LoraPresetGroup(_Section):
    """A named set of LoRAs for a custom model ([[models.custom.lora_presets]]), which a style can ask for by name;
    it replaces the model's own ``loras`` for that job."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    loras: list[LoraPreset] = Field(default_factory=list, max_length=5)


class ControlNetPreset(_Section):
    name: str
    preprocessor: int = 0
    model: str
    control_weight: float = Field(1.0, ge=0, le=2)


class CustomModel(_Section):
    """An admin-configured checkpoint (liblib-api.md §5.3) offered as a mode."""

    name: str = Field(pattern=MODE_NAME_PATTERN)
    label: str = ""
    checkpoint_id: str
    template_uuid: str = "e10adc3949ba59abbe56e057f20f883e"
    img2img_template_uuid: str = "9c7d531dc75f476aa833b3d452b8f7ad"
    vae_id: str = ""
    sampler: int = 15
    cfg_scale: float = Field(7.0, ge=1, le=15)
    steps: int = Field(25, ge=1, le=60)
    clip_skip: int = Field(2, ge=1, le=12)
    width: int = Field(1024, ge=128, le=1536)
    height: int = Field(1024, ge=128, le=1536)
    loras: list[LoraPreset] = Field(default_factory=list, max_length=5)
    hires_fix: bool = False
    hires_upscaler: int = 10
    hires_steps: int = Field(15, ge=1, le=30)
    hires_denoising: float = Field(0.35, ge=0, le=1)
    controlnets: list[ControlNetPreset] = Field(default_factory=list)
    lora_presets: list[LoraPresetGroup] = Field(default_factory=list)  # for styles: /style add lora:<name>
    english_only: bool = True

    @field_validator("lora_presets")
    @classmethod
    def _unique_presets(cls, value: list[LoraPresetGroup]) -> list[LoraPresetGroup]:
        names = [p.name for p in value]
        if len(names) != len(set(names)):
            raise ValueError("LoRA preset names must be unique within a model")
        return value

    def lora_preset(self, name: str) -> LoraPresetGroup | None:
        return next((p for p in self.lora_presets if p.name == name), None)


COMFY_DEFAULT_TEMPLATE = "4df2efa0f18d46dc9758803e478eb51c"  # liblib-api.md §3
_NODE_REF = re.compile(r"^[^.\s]+\.[^\s]+$")  # "node_id.input_name"


class ComfyNode(_Section):
    """One node of a ComfyUI workflow as LiblibAI takes it (liblib-api.md §5.8): passed on as configured."""

    class_type: str = Field(min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)


class ComfyWorkflow(_Section):
    """A ComfyUI workflow the owner registered on LiblibAI, offered as a mode (``[[models.comfyui]]``).

    ``*_input`` name the node inputs that receive what the member gives, each as ``"node_id.input_name"``;
    every other node input is sent as configured in ``params``."""

    name: str = Field(pattern=MODE_NAME_PATTERN)  # the mode name members pick
    label: str = ""
    description: str = ""
    workflow_uuid: str = Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")
    template_uuid: str = Field(COMFY_DEFAULT_TEMPLATE, pattern=r"^[0-9A-Za-z_-]{1,64}$")
    prompt_input: str
    negative_prompt_input: str | None = None
    seed_input: str | None = None
    width_input: str | None = None
    height_input: str | None = None
    image_input: str | None = None  # set: the workflow takes an input image (restyle, /imagine image:)
    image_required: bool = True  # with image_input: whether a request without an image is refused
    count_input: str | None = None  # e.g. a batch size; unset: one image per request
    video: bool = False  # the workflow makes a video: members are told so when they pick it
    english_only: bool = False
    params: dict[str, ComfyNode] = Field(min_length=1)

    def input_refs(self) -> dict[str, str]:
        """Each configured ``*_input`` (its key without the suffix) and its "node_id.input_name"."""
        refs = {
            "prompt": self.prompt_input,
            "negative_prompt": self.negative_prompt_input,
            "seed": self.seed_input,
            "width": self.width_input,
            "height": self.height_input,
            "image": self.image_input,
            "count": self.count_input,
        }
        return {key: ref for key, ref in refs.items() if ref is not None}

    @model_validator(mode="after")
    def _refs_point_into_params(self) -> Self:
        if "workflowUuid" in self.params:
            raise ValueError("params: `workflowUuid` is not a node id (the bot adds it from workflow_uuid)")
        if (self.width_input is None) != (self.height_input is None):
            raise ValueError("give both width_input and height_input, or neither")
        seen: dict[str, str] = {}
        for key, ref in self.input_refs().items():
            if not _NODE_REF.match(ref):
                raise ValueError(f'{key}_input: {ref!r} is not "node_id.input_name" (e.g. "6.text")')
            node_id, _, input_name = ref.partition(".")
            node = self.params.get(node_id)
            if node is None:
                raise ValueError(f"{key}_input: node {node_id!r} is not in params (nodes: {', '.join(self.params)})")
            if isinstance(node.inputs.get(input_name), list):
                raise ValueError(
                    f"{key}_input: {ref} is a link to another node's output; name the input that takes the value"
                )
            if ref in seen:
                raise ValueError(f"{key}_input and {seen[ref]}_input both name {ref}")
            seen[ref] = key
        for key in ("width", "height"):
            size_ref = self.input_refs().get(key)
            if size_ref is None:
                continue
            node_id, _, input_name = size_ref.partition(".")
            value = self.params[node_id].inputs.get(input_name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise ValueError(f"{key}_input: {size_ref} is configured as {value!r}; it must be a size in pixels")
        return self


class ModelsSettings(_Section):
    default_mode: str = "star3"
    kontext_default_model: Literal["pro", "max"] = "pro"
    # The mode /restyle, replies and the "Restyle image" menu use when the member names none.
    restyle_default_mode: str = "kontext-pro"
    # Where a prompt that is not in English goes when the member named no mode and their default takes English
    # only (Star-3, custom models); servers override it (/settings models non_english). Unset: the cheapest
    # allowed mode that takes the language ([liblib.prices]).
    non_english_default: str | None = None
    # A newcomer gets one SDXL checkpoint out of the box; replace it with your own in config.toml.
    custom: list[CustomModel] = Field(
        default_factory=lambda: [
            CustomModel(name="dreamtech-xl", label="Dream Tech XL v6", checkpoint_id="0ea388c7eb854be3ba3c6f65aac6bfd3")
        ]
    )
    # ComfyUI workflows registered on the LiblibAI account, offered as modes (priced in [liblib.prices]).
    comfyui: list[ComfyWorkflow] = Field(default_factory=list)
    # -- U1-U4, Zoom Out / Make Square / Pan (README "Result buttons") --
    # A [[models.comfyui]] workflow that upscales an image (it needs an image_input): when set, every Upscale goes
    # through it, whatever the result's mode. Unset: each mode's own way (bot/generation/upscaling.py).
    upscale_workflow: str = ""
    # The reference-taking mode that enlarges results of modes that cannot draw larger themselves (Kontext,
    # Seedream, libDream, IMG1, workflows): the image as its reference with an "upscale, keep every detail"
    # instruction. "": those results offer no Upscale (unless upscale_workflow is set).
    upscale_reference_mode: Literal["seedream", "seedream-4.5", ""] = "seedream-4.5"
    # Where Zoom Out, Make Square and Pan send the enlarged canvas and its mask: Smart IMG1 inpaint, or a custom
    # model's img2img inpaint (its name). "": no such buttons.
    outpaint_mode: str = "img1-inpaint"
    # Caps a member may not exceed when overriding a model's defaults.
    max_steps: int = Field(60, ge=1, le=60)
    max_cfg_scale: float = Field(15.0, ge=1, le=15)


class StyleSettings(_Section):
    """A bot-wide style ([[styles]]), offered on every server; a server's own style of the same name wins there.
    Checked at start-up like ``/style add`` (name, lengths, that the mode, aspect and LoRA preset exist)."""

    name: str
    description: str = ""
    prefix: str = ""
    suffix: str = ""
    negative: str | None = None
    mode: str | None = None
    aspect: str | None = None
    lora: str | None = None
    strength: float | None = None


class QueueSettings(_Section):
    max_active_per_user: int = Field(3, ge=1)
    max_queued_total: int = Field(500, ge=1)
    # Deadlines per state, seconds: a job stuck past one fails with a message and a refund.
    queued_deadline: float = 3600.0
    submitting_deadline: float = 120.0
    running_deadline: float = 1900.0
    delivering_deadline: float = 600.0
    progress_edit_interval: float = Field(3.0, ge=0)
    interaction_token_ttl: float = 14 * 60.0  # Discord's is 15 min; keep a margin
    # Several processes on PostgreSQL: a standby takes over dispatching within this many seconds.
    dispatcher_lease_seconds: float = Field(15.0, ge=1.0)


class ActionsSettings(_Section):
    """Result buttons and re-posting (docs/usage.md, "Result buttons")."""

    # Reroll/Vary/Upscale/Remix for anyone, not only the requester (admins always may; Delete and
    # Cancel stay with the requester and admins). Per-server overrides come with server settings.
    open_to_everyone: bool = False
    # Re-post the stored result of an identical seeded request made in the same server within this
    # many seconds instead of paying for it again; 0 disables. `/imagine fresh:true` always renders.
    dedupe_window_seconds: float = Field(86400.0, ge=0)
    # img2img denoising of Vary (Subtle) and Vary (Strong) on custom models (bot/generation/variation.py)
    vary_strength: float = Field(0.35, gt=0, le=1)
    vary_strong_strength: float = Field(0.75, gt=0, le=1)
    upscale_strength: float = Field(0.3, gt=0, le=1)  # img2img denoising of an Upscale through a custom model


class FetchSettings(_Section):
    """Downloading images members point at (replies, context menus, /restyle): allowlisted hosts only."""

    # https only, public addresses only (a name resolving to a private address is refused).
    allowed_hosts: list[str] = Field(
        default_factory=lambda: [
            "cdn.discordapp.com",
            "media.discordapp.net",
            "images-ext-1.discordapp.net",
            "images-ext-2.discordapp.net",
        ]
    )
    # Trusted extras: a bare host (https) or an origin such as "http://10.0.0.5:8080" (that scheme and
    # port); these may resolve to private or loopback addresses (a self-hosted media proxy).
    extra_hosts: list[str] = Field(default_factory=list)
    timeout: float = Field(20.0, gt=0)  # seconds for the whole download, redirects included
    max_redirects: int = Field(3, ge=0, le=10)

    @field_validator("allowed_hosts", "extra_hosts")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        for entry in value:
            scheme, sep, rest = entry.strip().partition("://")
            host = rest if sep else scheme
            if (sep and scheme not in ("http", "https")) or not host or "/" in host.rstrip("/") or "@" in host:
                raise ValueError(f"not a host or an http(s) origin: {entry!r}")
        return value


POSTGRES_SCHEMES = ("postgresql://", "postgres://", "postgresql+asyncpg://")


class StorageSettings(_Section):
    url: str = "sqlite:///data/bot.db"  # sqlite:///path, or postgresql://user@host:5432/db
    # Finished jobs (their prompts, results and ids) are deleted this many days after they finished; an
    # active job never. A result's buttons and /show stop working for a deleted job.
    job_retention_days: int = Field(90, ge=1)

    @field_validator("url")
    @classmethod
    def _supported_scheme(cls, value: str) -> str:
        """The one check of the URL's scheme: ``check`` and ``run`` refuse the same URLs, the same way."""
        if value.startswith(POSTGRES_SCHEMES) or value.startswith("sqlite://") or "://" not in value:
            return value
        scheme = value.split("://", 1)[0]
        raise ValueError(
            f"unsupported storage URL scheme {scheme!r}: use sqlite:///path/to/bot.db or postgresql://user@host:5432/db"
        )


class LoggingSettings(_Section):
    level: str = "INFO"
    json_format: bool = False
    discord_level: str = "WARNING"


class QuotaSettings(_Section):
    """Bot-wide defaults; server admins override most of them per server with /quota and /settings."""

    images_per_day: int | None = Field(50, ge=0)  # per member per server; None or -1: unlimited
    images_per_month: int | None = Field(500, ge=0)
    points_per_day: int | None = Field(None, ge=0)  # LiblibAI points per member per server
    points_per_month: int | None = Field(None, ge=0)
    server_images_per_day: int | None = Field(None, ge=0)
    server_points_per_day: int | None = Field(None, ge=0)
    server_points_per_month: int | None = Field(None, ge=0)
    account_points_per_day: int | None = Field(None, ge=0)  # the whole bot (every server and DMs), owner only
    # Ask the member to confirm a job whose estimate is above this many points (None or -1: never; 0: every job
    # that costs points); servers override it with /settings spending. The question expires after the timeout.
    confirm_above_points: int | None = Field(None, ge=0)
    confirm_timeout_seconds: float = Field(60.0, gt=0)
    cooldown_seconds: float = Field(0.0, ge=0)
    timezone: str = "UTC"
    # Owner switches (bot-wide, not overridable by server admins):
    dms_allowed: bool = True  # may members generate in direct messages (bot-wide defaults apply there)
    prompt_log_days: int = Field(30, ge=0)  # prompt log retention; 0 keeps no log
    # Moderation defaults for every server:
    banned_words: list[str] = Field(default_factory=list)
    strike_limit: int = Field(3, ge=0)  # banned-word hits within the window before a block; 0: never block
    strike_window_hours: float = Field(24.0, gt=0)
    strike_block_hours: float = Field(24.0, gt=0)
    audit_display: Literal["notice", "silent"] = "notice"  # tell members when the audit filtered images
    flagged_only_nsfw: bool = False  # a batch the audit partly filtered: the rest only in age-restricted channels
    audit_strikes: bool = True  # a batch the audit blocks entirely is a strike, like a banned word

    _limits_accept_minus_one = field_validator(
        "images_per_day",
        "images_per_month",
        "points_per_day",
        "points_per_month",
        "server_images_per_day",
        "server_points_per_day",
        "server_points_per_month",
        "account_points_per_day",
        "confirm_above_points",
        mode="before",
    )(_unlimited)

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        if value == "UTC":  # works even without a time zone database
            return value
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown timezone {value!r} (use an IANA name such as UTC or Asia/Shanghai)") from exc
        return value


class SimulatorSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 0  # 0: any free port (in-process); `liblib-bot simulate` uses 8765 when 0
    queued_seconds: float = 0.3
    running_seconds: float = 1.5
    auditing_seconds: float = 0.3
    http_error_statuses: bool = False
    check_nonce_reuse: bool = True
    status_qps: float | None = None
    noisy_images: bool = False  # results of random pixels that do not compress (~3 MB per megapixel; memory bench)


class ImageSettings(_Section):
    """CPU-heavy image work (decode, check, convert, encode) runs on a small thread pool off the event loop."""

    workers: int = Field(2, ge=1, le=16)  # threads; more than the machine's cores only adds contention
    queued: int = Field(8, ge=0, le=1000)  # calls waiting in the pool beyond those running; later ones wait


class MetricsSettings(_Section):
    """The /metrics and /healthz HTTP server (bot/health.py)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = Field(9108, ge=0, le=65535)  # 0: any free port


class BalanceSettings(_Section):
    """The LiblibAI account balance: kept from every status answer, alerted on when it runs low."""

    low_threshold: int | None = Field(None, ge=0)  # points; below it, one alert per crossing (None: no alert)
    alert_channel_id: int | None = None  # where the alert is posted (also logged as a warning); None: log only
    check_interval: float = Field(30.0, gt=0)  # seconds between looks at the latest reading
    forecast_days: int = Field(7, ge=1, le=90)  # the burn rate is taken over this many past days


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LIBBOT_", env_nested_delimiter="__", extra="forbid")

    discord: DiscordSettings = Field(default_factory=DiscordSettings)
    liblib: LiblibSettings = Field(default_factory=LiblibSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    queue: QueueSettings = Field(default_factory=QueueSettings)
    actions: ActionsSettings = Field(default_factory=ActionsSettings)
    fetch: FetchSettings = Field(default_factory=FetchSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    quotas: QuotaSettings = Field(default_factory=QuotaSettings)
    simulator: SimulatorSettings = Field(default_factory=SimulatorSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    balance: BalanceSettings = Field(default_factory=BalanceSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    styles: list[StyleSettings] = Field(default_factory=list)  # [[styles]]: bot-wide style presets

    @field_validator("styles")
    @classmethod
    def _unique_style_names(cls, value: list[StyleSettings]) -> list[StyleSettings]:
        names = [s.name for s in value]
        if len(names) != len(set(names)):
            raise ValueError("style names must be unique")
        return value

    @model_validator(mode="after")
    def _a_submit_fits_its_deadline(self) -> Self:
        # The watchdog never fails a submit still in flight, but a deadline shorter than a submit can take
        # would mean a job the member sees as stuck, and one a crash leaves in SUBMITTING would wait longer.
        worst, deadline = self.liblib.worst_case_submit_seconds, self.queue.submitting_deadline
        if worst > deadline:
            raise ValueError(
                f"queue.submitting_deadline ({deadline:g} s) is shorter than the longest a submit can take "
                f"({worst:g} s: one submit interval 1.02 / liblib.submit_per_second, plus liblib.max_retries × "
                "liblib.retry_backoff_cap, plus liblib.request_timeout); raise the deadline or lower those"
            )
        return self

    @field_validator("models")
    @classmethod
    def _unique_model_names(cls, value: ModelsSettings) -> ModelsSettings:
        names = [m.name for m in value.custom]
        if len(names) != len(set(names)) or BUILTIN_MODE_NAMES & set(names):
            raise ValueError(
                "custom model names must be unique and not a built-in mode's: " + ", ".join(sorted(BUILTIN_MODE_NAMES))
            )
        return value

    @model_validator(mode="after")
    def _result_edits_name_what_exists(self) -> Self:
        """``[models] upscale_workflow`` names a workflow that takes an image; ``outpaint_mode`` an inpainting mode."""
        models = self.models
        if models.upscale_workflow:
            workflow = next((w for w in models.comfyui if w.name == models.upscale_workflow), None)
            if workflow is None:
                raise ValueError(
                    f"models.upscale_workflow: {models.upscale_workflow!r} is not a [[models.comfyui]] workflow"
                )
            if workflow.image_input is None:
                raise ValueError(
                    f"models.upscale_workflow: the workflow {workflow.name!r} takes no image (set its image_input)"
                )
        custom = {m.name for m in models.custom}
        if models.outpaint_mode not in ("", "img1-inpaint") and models.outpaint_mode not in custom:
            raise ValueError(
                f"models.outpaint_mode: {models.outpaint_mode!r} is neither img1-inpaint nor a custom model "
                '([[models.custom]]); "" turns Zoom Out, Make Square and Pan off'
            )
        return self

    @model_validator(mode="after")
    def _comfy_workflows_are_distinct_and_priced(self) -> Self:
        """A workflow's name is a mode of its own (no built-in mode's, no custom model's, no other workflow's),
        and [liblib.prices] names its price: ComfyUI workflows cost what they cost, so the bot never guesses."""
        taken = set(BUILTIN_MODE_NAMES) | {m.name for m in self.models.custom}
        for workflow in self.models.comfyui:
            if workflow.name in taken:
                raise ValueError(
                    f"models.comfyui: the name {workflow.name!r} is taken (by a built-in mode, a custom model or "
                    "another workflow); each workflow needs a mode name of its own"
                )
            taken.add(workflow.name)
            if workflow.name not in self.liblib.prices:
                raise ValueError(
                    f"models.comfyui {workflow.name!r}: set its price in points per image under [liblib.prices] "
                    f'("{workflow.name}" = N)'
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Earlier wins: LIBBOT_* env, then the plain secret variables, then the TOML (passed as init data).
        return (env_settings, _SecretEnvSource(settings_cls), init_settings)


class _SecretEnvSource(PydanticBaseSettingsSource):
    """Maps LIBLIB_ACCESS_KEY, LIBLIB_SECRET_KEY and DISCORD_TOKEN into their sections."""

    _MAP: ClassVar[dict[str, tuple[str, str]]] = {
        "LIBLIB_ACCESS_KEY": ("liblib", "access_key"),
        "LIBLIB_SECRET_KEY": ("liblib", "secret_key"),
        "DISCORD_TOKEN": ("discord", "token"),
    }

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        out: dict[str, dict[str, str]] = {}
        for env_name, (section, key) in self._MAP.items():
            value = os.environ.get(env_name)
            if value:
                out.setdefault(section, {})[key] = value
        return out


class SettingsError(Exception):
    """The settings file or environment is invalid; the message says where."""


def load_settings(path: str | Path | None = None) -> Settings:
    """Load settings from ``path`` (or ``config.toml`` when present) plus the environment."""
    return load_settings_with_sources(path)[0]


def _read_toml(file: Path) -> dict[str, Any]:
    if not file.is_file():
        raise SettingsError(f"settings file not found: {file}")
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{file}: not valid TOML: {exc}") from exc


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, section by section (a file overrides a defaults file key by key)."""
    out = dict(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_settings_with_sources(path: str | Path | None = None) -> tuple[Settings, Provenance]:
    """The settings, and where each value came from.

    Layers, the later winning: built-in defaults; the defaults file named by ``LIBBOT_DEFAULTS_FILE`` (a
    container image's defaults, which the settings file may override); the settings file; the environment."""
    data: dict[str, Any] = {}
    defaults_file = os.environ.get(DEFAULTS_FILE_ENV)
    if defaults_file:
        data = _read_toml(Path(defaults_file))
    if path is None and DEFAULT_CONFIG_PATH.is_file():
        path = DEFAULT_CONFIG_PATH
    file_data: dict[str, Any] = {}
    if path is not None:
        file_data = _read_toml(Path(path))
        data = _merged(data, file_data)
    try:
        settings = Settings(**data)
    except ValidationError as exc:
        # Every bad key, but never its value: a misspelt key or a wrong type may hold a secret.
        problems = "; ".join(_problem(error) for error in exc.errors(include_url=False, include_input=False))
        raise SettingsError(f"invalid settings: {problems}") from None
    return settings, provenance(str(path) if path is not None else None, file_data)


def _problem(error: Any) -> str:
    location = ".".join(str(part) for part in error["loc"])
    if not location:  # a check across sections names its keys itself
        return str(error["msg"])
    if error["type"] != "extra_forbidden":
        # A rule across sections (a Settings validator) has no location: its message names the keys.
        return f"{location}: {error['msg']}" if location else str(error["msg"]).removeprefix("Value error, ")
    *section, key = [str(part) for part in error["loc"]]
    model: type[BaseModel] = Settings
    for name in section:
        annotation = model.model_fields[name].annotation if name in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return f"{location}: unknown key"
        model = annotation
    close = difflib.get_close_matches(key, list(model.model_fields), n=1, cutoff=0.6)
    return f"{location}: unknown key" + (f" (did you mean {'.'.join([*section, close[0]])}?)" if close else "")
