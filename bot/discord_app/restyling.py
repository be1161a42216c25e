"""Restyle jobs from Discord, shared by ``/restyle``, the "Restyle image" menu and form, the Restyle button,
and reply + mention: which images a message carries, and check (no I/O) → pre-check the admission → fetch
and publish → start.

Validation, fetching and publishing live in ``bot.generation.restyle``; jobs start through ``JobStarter``
so quotas apply alike.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

import discord

from bot.discord_app.attachments import attachment_ref
from bot.discord_app.replies import answer_error
from bot.discord_app.starting import JobStarter
from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.prompt_flags import PromptFlags
from bot.generation.resolution import Choices, Resolved, Source, choose_style, resolve
from bot.generation.restyle import SourcePublisher, build_restyle_request, restyle_mode
from bot.generation.styles import StyleCatalog, styled_prompt, with_style_loras
from bot.i18n import N_, LocaleResolver, t
from bot.media.sources import SourceImageFetcher, SourceRef
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest, JobKind, Style, new_job_id


def image_refs(message: discord.Message, field: str = "image", *, embeds: bool = True) -> list[SourceRef]:
    """Images a message carries: attachments first, then (with ``embeds``) embed images and thumbnails.

    A message whose only attachments are not images yields those, so the member hears why."""
    attached = [attachment_ref(a, field) for a in message.attachments]
    images = [r for r in attached if r.looks_like_image]
    for embed in message.embeds if embeds else ():
        for media in (embed.image, embed.thumbnail):
            # Discord's proxy (media/images-ext hosts) serves external embed images from an allowed host.
            url = media.proxy_url or media.url
            if url:
                images.append(SourceRef(url, field=field))
    return images or attached


class Restyler:
    """Starts restyle jobs: validate (no I/O), pre-check the admission, fetch, check and publish the images,
    enqueue."""

    def __init__(
        self,
        builder: RequestBuilder,
        sources: SourceImageFetcher,
        transport: ImageTransport,
        starter: JobStarter,
        locales: LocaleResolver,
        *,
        default_mode: str,
        styles: StyleCatalog | None = None,
    ) -> None:
        self.builder = builder
        self.locales = locales
        self.default_mode = default_mode
        self._styles = styles  # a reply + mention may name one (--style)
        self._publisher = SourcePublisher(sources, transport)
        self._starter = starter

    def _request(
        self,
        flags: PromptFlags,
        source: SourceRef,
        references: Sequence[SourceRef],
        mask: SourceRef | None = None,
        strength: float | None = None,
        *,
        mode: str | None = None,
        style: Resolved[Style] | None = None,
    ) -> GenerationRequest:
        """The checked request (no I/O): the member's prompt and options (``mode`` and ``strength`` from the command
        or form, the rest typed as ``flags``), the style in use, and each image's declared size and type.

        The mode and the strength resolve by the one order (``bot.generation.resolution``): the option, the flag,
        the style, then the restyle default (Kontext max for several images). A restyle keeps its image's shape,
        so a style's aspect ratio does not apply, and personal defaults are /imagine's."""
        resolution = resolve(
            option=Choices(mode=mode, strength=strength),
            flag=Choices(mode=flags.mode, negative=flags.negative_prompt),
            style=style,
            bot=Choices(mode=self.default_mode),
        )
        requested = resolution.mode.value if resolution.mode.source is not Source.BOT else None
        mode_name = restyle_mode(self.builder, self.default_mode, requested, 1 + len(references))
        info = self.builder.mode_info(self.builder.resolve_mode(mode_name))
        fitted = resolution.fitted(takes_negative=info.supports_negative, takes_strength=info.supports_strength)
        in_use = resolution.style.value
        request = build_restyle_request(
            self.builder,
            styled_prompt(flags.prompt, in_use),
            mode=mode_name,
            strength=fitted.strength.value,
            reference_count=len(references),
            has_mask=mask is not None,
            negative_prompt=fitted.negative.value,
            aspect_ratio=flags.aspect_ratio,
            count=flags.count,
            seed=flags.seed,
            steps=flags.steps,
        )
        for ref in (source, *references, *([mask] if mask else [])):
            ref.check()
        return with_style_loras(request, in_use, self.builder)

    async def run(
        self,
        interaction: discord.Interaction,
        *,
        prompt: str,
        source: SourceRef,
        mode: str | None = None,
        strength: float | None = None,
        references: Sequence[SourceRef] = (),
        mask: SourceRef | None = None,
        parent_job_id: str | None = None,
    ) -> None:
        """Validate (no I/O) → defer → pre-check → fetch, check and publish the images → enqueue."""
        request = self._request(PromptFlags(prompt), source, references, mask, strength, mode=mode)
        response = await interaction.response.defer(thinking=True)
        job_id = new_job_id()

        async def prepare(request: GenerationRequest) -> GenerationRequest:
            return await self._publisher.prepare(request, source, references, mask, job_id=job_id)

        await self._starter.start_interaction(
            interaction,
            request,
            kind=JobKind.RESTYLE,
            parent_job_id=parent_job_id,
            response_message_id=response.message_id if response else None,
            job_id=job_id,
            prepare=prepare,
            in_mode=lambda name: self._request(PromptFlags(prompt), source, references, mask, strength, mode=name),
        )

    async def run_message(
        self,
        message: discord.Message,
        flags: PromptFlags,
        source: SourceRef,
        references: Sequence[SourceRef],
        *,
        locale: str,
    ) -> None:
        """A reply + mention: the prompt and options come from the message's text (``flags``, ``--style`` too)."""
        style: Resolved[Style] = Resolved()
        if flags.style is not None and self._styles is not None:
            guild_id = message.guild.id if message.guild else None
            style = await self._styles.in_use(guild_id, choose_style(None, flags.style, None))
        request = self._request(flags, source, references, style=style)
        job_id = new_job_id()

        async def prepare(request: GenerationRequest) -> GenerationRequest:
            return await self._publisher.prepare(request, source, references, job_id=job_id)

        await self._starter.start_message(
            message,
            request,
            kind=JobKind.RESTYLE,
            job_id=job_id,
            locale=locale,
            prepare=prepare,
            in_mode=lambda name: self._request(flags, source, references, mode=name, style=style),
        )

    async def open_form(
        self, interaction: discord.Interaction, *, image_url: str, parent_job_id: str | None = None
    ) -> None:
        """Ask for an instruction (and mode/strength) for the image at ``image_url``; the submit runs the job."""
        locale = await self.locales.for_interaction(interaction)
        form = RestyleModal(self, image_url=image_url, parent_job_id=parent_job_id, locale=locale)
        await interaction.response.send_modal(form)


def _parse_strength(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequestError("strength", N_("strength must be a number between 0 and 1, e.g. `0.6`.")) from None
    if not 0.0 <= value <= 1.0:
        raise InvalidRequestError("strength", N_("strength must be between 0 and 1."))
    return value


class RestyleModal(discord.ui.Modal):
    """Instruction, mode and (for custom models) strength; then runs like /restyle."""

    def __init__(self, restyler: Restyler, *, image_url: str, parent_job_id: str | None, locale: str) -> None:
        super().__init__(title=t("Restyle image", locale), timeout=600, custom_id=f"restyle:{secrets.token_hex(6)}")
        self.restyler = restyler
        self.image_url = image_url
        self.parent_job_id = parent_job_id
        builder = restyler.builder
        default = builder.resolve_mode(restyler.default_mode)
        modes = builder.restyle_modes(with_mask=False)  # the form takes no mask
        self.instruction: discord.ui.TextInput[RestyleModal] = discord.ui.TextInput(
            label=t("Instruction", locale),
            style=discord.TextStyle.paragraph,
            placeholder=t("make it a watercolor painting, keep the pose", locale),
            max_length=2000,
            custom_id="instruction",
        )
        self.add_item(self.instruction)
        self.mode: discord.ui.Select[RestyleModal] = discord.ui.Select(
            custom_id="mode",
            options=[
                discord.SelectOption(label=m.label[:100], value=m.name, description=m.name, default=m.name == default)
                for m in modes
            ][:25],
            required=False,
        )
        self.add_item(discord.ui.Label(text=t("Mode", locale), component=self.mode))
        self.strength: discord.ui.TextInput[RestyleModal] | None = None
        if any(m.supports_strength for m in modes):
            self.strength = discord.ui.TextInput(
                label=t("Strength (custom models, 0-1)", locale),
                placeholder=t("0.75: how far to move away from the image", locale),
                required=False,
                max_length=5,
                custom_id="strength",
            )
            self.add_item(self.strength)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await self.restyler.run(
            interaction,
            prompt=self.instruction.value,
            source=SourceRef(self.image_url),
            mode=self.mode.values[0] if self.mode.values else None,
            strength=_parse_strength(self.strength.value) if self.strength is not None else None,
            parent_job_id=self.parent_job_id,
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        await answer_error(interaction, error, await self.restyler.locales.for_interaction(interaction))
