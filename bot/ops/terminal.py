"""The command line's terminal output: member-facing texts without Discord markdown, and one progress line.

Texts written for Discord (``**bold**``, ``inline code``, timestamps, links) pass through ``plain`` once before
they reach the terminal. ``ProgressLine`` rewrites a single line on a terminal and prints plain lines
(only when the text changes) into a pipe or a log file.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TextIO

_CODE_BLOCK = re.compile(r"```(?:[a-z0-9_+-]*\n)?(.*?)```", re.DOTALL)
_INLINE_CODE = re.compile(r"`([^`\n]*)`")
_LINK = re.compile(r"\[([^\]\n]+)\]\(<?(https?://[^)>\s]+)>?\)")
_TIMESTAMP = re.compile(r"<t:(-?\d+)(?::[tTdDfFR])?>")
_EMPHASIS = re.compile(r"(\*\*\*|\*\*|__|~~|\|\|)(.+?)\1", re.DOTALL)
_HEADING = re.compile(r"^#{1,3} +|^-# +", re.MULTILINE)


def plain(text: str) -> str:
    """``text`` as the terminal should show it: Discord markdown removed (code stays quoted)."""
    text = _CODE_BLOCK.sub(lambda m: m.group(1).strip("\n"), text)
    text = _INLINE_CODE.sub(r"'\1'", text)
    text = _LINK.sub(r"\1 (\2)", text)
    text = _TIMESTAMP.sub(lambda m: f"{datetime.fromtimestamp(int(m.group(1)), UTC):%Y-%m-%d %H:%M} UTC", text)
    previous = None
    while previous != text:  # nested emphasis: **__x__**
        previous, text = text, _EMPHASIS.sub(r"\2", text)
    return _HEADING.sub("", text)


class ProgressLine:
    """One updating status line: rewritten in place on a terminal (``tty``; default: ``out.isatty()``), one
    plain line per change otherwise. ``done`` ends it so the next output starts on a fresh line."""

    def __init__(self, out: TextIO, *, tty: bool | None = None) -> None:
        self._out = out
        self._tty = out.isatty() if tty is None else tty
        self._last = ""
        self._width = 0  # of the line on screen, to blank a longer previous one

    def show(self, text: str, *, key: str | None = None) -> None:
        """Show ``text``. Off a terminal, only when ``key`` (default: the text) changed: a ticking clock in
        the text does not print a line per update."""
        key = text if self._tty or key is None else key
        if key == self._last:
            return
        self._last = key
        if self._tty:
            self._out.write("\r" + text.ljust(self._width))
            self._width = len(text)
        else:
            self._out.write(text + "\n")
        self._out.flush()

    def done(self) -> None:
        if self._tty and self._width:
            self._out.write("\n")
            self._out.flush()
        self._width = 0
        self._last = ""
