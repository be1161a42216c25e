"""Buttons under results and progress messages, surviving restarts (discord.py DynamicItem).

A button's custom id carries everything its click needs: ``lb:<action>:<job id>:<image index>:<owner>``.
``owner`` is the member the message was posted for (the requester; whoever asked for a re-post with
``/show`` or got a re-posted identical result), so a click is refused or accepted without any I/O.
The click itself is handled by the ``ActionHandler`` registered for the client (cogs/buttons.py). Zoom Out, Make
Square and Pan have ids of the same shape (``lb:zoom2:…``, ``lb:panright:…``) under a pattern of their own
(``OutpaintButton``); which of them, and Upscale's price, the owner's settings decide (``ResultOffers``).
"""

from __future__ import annotations

import logging
import re
import weakref
from dataclasses import dataclass
from typing import Any, Protocol, Self

import discord

from bot.discord_app.ui.offers import ResultOffers
from bot.generation.actions import OUTPAINTS, Action, supports_vary
from bot.i18n import N_, Locale, t
from bot.media.outpaint import PANS, Outpaint
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
    client.add_dynamic_items(ActionButton, OutpaintButton)


def unregister_handler(client: discord.Client) -> None:
    _handlers.pop(client, None)
    client.remove_dynamic_items(ActionButton, OutpaintButton)


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


def result_view(
    job: Job, *, owner_id: int | None = None, locale: Locale = None, offers: ResultOffers | None = None
) -> discord.ui.View:
    """Reroll, Remix, Restyle and Delete; Vary (Subtle), Vary (Strong), Upscale (and Restyle when there are several
    images) per image: a row each, at most 5 rows; one image's two Varys share a row. A result of one image also
    gets Zoom Out, Make Square and Pan (two rows). ``offers``: what the owner's settings offer (default settings
    when None).

    Labels in ``locale`` (a re-post: the asker's language), else the job's language."""
    locale = locale or job.locale
    offers = offers or ResultOffers()
    upscale_points = offers.upscale_points(job)
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
        [Action.UPSCALE] if upscale_points is not None else [],
        [Action.RESTYLE] if count > 1 else [],
    ]
    for row, actions in enumerate([r for r in rows if r], start=1):
        for action in actions:
            for index in range(count):
                label = _label(action, locale) if count == 1 else t(_NUMBERED[action], locale, number=index + 1)
                if action is Action.UPSCALE and upscale_points is not None:
                    label = _upscale_label(index, count, upscale_points, locale)
                view.add_item(ActionButton(Click(action, job.id, index, owner), label=label, row=row))
    _add_outpaint_rows(view, job, owner, locale, offers.outpaints(job))
    return view


# -- Upscale prices, Zoom Out, Make Square, Pan (issue 20 items 1-2) ------------------------------------------------

OUTPAINT_ID = re.compile(
    r"lb:(?P<action>zoom2|zoom15|square|panleft|panright|panup|pandown):(?P<job>[0-9A-Za-z_-]{1,40}):(?P<index>\d{1,2}):(?P<owner>\d{1,20})"
)
_STYLE.update(
    {
        Action.ZOOM_OUT_2: (N_("Zoom Out 2x"), "🔭", discord.ButtonStyle.secondary),
        Action.ZOOM_OUT_15: (N_("Zoom Out 1.5x"), "🔭", discord.ButtonStyle.secondary),
        Action.MAKE_SQUARE: (N_("Make Square"), "🔳", discord.ButtonStyle.secondary),
        Action.PAN_LEFT: (N_("Pan left"), "⬅️", discord.ButtonStyle.secondary),
        Action.PAN_RIGHT: (N_("Pan right"), "➡️", discord.ButtonStyle.secondary),
        Action.PAN_UP: (N_("Pan up"), "⬆️", discord.ButtonStyle.secondary),
        Action.PAN_DOWN: (N_("Pan down"), "⬇️", discord.ButtonStyle.secondary),
    }
)
MAX_ROWS = 5  # Discord's limit of action rows in one message


class OutpaintButton(ActionButton, template=OUTPAINT_ID):
    """Zoom Out, Make Square and Pan: an ``ActionButton`` of their own id pattern; a pan shows its arrow only."""

    def __init__(self, click: Click, *, label: str | None = None, row: int | None = None) -> None:
        super().__init__(click, label=label, row=row)
        if OUTPAINTS[click.action] in PANS:
            self.item.label = _STYLE[click.action][1]


def _upscale_label(index: int, count: int, points: int, locale: Locale) -> str:
    """ "Upscale (≈ 8 points)", or "U2 ≈8" under a result of several images: the cost, before the click."""
    if count == 1:
        return t("Upscale (≈ {points} points)", locale, points=points)
    return t("U{number} ≈{points}", locale, number=index + 1, points=points)


def _add_outpaint_rows(view: discord.ui.View, job: Job, owner: int, locale: Locale, kinds: list[Outpaint]) -> None:
    """Zoom Out 2x, 1.5x and Make Square on one row, the four pans on the next, after the rows in use (while
    Discord's five rows last)."""
    used = [item.row for item in view.children if item.row is not None]
    first = max(used, default=-1) + 1
    zooms = [k for k in kinds if k not in PANS]
    pans = [k for k in kinds if k in PANS]
    for row, group in enumerate([g for g in (zooms, pans) if g], start=first):
        if row >= MAX_ROWS:
            log.warning("job %s: no room for the outpainting buttons", job.id)
            return
        for kind in group:
            action = Action(kind.value)
            view.add_item(OutpaintButton(Click(action, job.id, 0, owner), label=_label(action, locale), row=row))


def cancel_view(job: Job) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(ActionButton(Click(Action.CANCEL, job.id, 0, job.user_id), label=_label(Action.CANCEL, job.locale)))
    return view
