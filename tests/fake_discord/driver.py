"""Driving the bot as Discord users would: slash commands, autocomplete, context menus, clicks, modals, messages.

Each method builds the gateway event Discord would send, dispatches it and returns at once; tests then wait
on what the bot does (``FakeDiscord.wait_for_call`` / ``wait_for_ack``).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any

from . import payloads as p
from .messages import find_component, walk_components, with_component_ids
from .records import Interaction
from .state import DiscordState

# The tasks discord.py runs a handler in: app commands, component and modal callbacks, on_message.
_HANDLER_TASKS = (
    "CommandTree-invoker",
    "discord-ui-view-dispatch-",
    "discord-ui-modal-dispatch-",
    "discord-ui-dynamic-item-",
    "discord.py: on_message",
)


class BotDriver(DiscordState):
    # -- driving the bot: interactions -------------------------------------------------------------

    async def slash(
        self,
        name: str,
        options: dict[str, object] | None = None,
        *,
        user_id: int | None = None,
        subcommand: str | None = None,
        attachments: dict[str, dict[str, Any]] | None = None,
        locale: str = "en-US",
        channel_id: int | None = None,
        guild: bool = True,
    ) -> Interaction:
        """Invoke a chat-input command (INTERACTION_CREATE type 2) as a user; returns the interaction.

        Option types come from the synced command (falling back to the Python type when nothing was ever
        synced); Discord's client-side checks (choices, ranges, lengths, required) raise ValueError.
        ``subcommand`` is ``"name"`` or ``"group name"``.
        """
        values: dict[str, object] = {**(options or {}), **(attachments or {})}
        data = self._command_data(
            name, 1, values, subcommand=subcommand, guild=guild, user_id=user_id, channel_id=channel_id
        )
        return await self._interact(2, data, user_id=user_id, channel_id=channel_id, guild=guild, locale=locale)

    async def autocomplete(
        self,
        name: str,
        options: dict[str, object],
        focused: str,
        *,
        user_id: int | None = None,
        subcommand: str | None = None,
        locale: str = "en-US",
        channel_id: int | None = None,
        guild: bool = True,
    ) -> Interaction:
        """An autocomplete request (type 4) while the user types into option ``focused``."""
        values = {focused: "", **options}
        data = self._command_data(
            name, 1, values, subcommand=subcommand, guild=guild, user_id=user_id, channel_id=channel_id, focused=focused
        )
        return await self._interact(4, data, user_id=user_id, channel_id=channel_id, guild=guild, locale=locale)

    async def context_menu(
        self, name: str, target_message_id: int, *, user_id: int | None = None, locale: str = "en-US"
    ) -> Interaction:
        """A message context-menu command (app command type 3); the target is resolved with full content."""
        target = self.messages.get(target_message_id)
        if target is None:
            raise LookupError(f"no message {target_message_id} in the fake")
        channel_id = int(target["channel_id"])
        data = self._command_data(
            name, 3, {}, subcommand=None, guild="guild_id" in target, user_id=user_id, channel_id=channel_id
        )
        data.update(
            target_id=str(target_message_id), resolved={"messages": {str(target_message_id): self.wire(target)}}
        )
        return await self._interact(
            2, data, user_id=user_id, channel_id=channel_id, guild="guild_id" in target, locale=locale
        )

    async def user_context_menu(
        self, name: str, target_user_id: int, *, user_id: int | None = None, channel_id: int | None = None
    ) -> Interaction:
        """A user context-menu command (app command type 2), with the target user and member resolved."""
        data = self._command_data(name, 2, {}, subcommand=None, guild=True, user_id=user_id, channel_id=channel_id)
        resolved: dict[str, Any] = {"users": {str(target_user_id): self.users[target_user_id]}}
        if target_user_id in self.members:
            resolved["members"] = {str(target_user_id): self._member_payload(target_user_id, with_user=False)}
        data.update(target_id=str(target_user_id), resolved=resolved)
        return await self._interact(2, data, user_id=user_id, channel_id=channel_id, guild=True)

    async def click(
        self,
        message_id: int,
        custom_id: str,
        *,
        user_id: int | None = None,
        values: list[str] | None = None,
        locale: str = "en-US",
    ) -> Interaction:
        """Click a button (or pick ``values`` in a select) on a stored message: INTERACTION_CREATE type 3."""
        message = self.messages.get(message_id)
        if message is None:
            raise LookupError(f"no message {message_id} in the fake")
        component = find_component(message["components"], custom_id)
        if component is None:
            raise LookupError(f"message {message_id} has no component {custom_id!r}")
        if component.get("disabled"):
            raise ValueError(f"component {custom_id!r} is disabled and cannot be used")
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component["type"], "id": component["id"]}
        if component["type"] != 2:
            data["values"] = list(values or [])
        return await self._interact(
            3,
            data,
            user_id=user_id,
            channel_id=int(message["channel_id"]),
            guild="guild_id" in message,
            message=message,
            locale=locale,
        )

    async def submit_modal(
        self,
        custom_id: str,
        values: Mapping[str, str | list[str]],
        *,
        user_id: int | None = None,
        message_id: int | None = None,
    ) -> Interaction:
        """Submit a modal the bot opened (INTERACTION_CREATE type 5), shaped like the modal it sent.

        ``values`` maps input custom_ids to text (or to a list of values for selects in a label). Unknown
        inputs raise LookupError; a missing required input or a length outside the input's bounds raises
        ValueError (Discord's client would not submit). Submitting closes the modal, as in Discord: a second
        submission needs the bot to open it again.
        """
        if custom_id not in self.modals:
            raise LookupError(f"no open modal with custom_id {custom_id!r} (the bot must send it first)")
        modal, opener = self.modals[custom_id]
        components = _modal_submission(modal, values)
        del self.modals[custom_id]
        if message_id is None and opener.type == 3:
            message_id = opener.message_id
        message = self.messages.get(message_id) if message_id is not None else None
        return await self._interact(
            5,
            {"custom_id": custom_id, "components": components},
            user_id=user_id if user_id is not None else opener.user_id,
            channel_id=opener.channel_id,
            guild="guild_id" in opener.payload,
            message=message,
            opened_by=opener,
        )

    def _command_data(
        self,
        name: str,
        kind: int,
        values: dict[str, object],
        *,
        subcommand: str | None,
        guild: bool,
        user_id: int | None,
        channel_id: int | None,
        focused: str | None = None,
    ) -> dict[str, Any]:
        command, guild_scoped = self._find_command(name, kind, guild)
        if command is not None and guild and command.get("default_member_permissions"):
            needed = int(command["default_member_permissions"])
            have = self.permissions_for(user_id or self.user_id, channel_id or self.channel_id)
            if have & needed != needed:
                raise PermissionError(f"/{name} is hidden from this member (default_member_permissions={needed})")
        data: dict[str, Any] = {
            "id": command["id"] if command else str(self._ids.next()),
            "name": name,
            "type": kind,
        }
        if guild and (guild_scoped or command is None):
            data["guild_id"] = str(self.guild_id)
        if kind != 1:
            return data
        declared = command.get("options") if command else None
        resolved: dict[str, dict[str, Any]] = {}
        options_at = data.setdefault("options", [])
        parts = (subcommand or "").split()
        for depth, part in enumerate(parts):
            decl = _declared(declared, part, name) if declared is not None else None
            kind_here = decl["type"] if decl else (1 if depth == len(parts) - 1 else 2)
            group: dict[str, Any] = {"type": kind_here, "name": part, "options": []}
            options_at.append(group)
            options_at = group["options"]
            declared = (decl.get("options") or []) if decl else None
        options_at.extend(self._options(declared, values, resolved, focused=focused, command=name))
        if resolved:
            data["resolved"] = resolved
        return data

    def _find_command(self, name: str, kind: int, guild: bool) -> tuple[dict[str, Any] | None, bool]:
        scopes = [(self.guild_commands.get(self.guild_id, []), True)] if guild else []
        scopes.append((self.global_commands, False))
        for commands, guild_scoped in scopes:
            for command in commands:
                if command["name"] == name and command.get("type", 1) == kind:
                    return command, guild_scoped
        if self.sync_count or self.global_commands or self.guild_commands:
            raise LookupError(f"command {name!r} (type {kind}) is not among the synced commands")
        return None, False

    def _options(
        self,
        declared: list[dict[str, Any]] | None,
        values: dict[str, object],
        resolved: dict[str, dict[str, Any]],
        *,
        focused: str | None,
        command: str,
    ) -> list[dict[str, Any]]:
        result = []
        for name, value in values.items():
            decl = _declared(declared, name, command) if declared is not None else None
            kind = decl["type"] if decl else _infer_type(value)
            option: dict[str, Any] = {"name": name, "type": kind}
            if name == focused:
                option.update(value=str(value), focused=True)
            else:
                option["value"] = self._option_value(kind, value, resolved)
                if decl:
                    _check_option(decl, option["value"])
            result.append(option)
        for decl in declared or []:
            if decl.get("required") and decl["name"] not in values and focused is None:
                raise ValueError(f"/{command}: required option {decl['name']!r} missing")
        return result

    def _option_value(self, kind: int, value: object, resolved: dict[str, dict[str, Any]]) -> object:
        if kind == 11:
            attachment = value if isinstance(value, dict) else None
            if attachment is None:
                raise TypeError("attachment options take an attachment object (see host_file)")
            resolved.setdefault("attachments", {})[attachment["id"]] = attachment
            return attachment["id"]
        if kind in {6, 7, 8, 9}:
            target = int(str(value))
            if target in self.users and kind in {6, 9}:
                resolved.setdefault("users", {})[str(target)] = self.users[target]
                if target in self.members:
                    resolved.setdefault("members", {})[str(target)] = self._member_payload(
                        target, with_user=False, channel_id=self.channel_id
                    )
            elif target in self.roles and kind in {8, 9}:
                resolved.setdefault("roles", {})[str(target)] = self.roles[target]
            elif target in self.channels and kind == 7:
                channel = self.channels[target]
                resolved.setdefault("channels", {})[str(target)] = {
                    **channel,
                    "permissions": str(self.permissions_for(self.user_id, target)),
                }
            else:
                raise LookupError(f"no user/role/channel {target} in the fake")
            return str(target)
        convert: dict[int, Callable[[Any], object]] = {3: str, 4: int, 5: bool, 10: float}
        return convert[kind](value)

    async def _interact(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        user_id: int | None,
        channel_id: int | None,
        guild: bool,
        locale: str = "en-US",
        message: dict[str, Any] | None = None,
        opened_by: Interaction | None = None,
    ) -> Interaction:
        if not self.gateway.connected:
            raise RuntimeError("the bot is not connected to the fake gateway")
        user_id = self.user_id if user_id is None else user_id
        if guild and user_id not in self.members:
            raise LookupError(f"user {user_id} is not a member of the fake guild (add_member first)")
        if guild:
            channel_id = channel_id or self.channel_id
            channel = {**self.channels[channel_id], "permissions": str(self.permissions_for(user_id, channel_id))}
            member = self._member_payload(user_id, channel_id=channel_id)
            app_permissions = self.permissions_for(self.bot_user_id, channel_id)
        else:
            channel = self.dm_channel(user_id) if channel_id is None else self.channels[channel_id]
            channel_id = int(channel["id"])
            member = None
            app_permissions = p.DEFAULT_PERMISSIONS
        interaction_id = self._ids.next()
        token = "aW50ZXJhY3Rpb246" + secrets.token_urlsafe(60)
        payload = p.interaction(
            interaction_id=interaction_id,
            application_id=self.application_id,
            type=kind,
            token=token,
            data=data,
            channel=channel,
            guild_id=self.guild_id if guild else None,
            member_data=member,
            user_data=self.users[user_id],
            app_permissions=app_permissions,
            locale=locale,
            attachment_size_limit=self.attachment_size_limit,
            message_data=self.wire(message) if message is not None else None,
        )
        record = Interaction(
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            user_id=user_id,
            channel_id=channel_id,
            created_at=time.monotonic(),
            message_id=int(message["id"]) if message is not None else None,
            opened_by=opened_by,
        )
        self.interactions[interaction_id] = record
        self._by_token[token] = record
        await self.gateway.dispatch("INTERACTION_CREATE", payload)
        return record

    # -- driving the bot: messages -----------------------------------------------------------------

    async def user_message(
        self,
        content: str,
        *,
        user_id: int | None = None,
        channel_id: int | None = None,
        attachments: list[dict[str, Any]] | None = None,
        reply_to: int | None = None,
        mention_bot: bool = False,
        embeds: list[dict[str, Any]] | None = None,
        dm: bool = False,
    ) -> dict[str, Any]:
        """A user posts a message (MESSAGE_CREATE); returns the stored message with its full content.

        ``mention_bot`` puts the bot in ``mentions`` (a ``<@bot>`` in the content, or a reply with ping on).
        ``reply_to`` makes it a reply (type 19) carrying ``referenced_message``.
        """
        if not self.gateway.connected:
            raise RuntimeError("the bot is not connected to the fake gateway")
        user_id = self.user_id if user_id is None else user_id
        if dm:
            channel_id = int(self.dm_channel(user_id)["id"])
        channel_id = channel_id or self.channel_id
        referenced = None
        if reply_to is not None:
            referenced = self.messages.get(reply_to)
            if referenced is None:
                raise LookupError(f"no message {reply_to} to reply to")
        message = self._build_message(
            channel_id,
            user_id,
            {"content": content, "embeds": embeds or []},
            [],
            type=19 if referenced else 0,
            referenced=referenced,
        )
        message["attachments"] = list(attachments or [])
        if mention_bot and not any(u["id"] == str(self.bot_user_id) for u in message["mentions"]):
            message["mentions"].append(self.users[self.bot_user_id])
        self.messages[int(message["id"])] = message
        if self._event_allowed(message):
            await self.gateway.dispatch("MESSAGE_CREATE", self._gateway_message(message))
        return message

    async def disconnect_gateway(
        self,
        *,
        resume: bool = True,
        close_code: int | None = None,
        wait: bool = True,
        timeout: float = 10.0,
    ) -> None:
        """Drop the bot's gateway connection and (by default) wait until it is back.

        Without ``close_code``: op 7 RECONNECT (``resume=True``, the bot RESUMEs and missed events are
        replayed) or op 9 INVALID_SESSION (``resume=False``, the bot re-IDENTIFYs; discord.py sleeps 5 s in
        ``before_identify_hook`` first). With ``close_code`` the socket is closed with that code.
        """
        await self.gateway.disconnect(resume=resume, close_code=close_code, wait=wait, timeout=timeout)

    async def wait_for_gateway(self, timeout: float = 10.0) -> None:
        """Wait until the bot has (re)identified or resumed and every queued event is written."""
        await self.gateway.wait_established(timeout)

    async def settle(self) -> None:
        """Wait until the bot has read and parsed every gateway event sent so far (cache updated).

        Listeners and commands the events started run as tasks and may still be busy: wait on their
        effects (``wait_for_call``) instead.
        """
        await self.gateway.settle()

    async def handled(self, timeout: float = 10.0) -> None:
        """Wait until the bot has parsed every event sent so far and every handler discord.py started for them
        (commands, components, modals, messages) has returned: after this, "nothing more happened" holds.

        Only for a bot running on this event loop (it looks at the loop's tasks). Work a handler handed on
        (a queued job) goes on: check the store for it.
        """
        await self.settle()
        async with asyncio.timeout(timeout):
            while any(t.get_name().startswith(_HANDLER_TASKS) for t in asyncio.all_tasks()):
                await asyncio.sleep(0.005)


def _declared(declared: list[dict[str, Any]], name: str, command: str) -> dict[str, Any]:
    for option in declared:
        if option["name"] == name:
            return option
    raise LookupError(f"/{command} has no option {name!r} (declared: {[o['name'] for o in declared]})")


def _infer_type(value: object) -> int:
    if isinstance(value, bool):
        return 5
    if isinstance(value, int):
        return 4
    if isinstance(value, float):
        return 10
    if isinstance(value, dict):
        return 11
    return 3


def _check_option(decl: dict[str, Any], value: object) -> None:
    name = decl["name"]
    choices = decl.get("choices")
    if choices and value not in [c["value"] for c in choices]:
        raise ValueError(f"option {name!r}: {value!r} is not one of the choices")
    if isinstance(value, str) and not decl.get("min_length", 0) <= len(value) <= decl.get("max_length", 6000):
        raise ValueError(f"option {name!r}: length {len(value)} outside the declared bounds")
    if isinstance(value, int | float) and not isinstance(value, bool):
        low, high = decl.get("min_value"), decl.get("max_value")
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(f"option {name!r}: {value} outside [{low}, {high}]")


def _modal_submission(modal: dict[str, Any], values: Mapping[str, object]) -> list[dict[str, Any]]:
    """The ``data.components`` of a modal submit, mirroring the modal's rows/labels with the given values."""
    inputs = {
        c["custom_id"]: c
        for _, c in walk_components(modal.get("components") or [])
        if c.get("type") in {3, 4, 5, 6, 7, 8} and "custom_id" in c
    }
    unknown = set(values) - set(inputs)
    if unknown:
        raise LookupError(f"modal {modal['custom_id']!r} has no inputs {sorted(unknown)} (has {sorted(inputs)})")
    for custom_id, component in inputs.items():
        value = values.get(custom_id)
        if component["type"] == 4:
            text = "" if value is None else str(value)
            if component.get("required", True) and not text:
                raise ValueError(f"modal input {custom_id!r} is required")
            if text and not component.get("min_length", 0) <= len(text) <= component.get("max_length", 4000):
                raise ValueError(f"modal input {custom_id!r}: length {len(text)} outside the declared bounds")

    def submitted(component: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"type": component["type"], "id": component.get("id", 0)}
        if component["type"] == 4:
            out.update(custom_id=component["custom_id"], value=str(values.get(component["custom_id"], "")))
        elif "custom_id" in component:
            raw = values.get(component["custom_id"], [])
            picked = [str(v) for v in raw] if isinstance(raw, list | tuple) else [str(raw)]
            out.update(custom_id=component["custom_id"], values=picked)
        return out

    result = []
    for index, top in enumerate(with_component_ids(modal.get("components") or [])):
        if top["type"] == 1:
            result.append({"type": 1, "id": top["id"], "components": [submitted(c) for c in top["components"]]})
        elif top["type"] == 18:
            result.append({"type": 18, "id": top["id"], "component": submitted(top["component"])})
        else:
            result.append({"type": top["type"], "id": top.get("id", index + 1)})
    return result
