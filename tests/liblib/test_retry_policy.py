"""The LiblibAI client's retry rule (base._should_retry) and poll intervals, table-driven."""

from __future__ import annotations

import pytest

from bot.liblib.base import _should_retry
from bot.liblib.errors import (
    LiblibAuthError,
    LiblibConcurrencyError,
    LiblibConnectionError,
    LiblibError,
    LiblibInvalidParameterError,
    LiblibPayloadTooLargeError,
    LiblibResponseValidationError,
    LiblibServerError,
    LiblibStatusError,
    LiblibTaskNotFoundError,
    LiblibTimeoutError,
    error_for_code,
)
from bot.liblib.models import TaskStatus
from bot.liblib.tasks import _next_poll_interval

NEVER_SENT = LiblibConnectionError("refused", reached_server=False)
CONNECT_TIMEOUT = LiblibTimeoutError("connect timeout", reached_server=False)
READ_TIMEOUT = LiblibTimeoutError("read timeout", reached_server=True)
DISCONNECTED = LiblibConnectionError("server disconnected", reached_server=True)

CASES = [
    # (error, retry a query?, retry a submit?)
    pytest.param(NEVER_SENT, True, True, id="connect-refused"),
    pytest.param(CONNECT_TIMEOUT, True, True, id="connect-timeout"),
    pytest.param(READ_TIMEOUT, True, False, id="read-timeout"),
    pytest.param(DISCONNECTED, True, False, id="disconnected"),
    pytest.param(error_for_code(429, "请求过多", status=200), True, True, id="envelope-429"),
    pytest.param(error_for_code(429, "", status=429), True, True, id="http-429"),
    pytest.param(error_for_code(500, "", status=500), True, False, id="http-500"),
    pytest.param(error_for_code(503, "", status=503), True, False, id="http-503"),
    pytest.param(error_for_code(200000, "内部服务错误"), True, False, id="200000"),
    pytest.param(error_for_code(210000, "调用外部服务失败"), True, False, id="210000"),
    pytest.param(LiblibResponseValidationError("not JSON"), True, False, id="malformed"),
    pytest.param(error_for_code(100054, "并发"), False, False, id="100054"),
    pytest.param(error_for_code(401, "签名验证失败"), False, False, id="401"),
    pytest.param(error_for_code(403, "访问拒绝"), False, False, id="403"),
    pytest.param(error_for_code(100000, "参数无效"), False, False, id="100000"),
    pytest.param(error_for_code(100021, "用户积分不足"), False, False, id="100021"),
    pytest.param(error_for_code(100051, "生图任务不存在"), False, False, id="100051"),
    pytest.param(error_for_code(100052, "敏感"), False, False, id="100052"),
    pytest.param(error_for_code(404, "", status=404), False, False, id="http-404"),
    pytest.param(LiblibPayloadTooLargeError("big"), False, False, id="too-large"),
    pytest.param(LiblibError("other"), False, False, id="base"),
]


@pytest.mark.parametrize(("error", "query", "submit"), CASES)
def test_should_retry_table(error: LiblibError, query: bool, submit: bool) -> None:
    assert _should_retry("query", error, 1, max_attempts=5) is query
    assert _should_retry("submit", error, 1, max_attempts=5) is submit


@pytest.mark.parametrize("error", [NEVER_SENT, error_for_code(429, ""), LiblibServerError("x")])
def test_should_retry_stops_at_max_attempts(error: LiblibError) -> None:
    assert _should_retry("query", error, 4, max_attempts=5)
    assert not _should_retry("query", error, 5, max_attempts=5)
    assert not _should_retry("query", error, 1, max_attempts=1)


def test_error_types_used_by_the_table() -> None:
    assert isinstance(error_for_code(500, "", status=500), LiblibServerError)
    assert isinstance(error_for_code(100054, ""), LiblibConcurrencyError)
    assert isinstance(error_for_code(401, ""), LiblibAuthError)
    assert isinstance(error_for_code(100000, ""), LiblibInvalidParameterError)
    assert isinstance(error_for_code(100051, ""), LiblibTaskNotFoundError)
    assert type(error_for_code(404, "", status=404)) is LiblibStatusError


def _status(code: int, percent: float | None = None) -> TaskStatus:
    return TaskStatus.model_validate({"generateStatus": code, "percentCompleted": percent})


@pytest.mark.parametrize(
    ("status", "elapsed", "expected_duration", "interval"),
    [
        pytest.param(_status(1), 0.0, 20.0, 5.0, id="queued-far-from-done-slow"),
        pytest.param(_status(2), 15.0, 20.0, 5.0, id="far-from-the-end-capped-at-hi"),
        pytest.param(_status(2), 17.0, 20.0, 3.25, id="aim-just-past-expected-end"),
        pytest.param(_status(2), 21.5, 20.0, 0.5, id="just-past-expected-check-often"),
        pytest.param(_status(2), 30.0, 20.0, 5.0, id="well-past-expected-back-off"),
        pytest.param(_status(2), 24.0, 20.0, 2.0, id="past-expected-backing-off"),
        pytest.param(_status(2), 20.25, 20.0, 0.5, id="past-expected-end-check-often"),
        pytest.param(_status(2, 0.5), 4.0, None, 4.25, id="from-progress"),
        pytest.param(_status(2, 0.5), 8.0, 10.0, 5.0, id="progress-says-later-than-expected"),
        pytest.param(_status(2, 0.9), 9.0, 10.0, 1.25, id="almost-done"),
        pytest.param(_status(2, 0.9), 9.0, None, 1.25, id="almost-done-by-progress"),
        pytest.param(_status(3), 1.0, 100.0, 1.0, id="generated-capped-at-lo"),
        pytest.param(_status(4), 9.8, 10.0, 0.45, id="auditing-near-end"),
        pytest.param(_status(2), 1.0, None, 1.0, id="no-estimate-starts-at-lo"),
        pytest.param(_status(2), 6.0, None, 3.0, id="no-estimate-backs-off"),
        pytest.param(_status(2), 60.0, None, 5.0, id="no-estimate-capped-at-hi"),
    ],
)
def test_next_poll_interval(
    status: TaskStatus, elapsed: float, expected_duration: float | None, interval: float
) -> None:
    assert _next_poll_interval(status, elapsed, expected_duration, lo=1.0, hi=5.0) == pytest.approx(interval)


def test_next_poll_interval_zero_in_tests() -> None:
    assert _next_poll_interval(_status(1), 0, 20, lo=0, hi=0) == 0
