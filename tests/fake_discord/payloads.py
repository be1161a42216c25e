"""Builders for Discord wire objects (API v10) as the fake sends them to discord.py.

Snowflakes go out as strings, as Discord sends them. Every builder fills the keys discord.py 2.7.1
indexes directly (a missing one is a KeyError swallowed inside the gateway parser) and the keys the
OpenAPI spec marks as required in responses.
"""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime
from typing import Any

DISCORD_EPOCH_MS = 1420070400000

# Permission bits (https://discord.com/developers/docs/topics/permissions).
ADMINISTRATOR = 1 << 3
MANAGE_GUILD = 1 << 5
ADD_REACTIONS = 1 << 6
VIEW_CHANNEL = 1 << 10
SEND_MESSAGES = 1 << 11
MANAGE_MESSAGES = 1 << 13
EMBED_LINKS = 1 << 14
ATTACH_FILES = 1 << 15
READ_MESSAGE_HISTORY = 1 << 16
MENTION_EVERYONE = 1 << 17
USE_EXTERNAL_EMOJIS = 1 << 18
CHANGE_NICKNAME = 1 << 26
USE_APPLICATION_COMMANDS = 1 << 31
CREATE_PUBLIC_THREADS = 1 << 35
SEND_MESSAGES_IN_THREADS = 1 << 38
ALL_PERMISSIONS = (1 << 51) - 1  # what Discord sends for an administrator

#: Roughly Discord's default @everyone permissions in a new server.
DEFAULT_PERMISSIONS = (
    VIEW_CHANNEL
    | SEND_MESSAGES
    | EMBED_LINKS
    | ATTACH_FILES
    | READ_MESSAGE_HISTORY
    | ADD_REACTIONS
    | USE_EXTERNAL_EMOJIS
    | CHANGE_NICKNAME
    | USE_APPLICATION_COMMANDS
    | CREATE_PUBLIC_THREADS
    | SEND_MESSAGES_IN_THREADS
)
BOT_PERMISSIONS = DEFAULT_PERMISSIONS | MANAGE_MESSAGES | MENTION_EVERYONE

# Gateway intents the fake honours.
INTENT_GUILD_MEMBERS = 1 << 1
INTENT_GUILD_MESSAGES = 1 << 9
INTENT_DIRECT_MESSAGES = 1 << 12
INTENT_MESSAGE_CONTENT = 1 << 15

# Message flags.
FLAG_EPHEMERAL = 1 << 6
FLAG_LOADING = 1 << 7
FLAG_IS_COMPONENTS_V2 = 1 << 15

DEFAULT_FILE_SIZE_LIMIT = 10 * 1024 * 1024

_MENTION_USER = re.compile(r"<@!?(\d+)>")
_MENTION_ROLE = re.compile(r"<@&(\d+)>")


def now_iso() -> str:
    return datetime.now(UTC).isoformat()


class Snowflakes:
    """Monotonic, time-based snowflakes, so discord.py's ``created_at`` is the real creation time."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._last = 0

    def next(self) -> int:
        ms = int(time.time() * 1000) - DISCORD_EPOCH_MS
        value = (ms << 22) | (next(self._counter) & 0xFFF)
        self._last = max(self._last + 1, value)
        return self._last


def user(user_id: int, username: str, *, bot: bool = False, global_name: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(user_id),
        "username": username,
        "discriminator": "0",
        "global_name": global_name,
        "avatar": None,
        "banner": None,
        "accent_color": None,
        "avatar_decoration_data": None,
        "collectibles": None,
        "primary_guild": None,
        "public_flags": 0,
        "flags": 0,
    }
    if bot:
        data["bot"] = True
    return data


def user_pii(base: dict[str, Any]) -> dict[str, Any]:
    """``GET /users/@me``: the user plus the private fields."""
    return {**base, "mfa_enabled": False, "locale": "en-US", "verified": True, "email": None}


def member(
    user_data: dict[str, Any],
    *,
    roles: list[int] | tuple[int, ...] = (),
    joined_at: str | None = None,
    nick: str | None = None,
    permissions: int | None = None,
    with_user: bool = True,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "roles": [str(r) for r in roles],
        "joined_at": joined_at or now_iso(),
        "nick": nick,
        "avatar": None,
        "banner": None,
        "communication_disabled_until": None,
        "premium_since": None,
        "pending": False,
        "flags": 0,
        "mute": False,
        "deaf": False,
    }
    if with_user:
        data["user"] = user_data
    if permissions is not None:
        data["permissions"] = str(permissions)
    return data


def role(role_id: int, name: str, *, permissions: int = 0, position: int = 0, managed: bool = False) -> dict[str, Any]:
    return {
        "id": str(role_id),
        "name": name,
        "permissions": str(permissions),
        "position": position,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": None, "tertiary_color": None},
        "hoist": False,
        "managed": managed,
        "mentionable": False,
        "icon": None,
        "unicode_emoji": None,
        "description": None,
        "flags": 0,
    }


def text_channel(
    channel_id: int,
    guild_id: int,
    name: str,
    *,
    position: int = 0,
    nsfw: bool = False,
    permission_overwrites: list[dict[str, Any]] | None = None,
    topic: str | None = None,
) -> dict[str, Any]:
    return {
        "id": str(channel_id),
        "type": 0,
        "guild_id": str(guild_id),
        "name": name,
        "position": position,
        "flags": 0,
        "nsfw": nsfw,
        "topic": topic,
        "parent_id": None,
        "last_message_id": None,
        "rate_limit_per_user": 0,
        "permission_overwrites": permission_overwrites or [],
    }


def dm_channel(channel_id: int, recipient: dict[str, Any]) -> dict[str, Any]:
    return {"id": str(channel_id), "type": 1, "flags": 0, "last_message_id": None, "recipients": [recipient]}


def guild(
    guild_id: int,
    name: str,
    *,
    owner_id: int,
    channels: list[dict[str, Any]],
    roles: list[dict[str, Any]],
    members: list[dict[str, Any]],
    member_count: int,
) -> dict[str, Any]:
    """A GUILD_CREATE payload (channels and members carry no ``guild_id``, as on the gateway)."""
    return {
        "id": str(guild_id),
        "name": name,
        "icon": None,
        "splash": None,
        "discovery_splash": None,
        "banner": None,
        "description": None,
        "owner_id": str(owner_id),
        "features": [],
        "roles": roles,
        "channels": [{k: v for k, v in c.items() if k != "guild_id"} for c in channels],
        "members": members,
        "member_count": member_count,
        "threads": [],
        "presences": [],
        "voice_states": [],
        "emojis": [],
        "stickers": [],
        "stage_instances": [],
        "guild_scheduled_events": [],
        "soundboard_sounds": [],
        "large": False,
        "unavailable": False,
        "joined_at": now_iso(),
        "preferred_locale": "en-US",
        "premium_tier": 0,
        "premium_subscription_count": 0,
        "premium_progress_bar_enabled": False,
        "afk_channel_id": None,
        "afk_timeout": 300,
        "system_channel_id": None,
        "system_channel_flags": 0,
        "rules_channel_id": None,
        "public_updates_channel_id": None,
        "safety_alerts_channel_id": None,
        "verification_level": 0,
        "default_message_notifications": 0,
        "explicit_content_filter": 0,
        "mfa_level": 0,
        "nsfw_level": 0,
        "application_id": None,
        "vanity_url_code": None,
        "max_members": 500000,
        "max_presences": None,
        "max_video_channel_users": 25,
        "max_stage_video_channel_users": 50,
        "home_header": None,
        "region": "deprecated",
        "widget_enabled": False,
        "widget_channel_id": None,
        "nsfw": False,
        "incidents_data": None,
    }


def application(app_id: int, *, bot_user: dict[str, Any], owner: dict[str, Any]) -> dict[str, Any]:
    """``GET /oauth2/applications/@me``; ``interactions_endpoint_url`` stays null (gateway interactions)."""
    return {
        "id": str(app_id),
        "name": bot_user["username"],
        "icon": None,
        "description": "Fake application",
        "type": None,
        "bot": bot_user,
        "bot_public": True,
        "bot_require_code_grant": False,
        "verify_key": "0" * 64,
        "flags": 0,
        "flags_new": "0",
        "redirect_uris": [],
        "interactions_endpoint_url": None,
        "role_connections_verification_url": None,
        "owner": owner,
        "approximate_guild_count": 1,
        "approximate_user_install_count": 0,
        "approximate_user_authorization_count": 0,
        "explicit_content_filter": 0,
        "team": None,
        "eligible_oauth2_scopes": [],
        "tags": [],
        "rpc_origins": [],
        "integration_types_config": {"0": {}},
    }


def attachment(
    attachment_id: int,
    filename: str,
    *,
    size: int,
    url: str,
    content_type: str | None = None,
    width: int | None = None,
    height: int | None = None,
    description: str | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(attachment_id),
        "filename": filename,
        "size": size,
        "url": url,
        "proxy_url": url,
    }
    if content_type is not None:
        data["content_type"] = content_type
    if width is not None and height is not None:
        data["width"] = width
        data["height"] = height
    if description is not None:
        data["description"] = description
    return data


def message(
    message_id: int,
    channel_id: int,
    author: dict[str, Any],
    *,
    content: str = "",
    guild_id: int | None = None,
    type: int = 0,
    embeds: list[dict[str, Any]] | None = None,
    attachments: list[dict[str, Any]] | None = None,
    components: list[dict[str, Any]] | None = None,
    mentions: list[dict[str, Any]] | None = None,
    mention_roles: list[int] | None = None,
    mention_everyone: bool = False,
    flags: int = 0,
    tts: bool = False,
    nonce: str | int | None = None,
    message_reference: dict[str, Any] | None = None,
    referenced_message: dict[str, Any] | None = None,
    webhook_id: int | None = None,
    application_id: int | None = None,
    interaction_metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": str(message_id),
        "channel_id": str(channel_id),
        "type": type,
        "content": content,
        "author": author,
        "timestamp": now_iso(),
        "edited_timestamp": None,
        "tts": tts,
        "mention_everyone": mention_everyone,
        "mentions": mentions or [],
        "mention_roles": [str(r) for r in mention_roles or []],
        "attachments": attachments or [],
        "embeds": embeds or [],
        "components": components or [],
        "pinned": False,
        "flags": flags,
    }
    if guild_id is not None:
        data["guild_id"] = str(guild_id)
    if nonce is not None:
        data["nonce"] = nonce
    if message_reference is not None:
        data["message_reference"] = message_reference
        data["referenced_message"] = referenced_message
    if webhook_id is not None:
        data["webhook_id"] = str(webhook_id)
    if application_id is not None:
        data["application_id"] = str(application_id)
    if interaction_metadata is not None:
        data["interaction_metadata"] = interaction_metadata
    return data


def interaction(
    *,
    interaction_id: int,
    application_id: int,
    type: int,
    token: str,
    data: dict[str, Any] | None,
    channel: dict[str, Any],
    guild_id: int | None,
    member_data: dict[str, Any] | None = None,
    user_data: dict[str, Any] | None = None,
    app_permissions: int,
    locale: str = "en-US",
    attachment_size_limit: int = DEFAULT_FILE_SIZE_LIMIT,
    message_data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "id": str(interaction_id),
        "application_id": str(application_id),
        "type": type,
        "token": token,
        "version": 1,
        "channel": channel,
        "channel_id": channel["id"],
        "app_permissions": str(app_permissions),
        "locale": locale,
        "entitlements": [],
        "attachment_size_limit": attachment_size_limit,
    }
    if data is not None:
        payload["data"] = data
    if guild_id is not None:
        payload["guild_id"] = str(guild_id)
        payload["guild"] = {"id": str(guild_id), "locale": "en-US", "features": []}
        payload["guild_locale"] = "en-US"
        payload["member"] = member_data
        payload["authorizing_integration_owners"] = {"0": str(guild_id)}
        payload["context"] = 0
    else:
        payload["user"] = user_data
        payload["authorizing_integration_owners"] = {"0": "0"}
        payload["context"] = 1
    if message_data is not None:
        payload["message"] = message_data
    return payload


def to_int(value: object) -> int | None:
    """A snowflake (int or string) as an int; None when absent or malformed."""
    try:
        return int(str(value))
    except ValueError:
        return None


def mentioned_user_ids(content: str) -> list[int]:
    return list(dict.fromkeys(int(m) for m in _MENTION_USER.findall(content)))


def mentioned_role_ids(content: str) -> list[int]:
    return list(dict.fromkeys(int(m) for m in _MENTION_ROLE.findall(content)))


def invalid_form_body(field: str, code: str, text: str) -> dict[str, Any]:
    """Discord's 400 50035 body for one failing field (``a.0.b`` paths become nested objects)."""
    errors: dict[str, Any] = {"_errors": [{"code": code, "message": text}]}
    for part in reversed(field.split(".")):
        errors = {part: errors}
    return {"message": "Invalid Form Body", "code": 50035, "errors": errors}
