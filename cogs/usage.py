"""/usage mine|top|report: a member's own usage, what remains and when it resets; for admins, who spent what
and a report of the last days (a chart of points per day by model and a CSV of the jobs)."""

from __future__ import annotations

import io

import discord
from discord import app_commands
from discord.ext import commands

from bot.billing import BalanceBook
from bot.discord_app.replies import reply_private
from bot.discord_app.requester import requester_from_interaction, require_admin
from bot.discord_app.ui.quota_text import balance_text, top_text, usage_text
from bot.i18n import LocaleResolver, t
from bot.quotas import QuotaService
from bot.reports.chart import ChartLabels
from bot.reports.service import MAX_DAYS, UsageReporter


def chart_labels(days: int, locale: str) -> ChartLabels:
    return ChartLabels(
        title=t("Points per day by model, last {days} day(s)", locale, days=days),
        x_axis=t("Day", locale),
        y_axis=t("Points", locale),
        legend=t("Model", locale),
        empty=t("No points spent in this period.", locale),
    )


class UsageCog(commands.Cog):
    usage = app_commands.Group(name="usage", description="Image usage: yours, the server's, a report")

    def __init__(
        self, quotas: QuotaService, reporter: UsageReporter, balance: BalanceBook, locales: LocaleResolver
    ) -> None:
        self.quotas = quotas
        self.balance = balance
        self.reporter = reporter
        self.locales = locales

    @usage.command(name="mine", description="Your image usage, what remains and when it resets")
    async def mine(self, interaction: discord.Interaction) -> None:
        locale = await self.locales.for_interaction(interaction)
        requester = requester_from_interaction(interaction)
        report = await self.quotas.usage(
            requester.guild_id, requester.user_id, channel_id=requester.channel_id, role_ids=requester.role_ids
        )
        who = t("You", locale) if requester.guild_id else t("You (direct messages)", locale)
        await reply_private(interaction, usage_text(report, who=who, locale=locale))

    @usage.command(name="top", description="Who spent what on this server, today and this month (Manage Server)")
    async def top(self, interaction: discord.Interaction) -> None:
        locale = await self.locales.for_interaction(interaction)
        guild_id = require_admin(interaction)
        reading = await self.balance.latest()
        outlook = await self.balance.forecast(reading) if reading is not None else None
        text = f"{top_text(await self.quotas.top(guild_id), locale)}\n{balance_text(reading, outlook, locale)}"
        await reply_private(interaction, text)

    @usage.command(name="report", description="A chart of points per day by model and a CSV of jobs (Manage Server)")
    @app_commands.describe(days="How many days back, today included (1-90)")
    async def report(self, interaction: discord.Interaction, days: app_commands.Range[int, 1, MAX_DAYS] = 30) -> None:
        locale = await self.locales.for_interaction(interaction)
        guild_id = require_admin(interaction)
        await interaction.response.defer(ephemeral=True, thinking=True)
        rendered = await self.reporter.render(guild_id, days, chart_labels(days, locale))
        summary = t(
            "Usage report, last {days} day(s): {jobs} job(s), {points} point(s) charged.",
            locale,
            days=days,
            jobs=len(rendered.report.rows),
            points=rendered.report.total_points,
        )
        files = [
            discord.File(io.BytesIO(rendered.chart_png), filename=f"usage-{days}d.png"),
            discord.File(io.BytesIO(rendered.jobs_csv), filename=f"usage-{days}d.csv"),
        ]
        await interaction.followup.send(summary, files=files, ephemeral=True)
