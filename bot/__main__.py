"""``python -m bot`` runs the bot (same as ``liblib-bot run``); other subcommands pass through."""

from __future__ import annotations

import sys

from bot.ops.cli import main

if __name__ == "__main__":
    argv = sys.argv[1:]
    commands = {"run", "imagine", "simulate", "sync-commands", "check"}
    if not any(a in commands for a in argv) and "-h" not in argv and "--help" not in argv and "--version" not in argv:
        argv = [*argv, "run"]
    raise SystemExit(main(argv))
