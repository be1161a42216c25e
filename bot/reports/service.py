"""Builds a server's usage report from the job store: the rows and series in the loop, the chart in a thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta, tzinfo

from bot.media.workers import ImageWorkers
from bot.models import TERMINAL_STATES, utcnow
from bot.reports.chart import ChartLabels, render_chart
from bot.reports.usage_report import UsageReport, build_usage_report, render_csv
from bot.storage.base import JobStore

MAX_DAYS = 90


@dataclass(frozen=True, slots=True)
class RenderedReport:
    report: UsageReport
    chart_png: bytes
    jobs_csv: bytes


class UsageReporter:
    def __init__(self, jobs: JobStore, zone_of: Callable[[int], Awaitable[tzinfo]], workers: ImageWorkers) -> None:
        self._jobs = jobs
        self._zone_of = zone_of
        self._workers = workers  # the bounded pool that owns CPU-heavy image work (off the event loop)

    async def render(self, guild_id: int, days: int, labels: ChartLabels) -> RenderedReport:
        """The last ``days`` days (today included) of the server's finished jobs, charted and as CSV."""
        days = max(1, min(MAX_DAYS, days))
        zone = await self._zone_of(guild_id)
        now = utcnow()
        since = now - timedelta(days=days + 1)  # a day of slack for the time zone; trimmed to whole days below
        jobs = await self._jobs.list_jobs(TERMINAL_STATES, guild_id=guild_id, created_since=since)
        report = build_usage_report(jobs, now=now, days=days, zone=zone)
        chart = await self._workers.run(render_chart, report.days, report.points_by_model, labels)
        return RenderedReport(report, chart, render_csv(report))
