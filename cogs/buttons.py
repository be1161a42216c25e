"""Result buttons: Reroll, Vary (Subtle), Vary (Strong), Upscale, Zoom Out, Make Square, Pan, Remix (a modal to edit
the prompt), Delete, and Cancel.

Every click is checked against the owner in the button's custom id before anything else (no I/O), so a
stranger's click is refused privately and costs nothing. New jobs start through
``JobStarter.start_interaction`` (bot.discord_app.starting) like ``/imagine``, so quotas apply identically; the click is
answered with a "thinking" response, which becomes the new job's own message (progress, then result).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable

import discord
from discord.ext import commands

from bot.discord_app.replies import answer_error
from bot.discord_app.repost import posted_result_image
from bot.discord_app.requester import requester_from_interaction
from bot.discord_app.restyling import Restyler, image_refs
from bot.discord_app.starting import JobStarter, Prepare
from bot.discord_app.ui.embeds import cancelled_text
from bot.discord_app.ui.views import Click
from bot.errors import BotError, InvalidRequestError, NotJobOwnerError
from bot.generation.actions import (
    JOB_KIND,
    OUTPAINTS,
    VARIATIONS,
    Action,
    may_act,
    reroll_request,
    supports_vary,
    vary_request,
)
from bot.generation.builder import RequestBuilder
from bot.generation.families import mode_name
from bot.generation.result_edits import Outpainter, Upscaler
from bot.i18n import N_, LocaleResolver, Text, t
from bot.jobs import JobService
from bot.jobs.admission import Requester
from bot.media.outpaint import Outpaint
from bot.media.results import source_from_result
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest, Job, has_result, new_job_id, result_image, result_image_count
from bot.quotas import QuotaService
from bot.settings import ActionsSettings

log = logging.getLogger(__name__)

# The Remix form's choices that outpaint the image with the edited prompt.
REMIX_OUTPAINTS: dict[Outpaint, str] = {
    Outpaint.ZOOM_OUT_2: N_("Zoom Out 2x"),
    Outpaint.ZOOM_OUT_15: N_("Zoom Out 1.5x"),
    Outpaint.SQUARE: N_("Make Square"),
    Outpaint.PAN_LEFT: N_("Pan left"),
    Outpaint.PAN_RIGHT: N_("Pan right"),
    Outpaint.PAN_UP: N_("Pan up"),
    Outpaint.PAN_DOWN: N_("Pan down"),
}


class NoResultError(BotError):
    def __init__(self, job: Job) -> None:
        super().__init__(
            N_("Job `{job_id}` has no result to work from (it is {state})."), job_id=job.id, state=Text(str(job.state))
        )


class RemixModal(discord.ui.Modal):
    """Edit the prompt, then reroll or vary one image (subtly or strongly)."""

    def __init__(self, cog: ButtonsCog, job: Job, locale: str) -> None:
        super().__init__(title=t("Remix", locale), custom_id=f"lb-remix:{job.id}", timeout=900)
        self.cog = cog
        self.job_id = job.id
        self.prompt: discord.ui.TextInput[RemixModal] = discord.ui.TextInput(
            style=discord.TextStyle.paragraph,
            custom_id="prompt",
            default=job.request.prompt[:2000],
            min_length=1,
            max_length=2000,
        )
        self.add_item(discord.ui.Label(text=t("Prompt", locale), component=self.prompt))
        options = [discord.SelectOption(label=t("Reroll (new seed)", locale), value="reroll", default=True)]
        count = result_image_count(job) if supports_vary(job.request) else 0
        varies = [
            (Action.VARY, N_("Vary image {number} (subtle)"), N_("Vary the image (subtle)")),
            (Action.VARY_STRONG, N_("Vary image {number} (strong)"), N_("Vary the image (strong)")),
        ]
        options += [
            discord.SelectOption(
                label=t(numbered, locale, number=n + 1) if count > 1 else t(single, locale), value=f"{action}:{n}"
            )
            for n in range(min(count, 5))
            for action, numbered, single in varies
        ]
        options += [  # Zoom Out, Make Square, Pan with the edited prompt (a result of one image)
            discord.SelectOption(label=t(REMIX_OUTPAINTS[kind], locale), value=f"{kind}:0")
            for kind in cog.outpainter.kinds(job)
        ]
        self.choice: discord.ui.Select[RemixModal] = discord.ui.Select(
            custom_id="action", options=options, min_values=1, max_values=1
        )
        self.add_item(discord.ui.Label(text=t("Then", locale), component=self.choice))

    async def on_submit(self, interaction: discord.Interaction) -> None:
        picked = self.choice.values[0] if self.choice.values else "reroll"
        action, _, index = picked.partition(":")
        await self.cog.run_guarded(
            interaction,
            self.cog.remix_submitted(interaction, self.job_id, self.prompt.value, Action(action), int(index or 0)),
        )


class ButtonsCog(commands.Cog):
    def __init__(
        self,
        *,
        jobs: JobService,
        starter: JobStarter,
        builder: RequestBuilder,
        transport: ImageTransport,
        restyler: Restyler,
        locales: LocaleResolver,
        settings: ActionsSettings,
        quotas: QuotaService,
        upscaler: Upscaler,
        outpainter: Outpainter,
    ) -> None:
        self.upscaler = upscaler  # U1-U4: that very image, larger
        self.outpainter = outpainter  # Zoom Out, Make Square, Pan
        self.jobs = jobs
        self.starter = starter
        self.builder = builder
        self.transport = transport
        self.restyler = restyler
        self.locales = locales
        self.settings = settings
        self.quotas = quotas  # the servers' `/settings buttons` choice

    # -- entry points ------------------------------------------------------------------------------

    async def on_click(self, interaction: discord.Interaction, click: Click) -> None:
        await self.run_guarded(interaction, self._dispatch(interaction, click))

    async def run_guarded(self, interaction: discord.Interaction, work: Awaitable[None]) -> None:
        """Run a click's or form's work; a failure becomes a private reply (``answer_error``)."""
        try:
            await work
        except Exception as exc:
            await answer_error(interaction, exc, await self.locales.for_interaction(interaction))

    async def _dispatch(self, interaction: discord.Interaction, click: Click) -> None:
        requester = requester_from_interaction(interaction)
        allowed = may_act(
            click.action,
            actor_id=interaction.user.id,
            owner_id=click.owner_id,
            is_admin=requester.is_admin,
            open_to_everyone=await self._buttons_open(requester),
        )
        if not allowed:
            raise NotJobOwnerError()
        if click.action is Action.CANCEL:
            await self._cancel(interaction, click, is_admin=requester.is_admin)
        elif click.action is Action.DELETE:
            await interaction.response.defer()
            await interaction.delete_original_response()  # the message the button is on
        elif click.action is Action.RESTYLE:
            await self._restyle(interaction, click)
        elif click.action is Action.REMIX:
            job = await self._parent(interaction, click.job_id)  # a local read: the modal must be the first response
            locale = await self.locales.for_interaction(interaction)
            await interaction.response.send_modal(RemixModal(self, job, locale))
        else:
            await self._new_job(interaction, click.action, click.job_id, click.index)

    async def _buttons_open(self, requester: Requester) -> bool:
        """The bot-wide switch, or the server's `/settings buttons` choice."""
        if self.settings.open_to_everyone:
            return True
        if requester.guild_id is None:
            return False
        policy = await self.quotas.policy_for(
            requester.guild_id, user_id=requester.user_id, channel_id=requester.channel_id
        )
        return policy.buttons_open

    # -- actions -----------------------------------------------------------------------------------

    async def _cancel(self, interaction: discord.Interaction, click: Click, *, is_admin: bool) -> None:
        job = await self.jobs.cancel(click.job_id, actor_id=interaction.user.id, is_admin=is_admin)
        # The progress message is in the job's language; so is its cancellation.
        await interaction.response.edit_message(content=cancelled_text(job, interaction.user.id), view=None)

    async def _restyle(self, interaction: discord.Interaction, click: Click) -> None:
        """The restyle modal on that image, as posted in the result message (a Discord URL we may fetch)."""
        images = image_refs(interaction.message) if interaction.message else []
        if not 0 <= click.index < len(images):
            raise InvalidRequestError("image", N_("that image is not part of this result."))
        await self.restyler.open_form(interaction, image_url=images[click.index].url, parent_job_id=click.job_id)

    async def _parent(self, interaction: discord.Interaction, job_id: str) -> Job:
        """The job a button acts on, if the clicker may see it (a button can outlive who it was posted for)."""
        job = await self.jobs.get_visible(job_id, requester_from_interaction(interaction))
        if not has_result(job):
            raise NoResultError(job)
        return job

    async def _new_job(
        self, interaction: discord.Interaction, action: Action, job_id: str, index: int, prompt: str | None = None
    ) -> None:
        response = await interaction.response.defer(thinking=True)
        parent = await self._parent(interaction, job_id)
        new_id = new_job_id()
        request = self._request_for(parent, action, index, prompt)
        stem = f"{new_id}-src"

        async def posted() -> tuple[bytes, str]:  # once LiblibAI's result URL has expired
            return await posted_result_image(interaction, parent, index)

        async def publish_source(request: GenerationRequest) -> GenerationRequest:
            source = await source_from_result(self.transport, parent, index, stem=stem, posted=posted)
            return request.with_(source_images=(source,))

        async def upscale(request: GenerationRequest) -> GenerationRequest:
            return await self.upscaler.prepare(request, parent, index, stem=stem, posted=posted)

        async def outpaint(request: GenerationRequest) -> GenerationRequest:
            return await self.outpainter.prepare(request, parent, index, OUTPAINTS[action], stem=stem, posted=posted)

        prepare: Prepare | None = None  # the image work, done once the member is admitted
        if action in VARIATIONS:
            prepare = publish_source
        elif action is Action.UPSCALE:
            prepare = upscale
        elif action in OUTPAINTS:
            prepare = outpaint
        own_mode = action is Action.UPSCALE or action in OUTPAINTS
        await self.starter.start_interaction(
            interaction,
            request,
            kind=JOB_KIND[action],
            parent_job_id=parent.id,
            response_message_id=response.message_id if response else None,
            job_id=new_id,
            parent_message_id=interaction.message.id if interaction.message else None,
            prepare=prepare,
            # A cheaper mode, when a points budget refuses this one; an Upscale and an outpainting go where their
            # settings send them.
            in_mode=None if own_mode else lambda name: self.builder.in_mode(request, name),
        )

    def _request_for(self, parent: Job, action: Action, index: int, prompt: str | None = None) -> GenerationRequest:
        """The new job's request (no I/O), with ``prompt`` (a Remix's) instead of the original when given. A result
        used as the source stands as its result URL until the job's ``prepare`` has checked and published it."""
        if not 0 <= index < result_image_count(parent):
            raise InvalidRequestError("image", N_("that image is not part of this result."))
        if action in OUTPAINTS:  # checked for the inpainting mode, the prompt included
            return self.outpainter.request(parent, index, prompt=prompt)
        request = self._same_prompt_request(parent, action, index)
        return request.with_(prompt=prompt) if prompt is not None else request

    def _same_prompt_request(self, parent: Job, action: Action, index: int) -> GenerationRequest:
        if action is Action.REROLL:
            return reroll_request(parent)
        if action in VARIATIONS:
            if not supports_vary(parent.request):
                raise InvalidRequestError("vary", N_("this result cannot be varied with its mode."))
            return vary_request(parent, result_image(parent, index).url, VARIATIONS[action])
        return self.upscaler.request(parent, index)

    async def remix_submitted(
        self, interaction: discord.Interaction, job_id: str, prompt: str, action: Action, index: int
    ) -> None:
        parent = await self._parent(interaction, job_id)
        if action in OUTPAINTS:  # the prompt goes to the inpainting mode, and is checked for it there
            await self._new_job(interaction, action, job_id, index, prompt=prompt)
            return
        request = parent.request
        mode = self.builder.resolve_mode(mode_name(request))  # "kontext" without a model: the configured default
        images = len(request.source_images)  # the parent's images are checked again with the new prompt
        checked = self.builder.build(  # same prompt rules as /imagine (no I/O)
            prompt,
            mode=mode,
            has_image=images > 0,
            reference_count=max(0, images - 1),
            has_mask=request.mask_image is not None,
        )
        await self._new_job(interaction, action, job_id, index, prompt=checked.prompt)
