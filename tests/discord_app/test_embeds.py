"""Failure notices render their stored detail in the job's language, specifics included; the progress bar."""

from __future__ import annotations

import pytest

from bot.discord_app.ui.embeds import failure_embed, progress_bar, progress_text
from bot.i18n import N_, zh_cn
from bot.jobs.progress import CAP
from bot.jobs.sink import DeliveryError, Progress, Stage
from bot.media.results import ResultUnavailableError
from bot.models import FailureReason, JobState
from tests.storage.contract.helpers import make_job


@pytest.mark.parametrize(
    ("error", "english", "chinese"),
    [
        (
            DeliveryError(N_("Discord refused the message ({status})."), permanent=False, status=503),
            "Discord refused the message (503).",
            "Discord 拒绝了这条消息（503）。",
        ),
        (
            DeliveryError(N_("Discord did not answer ({error})."), permanent=False, error="ClientOSError"),
            "Discord did not answer (ClientOSError).",
            "Discord 没有响应（ClientOSError）。",
        ),
    ],
)
def test_delivery_failure_details_reach_chinese_members_in_chinese(
    error: DeliveryError, english: str, chinese: str
) -> None:
    job = make_job(state=JobState.FAILED, failure_reason=FailureReason.DELIVERY_FAILED, failure_detail=error.text)
    assert str(error) == english
    assert failure_embed(job).description == english
    job.locale = "zh-CN"
    assert failure_embed(job).description == chinese


def test_result_unavailable_is_localized_with_its_job_id() -> None:
    error = ResultUnavailableError("abc123")
    assert error.message == "The images of job `abc123` are no longer available."
    assert error.localized("zh-CN") == zh_cn.TEXTS["The images of job `{job_id}` are no longer available."].format(
        job_id="abc123"
    )


@pytest.mark.parametrize(
    ("progress", "english", "chinese"),
    [
        (
            Progress(Stage.GENERATING, percent=0.426, elapsed=9.0, eta=12.2),
            "🎨 Generating `████░░░░░░` 42% · about 13s left · 9s elapsed",
            "🎨 生成中 `████░░░░░░` 42% · 约剩 13s · 已用时 9s",
        ),
        (
            Progress(Stage.GENERATING, percent=CAP, elapsed=75.0, eta=None),
            "🎨 Generating `█████████░` 95% · almost done · 1m 15s elapsed",
            "🎨 生成中 `█████████░` 95% · 即将完成 · 已用时 1m 15s",
        ),
        (
            Progress(Stage.AUDITING, percent=0.999, eta=0.0),
            "🔍 Content audit… `█████████░` 99% · about 0s left",
            "🔍 内容审核中… `█████████░` 99% · 约剩 0s",
        ),
        (Progress(Stage.GENERATING), "🎨 Generating", "🎨 生成中"),  # no percent: no bar
    ],
)
def test_the_progress_message_shows_a_bar_and_the_time_left(progress: Progress, english: str, chinese: str) -> None:
    job = make_job(state=JobState.RUNNING)
    assert progress_text(job, progress).splitlines()[0] == english
    job.locale = "zh-CN"
    assert progress_text(job, progress).splitlines()[0] == chinese


def test_the_bar_is_never_drawn_full_below_100_percent() -> None:
    assert progress_bar(0.0) == "░" * 10
    assert progress_bar(0.999) == "█" * 9 + "░"
    assert progress_bar(1.0) == "█" * 10
