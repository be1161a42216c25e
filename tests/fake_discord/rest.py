"""The REST API routes the fake serves (prefix ``/api/v10``) and their handlers.

Each handler takes the recorded ``Call`` and returns ``(status, body)`` or raises ``ApiError``; the server
adds rate-limit headers, records the call and validates both bodies against the OpenAPI spec.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from . import payloads as p
from .messages import ApiError, form_error
from .records import Call, Interaction
from .state import DiscordState

Handler = Callable[[Call], Awaitable[tuple[int, Any]]]


class RestRoutes(DiscordState):
    def _route_table(self) -> list[tuple[str, str, Handler, bool]]:
        webhook = "/webhooks/{webhook_id}/{webhook_token}"
        channel = "/channels/{channel_id}"
        message = channel + "/messages/{message_id}"
        table: list[tuple[str, str, Handler, bool]] = [
            ("GET", "/users/@me", self._get_me, True),
            ("GET", "/users/{user_id}", self._get_user, True),
            ("POST", "/users/@me/channels", self._create_dm, True),
            ("GET", "/oauth2/applications/@me", self._get_application, True),
            ("GET", "/applications/@me", self._get_application, True),
            ("GET", "/gateway", self._get_gateway, False),
            ("GET", "/gateway/bot", self._get_gateway_bot, True),
            ("GET", "/applications/{application_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{application_id}/commands", self._put_commands, True),
            ("GET", "/applications/{application_id}/guilds/{guild_id}/commands", self._get_commands, True),
            ("PUT", "/applications/{application_id}/guilds/{guild_id}/commands", self._put_commands, True),
            ("POST", "/interactions/{interaction_id}/{interaction_token}/callback", self._callback, False),
            ("POST", webhook, self._execute_webhook, False),
            ("GET", webhook + "/messages/@original", self._get_webhook_message, False),
            ("PATCH", webhook + "/messages/@original", self._edit_webhook_message, False),
            ("DELETE", webhook + "/messages/@original", self._delete_webhook_message, False),
            ("GET", webhook + "/messages/{message_id}", self._get_webhook_message, False),
            ("PATCH", webhook + "/messages/{message_id}", self._edit_webhook_message, False),
            ("DELETE", webhook + "/messages/{message_id}", self._delete_webhook_message, False),
            ("GET", channel, self._get_channel, True),
            ("POST", channel + "/typing", self._typing, True),
            ("GET", channel + "/messages", self._get_messages, True),
            ("POST", channel + "/messages", self._create_channel_message, True),
            ("GET", message, self._get_channel_message, True),
            ("PATCH", message, self._edit_channel_message, True),
            ("DELETE", message, self._delete_channel_message, True),
            ("PUT", message + "/reactions/{emoji}/@me", self._add_reaction, True),
            ("DELETE", message + "/reactions/{emoji}/@me", self._remove_reaction, True),
            ("GET", "/guilds/{guild_id}", self._get_guild, True),
            ("GET", "/guilds/{guild_id}/channels", self._get_guild_channels, True),
            ("GET", "/guilds/{guild_id}/members/{user_id}", self._get_member, True),
        ]
        # Literal segments win over parameters (@original before {message_id}, @me before {user_id}).
        return sorted(table, key=lambda r: [seg.startswith("{") for seg in r[1].split("/")])

    # -- REST: identity, gateway, guild ------------------------------------------------------------

    async def _get_me(self, call: Call) -> tuple[int, Any]:
        return 200, p.user_pii(self.users[self.bot_user_id])

    async def _get_user(self, call: Call) -> tuple[int, Any]:
        user = self.users.get(p.to_int(call.params["user_id"]) or 0)
        if user is None:
            raise ApiError(404, 10013, "Unknown User")
        return 200, user

    async def _create_dm(self, call: Call) -> tuple[int, Any]:
        recipient = p.to_int((call.json or {}).get("recipient_id"))
        if recipient not in self.users:
            raise form_error("recipient_id", "USER_UNKNOWN", "Unknown user")
        return 200, self.dm_channel(recipient)

    async def _get_application(self, call: Call) -> tuple[int, Any]:
        return 200, p.application(
            self.application_id, bot_user=self.users[self.bot_user_id], owner=self.users[self.owner_id]
        )

    async def _get_gateway(self, call: Call) -> tuple[int, Any]:
        return 200, {"url": self.gateway_url}

    async def _get_gateway_bot(self, call: Call) -> tuple[int, Any]:
        limit = {"total": 1000, "remaining": 999, "reset_after": 14400000, "max_concurrency": 1}
        return 200, {"url": self.gateway_url, "shards": 1, "session_start_limit": limit}

    async def _get_guild(self, call: Call) -> tuple[int, Any]:
        self._require_guild(call)
        guild = self.guild_create_payloads(p.INTENT_GUILD_MEMBERS, None)[0]
        for key in (
            "channels",
            "members",
            "threads",
            "presences",
            "voice_states",
            "joined_at",
            "large",
            "member_count",
            "stage_instances",
            "guild_scheduled_events",
            "soundboard_sounds",
            "unavailable",
        ):
            guild.pop(key, None)
        return 200, guild

    async def _get_guild_channels(self, call: Call) -> tuple[int, Any]:
        self._require_guild(call)
        return 200, [c for c in self.channels.values() if c["type"] != 1]

    async def _get_member(self, call: Call) -> tuple[int, Any]:
        self._require_guild(call)
        user_id = p.to_int(call.params["user_id"])
        if user_id not in self.members:
            raise ApiError(404, 10007, "Unknown Member")
        return 200, self._member_payload(user_id)

    def _require_guild(self, call: Call) -> None:
        if p.to_int(call.params["guild_id"]) != self.guild_id:
            raise ApiError(404, 10004, "Unknown Guild")

    # -- REST: application commands ----------------------------------------------------------------

    async def _get_commands(self, call: Call) -> tuple[int, Any]:
        self._require_application(call)
        if "guild_id" in call.params:
            self._require_guild(call)
            return 200, self.guild_commands.get(self.guild_id, [])
        return 200, self.global_commands

    async def _put_commands(self, call: Call) -> tuple[int, Any]:
        self._require_application(call)
        guild_id = None
        if "guild_id" in call.params:
            self._require_guild(call)
            guild_id = self.guild_id
        synced = self.seed_commands(call.json or [], guild_id=guild_id)
        self.sync_count += 1
        return 200, synced

    def _require_application(self, call: Call) -> None:
        if p.to_int(call.params["application_id"]) != self.application_id:
            raise ApiError(403, 50001, "Missing Access")

    # -- REST: interaction callback ----------------------------------------------------------------

    async def _callback(self, call: Call) -> tuple[int, Any]:
        interaction = self.interactions.get(p.to_int(call.params["interaction_id"]) or 0)
        if interaction is None or interaction.token != call.params["interaction_token"]:
            raise ApiError(404, 10062, "Unknown interaction")
        if interaction.acked:
            raise ApiError(400, 40060, "Interaction has already been acknowledged.")
        if interaction.expired or time.monotonic() - interaction.created_at > self.ack_deadline:
            raise ApiError(404, 10062, "Unknown interaction")
        body = call.json or {}
        kind = body.get("type")
        data = body.get("data") or {}
        allowed = {2: {4, 5, 9}, 3: {4, 5, 6, 7, 9}, 4: {8}, 5: {4, 5, 6, 7}}[interaction.type]
        if kind in {6, 7} and interaction.message_id is None:
            allowed = allowed - {6, 7}
        if kind not in allowed:
            raise form_error("type", "INTERACTION_RESPONSE_TYPE_INVALID", "Invalid interaction response type")
        answer: dict[str, Any] = {"id": str(interaction.id), "type": interaction.type}
        resource: dict[str, Any] | None = None
        if kind in {4, 5}:
            ephemeral = bool((data.get("flags") or 0) & p.FLAG_EPHEMERAL)
            if kind == 4:
                self._check_message(data, call.files, creating=True)
                message = self._create_interaction_message(interaction, data, call.files)
                resource = {"type": 4, "message": self.wire(message)}
            else:
                loading = {"flags": (data.get("flags") or 0) & p.FLAG_EPHEMERAL | p.FLAG_LOADING}
                message = self._create_interaction_message(interaction, loading, [])
            interaction.original_message_id = int(message["id"])
            answer.update(
                response_message_id=message["id"],
                response_message_loading=kind == 5,
                response_message_ephemeral=ephemeral,
            )
        elif kind in {6, 7}:
            assert interaction.message_id is not None
            target = self._live_message(interaction.message_id)
            interaction.original_message_id = interaction.message_id
            if kind == 7:
                self._check_message(data, call.files, creating=False)
                self._edit_message(target, data, call.files)
                resource = {"type": 7, "message": self.wire(target)}
            answer.update(
                response_message_id=target["id"],
                response_message_loading=False,
                response_message_ephemeral=bool(target["flags"] & p.FLAG_EPHEMERAL),
            )
        elif kind == 8:
            _check_choices(data.get("choices") or [])
        elif kind == 9:
            self.modals[data["custom_id"]] = (data, interaction)
        interaction.response = body
        interaction.acked_at = time.monotonic()
        return 200, {"interaction": answer, **({"resource": resource} if resource else {})}

    # -- REST: interaction webhooks ----------------------------------------------------------------

    def _webhook_interaction(self, call: Call) -> Interaction:
        if p.to_int(call.params["webhook_id"]) != self.application_id:
            raise ApiError(404, 10015, "Unknown Webhook")
        interaction = self._by_token.get(call.params["webhook_token"])
        if interaction is None or interaction.expired or time.monotonic() - interaction.created_at > self.token_ttl:
            raise ApiError(401, 50027, "Invalid Webhook Token")
        if not interaction.acked:
            raise ApiError(404, 10015, "Unknown Webhook")
        return interaction

    def _webhook_message(self, call: Call, interaction: Interaction) -> dict[str, Any]:
        raw = call.params.get("message_id", "@original")
        if raw == "@original":
            message_id = interaction.original_message_id
        else:
            message_id = p.to_int(raw)
            if message_id not in {interaction.original_message_id, *interaction.followup_ids}:
                message_id = None
        if message_id is None or message_id not in self.messages:
            raise ApiError(404, 10008, "Unknown Message")
        return self.messages[message_id]

    async def _execute_webhook(self, call: Call) -> tuple[int, Any]:
        interaction = self._webhook_interaction(call)
        data = call.json or {}
        original = self.messages.get(interaction.original_message_id or 0)
        if original is not None and original["flags"] & p.FLAG_LOADING:
            # Discord's (deprecated) compatibility rule: the first follow-up after a defer edits the
            # loading message instead of creating a new one, and its ephemeral flag is ignored.
            self._check_message(data, call.files, creating=True)
            message = self._edit_message(original, data, call.files)
        else:
            self._check_message(data, call.files, creating=True)
            message = self._create_interaction_message(interaction, data, call.files)
            interaction.followup_ids.append(int(message["id"]))
        wait = call.query.get("wait", "").lower() in {"1", "true"}
        return (200, self.wire(message)) if wait else (204, None)

    async def _get_webhook_message(self, call: Call) -> tuple[int, Any]:
        return 200, self.wire(self._webhook_message(call, self._webhook_interaction(call)))

    async def _edit_webhook_message(self, call: Call) -> tuple[int, Any]:
        message = self._webhook_message(call, self._webhook_interaction(call))
        self._check_message(call.json or {}, call.files, creating=False)
        return 200, self.wire(self._edit_message(message, call.json or {}, call.files))

    async def _delete_webhook_message(self, call: Call) -> tuple[int, Any]:
        message = self._webhook_message(call, self._webhook_interaction(call))
        self._delete_message(message)
        return 204, None

    # -- REST: channels and messages ---------------------------------------------------------------

    def _channel(self, call: Call) -> dict[str, Any]:
        channel = self.channels.get(p.to_int(call.params["channel_id"]) or 0)
        if channel is None:
            raise ApiError(404, 10003, "Unknown Channel")
        return channel

    def _channel_message(self, call: Call) -> dict[str, Any]:
        channel = self._channel(call)
        message = self.messages.get(p.to_int(call.params["message_id"]) or 0)
        if message is None or message["channel_id"] != channel["id"] or message["flags"] & p.FLAG_EPHEMERAL:
            raise ApiError(404, 10008, "Unknown Message")
        return message

    async def _get_channel(self, call: Call) -> tuple[int, Any]:
        return 200, self._channel(call)

    async def _typing(self, call: Call) -> tuple[int, Any]:
        self._channel(call)
        return 204, None

    async def _get_messages(self, call: Call) -> tuple[int, Any]:
        channel = self._channel(call)
        limit = min(100, int(call.query.get("limit", 50)))
        before, after = p.to_int(call.query.get("before")), p.to_int(call.query.get("after"))
        found = [
            m
            for mid, m in sorted(self.messages.items(), reverse=True)
            if m["channel_id"] == channel["id"]
            and not m["flags"] & p.FLAG_EPHEMERAL
            and (before is None or mid < before)
            and (after is None or mid > after)
        ]
        return 200, [self.wire(m) for m in found[:limit]]

    async def _get_channel_message(self, call: Call) -> tuple[int, Any]:
        return 200, self.wire(self._channel_message(call))

    async def _create_channel_message(self, call: Call) -> tuple[int, Any]:
        channel = self._channel(call)
        channel_id = int(channel["id"])
        data = call.json or {}
        if channel["type"] != 1:
            perms = self.permissions_for(self.bot_user_id, channel_id)
            needed = p.VIEW_CHANNEL | p.SEND_MESSAGES | (p.ATTACH_FILES if call.files else 0)
            if perms & needed != needed:
                raise ApiError(403, 50013, "Missing Permissions")
        nonce = data.get("nonce")
        if nonce is not None and data.get("enforce_nonce"):
            existing = self._nonces.get((channel_id, str(nonce)))
            if existing in self.messages:
                return 200, self.wire(self.messages[existing])
        self._check_message(data, call.files, creating=True)
        reference = data.get("message_reference")
        referenced = None
        if reference:
            referenced = self.messages.get(p.to_int(reference.get("message_id")) or 0)
            if referenced is None:
                if reference.get("fail_if_not_exists", True):
                    raise form_error("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
                reference = None
        message = self._build_message(
            channel_id, self.bot_user_id, data, call.files, type=19 if reference else 0, referenced=referenced
        )
        if nonce is not None:
            self._nonces[(channel_id, str(nonce))] = int(message["id"])
        self._store(message)
        return 200, self.wire(message)

    async def _edit_channel_message(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        if message["author"]["id"] != str(self.bot_user_id):
            raise ApiError(403, 50005, "Cannot edit a message authored by another user")
        self._check_message(call.json or {}, call.files, creating=False)
        return 200, self.wire(self._edit_message(message, call.json or {}, call.files))

    async def _delete_channel_message(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        is_own = message["author"]["id"] == str(self.bot_user_id)
        perms = self.permissions_for(self.bot_user_id, int(message["channel_id"]))
        if not is_own and not perms & p.MANAGE_MESSAGES:
            raise ApiError(403, 50013, "Missing Permissions")
        self._delete_message(message)
        return 204, None

    async def _add_reaction(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        emoji = call.params["emoji"]
        reactions = message.setdefault("reactions", [])
        entry = next((r for r in reactions if r["emoji"]["name"] == emoji), None)
        if entry is None:
            entry = {
                "emoji": {"id": None, "name": emoji},
                "count": 0,
                "me": False,
                "me_burst": False,
                "count_details": {"burst": 0, "normal": 0},
                "burst_colors": [],
                "burst_count": 0,
            }
            reactions.append(entry)
        if not entry["me"]:
            entry.update(me=True, count=entry["count"] + 1)
            entry["count_details"]["normal"] += 1
        return 204, None

    async def _remove_reaction(self, call: Call) -> tuple[int, Any]:
        message = self._channel_message(call)
        for entry in list(message.get("reactions", [])):
            if entry["emoji"]["name"] == call.params["emoji"] and entry["me"]:
                entry.update(me=False, count=entry["count"] - 1)
                entry["count_details"]["normal"] -= 1
                if entry["count"] == 0:
                    message["reactions"].remove(entry)
        return 204, None


def _check_choices(choices: list[dict[str, Any]]) -> None:
    if len(choices) > 25:
        raise form_error("data.choices", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    for i, choice in enumerate(choices):
        if not 1 <= len(choice.get("name") or "") <= 100:
            raise form_error(f"data.choices.{i}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
        if isinstance(choice.get("value"), str) and len(choice["value"]) > 100:
            raise form_error(f"data.choices.{i}.value", "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
