"""``liblib-bot``: run the bot, generate from the command line, run the simulator, sync commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import yarl

from bot import __version__
from bot.log import setup_logging
from bot.ops import problems
from bot.settings import DiscordSettings, Settings, SettingsError, SimulatorSettings, load_settings_with_sources

if TYPE_CHECKING:
    from bot.discord_app.client import LiblibBot

log = logging.getLogger(__name__)

DEFAULT_SIMULATOR_PORT = 8765
_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})

COMMANDS = {
    "run": "run the Discord bot",
    "sync-commands": "sync the slash commands to Discord now, then exit",
    "check": "check the settings, the Discord token and the LiblibAI keys; print the invite URL",
    "simulate": "run the local LiblibAI simulator",
    "imagine": "generate images from the command line",
    "backup": "write a consistent copy of the database to PATH (safe while the bot runs)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="liblib-bot", description="LiblibAI image bot for Discord")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--config", help="settings file (default: config.toml when present)")
    sub = parser.add_subparsers(dest="command", required=True)
    commands = {name: sub.add_parser(name, help=text) for name, text in COMMANDS.items()}
    sim = commands["simulate"]
    sim.add_argument(
        "--port",
        type=int,
        help="port (default: simulator.port, else the port of a local liblib.base_url, else 8765; 0: any free port)",
    )
    sim.add_argument("--host", help="host (default: simulator.host, or the host of a local liblib.base_url)")
    commands["backup"].add_argument("path", help="the new backup file (it must not exist yet)")
    img = commands["imagine"]
    img.add_argument("prompt")
    img.add_argument("--mode", default=None, help="star3, kontext (pro/max), or custom / a custom model name")
    img.add_argument("--image", action="append", default=[], help="input image: a URL or a local file (repeatable)")
    img.add_argument("--count", type=int, default=1)
    img.add_argument("--seed", type=int)
    img.add_argument("--steps", type=int)
    img.add_argument("--aspect", help="aspect ratio, e.g. 1:1, 3:4, 16:9")
    img.add_argument("--negative", help="negative prompt (custom models)")
    img.add_argument("--kontext-model", choices=["pro", "max"], help="with --mode kontext")
    img.add_argument("--out", default="out", help="directory for the PNG files (default: out/)")
    return parser


def with_default_command(argv: list[str]) -> list[str]:
    """``python -m bot``'s arguments: ``run`` when no subcommand (and no help or version) is asked for."""
    if any(a in COMMANDS or a in ("-h", "--help", "--version") for a in argv):
        return argv
    return [*argv, "run"]


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "check":
        from bot.ops.check import main as check

        return check(args.config)
    if args.command != "run":
        return _command(args)
    # A stop while starting up, before the event loop takes the signals over, is a clean stop too.
    previous = {sig: signal.signal(sig, _stop_now) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        return _command(args)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _command(args: argparse.Namespace) -> int:
    try:
        settings, sources = load_settings_with_sources(args.config)
        if args.command in ("run", "sync-commands"):
            from bot.composition import check_settings

            check_settings(settings)  # what needs the configured modes: the bot-wide styles
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return problems.EXIT_SETTINGS
    secrets = [
        s.get_secret_value()
        for s in (settings.liblib.access_key, settings.liblib.secret_key, settings.discord.token)
        if s is not None
    ]
    level = settings.logging.level
    if args.command == "imagine" and level.upper() != "DEBUG":
        level = "WARNING"  # its own output tells the story; the log adds only what needs attention
    setup_logging(
        level,
        json_format=settings.logging.json_format,
        discord_level=settings.logging.discord_level,
        secrets=secrets,
    )
    for warning in sources.override_warnings():
        log.warning("%s", warning)
    try:
        if args.command == "run":
            return asyncio.run(_run(settings))
        if args.command == "sync-commands":
            return asyncio.run(_sync(settings))
        if args.command == "simulate":
            return asyncio.run(_simulate(settings, args.host, args.port))
        if args.command == "backup":
            from bot.ops.backup import main as backup

            return backup(settings.storage.url, args.path)
        return asyncio.run(_imagine(settings, args))
    except KeyboardInterrupt:
        return 130


def _stop_now(signum: int, frame: object) -> None:
    raise SystemExit(problems.EXIT_STOPPED)


def _report(problem: problems.Problem, exc: BaseException | None = None) -> int:
    """The one line an owner needs (the traceback only at DEBUG); returns the exit status."""
    log.error("%s", problem.line())
    if exc is not None:
        log.debug("details of the failure above", exc_info=exc)
    return problem.exit_status


def _token(settings: Settings) -> str:
    token = settings.discord.token.get_secret_value() if settings.discord.token else ""
    if not token:
        raise problems.ProblemError(problems.token_missing())
    return token


@contextlib.contextmanager
def _owner_problems(settings: DiscordSettings, during: str) -> Iterator[None]:
    """Turn a Discord failure the owner can fix into ``ProblemError`` (the rest passes unchanged)."""
    try:
        yield
    except Exception as exc:
        problem = problems.discord_failure(exc, settings, during=during)
        if problem is None:
            raise
        raise problems.ProblemError(problem) from exc


async def _log_in(bot: LiblibBot, token: str, settings: DiscordSettings) -> None:
    """Log in: Discord must accept the token (``GET /users/@me``) within ``login_timeout``; then the bot's
    own setup (cogs, command sync, the runner) runs to its end."""
    login = asyncio.create_task(bot.login(token), name="discord-login")
    accepted = asyncio.create_task(bot.logged_in.wait())
    try:
        with _owner_problems(settings, "log in"):
            await asyncio.wait({login, accepted}, timeout=settings.login_timeout, return_when=asyncio.FIRST_COMPLETED)
            if not bot.logged_in.is_set():
                if not login.done():
                    raise TimeoutError
                await login  # raises why Discord did not accept it
        with _owner_problems(settings, "set up"):
            await login
    except BaseException:
        login.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await login
        raise
    finally:
        accepted.cancel()


async def _connect(bot: LiblibBot, settings: DiscordSettings) -> asyncio.Task[None]:
    """Open the gateway; returns its task once Discord's READY arrived within ``login_timeout``. Until then a
    failure, or silence, raises ``ProblemError``; later ones are discord.py's to retry."""
    ready = asyncio.ensure_future(bot.wait_for("connect"))  # dispatched on READY; listening before connecting
    gateway = asyncio.create_task(bot.connect(), name="discord-gateway")
    try:
        with _owner_problems(settings, "connect"):
            await asyncio.wait({ready, gateway}, timeout=settings.login_timeout, return_when=asyncio.FIRST_COMPLETED)
            if gateway.done():
                gateway.result()  # raises what ended it before READY
            elif not ready.done():
                raise TimeoutError
        return gateway
    except BaseException:
        gateway.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await gateway
        raise
    finally:
        ready.cancel()


async def _serve(settings: Settings, token: str, stop: asyncio.Event, connected: asyncio.Event) -> None:
    """Start everything, log in, connect, and run until ``stop``; sets ``connected`` at the gateway's READY."""
    from bot.composition import open_runtime

    async with open_runtime(settings) as runtime:
        bot = runtime.bot
        await _log_in(bot, token, settings.discord)
        gateway = await _connect(bot, settings.discord)
        connected.set()
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({gateway, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if stop.is_set():
            # Stop taking jobs, let polls persist their state, close the sessions; the next start resumes.
            await bot.close()
        with _owner_problems(settings.discord, "connect"):
            await gateway  # returns once closed; raises what ended it otherwise


async def _run(settings: Settings) -> int:
    """``liblib-bot run``: one line and a distinct exit status for each failure the owner can fix (see
    ``bot.ops.problems``), 0 for a stop by SIGTERM or Ctrl-C at any moment."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        token = _token(settings)
    except problems.ProblemError as exc:
        return _report(exc.problem)
    connected = asyncio.Event()
    serving = asyncio.create_task(_serve(settings, token, stop, connected), name="liblib-bot")
    stopping = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if stop.is_set():
        log.info("stop signal received: taking no new jobs; running jobs resume on the next start")
        if not connected.is_set():
            serving.cancel()  # still starting, or waiting for Discord: unwinding closes whatever was opened
    try:
        await serving
    except asyncio.CancelledError:
        if not stop.is_set():
            raise
    except problems.ProblemError as exc:
        if not stop.is_set():
            return _report(exc.problem, exc.__cause__)
        log.debug("while stopping: %s", exc.problem.line(), exc_info=exc.__cause__)
    except Exception as exc:
        if not stop.is_set():
            # Not a failure the owner can fix: a bug. Its traceback is what a report needs.
            log.critical("the bot stopped on an unexpected error: %s: %s", type(exc).__name__, exc, exc_info=exc)
            return problems.EXIT_UNEXPECTED
        log.debug("while stopping", exc_info=exc)
    return problems.EXIT_STOPPED


async def _sync(settings: Settings) -> int:
    from bot.composition import open_runtime

    try:
        token = _token(settings)
        async with open_runtime(settings) as runtime:
            runtime.bot.sync_only = True
            await _log_in(runtime.bot, token, settings.discord)
            print(f"synced: {runtime.bot.synced}")
            await runtime.bot.close()
    except problems.ProblemError as exc:
        return _report(exc.problem, exc.__cause__)
    return 0


async def _simulate(settings: Settings, host: str | None, port: int | None) -> int:
    from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator, run_forever

    liblib = settings.liblib
    accounts: dict[str, str] = {}
    if liblib.has_keys and liblib.access_key and liblib.secret_key:
        accounts[liblib.access_key.get_secret_value()] = liblib.secret_key.get_secret_value()

    def ready(sim: Simulator) -> None:
        # The configured secret is never printed; the dev pair is public (it only works here).
        lines = [
            f"LiblibAI simulator listening on {sim.base_url} (every image it returns is SIMULATED)",
            f"  accepts the dev key pair: LIBLIB_ACCESS_KEY={DEV_ACCESS_KEY} LIBLIB_SECRET_KEY={DEV_SECRET_KEY}",
        ]
        if accounts:
            lines.append("  and your configured key pair (LIBLIB_ACCESS_KEY / LIBLIB_SECRET_KEY)")
        lines += [
            f'  point the bot at it: base_url = "{sim.base_url}" under [liblib] '
            f"(or LIBBOT_LIBLIB__BASE_URL={sim.base_url}), then run the bot or imagine",
            "  Ctrl-C stops it.",
        ]
        print("\n".join(lines), flush=True)

    await run_forever(
        simulator_address(settings, host, port),
        accounts=accounts,
        submit_per_second=liblib.submit_per_second,
        max_concurrent=liblib.max_concurrent_tasks,
        ready=ready,
    )
    return 0


def simulator_address(settings: Settings, host: str | None, port: int | None) -> SimulatorSettings:
    """Where ``simulate`` listens: ``--host``/``--port`` (port 0: any free port), else ``[simulator]``; with
    neither port, where ``liblib.base_url`` points when it is a local http URL, else port 8765."""
    sim = settings.simulator
    address: dict[str, object] = {"host": host or sim.host, "port": sim.port if port is None else port}
    if port is None and not sim.port:
        target = yarl.URL(settings.liblib.base_url)
        if target.scheme == "http" and target.host in _LOOPBACK and target.explicit_port:
            address = {"host": host or target.host, "port": target.explicit_port}
        else:
            address["port"] = DEFAULT_SIMULATOR_PORT
    return sim.model_copy(update=address)


_STATUS_NAMES = {1: "queued", 2: "generating", 3: "generated", 4: "auditing", 5: "done", 6: "failed", 7: "timeout"}


async def _imagine(settings: Settings, args: argparse.Namespace) -> int:
    from bot.billing.prices import price_per_image
    from bot.composition import open_liblib
    from bot.errors import BotError
    from bot.generation.builder import RequestBuilder
    from bot.generation.families import family_of, kontext_mode, make_submit_builder, mode_name
    from bot.generation.language import Language
    from bot.generation.restyle import shaped_like_source
    from bot.generation.routing import route_request
    from bot.liblib import LiblibError, TaskStatus
    from bot.media.codec import as_png_or_jpeg, sniff_input
    from bot.media.videos import video_extension
    from bot.models import GenerationRequest
    from bot.ops.terminal import ProgressLine, plain

    out_dir = Path(args.out)
    # Without keys, open_liblib says once (in the log) which simulator answers.
    async with open_liblib(settings) as (client, _simulator):
        where = f"LiblibAI at {client.settings.base_url}"
        builder = RequestBuilder(settings.models, simulated=lambda: client.simulated)
        mode = args.mode
        if mode == "kontext" and args.kontext_model:
            mode = kontext_mode(args.kontext_model)
        if mode == "custom":
            if not settings.models.custom:
                print("error: no custom models are configured ([[models.custom]] in the settings).", file=sys.stderr)
                return 2
            mode = settings.models.custom[0].name
        progress = ProgressLine(sys.stderr)

        def build(name: str | None) -> GenerationRequest:
            return builder.build(
                args.prompt,
                mode=name,
                negative_prompt=args.negative,
                aspect_ratio=args.aspect,
                count=args.count,
                seed=args.seed,
                steps=args.steps,
                has_image=bool(args.image[:1]),
                reference_count=max(0, len(args.image) - 1),
            )

        try:
            if mode is None:  # the default, unless the prompt's language sends it elsewhere (as on Discord)
                request = route_request(
                    builder,
                    build,
                    prompt=args.prompt,
                    negative=args.negative,
                    default=settings.models.default_mode,
                    preferred=(settings.models.non_english_default,),
                    price=lambda r: price_per_image(settings.liblib.prices, mode_name(r)),
                )
                if request.routed_language is not None:
                    language = Language(request.routed_language).label
                    print(f"{language} prompt -> {mode_name(request)}", file=sys.stderr)
            else:
                request = build(mode)
            sources: list[str] = []
            for index, ref in enumerate(args.image):
                image = sniff_input(await _read_image(ref), field=f"--image {ref}")
                if index == 0:  # the result keeps the first image's shape, as a restyle on Discord does
                    request = shaped_like_source(request, image.width, image.height)
                upload = as_png_or_jpeg(image)
                sources.append(
                    await client.upload_image(upload.data, f"cli-{index}.{upload.extension}", upload.content_type)
                )
            request = request.with_(source_images=tuple(sources))
            submit = make_submit_builder(settings)(request)
            started = time.monotonic()

            async def show(status: TaskStatus) -> None:
                name = _STATUS_NAMES.get(status.generate_status, "…")
                pct = f" {status.percent_completed * 100:.0f}%" if status.percent_completed else ""
                progress.show(f"  [{time.monotonic() - started:5.1f}s] {name}{pct}", key=f"{name}{pct}")

            generate_uuid = await client.submit(submit)
            print(f"submitted task {generate_uuid}", file=sys.stderr)
            result = await client.wait_for(family_of(request.mode), generate_uuid, on_progress=show)
            progress.done()
            out_dir.mkdir(parents=True, exist_ok=True)
            for index, output in enumerate(result.images, start=1):
                data = await client.download(output.image_url, max_bytes=50 * 1024 * 1024)
                path = out_dir / f"{generate_uuid[:12]}_{index}.png"
                path.write_bytes(data)
                print(f"{path}\tseed={output.seed}" + ("\tsimulated" if client.simulated else ""))
            for index, video in enumerate(result.videos, start=1):  # a ComfyUI workflow that makes videos
                path = out_dir / f"{generate_uuid[:12]}_video{index}{video_extension(video.video_url)}"
                path.write_bytes(await client.download(video.video_url, max_bytes=500 * 1024 * 1024))
                print(f"{path}\tvideo")
        except BotError as exc:
            progress.done()
            print(f"error: {plain(exc.message)}", file=sys.stderr)
            return 2
        except _InputError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except LiblibError as exc:
            progress.done()
            problem = problems.liblib_problem(exc, where)
            if problem is not None:
                print(f"error: {problem.line()}", file=sys.stderr)
            else:
                detail = f" ({plain(exc.message)})" if exc.message != exc.human else ""
                print(f"error: {plain(exc.human)}{detail}", file=sys.stderr)
            return 1
        if result.blocked_count:
            print(f"{result.blocked_count} image(s) were blocked by the content audit.", file=sys.stderr)
        if client.simulated:
            print(f"SIMULATED: answered by the LiblibAI simulator at {client.settings.base_url}", file=sys.stderr)
        print(f"points spent: {result.points_cost or 0}" + (" (simulated)" if client.simulated else ""))
    return 0


class _InputError(Exception):
    """An ``--image`` that cannot be read (the message says which and why)."""


async def _read_image(ref: str) -> bytes:
    """The bytes of an ``--image``: a local file, or a URL (downloaded here, so its shape is known). Past the
    size limit a download stops: ``sniff_input`` refuses what is over."""
    if not ref.startswith(("http://", "https://")):
        try:
            return await asyncio.to_thread(Path(ref).read_bytes)
        except OSError as exc:
            raise _InputError(f"cannot read --image {ref}: {exc.strerror or exc}") from exc
    import aiohttp

    from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES

    data = bytearray()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60, sock_connect=15)) as http,
            http.get(ref) as resp,
        ):
            if resp.status != 200:
                raise _InputError(f"cannot download --image {ref}: HTTP {resp.status}")
            async for chunk in resp.content.iter_chunked(64 * 1024):
                data += chunk
                if len(data) > MAX_INPUT_IMAGE_BYTES:
                    break
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise _InputError(f"cannot download --image {ref}: {str(exc) or type(exc).__name__}") from exc
    return bytes(data)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
