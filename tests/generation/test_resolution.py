"""The one resolution order (bot/generation/resolution.py): option > flag > personal default > style > server > bot."""

from __future__ import annotations

import pytest

from bot.generation.resolution import (
    EXPLICIT,
    NOTHING,
    ORDER,
    Choices,
    Resolved,
    Source,
    choose_style,
    first,
    resolve,
)
from bot.models import Style

# One distinct value per level and per field: whichever value comes out names the level that won.
LEVELS: dict[Source, Choices] = {
    Source.OPTION: Choices(mode="opt-mode", aspect="16:9", count=4, negative="opt-neg", strength=0.1),
    Source.FLAG: Choices(mode="flag-mode", aspect="4:3", count=3, negative="flag-neg", strength=0.2),
    Source.PREFERENCE: Choices(mode="pref-mode", aspect="3:2", count=2),
    Source.STYLE: Choices(mode="style-mode", aspect="9:16", negative="style-neg", strength=0.4),
    Source.SERVER: Choices(mode="server-mode", aspect="21:9", count=1, negative="server-neg", strength=0.5),
    Source.BOT: Choices(mode="bot-mode", aspect="1:1", count=1, negative="bot-neg", strength=0.6),
}
FIELDS = ("mode", "aspect", "count", "negative", "strength")


def _style(choices: Choices) -> Style:
    return Style(
        name="s", mode=choices.mode, aspect=choices.aspect, negative=choices.negative, strength=choices.strength
    )


def _resolve(present: set[Source]):  # type: ignore[no-untyped-def]
    given = {source: LEVELS[source] if source in present else NOTHING for source in ORDER}
    style = Resolved(_style(given[Source.STYLE]), Source.OPTION) if Source.STYLE in present else None
    return resolve(
        option=given[Source.OPTION],
        flag=given[Source.FLAG],
        preference=given[Source.PREFERENCE],
        style=style,
        server=given[Source.SERVER],
        bot=given[Source.BOT],
    )


def test_the_documented_order() -> None:
    assert ORDER == (Source.OPTION, Source.FLAG, Source.PREFERENCE, Source.STYLE, Source.SERVER, Source.BOT)
    assert {Source.OPTION, Source.FLAG} == EXPLICIT


# The table: for each level, with it and every level below it present, that level wins every field it sets;
# a field it does not set (a personal default has no negative prompt or strength) falls to the next level down.
@pytest.mark.parametrize("top", ORDER)
@pytest.mark.parametrize("field", FIELDS)
def test_each_level_beats_every_level_below_it(top: Source, field: str) -> None:
    present = set(ORDER[ORDER.index(top) :])
    resolved = getattr(_resolve(present), field)
    winner = next(s for s in ORDER[ORDER.index(top) :] if getattr(LEVELS[s], field) is not None)
    assert resolved.source is winner
    assert resolved.value == getattr(LEVELS[winner], field)
    assert resolved.explicit == (winner in EXPLICIT)


@pytest.mark.parametrize("only", ORDER)
def test_each_level_alone_sets_what_it_says(only: Source) -> None:
    resolution = _resolve({only})
    for field in FIELDS:
        expected = getattr(LEVELS[only], field)
        resolved = getattr(resolution, field)
        assert resolved.value == expected
        assert resolved.source is (only if expected is not None else None)


@pytest.mark.parametrize("missing", ORDER)
def test_a_missing_level_is_skipped(missing: Source) -> None:
    present = set(ORDER) - {missing}
    mode = _resolve(present).mode
    expected = next(s for s in ORDER if s in present)
    assert mode.source is expected and mode.value == LEVELS[expected].mode


def test_nothing_set_resolves_to_nothing() -> None:
    resolution = resolve()
    assert all(source is None for source in resolution.sources().values())
    assert resolution.mode == Resolved() and not resolution.mode.explicit


def test_the_whole_order_in_one_request() -> None:
    """A member who names the mode in an option, the aspect in a flag, leaves the count to their defaults, the
    negative prompt to the style and nothing for the strength."""
    resolution = resolve(
        option=Choices(mode="star3"),
        flag=Choices(mode="kontext-pro", aspect="16:9"),
        preference=Choices(mode="kontext-max", aspect="3:2", count=2),
        style=Resolved(Style(name="noir", mode="dreamtech-xl", aspect="3:4", negative="color"), Source.FLAG),
        server=Choices(mode="kontext-max"),
        bot=Choices(mode="star3", count=1),
    )
    assert resolution.sources() == {
        "mode": Source.OPTION,
        "aspect": Source.FLAG,
        "count": Source.PREFERENCE,
        "negative": Source.STYLE,
        "strength": None,
        "style": Source.FLAG,
    }
    assert (resolution.mode.value, resolution.aspect.value, resolution.count.value) == ("star3", "16:9", 2)
    assert resolution.mode.explicit and resolution.aspect.explicit and not resolution.count.explicit


@pytest.mark.parametrize(
    ("levels", "source"),
    [
        ({"preference": Choices(mode="star3")}, Source.PREFERENCE),
        ({"style": Resolved(Style(name="s", mode="star3"), Source.OPTION)}, Source.STYLE),
        ({"server": Choices(mode="star3")}, Source.SERVER),
        ({"bot": Choices(mode="star3")}, Source.BOT),
        ({"flag": Choices(mode="star3")}, Source.FLAG),
        ({"option": Choices(mode="star3")}, Source.OPTION),
    ],
)
def test_whether_the_member_chose_the_mode(levels: dict[str, object], source: Source) -> None:
    """What the routing of a prompt's language relies on: a mode from a default is not the member's choice,
    even when the member named the style that set it."""
    mode = resolve(**levels).mode  # type: ignore[arg-type]
    assert mode.source is source
    assert mode.explicit == (source in (Source.OPTION, Source.FLAG))


def test_an_empty_text_is_no_value() -> None:
    assert first({Source.OPTION: "", Source.FLAG: "x"}) == Resolved("x", Source.FLAG)


def test_the_style_is_chosen_by_the_same_order() -> None:
    assert choose_style("a", "b", "c") == Resolved("a", Source.OPTION)
    assert choose_style(None, "b", "c") == Resolved("b", Source.FLAG)
    assert choose_style(None, None, "c") == Resolved("c", Source.PREFERENCE)
    assert choose_style(None, None, None) == Resolved()
    assert choose_style(None, None, "c").explicit is False


def test_fitted_drops_defaults_the_mode_cannot_take_and_keeps_explicit_values() -> None:
    from_style = resolve(style=Resolved(Style(name="s", negative="blur", strength=0.6), Source.OPTION))
    fitted = from_style.fitted(takes_negative=False, takes_strength=False)
    assert fitted.negative == Resolved() and fitted.strength == Resolved()
    assert from_style.fitted(takes_negative=True, takes_strength=True) == from_style
    explicit = resolve(option=Choices(negative="blur", strength=0.3))
    assert explicit.fitted(takes_negative=False, takes_strength=False) == explicit  # the builder refuses them


def test_a_whole_number_strength_is_a_float() -> None:
    strength = resolve(option=Choices(strength=1)).strength  # type: ignore[arg-type]
    assert strength.value == 1.0 and isinstance(strength.value, float)


def test_fitted_keeps_default_aspects_and_counts_within_the_mode() -> None:
    defaults = resolve(preference=Choices(aspect="16:9", count=4))
    fitted = defaults.fitted(takes_negative=True, takes_strength=True, takes_aspect=False, max_count=1)
    assert fitted.aspect == Resolved() and fitted.count == Resolved(1, Source.PREFERENCE)
    assert defaults.fitted(takes_negative=True, takes_strength=True, max_count=4) == defaults
    typed = resolve(flag=Choices(aspect="16:9", count=4))
    assert typed.fitted(takes_negative=True, takes_strength=True, takes_aspect=False, max_count=1) == typed
