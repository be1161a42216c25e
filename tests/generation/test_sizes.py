"""Aspect ratio -> output size for the newer families: every ratio lands inside the documented pixel rules
(liblib-api.md §5.8), as close to the ratio as they allow."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.generation.builder import ASPECT_RATIOS
from bot.generation.sizes import LIBDREAM, SEEDREAM_40, SEEDREAM_45, STEP, PixelRules, fit_size, img1_aspect
from bot.liblib import endpoints as ep
from bot.liblib.models import libdream_size_problem, seedream_size_problem

RULES = {"seedream-4.0": SEEDREAM_40, "seedream-4.5": SEEDREAM_45, "libdream": LIBDREAM}
ratios = st.tuples(st.integers(1, 64), st.integers(1, 64)).map(lambda wh: f"{wh[0]}:{wh[1]}")


def _documented(name: str, width: int, height: int) -> str | None:
    """The request models' own check of the documented rules (what the client refuses before sending)."""
    if name == "libdream":
        return libdream_size_problem(width, height)
    return seedream_size_problem(
        ep.SEEDREAM_45_MODEL if name == "seedream-4.5" else ep.SEEDREAM_40_MODEL, width, height
    )


@given(ratio=st.one_of(st.sampled_from(ASPECT_RATIOS), ratios), name=st.sampled_from(sorted(RULES)))
def test_every_ratio_maps_inside_the_documented_rules(ratio: str, name: str) -> None:
    width, height = fit_size(ratio, RULES[name])
    assert RULES[name].allows(width, height), (ratio, width, height)
    assert _documented(name, width, height) is None, (ratio, width, height)
    assert width % STEP == 0 and height % STEP == 0


@given(ratio=ratios, rules=st.sampled_from(list(RULES.values())))
def test_the_shape_follows_the_ratio(ratio: str, rules: PixelRules) -> None:
    rw, rh = (int(x) for x in ratio.split(":"))
    width, height = fit_size(ratio, rules)
    if rw > rh:
        assert width >= height
    elif rw < rh:
        assert width <= height
    lo, hi = rules.side
    # A ratio the limits can reach: its short side, with the long side at most ``hi``, is at least ``lo`` and
    # leaves room for the least pixel count (Seedream 4.5 wants 3.7 MP, so 2:39 is out of reach at 8192 px).
    short_at_max = hi * min(rw, rh) / max(rw, rh)
    if short_at_max >= lo and hi * short_at_max >= rules.pixels[0] * 1.05:
        assert abs(width / height - rw / rh) / (rw / rh) < 0.1


@pytest.mark.parametrize("ratio", ASPECT_RATIOS)
def test_the_offered_ratios_keep_their_shape_closely(ratio: str) -> None:
    rw, rh = (int(x) for x in ratio.split(":"))
    for rules in RULES.values():
        width, height = fit_size(ratio, rules)
        assert abs(width / height - rw / rh) / (rw / rh) < 0.02, (ratio, rules, width, height)


def test_sizes_aim_at_the_defaults() -> None:
    assert fit_size("1:1", SEEDREAM_40) == fit_size(None, SEEDREAM_40) == (2048, 2048)
    assert fit_size("1:1", SEEDREAM_45) == (2048, 2048)
    assert fit_size("1:1", LIBDREAM) == (1328, 1328)  # libDream's documented default
    assert fit_size("16:9", SEEDREAM_40) == (2720, 1536)


@pytest.mark.parametrize(
    ("ratio", "named"),
    [(None, "auto"), ("1:1", "square"), ("2:3", "portrait"), ("9:21", "portrait"), ("16:9", "landscape")],
)
def test_img1_takes_the_nearest_named_ratio(ratio: str | None, named: str) -> None:
    assert img1_aspect(ratio) == named
