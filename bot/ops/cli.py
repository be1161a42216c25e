"""``liblib-bot``: run the bot, generate from the command line, run the simulator, sync commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import time
from pathlib import Path

import yarl

from bot import __version__
from bot.log import setup_logging
from bot.settings import Settings, SettingsError, SimulatorSettings, load_settings_with_sources

log = logging.getLogger(__name__)

TOKEN_HELP = (
    "No Discord bot token configured.\n"
    "Create an application at https://discord.com/developers/applications, open Bot -> Reset Token,\n"
    'then set DISCORD_TOKEN=<token> in the environment (or token = "..." under [discord] in config.toml).'
)


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
    try:
        settings, sources = load_settings_with_sources(args.config)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    secrets = [
        s.get_secret_value()
        for s in (settings.liblib.access_key, settings.liblib.secret_key, settings.discord.token)
        if s is not None
    ]
    setup_logging(
        settings.logging.level,
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


def _require_token(settings: Settings) -> str | None:
    token = settings.discord.token.get_secret_value() if settings.discord.token else ""
    if not token:
        print(TOKEN_HELP, file=sys.stderr)
        return None
    return token


async def _run(settings: Settings) -> int:
    from bot.composition import open_runtime

    token = _require_token(settings)
    if token is None:
        return 2
    async with open_runtime(settings) as runtime:
        bot = runtime.bot
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        runner = asyncio.create_task(bot.start(token))
        stopper = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait({runner, stopper}, return_when=asyncio.FIRST_COMPLETED)
        if stopper in done:
            log.info("stop signal received: taking no new jobs; running jobs resume on the next start")
        # SIGTERM: stop taking jobs, let polls persist their state, close sessions; the next start resumes.
        await bot.close()
        stopper.cancel()
        if runner in done and runner.exception() is not None:
            raise runner.exception()  # type: ignore[misc]
        with contextlib.suppress(asyncio.CancelledError):
            await runner
    return 0


async def _sync(settings: Settings) -> int:
    from bot.composition import open_runtime

    token = _require_token(settings)
    if token is None:
        return 2
    async with open_runtime(settings) as runtime:
        runtime.bot.sync_only = True
        await runtime.bot.login(token)
        print(f"synced: {runtime.bot.synced}")
        await runtime.bot.close()
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


async def _imagine(settings: Settings, args: argparse.Namespace) -> int:
    from bot.billing.prices import price_per_image
    from bot.composition import open_liblib
    from bot.errors import BotError
    from bot.generation.builder import RequestBuilder
    from bot.generation.families import family_of, kontext_mode, make_submit_builder, mode_name
    from bot.generation.language import Language
    from bot.generation.routing import route_request
    from bot.liblib import LiblibError, TaskStatus
    from bot.media.codec import as_png_or_jpeg, sniff_input
    from bot.models import GenerationRequest

    out_dir = Path(args.out)
    async with open_liblib(settings) as (client, simulator):
        if simulator is not None:
            print(
                f"No LiblibAI keys configured: using the built-in simulator at {simulator.base_url} "
                "(images are simulated).",
                file=sys.stderr,
            )
        elif client.simulated:
            print(
                f"No LiblibAI keys configured: using the simulator's dev key pair at {client.settings.base_url} "
                "(images are simulated).",
                file=sys.stderr,
            )
        builder = RequestBuilder(settings.models, simulated=lambda: client.simulated)
        mode = args.mode
        if mode == "kontext" and args.kontext_model:
            mode = kontext_mode(args.kontext_model)
        if mode == "custom":
            if not settings.models.custom:
                print("error: no custom models are configured ([[models.custom]] in the settings).", file=sys.stderr)
                return 2
            mode = settings.models.custom[0].name

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
                if ref.startswith(("http://", "https://")):
                    sources.append(ref)
                    continue
                path = Path(ref)
                image = sniff_input(path.read_bytes(), field=f"--image {ref}")
                upload = as_png_or_jpeg(image)
                sources.append(
                    await client.upload_image(upload.data, f"cli-{index}.{upload.extension}", upload.content_type)
                )
            request = request.with_(source_images=tuple(sources))
            submit = make_submit_builder(settings)(request)
        except BotError as exc:
            print(f"error: {exc.message}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: cannot read input image: {exc}", file=sys.stderr)
            return 2
        started = time.monotonic()

        async def show(status: TaskStatus) -> None:
            pct = f" {status.percent_completed * 100:.0f}%" if status.percent_completed else ""
            names = {1: "queued", 2: "generating", 3: "generated", 4: "auditing", 5: "done", 6: "failed", 7: "timeout"}
            print(
                f"  [{time.monotonic() - started:5.1f}s] {names.get(status.generate_status, '…')}{pct}", file=sys.stderr
            )

        try:
            generate_uuid = await client.submit(submit)
            print(f"submitted task {generate_uuid}", file=sys.stderr)
            result = await client.wait_for(family_of(request.mode), generate_uuid, on_progress=show)
            out_dir.mkdir(parents=True, exist_ok=True)
            for index, output in enumerate(result.images, start=1):
                data = await client.download(output.image_url, max_bytes=50 * 1024 * 1024)
                path = out_dir / f"{generate_uuid[:12]}_{index}.png"
                path.write_bytes(data)
                print(f"{path}\tseed={output.seed}" + ("\tsimulated" if client.simulated else ""))
        except LiblibError as exc:
            print(f"error: {exc.human} ({exc.message})", file=sys.stderr)
            return 1
        if result.blocked_count:
            print(f"{result.blocked_count} image(s) were blocked by the content audit.", file=sys.stderr)
        if client.simulated:
            print(f"SIMULATED: answered by the LiblibAI simulator at {client.settings.base_url}", file=sys.stderr)
        print(f"points spent: {result.points_cost or 0}" + (" (simulated)" if client.simulated else ""))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
