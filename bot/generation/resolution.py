"""Which value a request uses, and where it came from: the ONE resolution order (pure, no I/O).

For the mode, the aspect ratio, the image count, the negative prompt and the strength, highest first:

1. the command's option (``/imagine mode:``)                     explicit
2. a flag typed in the prompt (``--mode``, ``--ar``, ``--no`` ...)   explicit
3. the member's personal default (``/prefer``)
4. the style in use (``style:``, ``--style`` or the preferred style)
5. the channel's or server's default (``/settings models default``)
6. the bot's default (the settings)

A level that says nothing is skipped; a value nobody sets stays None (the mode's own default then applies).
The style itself is chosen the same way: option > flag > personal default. Each ``Resolved`` value carries its
``Source``, so a caller can tell what the member chose (``explicit``: an option or a flag) from a default.

A default never causes a refusal by the mode: a value that did not come from the member (a style's negative prompt,
strength or aspect ratio, a preferred count) is left out, or lowered to the mode's limit, when the mode cannot take
it (``fitted``); an explicit one is kept, so the request builder refuses it with its usual message.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from enum import StrEnum
from typing import Generic, TypeVar

from bot.models import Style

T = TypeVar("T")


class Source(StrEnum):
    OPTION = "option"
    FLAG = "flag"
    PREFERENCE = "preference"
    STYLE = "style"
    SERVER = "server"
    BOT = "bot"


ORDER = (Source.OPTION, Source.FLAG, Source.PREFERENCE, Source.STYLE, Source.SERVER, Source.BOT)
EXPLICIT = frozenset({Source.OPTION, Source.FLAG})


@dataclass(frozen=True, slots=True)
class Resolved(Generic[T]):
    """A value and the level it came from (both None: no level set it)."""

    value: T | None = None
    source: Source | None = None

    @property
    def explicit(self) -> bool:
        """The member chose it for this request (an option or a flag), rather than a default."""
        return self.source in EXPLICIT


@dataclass(frozen=True, slots=True)
class Choices:
    """What one level says about each value (None: nothing)."""

    mode: str | None = None
    aspect: str | None = None
    count: int | None = None
    negative: str | None = None
    strength: float | None = None

    @classmethod
    def of_style(cls, style: Style | None) -> Choices:
        if style is None:
            return NOTHING
        return cls(mode=style.mode, aspect=style.aspect, negative=style.negative, strength=style.strength)


NOTHING = Choices()


def first(levels: Mapping[Source, T | None]) -> Resolved[T]:
    """The value of the highest level (in ``ORDER``) that has one."""
    for source in ORDER:
        value = levels.get(source)
        if value is not None and value != "":
            return Resolved(value, source)
    return Resolved()


@dataclass(frozen=True, slots=True)
class Resolution:
    """Every resolved value with its source, and the style in use (with how it was chosen)."""

    mode: Resolved[str]
    aspect: Resolved[str]
    count: Resolved[int]
    negative: Resolved[str]
    strength: Resolved[float]
    style: Resolved[Style]

    def sources(self) -> dict[str, Source | None]:
        """``{"mode": Source.FLAG, ...}``: where each value came from (logs, tests)."""
        return {f.name: getattr(self, f.name).source for f in fields(self)}

    def fitted(
        self, *, takes_negative: bool, takes_strength: bool, takes_aspect: bool = True, max_count: int | None = None
    ) -> Resolution:
        """Without the defaults the mode cannot take (its negative prompt, its strength, its aspect ratio) and with
        a default count above the mode's ``max_count`` lowered to it; explicit values stay as they are."""
        out = self
        if not takes_negative and self.negative.value is not None and not self.negative.explicit:
            out = replace(out, negative=Resolved())
        if not takes_strength and self.strength.value is not None and not self.strength.explicit:
            out = replace(out, strength=Resolved())
        if not takes_aspect and self.aspect.value is not None and not self.aspect.explicit:
            out = replace(out, aspect=Resolved())
        count = self.count
        if max_count is not None and count.value is not None and count.value > max_count and not count.explicit:
            out = replace(out, count=Resolved(max_count, count.source))
        return out


def choose_style(option: str | None, flag: str | None, preference: str | None) -> Resolved[str]:
    """Which style is in use, by the same order: the option, the flag, the personal default."""
    return first({Source.OPTION: option, Source.FLAG: flag, Source.PREFERENCE: preference})


def resolve(
    *,
    option: Choices = NOTHING,
    flag: Choices = NOTHING,
    preference: Choices = NOTHING,
    style: Resolved[Style] | None = None,
    server: Choices = NOTHING,
    bot: Choices = NOTHING,
) -> Resolution:
    """Resolve every value through the levels (see the module docstring); ``style``: the style in use."""
    chosen = style or Resolved()
    levels = {
        Source.OPTION: option,
        Source.FLAG: flag,
        Source.PREFERENCE: preference,
        Source.STYLE: Choices.of_style(chosen.value),
        Source.SERVER: server,
        Source.BOT: bot,
    }

    def pick(name: str) -> Resolved[object]:
        return first({source: getattr(choices, name) for source, choices in levels.items()})

    return Resolution(
        mode=_typed(pick("mode"), str),
        aspect=_typed(pick("aspect"), str),
        count=_typed(pick("count"), int),
        negative=_typed(pick("negative"), str),
        strength=_typed(pick("strength"), float),
        style=chosen,
    )


def _typed(resolved: Resolved[object], kind: type[T]) -> Resolved[T]:
    value = resolved.value
    if value is None:
        return Resolved()
    if kind is float and isinstance(value, int):
        value = float(value)
    if not isinstance(value, kind):
        raise TypeError(f"{value!r} is not a {kind.__name__}")
    return Resolved(value, resolved.source)
