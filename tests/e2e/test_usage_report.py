"""/usage report: admins get a chart (PNG) and the jobs (CSV) of the last days, privately; members are refused."""

from __future__ import annotations

import csv
import io

from PIL import Image

from bot.models import JobState
from tests.e2e.conftest import Env
from tests.e2e.test_imagine import wait_jobs, wait_result
from tests.e2e.test_quotas import private_reply


async def test_admin_report_has_a_png_chart_and_a_csv_matching_the_store(env: Env) -> None:
    fake = env.fake
    for prompt in ("a fox", "a cat"):
        inter = await fake.slash("imagine", {"prompt": prompt, "count": 2})
        await wait_result(fake, inter.token)
    await wait_jobs(env.runtime.store, JobState.SUCCEEDED, 2)
    jobs = await env.runtime.store.list_jobs([JobState.SUCCEEDED])

    inter = await fake.slash("usage", {"days": 7}, subcommand="report", user_id=fake.admin_id, locale="zh-CN")
    call = await fake.wait_for_call(lambda c: c.method == "POST" and inter.token in c.path and bool(c.files))
    assert call.json["flags"] & 64  # private
    assert "2 个任务" in call.json["content"]
    png, table = sorted(call.files, key=lambda f: f.filename)[::-1]
    assert png.filename == "usage-7d.png" and table.filename == "usage-7d.csv"
    with Image.open(io.BytesIO(png.content)) as image:
        assert image.format == "PNG" and image.size == (1000, 500)
    rows = list(csv.DictReader(io.StringIO(table.content.decode())))
    assert {
        r["job_id"]: (int(r["member_id"]), r["model"], int(r["images"]), int(r["points_charged"]), r["final_state"])
        for r in rows
    } == {j.id: (j.user_id, "star3", 2, j.points_cost, "succeeded") for j in jobs}
    assert all(j.points_cost for j in jobs)


async def test_members_cannot_get_the_report(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("usage", {"days": 7}, subcommand="report", user_id=fake.user_id)
    text = await private_reply(fake, inter)
    assert "Manage Server" in text or "permission" in text
    assert not any(c.files for c in fake.calls if inter.token in c.path)
