"""/imagine: validate → defer → pre-check, fetch and publish input images → enqueue → show the queue position."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.ack_priority import AckPriority
from bot.discord_app.attachments import checked_ref
from bot.discord_app.autocomplete import mode_choices, style_choices
from bot.discord_app.repost import repost_result
from bot.discord_app.requester import requester_from_interaction
from bot.discord_app.starting import JobStarter
from bot.generation.builder import ASPECT_RATIOS, RequestBuilder
from bot.generation.fingerprint import find_duplicate
from bot.generation.preferences import PreferenceService
from bot.generation.prompt_flags import PromptFlags, parse_flags
from bot.generation.resolution import Choices, Resolution, choose_style, resolve
from bot.generation.restyle import SourcePublisher
from bot.generation.styles import StyleCatalog, styled_prompt, with_style_loras
from bot.i18n import LocaleResolver, t
from bot.jobs.admission import Admission
from bot.jobs.routing import ModeRouter
from bot.liblib.endpoints import IMG1_QUALITIES, MAX_IMAGES_ANY_FAMILY, SEED_MAX
from bot.media.sources import SourceImageFetcher
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest, new_job_id
from bot.settings import ActionsSettings
from bot.storage import Store

log = logging.getLogger(__name__)


class GenerateCog(commands.Cog):
    def __init__(
        self,
        *,
        starter: JobStarter,
        admission: Admission,
        router: ModeRouter,
        builder: RequestBuilder,
        transport: ImageTransport,
        sources: SourceImageFetcher,
        store: Store,
        locales: LocaleResolver,
        acks: AckPriority,
        settings: ActionsSettings,
        default_mode: str,
        styles: StyleCatalog,
        preferences: PreferenceService,
    ) -> None:
        self.starter = starter
        self.admission = admission  # the rules re-posts follow
        self.router = router  # the mode, when the member names none (their default, or routed)
        self.builder = builder
        self.transport = transport
        self.sources = sources  # member images by URL, allowlisted hosts only
        self.store = store  # recent identical requests (re-posted instead of paid for again)
        self.locales = locales
        self.acks = acks
        self.settings = settings
        self.default_mode = default_mode
        self.styles = styles  # the server's and the bot-wide style presets
        self.preferences = preferences  # the member's personal defaults

    @app_commands.command(name="imagine", description="Generate images from a prompt")
    @app_commands.describe(
        prompt="What to draw (English for Star-3 and custom models)",
        mode="Model: star3, kontext-pro, kontext-max, seedream, seedream-4.5, libdream, img1 or a custom model",
        negative="What to avoid (custom models)",
        aspect="Aspect ratio",
        count="How many images (1-4; Seedream up to 15)",
        seed="Seed for reproducible results (custom models, libDream)",
        steps="Sampling steps (Star-3 and custom models)",
        image="An image to start from, or the first reference image",
        image2="Another reference image (Kontext max, Seedream, IMG1)",
        image3="Another reference image (Kontext max, Seedream, IMG1)",
        image4="Another reference image (Kontext max, Seedream, IMG1)",
        enhance="Let LiblibAI improve the prompt first (Seedream, libDream)",
        quality="Smart IMG1 quality: turbo, normal or masterpiece",
        control_image="A structure reference (line, depth, pose, ...)",
        control_type="How the control image guides the result",
        fresh="Render again even if the same seeded request was rendered recently (re-posted otherwise)",
        style="A style preset of this server (see /style list)",
    )
    @app_commands.choices(
        aspect=[app_commands.Choice(name=r, value=r) for r in ASPECT_RATIOS],
        quality=[app_commands.Choice(name=q, value=q) for q in IMG1_QUALITIES],
    )
    async def imagine(
        self,
        interaction: discord.Interaction,
        prompt: app_commands.Range[str, 1, 2000],
        mode: str | None = None,
        negative: app_commands.Range[str, 1, 2000] | None = None,
        aspect: str | None = None,
        count: app_commands.Range[int, 1, MAX_IMAGES_ANY_FAMILY] | None = None,
        seed: app_commands.Range[int, 0, SEED_MAX] | None = None,
        steps: app_commands.Range[int, 1, 60] | None = None,
        image: discord.Attachment | None = None,
        image2: discord.Attachment | None = None,
        image3: discord.Attachment | None = None,
        image4: discord.Attachment | None = None,
        enhance: bool = False,
        quality: str | None = None,
        control_image: discord.Attachment | None = None,
        control_type: str | None = None,
        fresh: bool = False,
        style: app_commands.Range[str, 1, 32] | None = None,
    ) -> None:
        flags = parse_flags(prompt)
        resolution = await self.resolution(
            interaction, flags, mode=mode, aspect=aspect, count=count, negative=negative, style=style
        )
        in_style = resolution.style.value
        attached = [
            (a, field)
            for a, field in ((image, "image"), (image2, "image2"), (image3, "image3"), (image4, "image4"))
            if a
        ]

        def in_mode(name: str | None) -> GenerationRequest:  # the member's request in a mode (no I/O)
            info = self.builder.mode_info(self.builder.resolve_mode(name))
            fitted = resolution.fitted(
                takes_negative=info.supports_negative,
                takes_strength=info.supports_strength and bool(attached),
                takes_aspect=info.supports_aspect,
                max_count=info.max_count,
            )
            request = self.builder.build(
                styled_prompt(flags.prompt, in_style),
                mode=name,
                negative_prompt=fitted.negative.value,
                aspect_ratio=fitted.aspect.value,
                count=fitted.count.value,
                seed=seed if seed is not None else flags.seed,
                steps=steps if steps is not None else flags.steps,
                has_image=bool(attached),
                reference_count=max(0, len(attached) - 1),
                control_type=control_type,
                has_control_image=control_image is not None,
                strength=fitted.strength.value,
                enhance=enhance,
                quality=quality,
            )
            return with_style_loras(request, in_style, self.builder)

        # A mode the member named is kept; a default one (/prefer, style, server, bot) may be routed elsewhere.
        request = await self.router.request(
            requester_from_interaction(interaction),
            in_mode,
            prompt=flags.prompt,
            negative=negative or flags.negative_prompt,
            chosen=resolution.mode.value if resolution.mode.explicit else None,
            default=None if resolution.mode.explicit else resolution.mode.value,
        )
        sources = [checked_ref(a, field) for a, field in attached]
        images = [ref for ref in sources if ref is not None]
        control = checked_ref(control_image, "control_image")
        response = await interaction.response.defer(thinking=True)
        await self.acks.wait_turn()  # the duplicate check and uploads can wait for a burst's acks too
        if not fresh and not images and control is None and await self.repost_duplicate(interaction, request):
            return
        job_id = new_job_id()
        publisher = SourcePublisher(self.sources, self.transport)

        async def prepare(request: GenerationRequest) -> GenerationRequest:
            return await publisher.prepare_imagine(request, images, control, job_id=job_id)

        await self.starter.start_interaction(
            interaction,
            request,
            job_id=job_id,
            response_message_id=response.message_id if response else None,
            prepare=prepare if images or control is not None else None,  # admitted before fetching
            in_mode=in_mode,  # a cheaper mode, when a points budget refuses this one
        )

    async def resolution(
        self,
        interaction: discord.Interaction,
        flags: PromptFlags,
        *,
        mode: str | None,
        aspect: str | None,
        count: int | None,
        negative: str | None,
        style: str | None = None,
    ) -> Resolution:
        """Every value of the request by the one order (``bot.generation.resolution``): the options, the prompt's
        flags, the member's /prefer defaults, the style in use, the server's default mode, the bot's. Each value
        keeps its source: ``resolution.mode.explicit`` tells whether the member chose the mode for this request."""
        preferences, preferred = await self.preferences.choices(interaction.user.id)
        chosen = choose_style(style, flags.style, preferences.style)
        in_use = await self.styles.in_use(interaction.guild_id, chosen)  # a named style that does not exist: refused
        resolution = resolve(
            option=Choices(mode=mode, aspect=aspect, count=count, negative=negative),
            flag=Choices(mode=flags.mode, aspect=flags.aspect_ratio, count=flags.count, negative=flags.negative_prompt),
            preference=preferred,
            style=in_use,
            server=Choices(mode=await self.admission.default_mode(requester_from_interaction(interaction))),
            bot=Choices(mode=self.default_mode),
        )
        log.debug("imagine by %s resolved from %s", interaction.user.id, resolution.sources())
        return resolution

    async def repost_duplicate(self, interaction: discord.Interaction, request: GenerationRequest) -> bool:
        """Re-post the result of an identical seeded request rendered recently here, instead of paying again."""
        window = self.settings.dedupe_window_seconds
        duplicate = await find_duplicate(
            self.store,
            request,
            guild_id=interaction.guild_id,
            user_id=interaction.user.id,
            window_seconds=window,
        )
        if duplicate is None:
            return False
        locale = await self.locales.for_interaction(interaction)
        note = t(
            "♻️ Re-posted: the same request with the same seed was rendered {when} (job `{job_id}`), "
            "so nothing was charged. Add `fresh: True` to render it again.",
            locale,
            when=f"<t:{int(duplicate.created_at.timestamp())}:R>",
            job_id=duplicate.id,
        )
        await repost_result(
            self.transport, self.admission, interaction, duplicate, note=note, locale=locale, request=request
        )
        return True

    @imagine.autocomplete("mode")
    async def mode_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return mode_choices(self.builder, current)

    @imagine.autocomplete("style")
    async def style_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        return style_choices(await self.styles.available(interaction.guild_id), current)

    @imagine.autocomplete("control_type")
    async def control_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        mode = getattr(interaction.namespace, "mode", None) or self.default_mode
        return [
            app_commands.Choice(name=t, value=t)
            for t in self.builder.control_types(str(mode))
            if current.lower() in t.lower()
        ][:25]
