"""The metrics and health HTTP server (``[metrics]``): ``/metrics`` for Prometheus, ``/healthz`` for probes.

``/healthz`` answers 200 when the gateway is connected, the store answers and the last LiblibAI call
reached the API (no call yet counts as reachable), else 503; the JSON body says which check failed.

``python -m bot.ops.health`` is the container's HEALTHCHECK: it exits 0 only on a 200 from ``/healthz``.
"""

from __future__ import annotations

import logging
import os
import sys
import urllib.error
import urllib.request

import discord
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bot.models import JobState
from bot.ops.metrics import Metrics
from bot.storage import Store

log = logging.getLogger(__name__)

DEFAULT_PORT = 9108


class HealthServer:
    """Serves ``/metrics`` and ``/healthz`` on ``host:port`` (port 0: any free port, see ``port``)."""

    def __init__(self, metrics: Metrics, bot: discord.Client, store: Store, *, host: str, port: int) -> None:
        self._metrics = metrics
        self._bot = bot
        self._store = store
        self._host = host
        self._port = port
        self._runner: web.AppRunner | None = None
        app = web.Application()
        app.router.add_get("/metrics", self._handle_metrics)
        app.router.add_get("/healthz", self._handle_health)
        self.app = app

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        return self._port

    async def start(self) -> None:
        runner = web.AppRunner(self.app, handle_signals=False, access_log=None, shutdown_timeout=1.0)
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = runner.addresses[0][1]
        log.info("metrics and health on http://%s:%d (/metrics, /healthz)", self._host, self._port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def checks(self) -> dict[str, bool]:
        gateway = self._bot.is_ready() and not self._bot.is_closed()
        store = await self._store.ping()
        liblib = self._metrics.liblib_reachable is not False
        return {"gateway_connected": gateway, "store_reachable": store, "liblib_reachable": liblib}

    async def _handle_health(self, request: web.Request) -> web.Response:
        checks = await self.checks()
        ok = all(checks.values())
        body: dict[str, object] = {"status": "ok" if ok else "unhealthy", **checks}
        if self._metrics.liblib_last_error:
            body["liblib_last_error"] = self._metrics.liblib_last_error
        return web.json_response(body, status=200 if ok else 503)

    async def _handle_metrics(self, request: web.Request) -> web.Response:
        # The queue depth is read from the store at scrape time, so it is right whatever moved the jobs.
        try:
            self._metrics.queue_depth.set(len(await self._store.list_jobs([JobState.QUEUED])))
        except Exception:
            log.warning("metrics: could not read the queue depth", exc_info=True)
        return web.Response(body=self._metrics.render(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def probe(url: str, timeout: float = 5.0) -> int:
    """0 when ``url`` answers 200, else 1 (the reason goes to stderr)."""
    if not url.startswith(("http://", "https://")):
        print(f"unhealthy: not an http URL: {url}", file=sys.stderr)  # noqa: T201
        return 1
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 - scheme checked above
            return 0 if resp.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"unhealthy: HTTP {exc.code}: {exc.read().decode(errors='replace')}", file=sys.stderr)  # noqa: T201
    except OSError as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)  # noqa: T201
    return 1


def main() -> int:
    """The container's HEALTHCHECK: the port the bot serves on, from the same settings ``run`` reads (defaults
    file, config.toml, environment); the plain default when they cannot be read."""
    from bot.settings import SettingsError, load_settings

    try:
        port = load_settings().metrics.port
    except SettingsError:
        port = int(os.environ.get("LIBBOT_METRICS__PORT", str(DEFAULT_PORT)))
    return probe(f"http://127.0.0.1:{port}/healthz")


if __name__ == "__main__":  # pragma: no cover - the container's HEALTHCHECK
    raise SystemExit(main())
