"""User-facing errors (STYLE §2.5): each carries a safe, friendly message shown ephemerally.

A BotError holds a message id and its parameters (``bot.i18n.Text``) rather than rendered text:
``message`` is the English text (logs, tests), ``localized(locale)`` what the member reads.
"""

from __future__ import annotations

from datetime import datetime

from bot.i18n import ENGLISH, N_, Locale, Text, field_name, t


class BotError(Exception):
    """An error whose message is safe to show the member as is."""

    def __init__(self, msgid: str, /, **params: object) -> None:
        self.text = Text(msgid, params)
        super().__init__(msgid)  # str(error) is ``message`` (see __str__)

    @property
    def message(self) -> str:
        return self.localized(ENGLISH)

    def __str__(self) -> str:
        return self.message

    def localized(self, locale: Locale) -> str:
        return self.text.render(locale)


class InvalidRequestError(BotError):
    """``field`` is the option (or flag) at fault, shown with its localized name; ``reason`` a msgid."""

    def __init__(self, field: str, reason: str, /, **params: object) -> None:
        super().__init__(reason, **params)
        self.field = field
        self.reason = self.text.render(ENGLISH)

    def localized(self, locale: Locale) -> str:
        return f"**{field_name(self.field, locale)}**: {self.text.render(locale)}"


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
        self.scope = scope
        self.limit = limit
        self.used = used
        self.resets_at = resets_at
        self.requested = requested
        self.unit = unit
        super().__init__(N_("You have reached the {scope} limit: {used}/{limit} {unit} used."), scope=scope)

    def localized(self, locale: Locale) -> str:
        text = t(
            "You have reached the {scope} limit: {used}/{limit} {unit} used.",
            locale,
            scope=t(self.scope, locale),
            used=self.used,
            limit=self.limit,
            unit=t(self.unit, locale),
        )
        if self.requested and self.used + self.requested > self.limit and self.used < self.limit:
            text += " " + t("This request needs {requested}.", locale, requested=self.requested)
        if self.resets_at:
            text += " " + t(
                "It resets {relative} ({absolute}).",
                locale,
                relative=discord_time(self.resets_at),
                absolute=discord_time(self.resets_at, "f"),
            )
        return text


class NotAllowedError(BotError):
    """Server settings forbid this here (channel, feature, model, role, DMs)."""


class BannedWordError(BotError):
    def __init__(self, word: str, *, strikes: int, strike_limit: int, blocked_until: datetime | None) -> None:
        self.word = word
        self.strikes = strikes
        self.strike_limit = strike_limit
        self.blocked_until = blocked_until
        super().__init__(N_("Your prompt contains a word this server does not allow (||{word}||). Nothing was sent."))

    def localized(self, locale: Locale) -> str:
        text = t(
            "Your prompt contains a word this server does not allow (||{word}||). Nothing was sent.",
            locale,
            word=self.word,
        )
        if self.blocked_until is not None:
            until = discord_time(self.blocked_until, "f")
            text += " " + t("You have been blocked from generating until {until}.", locale, until=until)
        elif self.strike_limit:
            text += " " + t("Strike {strikes} of {limit}.", locale, strikes=self.strikes, limit=self.strike_limit)
        return text


class MemberBlockedError(BotError):
    def __init__(self, until: datetime) -> None:
        super().__init__(
            N_(
                "You are blocked from generating here until {until} ({relative}) after repeated strikes "
                "(banned words, or results the content audit blocked). A server admin can lift this."
            ),
            until=discord_time(until, "f"),
            relative=discord_time(until),
        )
        self.until = until


class CooldownError(BotError):
    def __init__(self, until: datetime) -> None:
        super().__init__(N_("Slow down: you can start another generation {when}."), when=discord_time(until))
        self.until = until


class TooManyActiveJobsError(BotError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            N_("You already have {limit} job(s) queued or running. Wait for one to finish (or cancel one) first."),
            limit=limit,
        )
        self.limit = limit


class QueueFullError(BotError):
    def __init__(self) -> None:
        super().__init__(N_("The queue is full right now. Please try again in a few minutes."))


class JobNotFoundError(BotError):
    def __init__(self, job_id: str) -> None:
        super().__init__(N_("No job `{job_id}` was found."), job_id=job_id)


class JobNotCancellableError(BotError):
    def __init__(self, state: str) -> None:
        super().__init__(N_("This job can no longer be cancelled (it is {state})."), state=Text(state))
        self.state = state


class JobSubmittingError(BotError):
    def __init__(self) -> None:
        super().__init__(N_("This job is being sent to the image service right now. Press Cancel again in a moment."))


class NotJobOwnerError(BotError):
    def __init__(self) -> None:
        super().__init__(N_("Only the member who started this job (or a server admin) can do that."))


class ServiceUnavailableError(BotError):
    def __init__(self, detail: str = "", /, **params: object) -> None:
        super().__init__(detail or N_("The image service is unavailable right now. Please try again later."), **params)
