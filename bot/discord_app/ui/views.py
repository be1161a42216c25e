"""Buttons under results and progress messages, surviving restarts (discord.py DynamicItem).

A button's custom id carries everything its click needs: ``lb:<action>:<job id>:<image index>:<owner>``.
``owner`` is the member the message was posted for (the requester; whoever asked for a re-post with
``/show`` or got a re-posted identical result), so a click is refused or accepted without any I/O.
The click itself is handled by the ``ActionHandler`` registered for the client (cogs/buttons.py).
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from typing import Any, Protocol, Self

import discord

from bot.generation.actions import Action, supports_upscale, supports_vary
from bot.i18n import N_, Locale, t
from bot.models import Job, result_image_count

log = logging.getLogger(__name__)

CUSTOM_ID = re.compile(
    r"lb:(?P<action>reroll|vary|varystrong|upscale|remix|restyle|delete|cancel):(?P<job>[0-9A-Za-z_-]{1,40}):(?P<index>\d{1,2}):(?P<owner>\d{1,20})"
)
MAX_IMAGE_BUTTONS = 5  # one row


@dataclass(frozen=True, slots=True)
class Click:
    action: Action
    job_id: str
    index: int
    owner_id: int

    @property
    def custom_id(self) -> str:
        return f"lb:{self.action}:{self.job_id}:{self.index}:{self.owner_id}"


class ActionHandler(Protocol):
    async def on_click(self, interaction: discord.Interaction, click: Click) -> None: ...


_handlers: weakref.WeakKeyDictionary[discord.Client, ActionHandler] = weakref.WeakKeyDictionary()


def register_handler(client: discord.Client, handler: ActionHandler) -> None:
    """Route clicks on ``client`` to ``handler`` (and register the dynamic item with it)."""
    _handlers[client] = handler
    client.add_dynamic_items(ActionButton)


def unregister_handler(client: discord.Client) -> None:
    _handlers.pop(client, None)
    client.remove_dynamic_items(ActionButton)


_STYLE: dict[Action, tuple[str, str, discord.ButtonStyle]] = {
    Action.REROLL: (N_("Reroll"), "🔁", discord.ButtonStyle.primary),
    Action.REMIX: (N_("Remix"), "🎛️", discord.ButtonStyle.secondary),
    Action.DELETE: (N_("Delete"), "🗑️", discord.ButtonStyle.danger),
    Action.CANCEL: (N_("Cancel"), "✖️", discord.ButtonStyle.danger),
    Action.VARY: (N_("Vary (Subtle)"), "🎲", discord.ButtonStyle.secondary),
    Action.VARY_STRONG: (N_("Vary (Strong)"), "🌀", discord.ButtonStyle.secondary),
    Action.UPSCALE: (N_("Upscale"), "🔍", discord.ButtonStyle.secondary),
    Action.RESTYLE: (N_("Restyle"), "🎨", discord.ButtonStyle.secondary),
}
# Per-image buttons when a result has several images: "V1", "U2", ...
_NUMBERED: dict[Action, str] = {
    Action.VARY: N_("V{number} Subtle"),
    Action.VARY_STRONG: N_("V{number} Strong"),
    Action.UPSCALE: N_("U{number}"),
    Action.RESTYLE: N_("R{number}"),
}


class ActionButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID):
    """``label``: shown after the emoji (the action's name in English unless given); the label a message
    was posted with comes back on every click, so the language survives restarts."""

    def __init__(self, click: Click, *, label: str | None = None, row: int | None = None) -> None:
        text, emoji, style = _STYLE[click.action]
        # The emoji goes into the label: a custom ``emoji`` round-trips as {"id": null}, which Discord's
        # response schema does not allow.
        super().__init__(
            discord.ui.Button(label=f"{emoji} {label or text}", style=style, custom_id=click.custom_id), row=row
        )
        self.click = click

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        click = Click(Action(match["action"]), match["job"], int(match["index"]), int(match["owner"]))
        label = item.label.partition(" ")[2] if isinstance(item, discord.ui.Button) and item.label else None
        return cls(click, label=label or None)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        handler = _handlers.get(interaction.client)
        if handler is None:
            log.warning("no action handler registered; click on %s ignored", self.click.custom_id)
            return
        await handler.on_click(interaction, self.click)


def _label(action: Action, locale: Locale) -> str:
    return t(_STYLE[action][0], locale)


def result_view(job: Job, *, owner_id: int | None = None, locale: Locale = None) -> discord.ui.View:
    """Reroll, Remix, Restyle and Delete; Vary (Subtle), Vary (Strong), Upscale (and Restyle when there are several
    images) per image: a row each, at most 5 rows; one image's two Varys share a row.

    Labels in ``locale`` (a re-post: the asker's language), else the job's language."""
    locale = locale or job.locale
    owner = job.user_id if owner_id is None else owner_id
    count = min(result_image_count(job), MAX_IMAGE_BUTTONS)
    view = discord.ui.View(timeout=None)
    first_row = [Action.REROLL, Action.REMIX, *([Action.RESTYLE] if count == 1 else []), Action.DELETE]
    if count == 0:  # a workflow that made a video: nothing to reroll from or act on (its link is in the embed)
        first_row = [Action.DELETE]
    for action in first_row:
        view.add_item(ActionButton(Click(action, job.id, 0, owner), label=_label(action, locale), row=0))
    vary = [Action.VARY, Action.VARY_STRONG] if supports_vary(job.request) else []
    rows = [
        *([vary] if count == 1 else [[action] for action in vary]),
        [Action.UPSCALE] if supports_upscale(job.request) else [],
        [Action.RESTYLE] if count > 1 else [],
    ]
    for row, actions in enumerate([r for r in rows if r], start=1):
        for action in actions:
            for index in range(count):
                label = _label(action, locale) if count == 1 else t(_NUMBERED[action], locale, number=index + 1)
                view.add_item(ActionButton(Click(action, job.id, index, owner), label=label, row=row))
    return view


def cancel_view(job: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ActionButton(Click(Action.CANCEL, job.id, 0, job.user_id), label=_label(Action.CANCEL, job.locale)))
    return view
