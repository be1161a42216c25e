"""``python -m bot`` runs the bot (same as ``liblib-bot run``); other subcommands pass through."""

from __future__ import annotations

import sys

from bot.ops.cli import main, with_default_command

if __name__ == "__main__":
    raise SystemExit(main(with_default_command(sys.argv[1:])))
