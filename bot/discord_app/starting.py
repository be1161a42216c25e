"""Starting jobs from Discord: shared by every cog (slash commands, replies, context menus, buttons).

The two origins differ only in where progress shows: an interaction's deferred response, or (for a
reply that mentions the bot) a progress message the bot posts as a reply to the member's message.

Before spending, a job is quoted (``JobService.quote``): when its estimate is above the server's threshold the
member confirms it first (``Questions``), after the admission's pre-check and before any image work; nothing is
queued or claimed until they do. Expensive work before a job (``prepare``: fetching, checking and publishing
member or result images) runs here, after ``JobService.precheck``: a member the admission would refuse costs no
download and no upload. When a points budget refuses the request, the refusal offers the cheapest mode that
fits (``in_mode``: the same request in another mode) as a button that starts it the same way.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import discord

from bot.discord_app.ack_priority import AckPriority
from bot.discord_app.confirming import Confirmed, Questions
from bot.discord_app.replies import answer_error, tell
from bot.discord_app.requester import requester_from_interaction, requester_from_message
from bot.discord_app.ui.embeds import cheaper_offer, progress_text, quote_question
from bot.discord_app.ui.views import cancel_view
from bot.errors import BotError, QuotaExceededError
from bot.generation.fingerprint import request_fingerprint
from bot.i18n import LocaleResolver
from bot.jobs import JobService, Progress, Stage
from bot.jobs.admission import Requester
from bot.models import GenerationRequest, Job, JobKind, new_job_id, utcnow

log = logging.getLogger(__name__)

Prepare = Callable[[GenerationRequest], Awaitable[GenerationRequest]]
"""The expensive step before a job starts: the request with its images fetched, checked and published."""

InMode = Callable[[str], GenerationRequest]
"""The same request in another mode (by name), checked as the member's own would be (no I/O): raises a BotError
when that mode cannot take it (its images, options or language). Lets a points refusal offer a cheaper mode."""


@dataclass(frozen=True, slots=True)
class _Ask:
    """What a member asked for: enough to start it, after a confirmation, or again in another mode."""

    request: GenerationRequest
    kind: JobKind
    parent_job_id: str | None
    job_id: str | None
    parent_message_id: int | None
    prepare: Prepare | None
    in_mode: InMode | None


class JobStarter:
    """Starts the jobs members ask for on Discord (slash commands, buttons, forms, reply + mention): quotes them
    (and asks the member to confirm when the server wants that), builds the Job from the Discord objects, has
    JobService start it, and shows its queue position and a Cancel button."""

    def __init__(
        self,
        jobs: JobService,
        locales: LocaleResolver,
        acks: AckPriority,
        questions: Questions,
        *,
        token_ttl: float,
        modes: Sequence[str] = (),
    ) -> None:
        self.jobs = jobs
        self._locales = locales
        self._acks = acks
        self._questions = questions
        self._token_ttl = token_ttl
        self._modes = tuple(modes)  # every configured mode, the candidates of a cheaper-mode offer

    async def start_interaction(
        self,
        interaction: discord.Interaction,
        request: GenerationRequest,
        *,
        kind: JobKind = JobKind.IMAGINE,
        parent_job_id: str | None = None,
        response_message_id: int | None = None,
        job_id: str | None = None,
        parent_message_id: int | None = None,
        prepare: Prepare | None = None,
        in_mode: InMode | None = None,
    ) -> Job | None:
        """Enqueue a job for an already-deferred interaction and show its queue position (and a Cancel
        button) there. ``parent_message_id``: the result message a button action came from; ``prepare``:
        the request's image work, run only once the member passes the admission's pre-check; ``in_mode``: the
        request in another mode, for a cheaper-mode offer.

        A job whose cost the member confirms runs on their Confirm click's response instead (refusals from then
        on are answered there). None when nothing was queued and no error is left to raise: the member did not
        confirm, or a refusal with a cheaper-mode offer was shown."""
        await self._acks.wait_turn()  # enqueueing can wait for a burst's other commands to be answered
        ask = _Ask(request, kind, parent_job_id, job_id, parent_message_id, prepare, in_mode)
        try:
            return await self._start_interaction(interaction, ask, response_message_id)
        finally:
            self.jobs.wake()

    async def _start_interaction(
        self,
        interaction: discord.Interaction,
        ask: _Ask,
        response_message_id: int | None,
        *,
        confirmed: bool = False,
    ) -> Job | None:
        requester = requester_from_interaction(interaction)
        locale = await self._locales.for_interaction(interaction)  # progress and results use it later
        try:
            if not confirmed:
                question = await self._question(requester, ask.request, locale)
                if question is not None:
                    click = await self._questions.confirm_privately(interaction, question, locale=locale)
                    return await self._on_confirmed(click, ask) if click is not None else None
            request = await self._prepared(requester, ask.request, ask.prepare)
            job = _new_job(
                requester,
                request,
                job_id=ask.job_id,
                kind=ask.kind,
                parent_job_id=ask.parent_job_id,
                locale=locale,
                application_id=interaction.application_id,
                interaction_token=interaction.token,
                interaction_expires_at=utcnow() + timedelta(seconds=self._token_ttl),
                progress_message_id=response_message_id,
                parent_message_id=ask.parent_message_id,
            )
            job, position = await self.jobs.start(requester, job)
        except QuotaExceededError as refusal:
            if not await self._offer_cheaper(interaction, requester, ask, refusal, locale):
                raise
            return None
        progress = Progress(Stage.QUEUED, position=position, eta=self.jobs.estimated_wait(position))
        await interaction.edit_original_response(content=progress_text(job, progress), view=cancel_view(job))
        return job

    async def _on_confirmed(self, click: Confirmed, ask: _Ask) -> Job | None:
        """The member confirmed: the job starts on their click's response (deferred by ``Questions``), and any
        refusal is answered there (the command's own response is gone)."""
        try:
            return await self._start_interaction(click.interaction, ask, click.response_message_id, confirmed=True)
        except Exception as exc:
            await answer_error(click.interaction, exc, await self._locales.for_interaction(click.interaction))
            return None

    async def start_message(
        self,
        message: discord.Message,
        request: GenerationRequest,
        *,
        kind: JobKind = JobKind.RESTYLE,
        parent_job_id: str | None = None,
        job_id: str | None = None,
        locale: str = "en-US",
        prepare: Prepare | None = None,
        in_mode: InMode | None = None,
    ) -> Job | None:
        """Enqueue a job asked for in a message (reply + mention); progress and the result reply to it.
        ``prepare``, ``in_mode``: as for ``start_interaction``. A cost confirmation is asked in a reply, which
        becomes the progress message once confirmed.

        Raises BotError when refused; the caller tells the member (there is no ephemeral channel here). None
        when the member did not confirm, or a refusal with a cheaper-mode offer was posted."""
        requester = requester_from_message(message)
        ask = _Ask(request, kind, parent_job_id, job_id, None, prepare, in_mode)
        confirmation: discord.Message | None = None
        try:
            question = await self._question(requester, request, locale)
            if question is not None:
                confirmation = await self._questions.confirm_in_reply(message, question, locale=locale)
                if confirmation is None:
                    return None
            request = await self._prepared(requester, request, prepare)
            job = _new_job(
                requester,
                request,
                job_id=job_id,
                kind=kind,
                parent_job_id=parent_job_id,
                locale=locale,
                reply_to_message_id=message.id,
            )
            job, position = await self.jobs.start(requester, job)
        except Exception as exc:
            if confirmation is not None:  # "✅ Confirmed" must not stay above a refusal
                with contextlib.suppress(discord.HTTPException):
                    await confirmation.delete()
            if isinstance(exc, QuotaExceededError) and await self._offer_cheaper(message, requester, ask, exc, locale):
                return None
            raise
        try:
            text = progress_text(job, Progress(Stage.QUEUED, position=position))
            if confirmation is not None:
                progress = await confirmation.edit(content=text, view=cancel_view(job))
            else:
                progress = await message.reply(
                    text,
                    mention_author=False,
                    allowed_mentions=discord.AllowedMentions.none(),
                    view=cancel_view(job),
                )
            await self.jobs.attach_progress_message(job.id, progress.id)
            job.progress_message_id = progress.id
        finally:
            self.jobs.wake()
        return job

    async def _question(self, requester: Requester, request: GenerationRequest, locale: str) -> str | None:
        """The question to ask before ``request`` when its estimate is above the server's threshold, else None.
        A member the admission would refuse is refused (pre-check) instead of asked."""
        quote = await self.jobs.quote(requester, request)
        if not quote.needs_confirm:
            return None
        await self.jobs.precheck(requester, request)
        expires_at = utcnow() + timedelta(seconds=self._questions.timeout)
        return quote_question(request, quote, expires_at=expires_at, locale=locale)

    async def _prepared(
        self, requester: Requester, request: GenerationRequest, prepare: Prepare | None
    ) -> GenerationRequest:
        """Admit first, then fetch: the pre-check (advisory; ``JobService.start`` still decides) before the
        expensive ``prepare``."""
        if prepare is None:
            return request
        await self.jobs.precheck(requester, request)
        return await prepare(request)

    async def _offer_cheaper(
        self,
        target: discord.Interaction | discord.Message,
        requester: Requester,
        ask: _Ask,
        refusal: QuotaExceededError,
        locale: str,
    ) -> bool:
        """When a points budget refused ``ask``: show the refusal with a button for the cheapest mode that fits
        (allowed here, able to take the request, within every budget), which starts the same request in that mode
        by the same rules (confirmation included). False (nothing shown) when there is none."""
        if refusal.unit != "points" or ask.in_mode is None:
            return False
        alternatives = []
        for name in self._modes:
            try:
                alternatives.append(ask.in_mode(name))
            except BotError:
                continue  # that mode cannot take this request
        found = await self.jobs.cheaper_alternative(requester, ask.request, alternatives)
        if found is None:
            return False
        request, quote = found
        line, label = cheaper_offer(request, quote, locale)
        other = dataclasses.replace(ask, request=request)

        async def run(click: discord.Interaction) -> None:
            response = await click.response.defer(thinking=True)
            try:
                await self._start_interaction(click, other, response.message_id if response is not None else None)
            except Exception as exc:
                await answer_error(click, exc, await self._locales.for_interaction(click))
            finally:
                self.jobs.wake()

        log.info("refused on points; offering %s instead: %s", request.mode, refusal.message)
        view = self._questions.offer(requester.user_id, label, run)
        await tell(target, f"{refusal.localized(locale)}\n{line}", view=view)
        return True


def _new_job(
    requester: Requester,
    request: GenerationRequest,
    *,
    job_id: str | None,
    kind: JobKind,
    parent_job_id: str | None,
    locale: str,
    **delivery: Any,
) -> Job:
    """The job a member asked for, wherever they asked; ``delivery``: where its progress and result go."""
    return Job(
        id=job_id or new_job_id(),
        user_id=requester.user_id,
        channel_id=requester.channel_id,
        guild_id=requester.guild_id,
        request=request,
        kind=kind,
        parent_job_id=parent_job_id,
        locale=locale,
        fingerprint=request_fingerprint(request),
        **delivery,
    )
