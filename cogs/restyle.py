"""Restyle an image three ways: reply + mention, the "Restyle image" message menu (a modal), and /restyle.

The cog only reads Discord objects (which image, which text) and renders replies; validation, fetching
and publishing live in ``bot.generation.restyle``, and jobs start through ``bot.discord_app.starting``
so quotas apply alike.
"""

from __future__ import annotations

import dataclasses
import logging
import re
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.attachments import attachment_ref
from bot.discord_app.autocomplete import mode_choices
from bot.discord_app.client import Services
from bot.discord_app.tree import incident_text, interaction_language, reply_ephemeral
from bot.errors import BotError, InvalidRequestError
from bot.generation.prompt_flags import parse_flags
from bot.generation.restyle import SourcePublisher, build_restyle_request, restyle_mode
from bot.i18n import N_, t
from bot.media.sources import SourceRef
from bot.models import JobKind, new_job_id

log = logging.getLogger(__name__)

HINT = N_(
    "To restyle an image, **reply** to a message that has one and mention me with what to change, "
    "e.g. `@{name} make it a watercolor, keep the pose`. Images attached to your reply are extra references. "
    "You can also use **Apps → Restyle image** on any message, or `/restyle`."
)
HIDDEN_HINT = N_(
    "I can't see the image in that message from a reply (Discord hides other members' messages from bots). "
    "Use **Apps → Restyle image** on it instead (right-click or long-press the message)."
)


# -- finding images in messages --------------------------------------------------------------------


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


def _hidden_from_us(message: discord.Message, me: discord.abc.Snowflake, intents: discord.Intents) -> bool:
    """Without the message-content intent Discord blanks other members' guild messages."""
    return (
        message.guild is not None
        and message.author.id != me.id
        and not intents.message_content
        and not (message.content or message.attachments or message.embeds)
    )


# -- the shared interaction flow -------------------------------------------------------------------


async def run_restyle(
    services: Services,
    interaction: discord.Interaction,
    *,
    prompt: str,
    source: SourceRef,
    mode: str | None = None,
    strength: float | None = None,
    references: list[SourceRef] | None = None,
    mask: SourceRef | None = None,
    parent_job_id: str | None = None,
) -> None:
    """Validate (no I/O) → defer → fetch, check and publish the images → enqueue."""
    references = references or []
    mode_name = restyle_mode(services.builder, services.settings.models.restyle_default_mode, mode, 1 + len(references))
    request = build_restyle_request(
        services.builder,
        prompt,
        mode=mode_name,
        strength=strength,
        reference_count=len(references),
        has_mask=mask is not None,
    )
    for ref in (source, *references, *([mask] if mask else [])):
        ref.check()
    response = await interaction.response.defer(thinking=True)
    job_id = new_job_id()
    publisher = SourcePublisher(services.sources, services.transport)
    request = await publisher.prepare(request, source, references, mask, job_id=job_id)
    await services.starter.start_interaction(
        interaction,
        request,
        kind=JobKind.RESTYLE,
        parent_job_id=parent_job_id,
        response_message_id=response.message_id if response else None,
        job_id=job_id,
    )


def _parse_strength(text: str) -> float | None:
    text = text.strip().replace(",", ".")
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequestError("strength", "strength must be a number between 0 and 1, e.g. `0.6`.") from None
    if not 0.0 <= value <= 1.0:
        raise InvalidRequestError("strength", "strength must be between 0 and 1.")
    return value


class RestyleModal(discord.ui.Modal):
    """Instruction, mode and (for custom models) strength; then runs like /restyle."""

    def __init__(self, services: Services, *, image_url: str, parent_job_id: str | None, locale: str) -> None:
        super().__init__(title=t("Restyle image", locale), timeout=600, custom_id=f"restyle:{secrets.token_hex(6)}")
        self.services = services
        self.image_url = image_url
        self.parent_job_id = parent_job_id
        builder = services.builder
        default = builder.resolve_mode(services.settings.models.restyle_default_mode)
        modes = builder.modes()
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
        await run_restyle(
            self.services,
            interaction,
            prompt=self.instruction.value,
            source=SourceRef(self.image_url),
            mode=self.mode.values[0] if self.mode.values else None,
            strength=_parse_strength(self.strength.value) if self.strength is not None else None,
            parent_job_id=self.parent_job_id,
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:  # type: ignore[override]
        locale = await interaction_language(interaction)
        if isinstance(error, BotError):
            log.info("restyle refused: %s", error.message)
            await reply_ephemeral(interaction, error.localized(locale))
            return
        incident = secrets.token_hex(3)
        log.error("unexpected error in the restyle modal (incident %s)", incident, exc_info=error)
        await reply_ephemeral(interaction, incident_text(incident, locale))


async def open_restyle_modal(
    services: Services, interaction: discord.Interaction, *, image_url: str, parent_job_id: str | None = None
) -> None:
    """Ask for an instruction (and mode/strength) for the image at ``image_url``; the submit runs the job."""
    locale = await services.locales.for_interaction(interaction)
    modal = RestyleModal(services, image_url=image_url, parent_job_id=parent_job_id, locale=locale)
    await interaction.response.send_modal(modal)


# -- the cog ----------------------------------------------------------------------------------------


class RestyleCog(commands.Cog):
    def __init__(self, bot: commands.Bot, services: Services) -> None:
        self.bot = bot
        self.services = services
        self.menu = app_commands.ContextMenu(name="Restyle image", callback=self.restyle_menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # -- message context menu ----------------------------------------------------------------------

    async def restyle_menu(self, interaction: discord.Interaction, message: discord.Message) -> None:
        refs = image_refs(message)
        if not refs:
            raise InvalidRequestError("image", "that message has no image to restyle.")
        refs[0].check()
        await open_restyle_modal(self.services, interaction, image_url=refs[0].url)

    # -- /restyle ------------------------------------------------------------------------------------

    @app_commands.command(name="restyle", description="Restyle or edit an image with an instruction")
    @app_commands.describe(
        image="The image to restyle (PNG, JPEG, WebP or GIF, up to 10 MB)",
        prompt="What to change, e.g. 'make it cyberpunk, keep the pose'",
        mode="Model: kontext-pro (default), kontext-max, star3 or a configured custom model",
        strength="How far to move from the image, 0-1 (custom models only)",
        mask="Inpainting mask: white where to repaint, same size as the image (custom models)",
        reference="An extra reference image (Kontext max)",
        reference2="Another reference image (Kontext max)",
        reference3="Another reference image (Kontext max)",
    )
    async def restyle(
        self,
        interaction: discord.Interaction,
        image: discord.Attachment,
        prompt: app_commands.Range[str, 1, 2000],
        mode: str | None = None,
        strength: app_commands.Range[float, 0.0, 1.0] | None = None,
        mask: discord.Attachment | None = None,
        reference: discord.Attachment | None = None,
        reference2: discord.Attachment | None = None,
        reference3: discord.Attachment | None = None,
    ) -> None:
        extras = [a for a in (reference, reference2, reference3) if a is not None]
        await run_restyle(
            self.services,
            interaction,
            prompt=prompt,
            source=attachment_ref(image, "image"),
            mode=mode,
            strength=strength,
            references=[attachment_ref(a, "reference") for a in extras],
            mask=attachment_ref(mask, "mask") if mask is not None else None,
        )

    @restyle.autocomplete("mode")
    async def mode_autocomplete(self, interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return mode_choices(self.services.builder, current)

    # -- reply + mention ------------------------------------------------------------------------------

    @commands.Cog.listener("on_message")
    async def on_mention(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or not any(u.id == me.id for u in message.mentions):
            return  # bots (ourselves included) and messages that do not mention us (@everyone alone)
        # No member locale here: the server's default language (see LocaleResolver.for_guild).
        guild = message.guild
        locale = await self.services.locales.for_guild(
            guild.id if guild else None, guild.preferred_locale if guild else None
        )
        try:
            await self._restyle_reply(message, me, locale)
        except BotError as exc:
            log.info("restyle reply refused: %s", exc.message)
            await _answer(message, exc.localized(locale))
        except Exception:
            incident = secrets.token_hex(3)
            log.exception("unexpected error restyling a reply (incident %s)", incident)
            await _answer(message, incident_text(incident, locale))

    async def _restyle_reply(self, message: discord.Message, me: discord.ClientUser, locale: str) -> None:
        text = re.sub(rf"<@!?{me.id}>", " ", message.content)
        flags = parse_flags(" ".join(text.split()))
        own = image_refs(message, field="reference", embeds=False)
        target = await self._referenced(message)
        if target is not None:
            sources = image_refs(target)
            if not sources:
                hidden = _hidden_from_us(target, me, self.bot.intents)
                await _answer(message, t(HIDDEN_HINT, locale) if hidden else t(HINT, locale, name=me.display_name))
                return
            source, references = sources[0], own
        elif own:  # no reply: "@bot make it blue" with the image attached
            source, references = dataclasses.replace(own[0], field="image"), own[1:]
        else:
            await _answer(message, t(HINT, locale, name=me.display_name))
            return
        if not flags.prompt:
            await _answer(message, t("What should I change?", locale) + " " + t(HINT, locale, name=me.display_name))
            return
        services = self.services
        mode = restyle_mode(
            services.builder, services.settings.models.restyle_default_mode, flags.mode, 1 + len(references)
        )
        request = build_restyle_request(
            services.builder,
            flags.prompt,
            mode=mode,
            reference_count=len(references),
            negative_prompt=flags.negative_prompt,
            aspect_ratio=flags.aspect_ratio,
            count=flags.count,
            seed=flags.seed,
            steps=flags.steps,
        )
        for ref in (source, *references):
            ref.check()
        job_id = new_job_id()
        request = await SourcePublisher(services.sources, services.transport).prepare(
            request, source, references, job_id=job_id
        )
        await services.starter.start_message(message, request, kind=JobKind.RESTYLE, job_id=job_id, locale=locale)

    async def _referenced(self, message: discord.Message) -> discord.Message | None:
        reference = message.reference
        if message.type is not discord.MessageType.reply or reference is None or reference.message_id is None:
            return None
        resolved = reference.resolved
        if isinstance(resolved, discord.Message):
            return resolved
        if isinstance(resolved, discord.DeletedReferencedMessage):
            raise InvalidRequestError("image", "the message you replied to was deleted.")
        try:  # Discord did not include it: fetch it
            return await message.channel.fetch_message(reference.message_id)
        except discord.NotFound:
            raise InvalidRequestError("image", "the message you replied to was deleted.") from None
        except discord.HTTPException:
            raise InvalidRequestError("image", "I can't read the message you replied to.") from None


async def _answer(message: discord.Message, text: str) -> None:
    """Reply to the member's message without pinging anyone."""
    try:
        await message.reply(text, mention_author=False, allowed_mentions=discord.AllowedMentions.none())
    except discord.HTTPException as exc:
        log.info("could not answer a mention (%s)", exc.status)
