"""/blend: 2–5 images into one. Validate (no I/O) → defer → choose the mode (the member's, else the cheapest the
server allows that takes them all) → pre-check, fetch and publish every image → enqueue, like /imagine
(``bot.generation.blending`` has the rules)."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.attachments import checked_ref
from bot.discord_app.autocomplete import blend_choices
from bot.discord_app.requester import requester_from_interaction
from bot.discord_app.starting import JobStarter
from bot.errors import InvalidRequestError
from bot.generation.blending import blend_modes, blend_request
from bot.generation.builder import ASPECT_RATIOS, RequestBuilder
from bot.generation.restyle import SourcePublisher
from bot.i18n import N_
from bot.jobs.routing import ModeRouter
from bot.media.sources import SourceImageFetcher
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest, JobKind, new_job_id

log = logging.getLogger(__name__)


class BlendCog(commands.Cog):
    def __init__(
        self,
        *,
        starter: JobStarter,
        router: ModeRouter,
        builder: RequestBuilder,
        transport: ImageTransport,
        sources: SourceImageFetcher,
    ) -> None:
        self.starter = starter
        self.router = router  # the cheapest mode the server allows
        self.builder = builder
        self.publisher = SourcePublisher(sources, transport)  # member images by URL, allowlisted hosts only

    @app_commands.command(name="blend", description="Blend 2 to 5 images into one")
    @app_commands.describe(
        image1="The first image (PNG, JPEG, WebP or GIF, up to 10 MB)",
        image2="The second image",
        image3="Another image (optional)",
        image4="Another image (optional)",
        image5="Another image (optional)",
        prompt="What to make of them (optional)",
        aspect="Aspect ratio",
        mode="Model: kontext-max, seedream, seedream-4.5 or img1 (default: the cheapest allowed)",
    )
    @app_commands.choices(aspect=[app_commands.Choice(name=r, value=r) for r in ASPECT_RATIOS])
    async def blend(
        self,
        interaction: discord.Interaction,
        image1: discord.Attachment,
        image2: discord.Attachment,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        image5: discord.Attachment | None = None,
        prompt: app_commands.Range[str, 1, 2000] | None = None,
        aspect: str | None = None,
        mode: str | None = None,
    ) -> None:
        attached = ((image1, "image1"), (image2, "image2"), (image3, "image3"), (image4, "image4"), (image5, "image5"))
        images = [ref for a, field in attached if (ref := checked_ref(a, field)) is not None]
        count = len(images)

        def in_mode(name: str) -> GenerationRequest:  # the member's blend in a mode (no I/O)
            return blend_request(self.builder, prompt, mode=name, aspect_ratio=aspect, count=count)

        if mode:
            in_mode(mode)  # refused now, before the defer, when that mode cannot take them
        modes = [mode] if mode else blend_modes(self.builder, count)
        if not modes:
            raise InvalidRequestError("image", N_("no configured mode takes {count} images at once."), count=count)
        response = await interaction.response.defer(thinking=True)
        request = await self.router.cheapest(requester_from_interaction(interaction), in_mode, modes)
        job_id = new_job_id()

        async def prepare(request: GenerationRequest) -> GenerationRequest:
            return await self.publisher.prepare_imagine(request, images, None, job_id=job_id)

        await self.starter.start_interaction(
            interaction,
            request,
            kind=JobKind.BLEND,
            response_message_id=response.message_id if response else None,
            job_id=job_id,
            prepare=prepare,  # every image fetched and uploaded once admitted
            in_mode=in_mode,  # a cheaper mode, when a points budget refuses this one
        )

    @blend.autocomplete("mode")
    async def mode_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return blend_choices(self.builder, current)
