"""The usage report: one row per job of a server over the last N days, the CSV of those rows, and the
points per day per model that the chart draws.

Points are what the job was charged (``Job.points_cost``: LiblibAI's reported cost once settled); a job
LiblibAI never billed counts 0. Days are the server's days (its quota time zone), oldest first.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from bot.generation.families import mode_name
from bot.models import Job, result_image_count

CSV_COLUMNS = ("time", "job_id", "member_id", "model", "images", "points_charged", "final_state")


@dataclass(frozen=True, slots=True)
class ReportRow:
    time: datetime  # when the job was created (UTC)
    job_id: str
    member_id: int
    model: str
    images: int  # images delivered
    points: int  # points charged
    state: str


@dataclass(frozen=True, slots=True)
class UsageReport:
    rows: tuple[ReportRow, ...]
    days: tuple[date, ...]  # every day of the period, oldest first, in the server's time zone
    points_by_model: dict[str, tuple[int, ...]]  # model -> points per day (aligned with ``days``)

    @property
    def total_points(self) -> int:
        return sum(row.points for row in self.rows)


def report_rows(jobs: Iterable[Job]) -> list[ReportRow]:
    """One row per job, oldest first."""
    rows = [
        ReportRow(
            time=job.created_at,
            job_id=job.id,
            member_id=job.user_id,
            model=mode_name(job.request),
            images=result_image_count(job),
            points=job.points_cost or 0,
            state=str(job.state),
        )
        for job in jobs
    ]
    return sorted(rows, key=lambda r: (r.time, r.job_id))


def period(today: date, days: int) -> tuple[date, ...]:
    """The ``days`` days ending with ``today``, oldest first."""
    return tuple(today - timedelta(days=n) for n in range(days - 1, -1, -1))


def daily_points(rows: Iterable[ReportRow], days: Sequence[date], zone: tzinfo) -> dict[str, tuple[int, ...]]:
    """Points per day for each model that spent any (models sorted by total, largest first)."""
    index = {day: i for i, day in enumerate(days)}
    totals: dict[str, list[int]] = {}
    for row in rows:
        i = index.get(row.time.astimezone(zone).date())
        if i is None or row.points <= 0:
            continue
        totals.setdefault(row.model, [0] * len(days))[i] += row.points
    ordered = sorted(totals.items(), key=lambda item: (-sum(item[1]), item[0]))
    return {model: tuple(points) for model, points in ordered}


def build_usage_report(jobs: Iterable[Job], *, now: datetime, days: int, zone: tzinfo) -> UsageReport:
    rows = report_rows(jobs)
    span = period(now.astimezone(zone).date(), days)
    first = span[0]
    rows = [r for r in rows if r.time.astimezone(zone).date() >= first]
    return UsageReport(tuple(rows), span, daily_points(rows, span, zone))


def render_csv(report: UsageReport) -> bytes:
    """The jobs as CSV (UTF-8, header row, ISO 8601 UTC times)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.rows:
        writer.writerow(
            (
                row.time.isoformat(timespec="seconds"),
                row.job_id,
                row.member_id,
                row.model,
                row.images,
                row.points,
                row.state,
            )
        )
    return out.getvalue().encode("utf-8")
