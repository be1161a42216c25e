"""Logging set-up: one formatter, optional JSON, and a redaction filter as a last line of defence.

Code never logs secrets or signed URLs on purpose (LiblibAI's signature travels in the query string);
the filter also scrubs registered secrets and any ``Signature=`` query value that slips through.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable
from datetime import UTC, datetime

_SIGNED_QUERY = re.compile(r"(Signature|AccessKey|SignatureNonce|token)=[^&\s\"']+", re.IGNORECASE)
_WEBHOOK_TOKEN = re.compile(r"(/(?:webhooks|interactions)/\d+/)[A-Za-z0-9_.\-]{20,}")
# The same keys in a dict repr or JSON ('token': '...'), e.g. discord.py's DEBUG dump of INTERACTION_CREATE.
_SECRET_FIELD = re.compile(
    r"""(['"](?:Signature|AccessKey|SignatureNonce|token)['"]\s*:\s*['"])[^'"]+""", re.IGNORECASE
)


class RedactingFilter(logging.Filter):
    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s and len(s) >= 4]

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        text = _SIGNED_QUERY.sub(r"\1=***", text)
        text = _SECRET_FIELD.sub(r"\1***", text)
        return _WEBHOOK_TOKEN.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self.redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        event = getattr(record, "job_event", None)
        if isinstance(event, dict):
            data.update(event)
        if record.exc_text or record.exc_info:
            data["exc"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(data, ensure_ascii=False)


class OneLineReconnects(logging.Filter):
    """discord.py logs every failed gateway (re)connect with a full traceback; below DEBUG, one line naming the
    error is enough (the attempt is retried, and a lasting failure is reported by the command line)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if (
            error is not None
            and str(record.msg).startswith("Attempting a reconnect")
            and not logging.getLogger("discord").isEnabledFor(logging.DEBUG)
        ):
            record.msg, record.args = f"{record.getMessage()} ({type(error).__name__}: {error})", None
            record.exc_info = record.exc_text = None
        return True


_ONE_LINE_RECONNECTS = OneLineReconnects()


def setup_logging(
    level: str = "INFO", *, json_format: bool = False, discord_level: str = "WARNING", secrets: Iterable[str] = ()
) -> RedactingFilter:
    """Configure the root logger once; returns the redaction filter so callers can add secrets."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter() if json_format else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    redactor = RedactingFilter(secrets)
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("discord").setLevel(discord_level.upper())
    logging.getLogger("discord.client").addFilter(_ONE_LINE_RECONNECTS)  # added once: the same instance
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    # aiosqlite's DEBUG lines echo SQL parameters, interaction tokens included: never below INFO.
    logging.getLogger("aiosqlite").setLevel(max(logging.INFO, root.level))
    return redactor
