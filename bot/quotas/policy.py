"""Server settings and their resolution: server > channel > role > member, the narrower wins.

Each scope stores only what an admin set there (a JSON object per scope). A key absent from a scope
inherits from the wider one; for limits, an explicit ``null`` means unlimited. Among a member's
roles the most generous value wins, field by field; a blocked role counts only when every role with
settings blocks (so "Unverified: blocked" plus "Verified: 20/day" gives 20/day).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.liblib.endpoints import MAX_IMAGES_ANY_FAMILY
from bot.quotas.windows import UnknownTimezoneError, get_zone
from bot.settings import QuotaSettings

AuditDisplay = Literal["notice", "silent"]
Language = Literal["en-US", "zh-CN"]

SERVER = "server"


def channel_scope(channel_id: int) -> str:
    return f"channel:{channel_id}"


def role_scope(role_id: int) -> str:
    return f"role:{role_id}"


def member_scope(user_id: int) -> str:
    return f"member:{user_id}"


def scope_kind(scope: str) -> str:
    """ "server", "channel", "role" or "member"."""
    return scope.partition(":")[0]


class ScopeConfig(BaseModel):
    """What an admin set in one scope. Only keys in ``model_fields_set`` apply."""

    model_config = ConfigDict(extra="ignore", validate_assignment=True)

    # Member quotas (any scope): None = unlimited, 0 = none.
    images_per_day: int | None = Field(None, ge=0)
    images_per_month: int | None = Field(None, ge=0)
    points_per_day: int | None = Field(None, ge=0)  # LiblibAI points per member (reserved at the price table)
    points_per_month: int | None = Field(None, ge=0)
    max_active: int | None = Field(None, ge=1)  # concurrent jobs per member (capped by [queue])
    cooldown_seconds: float | None = Field(None, ge=0)
    blocked: bool | None = None  # may not generate at all (role, member)
    exempt: bool | None = None  # no member quota and no cooldown (role, member)
    # Server-wide daily caps (server scope): None = unlimited.
    server_images_per_day: int | None = Field(None, ge=0)
    server_points_per_day: int | None = Field(None, ge=0)
    server_points_per_month: int | None = Field(None, ge=0)
    # Spending (server scope): ask the member to confirm a job estimated above this many points; None = never
    # (an explicit null overrides the bot default), 0 = every job that costs points.
    confirm_above_points: int | None = Field(None, ge=0)
    # Where and what.
    channel_allowed: bool | None = None  # server scope: the default for channels
    default_mode: str | None = None
    allowed_models: list[str] | None = None  # None = every configured model
    max_count: int | None = Field(None, ge=1, le=MAX_IMAGES_ANY_FAMILY)  # each mode's own limit applies too
    max_steps: int | None = Field(None, ge=1, le=60)
    max_side: int | None = Field(None, ge=256, le=8192)  # longest output side, pixels
    img2img: bool | None = None
    custom_models: bool | None = None
    multi_image: bool | None = None  # count > 1
    # Moderation (server scope).
    banned_words: list[str] | None = None
    strike_limit: int | None = Field(None, ge=0)
    strike_window_hours: float | None = Field(None, gt=0)
    strike_block_hours: float | None = Field(None, gt=0)
    audit_display: AuditDisplay | None = None
    flagged_only_nsfw: bool | None = None
    audit_strikes: bool | None = None  # server scope: a batch the audit blocks entirely is a strike
    timezone: str | None = None
    language: Language | None = None  # server scope: the default language of replies (bot.i18n)
    buttons_open: bool | None = None  # server scope: anyone may Reroll/Vary/Upscale/Remix/Restyle any result

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                get_zone(value)
            except UnknownTimezoneError as exc:
                raise ValueError(f"unknown time zone {value!r}; use an IANA name like UTC or Asia/Shanghai") from exc
        return value

    def set_values(self) -> dict[str, Any]:
        return self.model_dump(include=self.model_fields_set)


# Which keys each scope may set (the narrower scopes are for who-may-do-what, not moderation).
_MEMBER_KEYS = frozenset(
    {
        "images_per_day",
        "images_per_month",
        "points_per_day",
        "points_per_month",
        "max_active",
        "cooldown_seconds",
        "blocked",
        "exempt",
    }
)
_ACCESS_KEYS = frozenset(
    {"default_mode", "allowed_models", "max_count", "max_steps", "max_side", "img2img", "custom_models", "multi_image"}
)
SCOPE_KEYS: dict[str, frozenset[str]] = {
    "server": frozenset(ScopeConfig.model_fields) - {"blocked", "exempt"},
    "channel": _ACCESS_KEYS | {"channel_allowed"},
    "role": _ACCESS_KEYS | _MEMBER_KEYS,
    "member": _ACCESS_KEYS | _MEMBER_KEYS,
}


class ConfigError(ValueError):
    """An admin's change was refused; the message is safe to show."""


def validate_change(
    scope: str, current: Mapping[str, Any], changes: Mapping[str, Any], unset: Iterable[str] = ()
) -> dict[str, Any]:
    """The scope's new stored object after ``changes`` (and removing ``unset``), validated."""
    kind = scope_kind(scope)
    allowed = SCOPE_KEYS.get(kind, frozenset())
    for key in (*changes, *unset):
        if key not in allowed:
            raise ConfigError(f"`{key}` cannot be set for a {kind}.")
    merged = {k: v for k, v in current.items() if k not in set(unset)} | dict(changes)
    try:
        ScopeConfig.model_validate(merged)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ConfigError(problems) from exc
    return merged


@dataclass(frozen=True, slots=True)
class Policy:
    """The effective rules for one member in one channel."""

    images_per_day: int | None
    images_per_month: int | None
    points_per_day: int | None
    points_per_month: int | None
    max_active: int
    cooldown_seconds: float
    blocked: bool
    exempt: bool
    server_images_per_day: int | None
    server_points_per_day: int | None
    server_points_per_month: int | None
    channel_allowed: bool
    default_mode: str | None
    allowed_models: tuple[str, ...] | None
    max_count: int
    max_steps: int
    max_side: int | None
    img2img: bool
    custom_models: bool
    multi_image: bool
    banned_words: tuple[str, ...]
    strike_limit: int
    strike_window_hours: float
    strike_block_hours: float
    audit_display: AuditDisplay
    flagged_only_nsfw: bool
    timezone: str
    buttons_open: bool = False
    audit_strikes: bool = True
    confirm_above_points: int | None = None  # ask before jobs estimated above this many points; None: never

    @classmethod
    def defaults(cls, quotas: QuotaSettings, *, max_active: int, max_steps: int) -> Policy:
        return cls(
            images_per_day=quotas.images_per_day,
            images_per_month=quotas.images_per_month,
            points_per_day=quotas.points_per_day,
            points_per_month=quotas.points_per_month,
            max_active=max_active,
            cooldown_seconds=quotas.cooldown_seconds,
            blocked=False,
            exempt=False,
            server_images_per_day=quotas.server_images_per_day,
            server_points_per_day=quotas.server_points_per_day,
            server_points_per_month=quotas.server_points_per_month,
            channel_allowed=True,
            default_mode=None,
            allowed_models=None,
            max_count=MAX_IMAGES_ANY_FAMILY,  # no server cap: each mode's own limit (Seedream 15, others 4)
            max_steps=max_steps,
            max_side=None,
            img2img=True,
            custom_models=True,
            multi_image=True,
            banned_words=tuple(quotas.banned_words),
            strike_limit=quotas.strike_limit,
            strike_window_hours=quotas.strike_window_hours,
            strike_block_hours=quotas.strike_block_hours,
            audit_display=quotas.audit_display,
            flagged_only_nsfw=quotas.flagged_only_nsfw,
            timezone=quotas.timezone,
            audit_strikes=quotas.audit_strikes,
            confirm_above_points=quotas.confirm_above_points,
        )


_POLICY_FIELDS = frozenset(f.name for f in fields(Policy))


def _more_limit(a: Any, b: Any) -> Any:
    """None (unlimited) beats any number; else the larger."""
    return None if a is None or b is None else max(a, b)


# How two roles' values for one key combine into the most generous.
_GENEROUS: dict[str, Callable[[Any, Any], Any]] = {
    "images_per_day": _more_limit,
    "images_per_month": _more_limit,
    "points_per_day": _more_limit,
    "points_per_month": _more_limit,
    "max_active": max,
    "cooldown_seconds": min,
    "exempt": lambda a, b: a or b,
    "max_count": max,
    "max_steps": max,
    "max_side": _more_limit,
    "img2img": lambda a, b: a or b,
    "custom_models": lambda a, b: a or b,
    "multi_image": lambda a, b: a or b,
    "allowed_models": lambda a, b: None if a is None or b is None else sorted(set(a) | set(b)),
    "default_mode": lambda a, b: a,  # the first role (lowest id) that sets one
}


def merge_roles(configs: Iterable[ScopeConfig]) -> dict[str, Any]:
    """The most generous combination of a member's role settings."""
    present = list(configs)
    open_roles = [c for c in present if not c.blocked]
    if present and not open_roles:
        return {"blocked": True}
    merged: dict[str, Any] = {}
    for config in open_roles:
        for key, value in config.set_values().items():
            if key == "blocked":
                continue
            merged[key] = _GENEROUS.get(key, lambda a, b: b)(merged[key], value) if key in merged else value
    return merged


def _apply(policy: Policy, values: Mapping[str, Any]) -> Policy:
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in _POLICY_FIELDS:
            continue
        if key in {"max_active", "cooldown_seconds", "max_count", "max_steps"} and value is None:
            continue  # these have no "unlimited"
        changes[key] = tuple(value) if isinstance(value, list) else value
    return replace(policy, **changes) if changes else policy


@dataclass(frozen=True, slots=True)
class GuildConfig:
    """Every scope's stored settings for one server."""

    scopes: Mapping[str, ScopeConfig]

    @classmethod
    def from_store(cls, raw: Mapping[str, Mapping[str, Any]]) -> GuildConfig:
        scopes: dict[str, ScopeConfig] = {}
        for scope, data in raw.items():
            try:
                scopes[scope] = ScopeConfig.model_validate(dict(data))
            except ValidationError:
                continue  # a row written by a newer version or by hand: ignore rather than lock the server out
        return cls(scopes)

    def get(self, scope: str) -> ScopeConfig | None:
        return self.scopes.get(scope)

    def resolve(
        self, defaults: Policy, *, channel_id: int | None, role_ids: Iterable[int], user_id: int | None
    ) -> Policy:
        policy = defaults
        server = self.get(SERVER)
        if server is not None:
            policy = _apply(policy, server.set_values())
        channel = self.get(channel_scope(channel_id)) if channel_id is not None else None
        if channel is not None:
            policy = _apply(policy, channel.set_values())
        roles = [c for r in sorted(set(role_ids)) if (c := self.get(role_scope(r))) is not None]
        if roles:
            policy = _apply(policy, merge_roles(roles))
        member = self.get(member_scope(user_id)) if user_id is not None else None
        if member is not None:
            policy = _apply(policy, member.set_values())
        return policy
