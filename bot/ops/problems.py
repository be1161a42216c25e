"""What a failure means to the owner: one wording for ``check``, ``run``, ``sync-commands`` and ``imagine``.

Each ``Problem`` names what is wrong and what to do, in one line. ``run`` and ``sync-commands`` also exit with
the problem's status:

    0  stopped cleanly (SIGTERM or Ctrl-C, at any moment)
    1  an unexpected error (a bug: the log has its traceback)
    2  the settings are invalid, or the Discord token is not set
    3  Discord rejected the token
    4  Discord cannot be reached, or did not answer within ``[discord] login_timeout``
    5  Discord refused the session for another reason (a privileged intent not enabled, sharding required, ...)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: the command line reads the exit statuses before anything heavy loads
    from bot.liblib import LiblibError
    from bot.settings import DiscordSettings

EXIT_STOPPED = 0
EXIT_UNEXPECTED = 1
EXIT_SETTINGS = 2
EXIT_TOKEN_REJECTED = 3
EXIT_UNREACHABLE = 4
EXIT_REFUSED = 5

PORTAL = "https://discord.com/developers/applications"
_STATUS_PAGE = "https://discordstatus.com"


@dataclass(frozen=True, slots=True)
class Problem:
    subject: str  # what it is about: "Discord token", "Discord", "LiblibAI keys", ...
    detail: str  # what is wrong and what to do
    exit_status: int = EXIT_UNEXPECTED

    def line(self) -> str:
        return f"{self.subject}: {self.detail}"


class ProblemError(Exception):
    """A failure the owner can act on; ``problem`` says how (raised by the command line's Discord steps)."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(problem.line())
        self.problem = problem


# -- Discord ----------------------------------------------------------------------------------------


def token_missing() -> Problem:
    return Problem(
        "Discord token",
        f"not set. Create an application at {PORTAL}, open Bot -> Reset Token, and set DISCORD_TOKEN "
        "(or token under [discord])",
        EXIT_SETTINGS,
    )


def token_rejected() -> Problem:
    return Problem(
        "Discord token",
        "rejected by Discord (401 Unauthorized): it is wrong or was reset. Copy a new one from the Developer "
        "Portal (Bot -> Reset Token)",
        EXIT_TOKEN_REJECTED,
    )


def not_a_bot_token() -> Problem:
    return Problem("Discord token", "this is not a bot token (the account is not a bot user)", EXIT_TOKEN_REJECTED)


def discord_unreachable(url: str, reason: str, setting: str = "api_base_url") -> Problem:
    return Problem(
        "Discord",
        f"cannot reach Discord at {url}: {reason}. Check this machine's network connection and DNS "
        f"(and [discord] {setting})",
        EXIT_UNREACHABLE,
    )


def discord_silent(where: str, seconds: float) -> Problem:
    return Problem(
        "Discord",
        f"{where} did not answer within {seconds:g} s ([discord] login_timeout). Check this machine's network "
        f"connection, proxy and firewall, or Discord's status at {_STATUS_PAGE}, and start again",
        EXIT_UNREACHABLE,
    )


def discord_http_error(status: int, request: str = "GET /users/@me") -> Problem:
    if status >= 500:
        return Problem(
            "Discord",
            f"Discord answered HTTP {status} to {request}: Discord is having trouble; see {_STATUS_PAGE} "
            "and start again later",
            EXIT_UNREACHABLE,
        )
    subject = "Discord token" if request == "GET /users/@me" else "Discord"
    return Problem(subject, f"Discord answered HTTP {status} to {request}", EXIT_REFUSED)


def intents_refused() -> Problem:
    return Problem(
        "Discord",
        "the Message Content intent is not enabled for this application: enable it in the Developer Portal "
        "(Bot -> Privileged Gateway Intents), or set message_content_intent = false under [discord]",
        EXIT_REFUSED,
    )


# Gateway close codes an owner can act on (discord.com/developers/docs/topics/opcodes-and-status-codes).
_CLOSE_ADVICE = {
    4010: "the shard settings are invalid: check [discord] shard_count and shard_ids",
    4011: "Discord requires sharding for this many servers: set [discord] shard_count (see docs/operations.md)",
    4013: "the requested gateway intents are invalid",
    4014: "a privileged intent is not enabled in the Developer Portal (Bot -> Privileged Gateway Intents)",
}


def gateway_closed(code: int, reason: str) -> Problem:
    what = _CLOSE_ADVICE.get(code) or (reason or "no reason given")
    return Problem("Discord", f"Discord closed the gateway connection (code {code}): {what}", EXIT_REFUSED)


def discord_failure(exc: BaseException, settings: DiscordSettings, *, during: str = "log in") -> Problem | None:
    """What a discord.py failure while logging in or connecting means to the owner; None: not a known one.

    ``during`` is "log in" (the REST API: ``GET /users/@me``), "set up" (the bot's own setup after the login:
    only Discord's HTTP errors are Discord's) or "connect" (the gateway, until its READY). An
    unknown error caused by a known one (discord.py trips over its own state when the very first gateway
    connection fails) is read by its cause.
    """
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return None
        problem = _discord_problem(seen, settings, during)
        if problem is not None:
            return problem
        seen = seen.__cause__ or seen.__context__
    return None


def _discord_problem(exc: BaseException, settings: DiscordSettings, during: str) -> Problem | None:
    import aiohttp
    import discord

    if during == "set up" and not isinstance(exc, discord.HTTPException | aiohttp.ClientError):
        return None
    api = settings.api_base_url.rstrip("/")
    where = f"the gateway at {settings.gateway_url}" if during == "connect" else f"the API at {api}"
    if isinstance(exc, discord.LoginFailure):
        return token_rejected()
    if isinstance(exc, discord.PrivilegedIntentsRequired):
        return intents_refused()
    if isinstance(exc, discord.ConnectionClosed):
        return token_rejected() if exc.code == 4004 else gateway_closed(exc.code or 0, exc.reason or "")
    if isinstance(exc, discord.HTTPException):
        response = exc.response
        request = f"{response.method} {response.url.path}" if isinstance(response, aiohttp.ClientResponse) else ""
        return discord_http_error(exc.status, request or "GET /users/@me")
    if isinstance(exc, TimeoutError):  # before ClientError: aiohttp's own timeouts are both
        return discord_silent(where, settings.login_timeout)
    if isinstance(exc, discord.GatewayNotFound):
        return discord_unreachable(api, "Discord gave no gateway address")
    if isinstance(exc, aiohttp.ClientError | OSError):
        reason = str(exc) or type(exc).__name__
        if during == "connect":
            return discord_unreachable(settings.gateway_url, reason, "gateway_url")
        return discord_unreachable(api, reason)
    return None


# -- LiblibAI ---------------------------------------------------------------------------------------


def liblib_problem(exc: LiblibError, where: str) -> Problem | None:
    """The owner's side of a LiblibAI error (keys, points, reachability); None for a job's own failure
    (a refused prompt, a failed or filtered generation), whose ``human`` text says it. ``where`` reads
    "LiblibAI at <base url>"."""
    from bot import liblib

    if isinstance(exc, liblib.LiblibAccessDeniedError):
        return Problem(
            "LiblibAI keys",
            f"{where} denied access (HTTP/code {exc.code}): the account has no API entitlement or no API points",
        )
    if isinstance(exc, liblib.LiblibAuthError):
        return Problem(
            "LiblibAI keys",
            f"rejected by {where} ({exc.message}): check LIBLIB_ACCESS_KEY and LIBLIB_SECRET_KEY "
            "(copy both again from the API page of your LiblibAI account) and that the clock is right",
        )
    if isinstance(exc, liblib.LiblibInsufficientPointsError):
        return Problem("LiblibAI points", f"the account at {where} is out of points: top it up")
    if isinstance(exc, liblib.LiblibConnectionError):
        return Problem("LiblibAI", f"cannot reach {where}: {exc.message}")
    if isinstance(exc, liblib.LiblibConcurrencyError):
        return Problem(
            "LiblibAI",
            f"the account at {where} is running as many tasks as it may (100054): try again when one has finished",
        )
    if isinstance(exc, liblib.LiblibRateLimitError):
        return Problem("LiblibAI", f"{where} is rate limiting this key (429): try again in a minute")
    if isinstance(exc, liblib.LiblibResponseValidationError):
        return Problem("LiblibAI", f"{where} did not answer like the LiblibAI API: check [liblib] base_url")
    return None
