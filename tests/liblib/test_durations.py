"""The one duration estimate (bot/liblib/durations.py): what finished tasks teach, per family and overall."""

from __future__ import annotations

import pytest

from bot.liblib.durations import DEFAULT_DURATION, DurationEstimator
from bot.liblib.endpoints import Family

LO = 1.0  # poll_interval_min
MARGIN = LO / 4


def estimator() -> DurationEstimator:
    return DurationEstimator(poll_interval_min=LO)


def test_nothing_learned_is_thirty_seconds_everywhere() -> None:
    durations = estimator()
    assert DEFAULT_DURATION == 30.0
    assert durations.estimate() == 30.0
    assert durations.estimate(Family.STAR3) == 30.0
    assert durations.expected(Family.STAR3) is None


@pytest.mark.parametrize(
    ("previous", "now", "learned"),
    [
        pytest.param(9.5, 10.5, 10.0, id="seen-running-just-before: the middle"),
        pytest.param(5.0, 10.0, 10.0, id="seen-running-long-before: when it was found done"),
        pytest.param(None, 10.25, 8.0, id="done-at-the-first-query: 80 % of the aim"),
    ],
)
def test_one_finished_task(previous: float | None, now: float, learned: float) -> None:
    durations = estimator()
    durations.learn(Family.STAR3, started=0.0, previous=previous, now=now, margin=MARGIN)
    assert durations.expected(Family.STAR3) == pytest.approx(learned)
    assert durations.estimate(Family.STAR3) == pytest.approx(learned)
    assert durations.estimate() == pytest.approx(learned)
    assert durations.estimate(Family.KONTEXT) == pytest.approx(learned)  # unknown family: the overall figure
    assert durations.expected(Family.KONTEXT) is None  # but polling has nothing to aim at for it


def test_first_query_hits_in_a_row_are_discounted_more_up_to_a_cap() -> None:
    durations = estimator()
    for _ in range(3):
        durations.learn(Family.STAR3, started=0.0, previous=None, now=10.25, margin=MARGIN)
    # 10 * 0.8, then 0.7 * 8 + 0.3 * 6.4, then the streak stays at 0.64
    assert durations.expected(Family.STAR3) == pytest.approx(0.7 * (0.7 * 8 + 0.3 * 6.4) + 0.3 * 6.4)


def test_per_family_moving_average_and_overall_median() -> None:
    durations = estimator()
    for family, seconds in [(Family.STAR3, 10.0), (Family.STAR3, 20.0), (Family.KONTEXT, 50.0), (Family.CUSTOM, 12.0)]:
        durations.learn(family, started=0.0, previous=seconds - 5, now=seconds, margin=MARGIN)
    assert durations.estimate(Family.STAR3) == pytest.approx(0.7 * 10 + 0.3 * 20)
    assert durations.estimate(Family.KONTEXT) == 50.0
    assert durations.estimate() == 20.0  # median of 10, 12, 20, 50 (the upper middle, as the runner took)


def test_the_overall_figure_forgets_old_tasks() -> None:
    durations = estimator()
    for _ in range(20):
        durations.learn(Family.KONTEXT, started=0.0, previous=0.0, now=90.0, margin=MARGIN)
    for _ in range(20):
        durations.learn(Family.STAR3, started=0.0, previous=0.0, now=6.0, margin=MARGIN)
    assert durations.estimate() == 6.0
