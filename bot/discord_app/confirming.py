"""Questions the bot asks a member before spending: confirm a job's estimated cost, or take the cheaper mode a
points refusal offers.

Both are buttons (``lbq:<choice>:<nonce>:<owner>``, discord.py dynamic items) whose answers live in this
process's memory only: a restart forgets every open question, and a click on a forgotten, expired or already
answered one is told so and starts nothing. Only ``owner`` (the member who asked) may answer. The first answer
wins: it is claimed before any await, so a double click confirms (or takes an offer) once, and a click racing
the timeout either claims the question or finds it expired, never both.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import secrets
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Self

import discord

from bot.discord_app.replies import answer_error, reply_private
from bot.i18n import N_, LocaleResolver, t

log = logging.getLogger(__name__)

CUSTOM_ID = re.compile(r"lbq:(?P<choice>yes|no|offer):(?P<nonce>[0-9a-f]{16}):(?P<owner>\d{1,20})")
OFFER_TTL = 900.0  # seconds a cheaper-mode offer can be taken (the refusal's interaction lives 15 minutes)

CONFIRMED = N_("✅ Confirmed.")
DECLINED = N_("Cancelled: nothing was queued and nothing was charged.")
EXPIRED = N_("⌛ Not confirmed in time: nothing was queued and nothing was charged.")
STALE = N_("This question has expired or was already answered: nothing more was queued.")
OFFER_STALE = N_("This offer has expired or was already used. Run the command again.")
NOT_YOURS = N_("Only the member who made this request can answer this.")


class Choice(StrEnum):
    YES = "yes"
    NO = "no"
    OFFER = "offer"


@dataclass(frozen=True, slots=True)
class Confirmed:
    """A member's Confirm click. On an interaction's question it was answered with a new public "thinking"
    response (``response_message_id``), which the job takes over; on a message's question it edited the question."""

    interaction: discord.Interaction
    response_message_id: int | None = None


Answer = Confirmed | bool | None  # the Confirm click; False: declined; None: expired (or the bot is stopping)
OfferRun = Callable[[discord.Interaction], Awaitable[None]]


@dataclass(slots=True)
class _Question:
    owner_id: int
    locale: str
    thinking: bool  # confirm with a new "thinking" response (interactions), else by editing the question
    answer: asyncio.Future[Answer]


@dataclass(frozen=True, slots=True)
class _Offer:
    owner_id: int
    run: OfferRun
    expires: float  # monotonic


class Questions:
    """Open questions to members, by nonce: cost confirmations (``confirm_privately``, ``confirm_in_reply``) and
    cheaper-mode offers (``offer``); ``on_click`` answers them."""

    def __init__(
        self,
        locales: LocaleResolver,
        *,
        timeout: float,
        offer_ttl: float = OFFER_TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.timeout = timeout
        self._locales = locales
        self._offer_ttl = offer_ttl
        self._clock = clock
        self._pending: dict[str, _Question] = {}
        self._offers: dict[str, _Offer] = {}
        self._closed = False

    # -- asking --------------------------------------------------------------------------------------

    async def confirm_privately(self, interaction: discord.Interaction, text: str, *, locale: str) -> Confirmed | None:
        """Ask the member of ``interaction`` (deferred publicly or not) in a private message with Confirm and
        Cancel. Returns their Confirm click, or None when they cancelled, the question expired (the message then
        says so) or the bot is stopping."""
        nonce, question = self._open(interaction.user.id, locale, thinking=True)
        try:
            view = self._question_view(nonce, question)
            prompt: discord.WebhookMessage | discord.InteractionMessage
            if interaction.response.is_done():
                # A public "thinking…" response cannot turn private, and the first follow-up would replace it.
                with contextlib.suppress(discord.HTTPException):
                    await interaction.delete_original_response()
                prompt = await interaction.followup.send(text, view=view, ephemeral=True, wait=True)
            else:
                await interaction.response.send_message(text, view=view, ephemeral=True)
                prompt = await interaction.original_response()
            answer = await self._wait(nonce, question)
        finally:
            self._pending.pop(nonce, None)
        if isinstance(answer, Confirmed):
            await _edit_quietly(prompt, t(CONFIRMED, locale))
            return answer
        if answer is None:
            await _edit_quietly(prompt, t(EXPIRED, locale))
        return None

    async def confirm_in_reply(self, message: discord.Message, text: str, *, locale: str) -> discord.Message | None:
        """Ask the author of ``message`` in a reply (a message has no private answer; the reply pings nobody).
        Returns the question's message once they confirmed (for the caller to turn into the job's progress),
        or None as for ``confirm_privately``."""
        nonce, question = self._open(message.author.id, locale, thinking=False)
        try:
            prompt = await message.reply(
                text,
                view=self._question_view(nonce, question),
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
            )
            answer = await self._wait(nonce, question)
        finally:
            self._pending.pop(nonce, None)
        if isinstance(answer, Confirmed):
            return prompt
        if answer is None:
            await _edit_quietly(prompt, t(EXPIRED, locale))
        return None

    def offer(self, owner_id: int, label: str, run: OfferRun) -> discord.ui.View:
        """A button that calls ``run`` with the click of ``owner_id``, once, within the offer's lifetime."""
        now = self._clock()
        self._offers = {n: o for n, o in self._offers.items() if o.expires > now}
        nonce = secrets.token_hex(8)
        self._offers[nonce] = _Offer(owner_id, run, now + self._offer_ttl)
        view = discord.ui.View(timeout=None)
        view.add_item(QuestionButton(Choice.OFFER, nonce, owner_id, label=f"💡 {label}"[:80]))
        return view

    def close(self) -> None:
        """The bot is stopping: every open question ends unanswered (nothing is queued), and so does any asked
        from now on."""
        self._closed = True
        pending, self._pending = self._pending, {}
        for question in pending.values():
            if not question.answer.done():
                question.answer.set_result(None)
        self._offers.clear()

    def _open(self, owner_id: int, locale: str, *, thinking: bool) -> tuple[str, _Question]:
        nonce = secrets.token_hex(8)
        question = _Question(owner_id, locale, thinking, asyncio.get_running_loop().create_future())
        self._pending[nonce] = question
        return nonce, question

    def _question_view(self, nonce: str, question: _Question) -> discord.ui.View:
        view = discord.ui.View(timeout=None)
        locale, owner = question.locale, question.owner_id
        view.add_item(QuestionButton(Choice.YES, nonce, owner, label=f"✅ {t('Confirm', locale)}"))
        view.add_item(QuestionButton(Choice.NO, nonce, owner, label=f"✖️ {t('Cancel', locale)}"))
        return view

    async def _wait(self, nonce: str, question: _Question) -> Answer:
        if self._closed and self._pending.pop(nonce, None) is not None:
            return None
        try:
            async with asyncio.timeout(self.timeout):
                return await asyncio.shield(question.answer)
        except TimeoutError:
            if self._pending.pop(nonce, None) is not None:
                return None  # nobody answered: expired
            return await question.answer  # a click claimed it at the last moment; its answer follows at once

    # -- answering -----------------------------------------------------------------------------------

    async def on_click(self, interaction: discord.Interaction, choice: Choice, nonce: str, owner_id: int) -> None:
        try:
            if interaction.user.id != owner_id:
                await reply_private(interaction, t(NOT_YOURS, await self._locales.for_interaction(interaction)))
            elif choice is Choice.OFFER:
                await self._take_offer(interaction, nonce)
            else:
                await self._answer(interaction, choice, nonce)
        except Exception as exc:
            await answer_error(interaction, exc, await self._locales.for_interaction(interaction))

    async def _answer(self, interaction: discord.Interaction, choice: Choice, nonce: str) -> None:
        question = self._pending.pop(nonce, None)  # claimed before any await: the first click wins
        if question is None or question.answer.done():
            await reply_private(interaction, t(STALE, await self._locales.for_interaction(interaction)))
            return
        answer: Answer = None
        try:
            if choice is Choice.NO:
                answer = False
                await interaction.response.edit_message(content=t(DECLINED, question.locale), view=None)
            elif question.thinking:
                response = await interaction.response.defer(thinking=True)
                answer = Confirmed(interaction, response.message_id if response is not None else None)
            else:
                answer = Confirmed(interaction)
                await interaction.response.edit_message(content=t(CONFIRMED, question.locale), view=None)
        finally:
            if not question.answer.done():  # (done only when its waiter was cancelled meanwhile)
                question.answer.set_result(answer)  # a Confirm Discord refused to acknowledge queues nothing

    async def _take_offer(self, interaction: discord.Interaction, nonce: str) -> None:
        offer = self._offers.pop(nonce, None)  # one click takes it
        if offer is None or offer.expires <= self._clock():
            await reply_private(interaction, t(OFFER_STALE, await self._locales.for_interaction(interaction)))
            return
        await offer.run(interaction)


async def _edit_quietly(prompt: discord.Message, text: str) -> None:
    with contextlib.suppress(discord.HTTPException):
        await prompt.edit(content=text, view=None)


_books: weakref.WeakKeyDictionary[discord.Client, Questions] = weakref.WeakKeyDictionary()


def register_questions(client: discord.Client, questions: Questions) -> None:
    """Route question clicks on ``client`` to ``questions`` (and register the dynamic item with it)."""
    _books[client] = questions
    client.add_dynamic_items(QuestionButton)


class QuestionButton(discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]], template=CUSTOM_ID):
    def __init__(self, choice: Choice, nonce: str, owner_id: int, *, label: str | None = None) -> None:
        style = {Choice.YES: discord.ButtonStyle.success, Choice.NO: discord.ButtonStyle.secondary}.get(
            choice, discord.ButtonStyle.primary
        )
        custom_id = f"lbq:{choice}:{nonce}:{owner_id}"
        super().__init__(discord.ui.Button(label=label or str(choice), style=style, custom_id=custom_id))
        self.choice = choice
        self.nonce = nonce
        self.owner_id = owner_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> Self:
        return cls(Choice(match["choice"]), match["nonce"], int(match["owner"]))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        questions = _books.get(interaction.client)
        if questions is None:
            log.warning("no questions registered; click on %s ignored", self.item.custom_id)
            return
        await questions.on_click(interaction, self.choice, self.nonce, self.owner_id)
