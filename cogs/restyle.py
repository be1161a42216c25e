"""Restyle an image three ways: reply + mention, the "Restyle image" message menu (a form), and /restyle.

The cog only reads Discord objects (which image, which text) and renders replies; the flow they share
(check, fetch and publish, start the job) is ``bot.discord_app.restyling.Restyler``.
"""

from __future__ import annotations

import dataclasses
import logging
import re

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app.attachments import attachment_ref
from bot.discord_app.autocomplete import mode_choices
from bot.discord_app.replies import answer_error, tell
from bot.discord_app.restyling import Restyler, image_refs
from bot.errors import InvalidRequestError
from bot.generation.prompt_flags import parse_flags
from bot.i18n import N_, LocaleResolver, t

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


def _hidden_from_us(message: discord.Message, me: discord.abc.Snowflake, intents: discord.Intents) -> bool:
    """Without the message-content intent Discord blanks other members' guild messages."""
    return (
        message.guild is not None
        and message.author.id != me.id
        and not intents.message_content
        and not (message.content or message.attachments or message.embeds)
    )


class RestyleCog(commands.Cog):
    def __init__(self, bot: commands.Bot, restyler: Restyler, locales: LocaleResolver) -> None:
        self.bot = bot
        self.restyler = restyler
        self.locales = locales
        self.menu = app_commands.ContextMenu(name="Restyle image", callback=self.restyle_menu)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self.menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self.menu.name, type=self.menu.type)

    # -- message context menu ----------------------------------------------------------------------

    async def restyle_menu(self, interaction: discord.Interaction, message: discord.Message) -> None:
        refs = image_refs(message)
        if not refs:
            raise InvalidRequestError("image", N_("that message has no image to restyle."))
        refs[0].check()
        await self.restyler.open_form(interaction, image_url=refs[0].url)

    # -- /restyle ------------------------------------------------------------------------------------

    @app_commands.command(name="restyle", description="Restyle or edit an image with an instruction")
    @app_commands.describe(
        image="The image to restyle (PNG, JPEG, WebP or GIF, up to 10 MB)",
        prompt="What to change, e.g. 'make it cyberpunk, keep the pose'",
        mode="Model: kontext-pro (default), kontext-max, star3, seedream, img1, img1-inpaint or a custom model",
        strength="How far to move from the image, 0-1 (custom models only)",
        mask="Inpainting mask: white where to repaint, same size as the image (custom models, img1-inpaint)",
        reference="An extra reference image (Kontext max, Seedream, IMG1)",
        reference2="Another reference image (Kontext max, Seedream, IMG1)",
        reference3="Another reference image (Kontext max, Seedream, IMG1)",
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
        await self.restyler.run(
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
        return mode_choices(self.restyler.builder, current, with_image=True)

    # -- reply + mention ------------------------------------------------------------------------------

    @commands.Cog.listener("on_message")
    async def on_mention(self, message: discord.Message) -> None:
        me = self.bot.user
        if me is None or message.author.bot or not any(u.id == me.id for u in message.mentions):
            return  # bots (ourselves included) and messages that do not mention us (@everyone alone)
        # No Discord language here: the member's /prefer language, else the server's (see LocaleResolver.for_guild).
        guild = message.guild
        locale = await self.locales.for_guild(
            guild.id if guild else None, guild.preferred_locale if guild else None, user_id=message.author.id
        )
        try:
            await self._restyle_reply(message, me, locale)
        except Exception as exc:
            await answer_error(message, exc, locale)

    async def _restyle_reply(self, message: discord.Message, me: discord.ClientUser, locale: str) -> None:
        text = re.sub(rf"<@!?{me.id}>", " ", message.content)
        flags = parse_flags(" ".join(text.split()))
        own = image_refs(message, field="reference", embeds=False)
        target = await self._referenced(message)
        if target is not None:
            sources = image_refs(target)
            if not sources:
                hidden = _hidden_from_us(target, me, self.bot.intents)
                await tell(message, t(HIDDEN_HINT, locale) if hidden else t(HINT, locale, name=me.display_name))
                return
            source, references = sources[0], own
        elif own:  # no reply: "@bot make it blue" with the image attached
            source, references = dataclasses.replace(own[0], field="image"), own[1:]
        else:
            await tell(message, t(HINT, locale, name=me.display_name))
            return
        if not flags.prompt:
            await tell(message, t("What should I change?", locale) + " " + t(HINT, locale, name=me.display_name))
            return
        await self.restyler.run_message(message, flags, source, references, locale=locale)

    async def _referenced(self, message: discord.Message) -> discord.Message | None:
        reference = message.reference
        if message.type is not discord.MessageType.reply or reference is None or reference.message_id is None:
            return None
        resolved = reference.resolved
        if isinstance(resolved, discord.Message):
            return resolved
        if isinstance(resolved, discord.DeletedReferencedMessage):
            raise InvalidRequestError("image", N_("the message you replied to was deleted."))
        try:  # Discord did not include it: fetch it
            return await message.channel.fetch_message(reference.message_id)
        except discord.NotFound:
            raise InvalidRequestError("image", N_("the message you replied to was deleted.")) from None
        except discord.HTTPException:
            raise InvalidRequestError("image", N_("I can't read the message you replied to.")) from None
