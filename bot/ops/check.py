"""``liblib-bot check``: validate the settings, the Discord token and the LiblibAI keys; print the invite URL.

Each problem gets one precise line and the exit status is non-zero when there is any. The calls made are
free and change nothing: ``GET /users/@me`` (+ ``/oauth2/applications/@me``) on Discord, one signed
status query for a task that does not exist on LiblibAI (answered 100051 "task not found" when the keys
are good, an auth error when they are not), and an empty body to each configured family's submit routes
(refused by validation on a served route before any charge, "No static resource" on one the account lacks).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import aiohttp
import asyncpg
import discord

import bot.ops.problems as problems
from bot import liblib
from bot.billing import BalanceBook
from bot.composition import check_settings, uses_other_service, with_dev_keys
from bot.config_sources import Provenance
from bot.generation.builder import RequestBuilder
from bot.generation.families import make_submit_builder
from bot.generation.routing import family_submit_routes
from bot.liblib import Family, LiblibClient
from bot.liblib.availability import probe_routes
from bot.log import setup_logging
from bot.settings import POSTGRES_SCHEMES, Settings, SettingsError, load_settings_with_sources
from bot.storage import PendingMigrationsError, open_store
from bot.storage.postgres import probe_postgres, redacted
from bot.storage.sqlite import sqlite_path_from_url

# Exactly what the bot uses: read the channel, answer, post embeds and images, reply in threads.
REQUIRED_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
)
PERMISSION_NAMES = (
    "View Channel",
    "Send Messages",
    "Send Messages in Threads",
    "Embed Links",
    "Attach Files",
    "Read Message History",
)
SCOPES = ("bot", "applications.commands")
_DISCORD_TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=10)


def invite_url(application_id: int) -> str:
    return (
        f"https://discord.com/oauth2/authorize?client_id={application_id}"
        f"&scope={'+'.join(SCOPES)}&permissions={REQUIRED_PERMISSIONS.value}"
    )


@dataclass(slots=True, frozen=True)
class Finding:
    ok: bool
    subject: str
    detail: str
    warn: bool = False  # ok, but the owner should know (printed WARN)

    def line(self) -> str:
        status = "FAIL" if not self.ok else "WARN" if self.warn else "ok  "
        return f"{status}  {self.subject}: {self.detail}"


# -- settings and storage -------------------------------------------------------------------------


async def check_storage(settings: Settings) -> Finding:
    """What ``run`` will open: the SQLite file's directory writable (or the file readable and writable), or the
    PostgreSQL database reachable, its schema present and its migrations known (the scheme itself was
    validated with the settings, as for ``run``)."""
    url = settings.storage.url
    if url.startswith(POSTGRES_SCHEMES):
        try:
            return Finding(True, "storage", await probe_postgres(url))
        except (OSError, TimeoutError, asyncpg.PostgresError, RuntimeError) as exc:
            detail = str(exc).replace(url, redacted(url)) or type(exc).__name__
            return Finding(False, "storage", f"PostgreSQL {redacted(url)}: {detail}")
    return _check_sqlite(url)


def _check_sqlite(url: str) -> Finding:
    raw = sqlite_path_from_url(url)
    if raw == ":memory:":
        return Finding(True, "storage", "in-memory SQLite (jobs are lost on restart)")
    path = Path(raw)
    if path.exists():
        if not os.access(path, os.R_OK | os.W_OK):
            return Finding(False, "storage", f"the database file {path} is not readable and writable by this user")
        return Finding(True, "storage", f"SQLite database {path}")
    parent = next((p for p in [path.parent, *path.parent.parents] if p.exists()), Path("."))
    if not parent.is_dir():
        return Finding(False, "storage", f"cannot create {path}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        return Finding(False, "storage", f"cannot create {path}: {parent} is not writable by this user")
    return Finding(True, "storage", f"SQLite database {path} (created on first run)")


# -- Discord --------------------------------------------------------------------------------------


def _failed(problem: problems.Problem) -> Finding:
    """A failed check worded as ``bot.ops.problems`` words it for every command."""
    return Finding(False, problem.subject, problem.detail)


async def check_discord(settings: Settings) -> tuple[Finding, int | None]:
    """The token's identity (and the application id for the invite URL), or the precise problem."""
    token = settings.discord.token.get_secret_value() if settings.discord.token else ""
    if not token:
        return _failed(problems.token_missing()), None
    api = settings.discord.api_base_url.rstrip("/")
    headers = {"Authorization": f"Bot {token}", "User-Agent": "liblib-bot check"}
    try:
        async with aiohttp.ClientSession(timeout=_DISCORD_TIMEOUT, headers=headers) as http:
            status, me = await _get_json(http, f"{api}/users/@me")
            if status == 401:
                return _failed(problems.token_rejected()), None
            if status != 200 or not isinstance(me, dict):
                return _failed(problems.discord_http_error(status)), None
            app_status, app = await _get_json(http, f"{api}/oauth2/applications/@me")
    except (aiohttp.ClientError, TimeoutError) as exc:
        return _failed(problems.discord_unreachable(api, str(exc) or type(exc).__name__)), None
    # Applications made since 2016 share the bot user's id; ask anyway for older ones.
    app_id = int(app["id"]) if app_status == 200 and isinstance(app, dict) and "id" in app else int(me["id"])
    if not me.get("bot", False):
        return _failed(problems.not_a_bot_token()), None
    return Finding(True, "Discord token", f"logged in as {me.get('username')} (id {me['id']})"), app_id


async def _get_json(http: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with http.get(url) as resp:
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            body = None
        return resp.status, body


# -- LiblibAI -------------------------------------------------------------------------------------


async def check_liblib(settings: Settings) -> Finding:
    """One signed status query for a task that does not exist: proves the keys without spending points.

    A simulator tags its answers: then the line says every image would be simulated. With no keys and a
    ``base_url`` pointing elsewhere than LiblibAI, the simulator's dev key pair is tried there (as the bot would).
    """
    s = settings.liblib
    access = s.access_key.get_secret_value() if s.access_key else ""
    secret = s.secret_key.get_secret_value() if s.secret_key else ""
    dev_keys = not access or not secret
    if dev_keys:
        missing = " and ".join(
            name for name, value in (("LIBLIB_ACCESS_KEY", access), ("LIBLIB_SECRET_KEY", secret)) if not value
        )
        if not uses_other_service(s):
            return Finding(
                False,
                "LiblibAI keys",
                f"{missing} not set (or access_key/secret_key under [liblib]): the bot would use the built-in "
                "simulator and every image would be simulated",
            )
        s = with_dev_keys(s)
    quick = s.model_copy(
        update={"max_retries": 0, "request_timeout": min(s.request_timeout, 15.0), "connect_timeout": 10.0}
    )
    where = f"LiblibAI at {s.base_url}"
    client = LiblibClient(quick)
    try:
        async with client:
            status = await client.get_status(Family.STAR3, f"liblib-bot-check-{uuid.uuid4().hex}")
    except liblib.LiblibTaskNotFoundError:
        if client.simulated or dev_keys:
            return _simulated_finding(client, dev_keys)
        return Finding(True, "LiblibAI keys", f"accepted by {where} (the points balance is shown with each task)")
    except liblib.LiblibError as exc:
        if dev_keys and isinstance(exc, liblib.LiblibAuthError) and not isinstance(exc, liblib.LiblibAccessDeniedError):
            return Finding(
                False,
                "LiblibAI keys",
                f"not set, and {where} refused the simulator's dev key pair ({exc.message}): set "
                "LIBLIB_ACCESS_KEY and LIBLIB_SECRET_KEY, or point [liblib] base_url at `liblib-bot simulate`",
            )
        problem = problems.liblib_problem(exc, where)
        return _failed(problem) if problem else Finding(False, "LiblibAI", f"{where} answered with an error: {exc}")
    if client.simulated or dev_keys:
        return _simulated_finding(client, dev_keys)
    balance = f"; balance {status.account_balance} points" if status.account_balance is not None else ""
    return Finding(True, "LiblibAI keys", f"accepted by {where}{balance}")


def _simulated_finding(client: LiblibClient, dev_keys: bool) -> Finding:
    keys = "not set: the simulator's dev key pair is" if dev_keys else "your key pair is"
    return Finding(
        True,
        "LiblibAI keys",
        f"{keys} accepted by a LiblibAI SIMULATOR at {client.settings.base_url}: every image would be SIMULATED "
        "(remove base_url under [liblib] to use LiblibAI)",
    )


async def check_routes(settings: Settings) -> list[Finding]:
    """One line per configured family: whether LiblibAI serves its submit routes for this account. Each route
    gets an empty body, which a served route refuses by validation before any charge (100050) and an unserved
    one answers "No static resource" (or HTTP 404): no points are spent. Run once the keys are known good."""
    s = settings.liblib if settings.liblib.has_keys else with_dev_keys(settings.liblib)
    quick = s.model_copy(update={"max_retries": 2, "request_timeout": min(s.request_timeout, 15.0)})
    routes = family_submit_routes(RequestBuilder(settings.models), make_submit_builder(settings))
    try:
        async with LiblibClient(quick) as client:
            served = await probe_routes(client, [path for paths in routes.values() for path in paths])
    except liblib.LiblibError as exc:
        reason = exc.message if isinstance(exc, liblib.LiblibStatusError) else str(exc)
        return [Finding(True, "LiblibAI routes", f"not checked ({reason})", warn=True)]
    return [_route_finding(family, paths, served, settings) for family, paths in routes.items()]


def _route_finding(family: str, paths: tuple[str, ...], served: dict[str, bool], settings: Settings) -> Finding:
    subject = f"LiblibAI {family} routes"
    missing = [path for path in paths if not served[path]]
    if not missing:
        return Finding(True, subject, "served")
    detail = f"NOT served by this account ({', '.join(missing)}): jobs in these modes are refused"
    detail += "; members without a mode of their own get another one"
    if family == str(Family.STAR3) and settings.liblib.star3_use_ultra_routes:
        detail += "; try `star3_use_ultra_routes = false` under [liblib] (Star-3 may have moved to /webui/*)"
    return Finding(True, subject, detail, warn=True)


async def check_liblib_and_routes(settings: Settings) -> list[Finding]:
    """The keys, then (when they work) each family's routes."""
    keys = await check_liblib(settings)
    return [keys, *(await check_routes(settings) if keys.ok else [])]


# -- the account balance -------------------------------------------------------------------------


async def check_balance(settings: Settings) -> Finding:
    """The balance the running bot last recorded, with the burn forecast (information, never a failure)."""
    try:
        raw = sqlite_path_from_url(settings.storage.url)
    except ValueError:
        raw = None
    if raw is not None and (raw == ":memory:" or not os.path.exists(raw)):  # noqa: ASYNC240 - one stat
        return Finding(True, "balance", "no record yet (the bot records it with every finished job)")
    try:
        # A read: no migration applied here (a check before an upgrade must leave the schema as it is).
        async with asyncio.timeout(10), open_store(settings.storage.url, migrate=False) as store:
            book = BalanceBook(store, settings.balance)
            reading = await book.latest()
            if reading is None:
                return Finding(True, "balance", "no record yet (the bot records it with every finished job)")
            outlook = await book.forecast(reading)
    except PendingMigrationsError:
        return Finding(True, "balance", "not read: the database has migrations pending (the next start applies them)")
    except (OSError, ValueError, TimeoutError) as exc:
        return Finding(True, "balance", f"not read ({type(exc).__name__})")
    detail = f"{reading.points} points, reported {reading.at:%Y-%m-%d %H:%M} UTC"
    if outlook.days_left is None:
        detail += f"; nothing spent in the last {outlook.window_days} days"
    else:
        detail += (
            f"; at the last {outlook.window_days} days' rate ({outlook.points_per_day:.0f} points a day)"
            f" it lasts about {outlook.days_left:.0f} day(s)"
        )
    low = settings.balance.low_threshold
    if low is not None and reading.points < low:
        detail += f"; BELOW the alert threshold {low}"
    return Finding(True, "balance", detail)


# -- the command ----------------------------------------------------------------------------------


def settings_findings(sources: Provenance | None) -> list[Finding]:
    """Where the settings came from, and a warning for each file value an environment variable replaces."""
    if sources is None:
        return [Finding(True, "settings", "valid")]
    origin = f"file {sources.file}" if sources.file else "no settings file"
    env = ", ".join(sorted(set(sources.from_env.values())))
    detail = f"valid ({origin}; from the environment: {env or 'nothing'})"
    return [Finding(True, "settings", detail)] + [
        Finding(True, "settings", warning, warn=True) for warning in sources.override_warnings()
    ]


class _Collected(logging.Handler):
    """Warnings the checks log, printed after the findings (never before a line's own ``ok``)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


async def run_checks(settings: Settings, out: TextIO, sources: Provenance | None = None) -> int:
    """Print one line per check and the invite URL; 0 when everything is fine, else 1."""
    collected = _Collected()
    root = logging.getLogger()
    saved = root.handlers[:]
    root.handlers = [collected]
    try:
        storage, (discord_finding, app_id), liblib_findings, balance = await asyncio.gather(
            check_storage(settings), check_discord(settings), check_liblib_and_routes(settings), check_balance(settings)
        )
    finally:
        root.handlers = saved
    findings = [*settings_findings(sources), storage, discord_finding, *liblib_findings, balance]
    for finding in findings:
        print(finding.line(), file=out)
    for line in collected.lines:
        print(f"note  {line}", file=out)
    print(file=out)
    if app_id is not None:
        print("Invite the bot with:", file=out)
        print(f"  {invite_url(app_id)}", file=out)
    else:
        print("Invite URL: needs a working Discord token (it carries the application id).", file=out)
    print(f"  scopes: {' + '.join(SCOPES)}; permissions: {', '.join(PERMISSION_NAMES)}", file=out)
    print("  privileged intents: none needed", file=out)
    problems = sum(not f.ok for f in findings)
    print(file=out)
    print("All checks passed." if not problems else f"{problems} problem(s) found.", file=out)
    return 1 if problems else 0


def main(config: str | None, out: TextIO | None = None) -> int:
    """``liblib-bot check``: 2 for invalid settings, 1 for any failed check, 0 when all is well."""
    out = out or sys.stdout
    try:
        settings, sources = load_settings_with_sources(config)
        check_settings(settings)
    except SettingsError as exc:
        print(f"FAIL  settings: {exc}", file=out)
        return 2
    secrets = [s.get_secret_value() for s in (settings.liblib.secret_key, settings.discord.token) if s is not None]
    setup_logging("WARNING", discord_level="ERROR", secrets=secrets)
    return asyncio.run(run_checks(settings, out, sources))
