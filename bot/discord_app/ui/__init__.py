"""Discord presentation: embed builders and persistent buttons."""
