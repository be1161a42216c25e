"""User-facing errors (STYLE §2.5): each carries a safe, friendly message shown ephemerally."""

from __future__ import annotations

from datetime import datetime


class BotError(Exception):
    """An error whose message is safe to show the member as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidRequestError(BotError):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"**{field}**: {reason}")
        self.field = field
        self.reason = reason


def discord_time(when: datetime, style: str = "R") -> str:
    """A Discord timestamp: each member sees it in their own time zone (``R``: "in 3 hours")."""
    return f"<t:{int(when.timestamp())}:{style}>"


class QuotaExceededError(BotError):
    def __init__(
        self,
        scope: str,
        limit: int,
        used: int,
        resets_at: datetime | None,
        unit: str = "images",
        *,
        requested: int = 0,
    ) -> None:
        when = f" It resets {discord_time(resets_at)} ({discord_time(resets_at, 'f')})." if resets_at else ""
        asked = f" This request needs {requested}." if requested and used + requested > limit and used < limit else ""
        super().__init__(f"You have reached the {scope} limit: {used}/{limit} {unit} used.{asked}{when}")
        self.scope = scope
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        self.requested = requested


class NotAllowedError(BotError):
    """Server settings forbid this here (channel, feature, model, role, DMs)."""


class BannedWordError(BotError):
    def __init__(self, word: str, *, strikes: int, strike_limit: int, blocked_until: datetime | None) -> None:
        text = f"Your prompt contains a word this server does not allow (||{word}||). Nothing was sent."
        if blocked_until is not None:
            text += f" You have been blocked from generating until {discord_time(blocked_until, 'f')}."
        elif strike_limit:
            text += f" Strike {strikes} of {strike_limit}."
        super().__init__(text)
        self.word = word
        self.blocked_until = blocked_until


class MemberBlockedError(BotError):
    def __init__(self, until: datetime) -> None:
        super().__init__(
            f"You are blocked from generating here until {discord_time(until, 'f')} ({discord_time(until)}) "
            "after repeated banned words. A server admin can lift this."
        )
        self.until = until


class CooldownError(BotError):
    def __init__(self, until: datetime) -> None:
        super().__init__(f"Slow down: you can start another generation {discord_time(until)}.")
        self.until = until


class TooManyActiveJobsError(BotError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            f"You already have {limit} job(s) queued or running. Wait for one to finish (or cancel one) first."
        )
        self.limit = limit


class QueueFullError(BotError):
    def __init__(self) -> None:
        super().__init__("The queue is full right now. Please try again in a few minutes.")


class JobNotFoundError(BotError):
    def __init__(self, job_id: str) -> None:
        super().__init__(f"No job `{job_id}` was found.")


class JobNotCancellableError(BotError):
    def __init__(self, state: str) -> None:
        super().__init__(f"This job can no longer be cancelled (it is {state}).")
        self.state = state


class NotJobOwnerError(BotError):
    def __init__(self) -> None:
        super().__init__("Only the member who started this job (or a server admin) can do that.")


class ServiceUnavailableError(BotError):
    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or "The image service is unavailable right now. Please try again later.")
