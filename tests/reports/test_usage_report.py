"""The usage report's rows, series, CSV and chart (rendered for real, decoded with Pillow)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from PIL import Image

from bot.models import GenerationRequest, Job, JobResult, JobState, ResultImage
from bot.reports.chart import ChartLabels, render_chart
from bot.reports.usage_report import CSV_COLUMNS, build_usage_report, period, render_csv

NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


def job(
    n: int, *, at: datetime, mode: str = "star3", points: int | None = 10, state: JobState = JobState.SUCCEEDED
) -> Job:
    images = (ResultImage(f"https://x/{n}.png"),) if state is JobState.SUCCEEDED else ()
    return Job(
        id=f"job{n:02d}",
        user_id=100 + n,
        channel_id=1,
        guild_id=9,
        request=GenerationRequest(mode=mode, prompt="p", kontext_model="max" if mode == "kontext" else None),
        state=state,
        created_at=at,
        points_cost=points,
        result=JobResult(images, points_cost=points or 0) if images else None,
    )


def test_rows_series_and_csv_follow_the_jobs_in_the_servers_days() -> None:
    jobs = [
        job(1, at=NOW - timedelta(days=10)),  # outside a 7-day report
        job(2, at=NOW - timedelta(hours=12), mode="kontext", points=58),  # 23:00 yesterday Shanghai? no: 15:00
        job(3, at=NOW - timedelta(hours=2)),  # today
        job(4, at=NOW - timedelta(hours=1), state=JobState.FAILED, points=None),
        job(5, at=NOW - timedelta(days=1, hours=3), state=JobState.CANCELLED, points=4),  # billed after cancel
    ]
    zone = ZoneInfo("Asia/Shanghai")
    report = build_usage_report(jobs, now=NOW, days=7, zone=zone)
    assert report.days == period(date(2026, 12, 5), 7) and report.days[-1] == date(2026, 12, 5)
    assert [r.job_id for r in report.rows] == ["job05", "job02", "job03", "job04"]
    assert report.total_points == 58 + 10 + 4
    # job02 at 2026-12-04 15:00 UTC = 23:00 Shanghai, 12-04; job05 at 12-04 00:00 UTC = 08:00 Shanghai, 12-04
    assert report.points_by_model == {"kontext-max": (0,) * 5 + (58, 0), "star3": (0,) * 5 + (4, 10)}
    parsed = list(csv.reader(io.StringIO(render_csv(report).decode())))
    assert tuple(parsed[0]) == CSV_COLUMNS
    assert parsed[1:] == [
        [
            r.time.isoformat(timespec="seconds"),
            r.job_id,
            str(r.member_id),
            r.model,
            str(r.images),
            str(r.points),
            r.state,
        ]
        for r in report.rows
    ]
    assert parsed[4][5:] == ["0", "failed"] and parsed[3][4] == "1"


def test_the_chart_is_a_png_with_chinese_labels_and_an_empty_chart_renders_too() -> None:
    days = period(date(2026, 12, 5), 30)
    labels = ChartLabels("每日积分（按模型）", "日期", "积分", "模型", "这段时间没有消耗积分。")
    png = render_chart(days, {"kontext-max": tuple(range(30)), "star3": (5,) * 30}, labels)
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.size == (1000, 500)
        assert len(image.convert("RGB").getcolors(1_000_000) or []) > 20  # bars, text and legend were drawn
    empty = render_chart(period(date(2026, 12, 5), 1), {}, ChartLabels("t", "x", "y", "l", "nothing"))
    with Image.open(io.BytesIO(empty)) as image:
        assert image.format == "PNG"


def test_the_cjk_font_ships_with_a_package() -> None:
    from bot.reports.chart import _font

    assert "CJK" in (_font().get_family()[0])
