"""The progress gauge: an estimate from the family's learned duration, LiblibAI's percent when it is higher,
never backwards, and below 100 % until the result is in."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.jobs.progress import CAP, ProgressGauge
from bot.liblib.durations import DurationEstimator
from bot.liblib.endpoints import Family


def fixed(seconds: float) -> ProgressGauge:
    return ProgressGauge(lambda: seconds)


def test_without_a_reported_percent_the_estimate_follows_the_expected_duration() -> None:
    gauge = fixed(40.0)
    first = gauge.read(0.0)
    assert (first.fraction, first.remaining) == (0.0, 40.0)
    reading = gauge.read(10.0)
    assert reading.fraction == pytest.approx(0.25)
    assert reading.remaining == pytest.approx(30.0)  # "about 30s left"
    assert gauge.read(30.0, reported=0.0).fraction == pytest.approx(0.75)  # a webui route's 0 is no percent


def test_the_learned_duration_of_each_family_is_used() -> None:
    durations = DurationEstimator(poll_interval_min=1.0)
    durations.learn(Family.STAR3, started=0.0, previous=9.5, now=10.5, margin=0.25)  # ended around 10 s
    durations.learn(Family.KONTEXT, started=0.0, previous=39.5, now=40.5, margin=0.25)  # around 40 s
    star3 = ProgressGauge(lambda: durations.estimate(Family.STAR3))
    kontext = ProgressGauge(lambda: durations.estimate(Family.KONTEXT))
    assert star3.read(5.0).fraction == pytest.approx(0.5)
    assert kontext.read(5.0).fraction == pytest.approx(0.125)
    assert kontext.read(5.0).remaining == pytest.approx(35.0)


def test_a_reported_percent_wins_when_it_is_higher() -> None:
    gauge = fixed(100.0)
    reading = gauge.read(10.0, reported=0.5)  # the estimate says 10 %
    assert reading.fraction == 0.5
    assert reading.remaining == pytest.approx(10.0)  # 10 s for the first half: 10 s for the rest
    assert gauge.read(20.0, reported=0.6).fraction == 0.6


def test_a_lower_reported_percent_never_moves_the_bar_back() -> None:
    gauge = fixed(10.0)
    assert gauge.read(6.0).fraction == pytest.approx(0.6)
    reading = gauge.read(6.5, reported=0.2)  # LiblibAI says less than was shown: the bar holds, then goes on
    assert reading.fraction == pytest.approx(0.65)
    assert gauge.read(6.6, reported=0.1).fraction == pytest.approx(0.66)


def test_a_longer_learned_duration_mid_task_holds_the_bar() -> None:
    expected = [10.0]
    gauge = ProgressGauge(lambda: expected[0])
    assert gauge.read(5.0).fraction == pytest.approx(0.5)
    expected[0] = 60.0  # other tasks of the family finished slower meanwhile
    held = gauge.read(6.0)
    assert held.fraction == pytest.approx(0.5)
    assert held.remaining == pytest.approx(6.0)  # what the bar says: half done after 6 s


def test_never_100_percent_before_the_result() -> None:
    gauge = fixed(10.0)
    late = gauge.read(500.0)
    assert late.fraction == CAP < 1.0
    assert late.remaining is None  # the expected time is used up: "almost done"
    assert gauge.read(501.0, reported=1.0).fraction == CAP  # LiblibAI's own 100 % is not the result yet


@given(
    st.lists(
        st.tuples(
            st.floats(0, 1000, allow_nan=False),  # seconds since the last reading
            st.one_of(st.none(), st.floats(0, 1, allow_nan=False)),  # the reported fraction
            st.floats(0.5, 600, allow_nan=False),  # the expected duration at that moment
        ),
        min_size=1,
        max_size=30,
    )
)
def test_readings_never_go_backwards_and_stay_below_the_cap(steps: list[tuple[float, float | None, float]]) -> None:
    expected = [30.0]
    gauge = ProgressGauge(lambda: expected[0])
    elapsed, last = 0.0, 0.0
    for gap, reported, duration in steps:
        elapsed += gap
        expected[0] = duration
        reading = gauge.read(elapsed, reported)
        assert last <= reading.fraction <= CAP
        assert reading.remaining is None or reading.remaining >= 0
        last = reading.fraction
