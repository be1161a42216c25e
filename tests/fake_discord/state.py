"""The fake's model of Discord: one guild and its members, roles and channels, messages, interactions, commands.

Everything here is synchronous bookkeeping plus gateway events (queued in order, written by the gateway).
The REST handlers (``rest.py``) and the test driver (``driver.py``) both work on this state.
"""

from __future__ import annotations

import logging
import secrets
import time
from typing import Any
from urllib.parse import quote

import yarl

from . import payloads as p
from .gateway import Gateway
from .messages import (
    ApiError,
    check_body,
    check_files,
    form_error,
    image_size,
    normalize_embeds,
    sniff_content_type,
    with_component_ids,
)
from .records import HostedFile, Interaction, UploadedFile

log = logging.getLogger(__name__)

APPLICATION_ID = 1_100_000_000_000_000_001  # also the bot user's id, as for every modern application
GUILD_ID = 1_200_000_000_000_000_001
CHANNEL_ID = 1_300_000_000_000_000_001
USER_ID = 1_400_000_000_000_000_001
ADMIN_ID = 1_400_000_000_000_000_002
OWNER_ID = 1_400_000_000_000_000_003
ADMIN_ROLE_ID = 1_500_000_000_000_000_001
BOT_ROLE_ID = 1_500_000_000_000_000_002

API_PREFIX = "/api/v10"

_INTERNAL_KEYS = frozenset({"allowed_mentions"})


class DiscordState:
    """One guild, one text channel, a bot, a plain user (``user_id``), an admin/guild owner and an app owner."""

    def __init__(
        self,
        *,
        token: str,
        guild_id: int,
        channel_id: int,
        ack_deadline: float,
        token_ttl: float,
        heartbeat_interval_ms: int,
        attachment_size_limit: int,
    ) -> None:
        self.token = token
        self.application_id = APPLICATION_ID
        self.bot_user_id = APPLICATION_ID
        self.guild_id = guild_id
        self.channel_id = channel_id
        self.user_id = USER_ID
        self.admin_id = ADMIN_ID
        self.owner_id = OWNER_ID
        self.admin_role_id = ADMIN_ROLE_ID
        self.bot_role_id = BOT_ROLE_ID
        self.ack_deadline = ack_deadline
        self.token_ttl = token_ttl
        self.attachment_size_limit = attachment_size_limit

        self.messages: dict[int, dict[str, Any]] = {}
        self.deleted_message_ids: list[int] = []
        self.commands: list[dict[str, Any]] = []
        self.guild_commands: dict[int, list[dict[str, Any]]] = {}
        self.global_commands: list[dict[str, Any]] = []
        self.sync_count = 0
        self.interactions: dict[int, Interaction] = {}
        self.files: dict[int, HostedFile] = {}  # by attachment id
        self.users: dict[int, dict[str, Any]] = {}
        self.members: dict[int, dict[str, Any]] = {}  # user id -> {roles, permissions, joined_at, nick}
        self.roles: dict[int, dict[str, Any]] = {}
        self.channels: dict[int, dict[str, Any]] = {}
        self.modals: dict[str, tuple[dict[str, Any], Interaction]] = {}  # custom_id -> (modal, opened by)

        self._ids = p.Snowflakes()
        self._by_token: dict[str, Interaction] = {}
        self._nonces: dict[tuple[int, str], int] = {}
        self._port = 0
        self.gateway = Gateway(self, heartbeat_interval_ms=heartbeat_interval_ms)
        self._seed_world()

    @property
    def default_user_id(self) -> int:
        """Alias of ``user_id``: the plain member that interactions come from unless told otherwise."""
        return self.user_id

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    @property
    def api_base(self) -> str:
        return self.base_url + API_PREFIX

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self._port}/gateway"

    # -- the world ---------------------------------------------------------------------------------

    def _seed_world(self) -> None:
        everyone = p.role(self.guild_id, "@everyone", permissions=p.DEFAULT_PERMISSIONS)
        self.roles[self.guild_id] = everyone
        self.roles[self.bot_role_id] = p.role(
            self.bot_role_id, "Fake Bot", permissions=p.BOT_PERMISSIONS, position=2, managed=True
        )
        self.roles[self.admin_role_id] = p.role(
            self.admin_role_id, "Admin", permissions=p.ADMINISTRATOR | p.MANAGE_GUILD, position=1
        )
        self.users[self.bot_user_id] = p.user(self.bot_user_id, "fakebot", bot=True, global_name="Fake Bot")
        self.members[self.bot_user_id] = {"roles": [self.bot_role_id], "permissions": None, "nick": None}
        self.add_member(self.user_id, name="alice")
        self.add_member(self.admin_id, name="admin", roles=[self.admin_role_id])
        self.add_member(self.owner_id, name="owner")
        self.add_channel(self.channel_id, "general")

    def add_member(
        self, user_id: int, *, name: str, roles: list[int] | None = None, permissions: int | None = None
    ) -> dict[str, Any]:
        """Add a guild member. ``permissions`` overrides the role-derived guild permissions in interactions."""
        self.users[user_id] = p.user(user_id, name)
        self.members[user_id] = {"roles": list(roles or []), "permissions": permissions, "nick": None}
        data = self._member_payload(user_id)
        if self.gateway.intents & p.INTENT_GUILD_MEMBERS:
            self.gateway.dispatch_nowait("GUILD_MEMBER_ADD", {**data, "guild_id": str(self.guild_id)})
        return data

    def add_role(self, role_id: int, name: str, permissions: int = 0) -> dict[str, Any]:
        data = p.role(role_id, name, permissions=permissions, position=len(self.roles))
        self.roles[role_id] = data
        self.gateway.dispatch_nowait("GUILD_ROLE_CREATE", {"guild_id": str(self.guild_id), "role": data})
        return data

    def add_channel(self, channel_id: int, name: str, *, nsfw: bool = False) -> dict[str, Any]:
        data = p.text_channel(channel_id, self.guild_id, name, position=len(self.channels), nsfw=nsfw)
        self.channels[channel_id] = data
        self.gateway.dispatch_nowait("CHANNEL_CREATE", data)
        return data

    def delete_channel(self, channel_id: int) -> None:
        """Delete a channel and, as Discord does, every message in it (interaction responses included)."""
        data = self.channels.pop(channel_id)
        for message_id, message in list(self.messages.items()):
            if int(message["channel_id"]) == channel_id:
                self.messages.pop(message_id)
                self.deleted_message_ids.append(message_id)
        self.gateway.dispatch_nowait("CHANNEL_DELETE", data)

    def delete_message(self, message_id: int) -> None:
        """Delete a message as a member or moderator would (MESSAGE_DELETE is dispatched)."""
        self._delete_message(self._live_message(message_id))

    def set_channel_permissions(
        self, channel_id: int, *, send_messages: bool = True, attach_files: bool = True
    ) -> None:
        """Deny the bot Send Messages and/or Attach Files in a channel (a member overwrite, as a mod would)."""
        channel = self.channels[channel_id]
        deny = (0 if send_messages else p.SEND_MESSAGES) | (0 if attach_files else p.ATTACH_FILES)
        others = [o for o in channel["permission_overwrites"] if o["id"] != str(self.bot_user_id)]
        if deny:
            others.append({"id": str(self.bot_user_id), "type": 1, "allow": "0", "deny": str(deny)})
        channel["permission_overwrites"] = others
        self.gateway.dispatch_nowait("CHANNEL_UPDATE", channel)

    def dm_channel(self, user_id: int) -> dict[str, Any]:
        """The DM channel between the bot and a user (created on first use)."""
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == str(user_id):
                return channel
        channel = p.dm_channel(self._ids.next(), self.users[user_id])
        self.channels[int(channel["id"])] = channel
        return channel

    def _member_payload(self, user_id: int, *, with_user: bool = True, channel_id: int | None = None) -> dict[str, Any]:
        info = self.members[user_id]
        perms = self.permissions_for(user_id, channel_id) if channel_id is not None else None
        return p.member(
            self.users[user_id],
            roles=info["roles"],
            nick=info["nick"],
            with_user=with_user,
            permissions=perms,
            joined_at=info.setdefault("joined_at", p.now_iso()),
        )

    def permissions_for(self, user_id: int, channel_id: int | None = None) -> int:
        """Discord's permission computation: base (roles or override), admin/owner shortcut, overwrites."""
        info = self.members[user_id]
        base: int
        if info["permissions"] is not None:
            base = int(info["permissions"])
        else:
            base = int(self.roles[self.guild_id]["permissions"])
            for role_id in info["roles"]:
                base |= int(self.roles[role_id]["permissions"])
        if base & p.ADMINISTRATOR or user_id == self.admin_id:
            return p.ALL_PERMISSIONS
        channel = self.channels.get(channel_id) if channel_id is not None else None
        if channel is None or channel["type"] == 1:
            return base
        overwrites = {int(o["id"]): o for o in channel["permission_overwrites"]}
        allow = deny = 0
        for target in [self.guild_id, *info["roles"], user_id]:
            if target in overwrites:
                allow |= int(overwrites[target]["allow"])
                deny |= int(overwrites[target]["deny"])
        return (base & ~deny) | allow

    def ready_payload(self, session_id: str, shard: list[int] | None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "v": 10,
            "user": {**self.users[self.bot_user_id], "verified": True, "mfa_enabled": False},
            "guilds": [{"id": str(self.guild_id), "unavailable": True}] if self._in_shard(shard) else [],
            "session_id": session_id,
            "session_type": "normal",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
        }
        if shard is not None:
            data["shard"] = shard
        return data

    def guild_create_payloads(self, intents: int, shard: list[int] | None) -> list[dict[str, Any]]:
        if not self._in_shard(shard):
            return []
        # Without the members intent Discord only includes the bot itself (and voice members).
        member_ids = list(self.members) if intents & p.INTENT_GUILD_MEMBERS else [self.bot_user_id]
        channels = [c for c in self.channels.values() if c["type"] != 1]
        return [
            p.guild(
                self.guild_id,
                "Fake Guild",
                owner_id=self.admin_id,
                channels=channels,
                roles=list(self.roles.values()),
                members=[self._member_payload(uid) for uid in member_ids],
                member_count=len(self.members),
            )
        ]

    def members_chunk(self, request: dict[str, Any]) -> dict[str, Any]:
        user_ids = request.get("user_ids")
        query = (request.get("query") or "").lower()
        limit = request.get("limit") or 0
        wanted = [int(u) for u in ([user_ids] if isinstance(user_ids, (str, int)) else user_ids or [])]
        if wanted:
            found = [u for u in wanted if u in self.members]
        else:
            found = [u for u in self.members if self.users[u]["username"].lower().startswith(query)]
            found = found[:limit] if limit else found
        data: dict[str, Any] = {
            "guild_id": str(self.guild_id),
            "members": [self._member_payload(u) for u in found],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [str(u) for u in wanted if u not in self.members],
        }
        if request.get("nonce") is not None:
            data["nonce"] = request["nonce"]
        return data

    def _in_shard(self, shard: list[int] | None) -> bool:
        return shard is None or (self.guild_id >> 22) % shard[1] == shard[0]

    # -- files -------------------------------------------------------------------------------------

    def host_file(self, filename: str, content: bytes, content_type: str | None = None) -> dict[str, Any]:
        """Serve bytes at ``/attachments/...`` and return the Discord attachment object describing them."""
        return self._new_attachment(self.channel_id, filename, content, content_type=content_type)

    def attachment_bytes(self, attachment: dict[str, Any] | int | str) -> bytes:
        """The bytes behind an attachment (object, id, or url)."""
        if isinstance(attachment, dict):
            key = int(attachment["id"])
        elif isinstance(attachment, str) and "/" in attachment:
            key = int(yarl.URL(attachment).parts[-2])
        else:
            key = int(attachment)
        return self.files[key].content

    def _new_attachment(
        self,
        channel_id: int,
        filename: str,
        content: bytes,
        *,
        content_type: str | None = None,
        description: str | None = None,
    ) -> dict[str, Any]:
        attachment_id = self._ids.next()
        ctype = content_type or sniff_content_type(content, filename)
        size = image_size(content) if ctype.startswith("image/") else None
        self.files[attachment_id] = HostedFile(filename, content, ctype)
        signature = f"ex={int(time.time()) + 86400:x}&is={int(time.time()):x}&hm={secrets.token_hex(32)}&"
        url = f"{self.base_url}/attachments/{channel_id}/{attachment_id}/{quote(filename)}?{signature}"
        return p.attachment(
            attachment_id,
            filename,
            size=len(content),
            url=url,
            content_type=ctype,
            width=size[0] if size else None,
            height=size[1] if size else None,
            description=description,
        )

    def expire_interaction_tokens(self) -> None:
        """Every existing interaction token now answers 401 50027 (as after 15 minutes)."""
        for interaction in self.interactions.values():
            interaction.expired = True

    def seed_commands(self, commands: list[dict[str, Any]], *, guild_id: int | None = None) -> list[dict[str, Any]]:
        """Register commands as if synced earlier (e.g. ``[c.to_dict(tree) for c in tree.get_commands()]``)."""
        _check_commands(commands)
        previous = self.guild_commands.get(guild_id, []) if guild_id else self.global_commands
        ids = {(c["name"], c.get("type", 1)): c["id"] for c in previous}
        synced = []
        for command in commands:
            kind = command.get("type") or 1
            permissions = command.get("default_member_permissions")
            entry = {
                **command,
                "id": ids.get((command["name"], kind)) or str(self._ids.next()),
                "application_id": str(self.application_id),
                "version": str(self._ids.next()),
                "type": kind,
                "default_member_permissions": None if permissions is None else str(permissions),
                "integration_types": command.get("integration_types") or [0],
                "nsfw": bool(command.get("nsfw")),
            }
            if kind != 1:
                entry["description"] = ""
            if guild_id:
                entry["guild_id"] = str(guild_id)
                entry.pop("dm_permission", None)
            synced.append(entry)
        if guild_id:
            self.guild_commands[guild_id] = synced
        else:
            self.global_commands = synced
        self.commands = synced
        return synced

    # -- messages: build, edit, delete, dispatch ---------------------------------------------------

    def wire(self, message: dict[str, Any]) -> dict[str, Any]:
        """A stored message as Discord sends it (without the fake's bookkeeping keys)."""
        data = {k: v for k, v in message.items() if k not in _INTERNAL_KEYS}
        if isinstance(data.get("referenced_message"), dict):
            data["referenced_message"] = {
                k: v
                for k, v in data["referenced_message"].items()
                if k not in _INTERNAL_KEYS and k != "referenced_message"
            }
        return data

    def _check_message(self, data: dict[str, Any], files: list[UploadedFile], *, creating: bool) -> None:
        check_files([len(f.content) for f in files], per_file_limit=self.attachment_size_limit)
        check_body(data)
        if creating and not (
            data.get("content")
            or data.get("embeds")
            or files
            or data.get("components")
            or data.get("sticker_ids")
            or data.get("poll")
        ):
            raise ApiError(400, 50006, "Cannot send an empty message")

    def _attachments(
        self, channel_id: int, data: dict[str, Any], files: list[UploadedFile], existing: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Attachments after a create/edit: kept ones (listed by snowflake) plus uploads (listed by index)."""
        entries = data.get("attachments")
        old = {int(a["id"]): a for a in existing}
        if entries is None:
            return existing + [self._new_attachment(channel_id, f.filename, f.content) for f in files]
        result = []
        used: set[int] = set()
        for entry in entries:
            key = int(entry["id"])
            if key in old:
                result.append(old[key])
            elif key < len(files):
                used.add(key)
                upload = files[key]
                result.append(
                    self._new_attachment(
                        channel_id,
                        entry.get("filename") or upload.filename,
                        upload.content,
                        description=entry.get("description"),
                    )
                )
        result += [
            self._new_attachment(channel_id, f.filename, f.content) for i, f in enumerate(files) if i not in used
        ]
        return result

    def _build_message(
        self,
        channel_id: int,
        author_id: int,
        data: dict[str, Any],
        files: list[UploadedFile],
        *,
        type: int = 0,
        referenced: dict[str, Any] | None = None,
        interaction: Interaction | None = None,
    ) -> dict[str, Any]:
        channel = self.channels.get(channel_id)
        guild_id = self.guild_id if channel is not None and channel["type"] != 1 else None
        attachments = self._attachments(channel_id, data, files, [])
        allowed = data.get("allowed_mentions")
        content = data.get("content") or ""
        reference = None
        if referenced is not None:
            reference = {"type": 0, "message_id": referenced["id"], "channel_id": referenced["channel_id"]}
            if guild_id:
                reference["guild_id"] = str(guild_id)
        message = p.message(
            self._ids.next(),
            channel_id,
            self.users[author_id],
            content=content,
            guild_id=guild_id,
            type=type,
            embeds=normalize_embeds(data.get("embeds") or [], attachments),
            attachments=attachments,
            components=with_component_ids(data.get("components") or []),
            flags=(data.get("flags") or 0),
            tts=bool(data.get("tts")),
            nonce=data.get("nonce"),
            message_reference=reference,
            referenced_message=self.wire(referenced) if referenced else None,
            webhook_id=self.application_id if interaction else None,
            application_id=self.application_id if interaction else None,
            interaction_metadata=self._interaction_metadata(interaction) if interaction else None,
        )
        message["allowed_mentions"] = allowed
        self._apply_mentions(message, referenced)
        return message

    def _interaction_metadata(self, interaction: Interaction) -> dict[str, Any] | None:
        meta: dict[str, Any] = {
            "id": str(interaction.id),
            "type": interaction.type,
            "user": self.users[interaction.user_id],
            "authorizing_integration_owners": interaction.payload["authorizing_integration_owners"],
        }
        if interaction.type == 2 and interaction.data.get("target_id") and interaction.data.get("type") == 3:
            meta["target_message_id"] = interaction.data["target_id"]
        elif interaction.type == 3:
            meta["interacted_message_id"] = str(interaction.message_id)
        elif interaction.type == 5:
            opener = interaction.opened_by
            if opener is None or opener.type == 5:
                return None
            meta["triggering_interaction_metadata"] = self._interaction_metadata(opener)
        return meta

    def _apply_mentions(self, message: dict[str, Any], referenced: dict[str, Any] | None) -> None:
        """Fill mentions from content as ``allowed_mentions`` permits (absent means: parse everything)."""
        allowed = message.get("allowed_mentions")
        parse = {"users", "roles", "everyone"} if allowed is None else set(allowed.get("parse") or [])
        users = {int(u) for u in (allowed or {}).get("users") or []}
        roles = {int(r) for r in (allowed or {}).get("roles") or []}
        content = message["content"]
        mentioned = [u for u in p.mentioned_user_ids(content) if u in self.users and ("users" in parse or u in users)]
        replied_user = True if allowed is None else bool(allowed.get("replied_user"))
        if referenced is not None and replied_user:
            author_id = int(referenced["author"]["id"])
            if author_id not in mentioned:
                mentioned.append(author_id)
        message["mentions"] = [self.users[u] for u in mentioned]
        message["mention_roles"] = [
            str(r) for r in p.mentioned_role_ids(content) if r in self.roles and ("roles" in parse or r in roles)
        ]
        message["mention_everyone"] = (
            "everyone" in parse
            and ("@everyone" in content or "@here" in content)
            and bool(self.permissions_for(int(message["author"]["id"])) & p.MENTION_EVERYONE)
        )

    def _create_interaction_message(
        self, interaction: Interaction, data: dict[str, Any], files: list[UploadedFile]
    ) -> dict[str, Any]:
        kind = {1: 20, 2: 23, 3: 23}.get(interaction.data.get("type", 0), 0) if interaction.type == 2 else 0
        message = self._build_message(
            interaction.channel_id, self.bot_user_id, data, files, type=kind, interaction=interaction
        )
        self._store(message)
        return message

    def _store(self, message: dict[str, Any]) -> None:
        self.messages[int(message["id"])] = message
        channel = self.channels.get(int(message["channel_id"]))
        if channel is not None:
            channel["last_message_id"] = message["id"]
        self._dispatch_message("MESSAGE_CREATE", message)

    def _edit_message(self, message: dict[str, Any], data: dict[str, Any], files: list[UploadedFile]) -> dict[str, Any]:
        """Apply an edit in place (fields absent from ``data`` are kept) and dispatch MESSAGE_UPDATE."""
        content = (data["content"] or "") if "content" in data else message["content"]
        components = with_component_ids(data["components"] or []) if "components" in data else message["components"]
        embeds = data["embeds"] or [] if "embeds" in data else message["embeds"]
        existing = {a["id"] for a in message["attachments"]}
        kept = [e for e in data["attachments"] if str(e["id"]) in existing] if "attachments" in data else existing
        if not (content or embeds or components or kept or files):
            raise ApiError(400, 50006, "Cannot send an empty message")
        if "attachments" in data or files:
            message["attachments"] = self._attachments(int(message["channel_id"]), data, files, message["attachments"])
        if "embeds" in data:
            embeds = normalize_embeds(embeds, message["attachments"])
        message.update(content=content, components=components, embeds=embeds, edited_timestamp=p.now_iso())
        if "allowed_mentions" in data:
            message["allowed_mentions"] = data["allowed_mentions"]
        if data.get("flags") is not None:
            # An edit can set IS_COMPONENTS_V2 or SUPPRESS_EMBEDS but never change ephemerality.
            keep = message["flags"] & (p.FLAG_EPHEMERAL | p.FLAG_IS_COMPONENTS_V2)
            message["flags"] = keep | (data["flags"] & ~p.FLAG_EPHEMERAL)
        message["flags"] &= ~p.FLAG_LOADING
        referenced = self.messages.get(p.to_int((message.get("message_reference") or {}).get("message_id")) or 0)
        self._apply_mentions(message, referenced)
        self._dispatch_message("MESSAGE_UPDATE", message)
        return message

    def _delete_message(self, message: dict[str, Any]) -> None:
        message_id = int(message["id"])
        self.messages.pop(message_id, None)
        self.deleted_message_ids.append(message_id)
        if self._event_allowed(message):
            data = {"id": message["id"], "channel_id": message["channel_id"]}
            if "guild_id" in message:
                data["guild_id"] = message["guild_id"]
            self.gateway.dispatch_nowait("MESSAGE_DELETE", data)

    def _live_message(self, message_id: int) -> dict[str, Any]:
        message = self.messages.get(message_id)
        if message is None:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    def _event_allowed(self, message: dict[str, Any]) -> bool:
        if message["flags"] & p.FLAG_EPHEMERAL:
            return False
        needed = p.INTENT_GUILD_MESSAGES if "guild_id" in message else p.INTENT_DIRECT_MESSAGES
        return bool(self.gateway.intents & needed)

    def _dispatch_message(self, event: str, message: dict[str, Any]) -> None:
        if self._event_allowed(message):
            self.gateway.dispatch_nowait(event, self._gateway_message(message))

    def _gateway_message(self, message: dict[str, Any]) -> dict[str, Any]:
        """MESSAGE_CREATE/UPDATE data: the member of guild authors, and content hidden without the intent.

        Without MESSAGE_CONTENT, content/embeds/attachments/components are blanked except in DMs, in the
        bot's own messages and in messages that mention the bot (Discord's rules).
        """
        data = self.wire(message)
        author_id = int(message["author"]["id"])
        if "guild_id" in data and author_id in self.members:
            data["member"] = self._member_payload(author_id, with_user=False)
        if not self.gateway.intents & p.INTENT_MESSAGE_CONTENT:
            mentioned = any(u["id"] == str(self.bot_user_id) for u in message["mentions"])
            if "guild_id" in data and author_id != self.bot_user_id and not mentioned:
                data.update(content="", embeds=[], attachments=[], components=[])
            ref = data.get("referenced_message")
            if isinstance(ref, dict) and "guild_id" in data and ref["author"]["id"] != str(self.bot_user_id):
                data["referenced_message"] = {**ref, "content": "", "embeds": [], "attachments": [], "components": []}
        return data

    def interaction_response(self, interaction: Interaction | int) -> dict[str, Any] | None:
        """The callback body (type + data) the bot sent for an interaction, if any."""
        key = interaction.id if isinstance(interaction, Interaction) else int(interaction)
        return self.interactions[key].response

    def original_message(self, interaction_token: Interaction | str) -> dict[str, Any] | None:
        """The current state of ``@original`` for an interaction token (None if none or deleted)."""
        token = interaction_token.token if isinstance(interaction_token, Interaction) else interaction_token
        interaction = self._by_token[token]
        if interaction.original_message_id is None:
            return None
        return self.messages.get(interaction.original_message_id)


def _check_commands(commands: list[dict[str, Any]]) -> None:
    seen: set[tuple[str, int]] = set()
    for i, command in enumerate(commands):
        kind = command.get("type") or 1
        key = (command["name"], kind)
        if key in seen:
            raise form_error(
                f"{i}.name", "APPLICATION_COMMANDS_DUPLICATE_NAME", "Application command names must be unique"
            )
        seen.add(key)
        if kind == 1:
            name = command["name"]
            if name != name.lower() or not 1 <= len(name) <= 32 or " " in name:
                raise form_error(f"{i}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
            if not 1 <= len(command.get("description") or "") <= 100:
                raise form_error(f"{i}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            options = command.get("options") or []
            if len(options) > 25:
                raise form_error(f"{i}.options", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
            required = [bool(o.get("required")) for o in options if o.get("type") not in {1, 2}]
            if required != sorted(required, reverse=True):
                raise form_error(
                    f"{i}.options",
                    "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                    "Required options must be placed before non-required options",
                )
