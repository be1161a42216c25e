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


class QuotaExceededError(BotError):
    def __init__(self, scope: str, limit: int, used: int, resets_at: datetime | None, unit: str = "images") -> None:
        when = f" It resets <t:{int(resets_at.timestamp())}:R>." if resets_at else ""
        super().__init__(f"You have reached the {scope} limit: {used}/{limit} {unit}.{when}")
        self.scope = scope
        self.limit = limit
        self.used = used
        self.resets_at = resets_at


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
