"""The one backoff rule (bot/backoff.py): delays with jitter, Retry-After honoured and capped, a floor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from bot.backoff import parse_retry_after, retry_delay


@pytest.mark.parametrize(
    ("attempt", "retry_after", "cap", "rand", "expected"),
    [
        pytest.param(1, None, 20.0, 0.0, 0.5, id="first-backoff"),
        pytest.param(2, None, 20.0, 0.0, 1.0, id="doubles"),
        pytest.param(3, None, 20.0, 0.0, 2.0, id="doubles-again"),
        pytest.param(3, None, 20.0, 1.0, 1.5, id="max-jitter-takes-25pct"),
        pytest.param(10, None, 20.0, 0.0, 20.0, id="capped"),
        pytest.param(60, None, 5.0, 0.0, 5.0, id="huge-attempt-capped"),
        pytest.param(1, 3.0, 20.0, 0.9, 3.0, id="retry-after-honoured-no-jitter"),
        pytest.param(1, 0.0, 20.0, 0.5, 0.0, id="retry-after-zero"),
        pytest.param(1, 120.0, 20.0, 0.0, 20.0, id="retry-after-capped"),
        pytest.param(2, -1.0, 20.0, 0.0, 1.0, id="negative-retry-after-ignored"),
        pytest.param(2, float("nan"), 20.0, 0.0, 1.0, id="nan-retry-after-ignored"),
    ],
)
def test_retry_delay_table(attempt: int, retry_after: float | None, cap: float, rand: float, expected: float) -> None:
    assert retry_delay(attempt, retry_after, cap=cap, rand=lambda: rand) == pytest.approx(expected)


def test_retry_delay_jitter_stays_in_range() -> None:
    for attempt in range(1, 8):
        delay = retry_delay(attempt, None, cap=20.0)
        full = min(20.0, 0.5 * 2 ** (attempt - 1))
        assert 0.75 * full <= delay <= full


NOW = datetime(2025, 4, 9, 13, 43, 29, tzinfo=UTC)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("", None, id="empty"),
        pytest.param("3", 3.0, id="int-seconds"),
        pytest.param(" 1.5 ", 1.5, id="float-seconds"),
        pytest.param("0", 0.0, id="zero"),
        pytest.param("120", 120.0, id="large-seconds-uncapped-here"),
        pytest.param("-5", None, id="negative"),
        pytest.param("inf", None, id="inf"),
        pytest.param("nan", None, id="nan"),
        pytest.param("soon", None, id="garbage"),
        pytest.param("Wed, 09 Apr 2025 13:43:39 GMT", 10.0, id="http-date-future"),
        pytest.param(format_datetime(NOW + timedelta(seconds=90), usegmt=True), 90.0, id="http-date-formatted"),
        pytest.param("Wed, 09 Apr 2025 13:40:00 GMT", 0.0, id="http-date-past"),
        pytest.param("Wed, 32 Foo 2025 99:99:99 GMT", None, id="bad-date"),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    result = parse_retry_after(header, now=NOW)
    if expected is None:
        assert result is None
    else:
        assert result == pytest.approx(expected)


def test_retry_after_date_then_cap() -> None:
    parsed = parse_retry_after("Wed, 09 Apr 2025 14:43:29 GMT", now=NOW)
    assert parsed == pytest.approx(3600)
    assert retry_delay(1, parsed, cap=20.0) == 20.0


@pytest.mark.parametrize(
    ("retry_after", "rand", "expected"),
    [
        pytest.param(0.0, 0.0, 2.0, id="zero-hint-floored"),
        pytest.param(0.5, 0.0, 2.0, id="small-hint-floored"),
        pytest.param(7.0, 0.0, 7.0, id="larger-hint-kept"),
        pytest.param(None, 1.0, 2.0, id="jittered-backoff-floored"),
    ],
)
def test_retry_delay_never_goes_below_its_floor(retry_after: float | None, rand: float, expected: float) -> None:
    """A loop that must not spin (re-queue, status polling) keeps a least wait whatever the server hints."""
    assert retry_delay(1, retry_after, base=2.0, cap=30.0, floor=2.0, rand=lambda: rand) == expected
