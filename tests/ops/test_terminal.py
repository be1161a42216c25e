"""The command line's terminal output: Discord markdown made plain, and the one progress line."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from bot.errors import InvalidRequestError, discord_time
from bot.i18n import N_
from bot.ops.terminal import ProgressLine, plain


@pytest.mark.parametrize(
    ("discord", "terminal"),
    [
        ("**mode**: unknown mode `nope`.", "mode: unknown mode 'nope'."),
        ("__*x*__ and ~~gone~~ and ||secret||", "*x* and gone and secret"),
        ("***both***", "both"),
        ("see [the docs](https://example.com/a) now", "see the docs (https://example.com/a) now"),
        ("```toml\n[discord]\n```", "[discord]"),
        ("# Title\ntext", "Title\ntext"),
        ("2 * 3 = 6", "2 * 3 = 6"),
    ],
)
def test_plain_drops_discord_markdown(discord: str, terminal: str) -> None:
    assert plain(discord) == terminal


def test_plain_shows_a_discord_timestamp_as_a_utc_time() -> None:
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    assert plain(f"resets {discord_time(when)}") == "resets 2026-03-01 12:30 UTC"


def test_a_member_facing_error_reads_plain_on_the_terminal() -> None:
    error = InvalidRequestError("count", N_("choose one of {choices}."), choices="1, 2")
    assert "**" in error.message
    assert plain(error.message) == "count: choose one of 1, 2."


def test_progress_on_a_terminal_rewrites_one_line() -> None:
    out = io.StringIO()
    line = ProgressLine(out, tty=True)
    line.show("[ 0.1s] queued", key="queued")
    line.show("[ 0.2s] queued", key="queued")
    line.show("[ 0.9s] generating 50%", key="generating 50%")
    line.show("[ 1.0s] done", key="done")
    line.done()
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")
    shown = ["[ 0.1s] queued", "[ 0.2s] queued", "[ 0.9s] generating 50%"]
    last = "[ 1.0s] done".ljust(len(shown[-1]))  # blanks what is left of the longer line before it
    assert text.split("\r")[1:] == [*shown, last + "\n"]


def test_progress_elsewhere_prints_a_line_per_change() -> None:
    out = io.StringIO()
    line = ProgressLine(out, tty=False)
    line.show("[ 0.1s] queued", key="queued")
    line.show("[ 0.2s] queued", key="queued")
    line.show("[ 0.9s] generating 50%", key="generating 50%")
    line.done()
    assert out.getvalue() == "[ 0.1s] queued\n[ 0.9s] generating 50%\n"


def test_progress_asks_the_stream_whether_it_is_a_terminal() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Terminal()
    line = ProgressLine(out)
    line.show("a")
    line.show("b")
    assert out.getvalue() == "\ra\rb"
