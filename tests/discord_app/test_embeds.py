"""Failure notices render their stored detail in the job's language, specifics included."""

from __future__ import annotations

import pytest

from bot.discord_app.ui.embeds import failure_embed
from bot.i18n import N_, zh_cn
from bot.jobs.sink import DeliveryError
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
