"""Operating the bot end to end: metrics and health endpoints, job-event log lines, and a log-secret scan."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.liblib.simulator import Simulator
from bot.log import JsonFormatter, RedactingFilter, setup_logging
from bot.models import JobState
from bot.ops.health import probe
from tests.e2e.conftest import FAST_SIM, make_settings, running_bot
from tests.e2e.test_imagine import wait_jobs, wait_result
from tests.fake_discord import FakeDiscord

# Realistic-looking secrets, so a leak cannot hide behind a short or common string.
DISCORD_TOKEN = "MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhJkLm.s3cr3t-d1sc0rd-t0k3n-abcdefghijklmnopqrstu"
ACCESS_KEY = "ak-ops-test-7f3a9c"
SECRET_KEY = "sk-ops-test-QmV4cGVuc2l2ZVNlY3JldA"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(metrics: dict, name: str, **labels: str) -> float:
    return metrics.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def ops_sim() -> AsyncIterator[Simulator]:
    async with Simulator(FAST_SIM, accounts={ACCESS_KEY: SECRET_KEY}, submit_per_second=20.0) as simulator:
        yield simulator


@pytest.fixture
async def ops_fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord(token=DISCORD_TOKEN) as server:
        yield server


def ops_settings(fake: FakeDiscord, sim: Simulator, tmp_path: Path, **sections: dict):
    return make_settings(
        fake,
        sim,
        tmp_path / "bot.db",
        liblib={"access_key": ACCESS_KEY, "secret_key": SECRET_KEY},
        **sections,
    )


async def test_metrics_and_health_after_a_run(ops_fake: FakeDiscord, ops_sim: Simulator, tmp_path: Path) -> None:
    settings = ops_settings(ops_fake, ops_sim, tmp_path, metrics={"enabled": True, "port": 0})
    async with running_bot(settings, ops_fake) as runtime, aiohttp.ClientSession() as http:
        assert runtime.health is not None and runtime.health.port != 0
        base = f"http://127.0.0.1:{runtime.health.port}"
        ops_fake.fail_next("PATCH", "@original", 429)  # one Discord API error (discord.py retries it)
        inter = await ops_fake.slash("imagine", {"prompt": "a lighthouse at dusk"})
        await wait_result(ops_fake, inter.token)
        await wait_jobs(runtime.store, JobState.SUCCEEDED, 1)
        ops_sim.inject("100052")  # the next submit is refused: a LiblibAI error with a code
        await ops_fake.slash("imagine", {"prompt": "refused at submit"})
        await wait_jobs(runtime.store, JobState.FAILED, 1)

        async with http.get(f"{base}/metrics") as resp:
            assert resp.status == 200
            assert resp.headers["Content-Type"].startswith("text/plain")
            metrics = samples(await resp.text())
        assert value(metrics, "liblib_bot_jobs_total", state="queued") == 2
        assert value(metrics, "liblib_bot_jobs_total", state="running") == 1
        assert value(metrics, "liblib_bot_jobs_total", state="succeeded") == 1
        assert value(metrics, "liblib_bot_jobs_total", state="failed") == 1
        [job] = await runtime.store.list_jobs([JobState.SUCCEEDED])
        assert job.points_cost > 0
        assert value(metrics, "liblib_bot_points_spent_total") == job.points_cost
        assert value(metrics, "liblib_bot_time_in_queue_seconds_count") == 1
        assert value(metrics, "liblib_bot_generation_seconds_count") == 1
        assert value(metrics, "liblib_bot_generation_seconds_sum") > 0
        assert value(metrics, "liblib_bot_liblib_errors_total", code="100052") == 1
        assert value(metrics, "liblib_bot_discord_api_errors_total", status="429") == 1
        assert value(metrics, "liblib_bot_queue_depth") == 0

        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 200
            body = await resp.json()
        # A refused prompt is an answer from LiblibAI: still reachable, with the last error shown.
        assert body == {
            "status": "ok",
            "gateway_connected": True,
            "store_reachable": True,
            "liblib_reachable": True,
            "liblib_last_error": "100052",
        }
        assert await _probe(f"{base}/healthz") == 0

        await runtime.store.close()  # the database goes away: unhealthy, and says why
        async with http.get(f"{base}/healthz") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["status"] == "unhealthy" and body["store_reachable"] is False
        assert body["gateway_connected"] is True
        assert await _probe(f"{base}/healthz") == 1


async def test_health_reports_liblib_unreachable_after_a_connection_error(
    ops_fake: FakeDiscord, ops_sim: Simulator, tmp_path: Path
) -> None:
    settings = ops_settings(ops_fake, ops_sim, tmp_path, metrics={"enabled": True, "port": 0})
    async with running_bot(settings, ops_fake) as runtime, aiohttp.ClientSession() as http:
        assert runtime.health is not None
        from bot.liblib import LiblibConnectionError

        runtime.metrics.liblib_error(LiblibConnectionError("refused"))
        async with http.get(f"http://127.0.0.1:{runtime.health.port}/healthz") as resp:
            assert resp.status == 503
            body = await resp.json()
        assert body["liblib_reachable"] is False and body["liblib_last_error"] == "LiblibConnectionError"
    assert runtime.bot.is_closed()


async def test_metrics_server_is_off_by_default(ops_fake: FakeDiscord, ops_sim: Simulator, tmp_path: Path) -> None:
    settings = ops_settings(ops_fake, ops_sim, tmp_path)
    async with running_bot(settings, ops_fake) as runtime:
        assert runtime.health is None


async def _probe(url: str) -> int:
    import asyncio

    return await asyncio.to_thread(probe, url, 5.0)


# -- logs ------------------------------------------------------------------------------------------

_SIGNATURE_VALUE = re.compile(r"signature=(?!\*\*\*)[^&\s\"'>]+", re.IGNORECASE)


def record_texts(record: logging.LogRecord) -> list[str]:
    texts = [record.getMessage(), str(record.msg), repr(record.args)]
    if record.exc_info:
        texts.append(logging.Formatter().formatException(record.exc_info))
    if record.exc_text:
        texts.append(record.exc_text)
    if record.stack_info:
        texts.append(record.stack_info)
    event = getattr(record, "job_event", None)
    if event is not None:
        texts.append(json.dumps(event, default=str))
    return texts


async def test_a_full_run_logs_no_secret_and_one_line_per_job_event(
    ops_fake: FakeDiscord,
    ops_sim: Simulator,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name in ("discord", "aiohttp", "bot", "cogs", "asyncio"):
        caplog.set_level(logging.DEBUG, logger=name)
    signatures: list[str] = []  # every signature the bot sent, as the simulator received it
    check_auth = ops_sim._auth_error

    def spy(request):
        signatures.append(request.query.get("Signature", ""))
        return check_auth(request)

    monkeypatch.setattr(ops_sim, "_auth_error", spy)
    settings = ops_settings(ops_fake, ops_sim, tmp_path)
    async with running_bot(settings, ops_fake) as runtime:
        inter = await ops_fake.slash("imagine", {"prompt": "a quiet harbour", "count": 2})
        await wait_result(ops_fake, inter.token)
        [job] = await wait_jobs(runtime.store, JobState.SUCCEEDED, 1)
        ops_sim.inject("401")  # an auth failure is logged too, with the request path only
        await ops_fake.slash("imagine", {"prompt": "rejected keys"})
        await wait_jobs(runtime.store, JobState.FAILED, 1)

    records = caplog.records
    redactor = RedactingFilter([DISCORD_TOKEN, ACCESS_KEY, SECRET_KEY])
    assert len(signatures) >= 3 and all(len(sig) >= 16 for sig in signatures)
    assert len(records) > 50  # DEBUG from discord.py and aiohttp really was captured
    assert any(r.name.startswith("discord.http") for r in records)
    for record in records:
        for text in record_texts(record):
            assert DISCORD_TOKEN not in text, (record.name, text)
            assert SECRET_KEY not in text, (record.name, text)
            assert not _SIGNATURE_VALUE.search(text), (record.name, text)
            assert not any(sig in text for sig in signatures), (record.name, text)
            # discord.py logs webhook URLs at DEBUG: the handler's filter must hide the interaction token.
            if record.name != "aiosqlite":  # kept at INFO by setup_logging (see below)
                assert inter.token not in redactor.redact(text), (record.name, text)

    # One line per job event, carrying job id, guild, user, mode, state, duration and points.
    events = [r for r in records if getattr(r, "job_event", None) and r.job_event["job_id"] == job.id]
    assert [r.job_event["event"] for r in events] == ["enqueued", "submitted", "delivered"]
    for record in events:
        fields = record.job_event
        for key in ("job_id", "guild_id", "user_id", "mode", "state", "duration_s", "points"):
            assert key in fields, (key, fields)
        message = record.getMessage()
        for fragment in (job.id, f"guild={job.guild_id}", f"user={job.user_id}", "mode=star3", "duration=", "points="):
            assert fragment in message, (fragment, message)
        line = json.loads(JsonFormatter().format(record))
        assert line["job_id"] == job.id and line["user_id"] == job.user_id and line["guild_id"] == job.guild_id
    delivered = events[-1].job_event
    assert delivered["state"] == "succeeded" and delivered["points"] == job.points_cost > 0
    assert delivered["duration_s"] > 0


def test_debug_logging_keeps_sql_parameters_out(restore_logging: None) -> None:
    """aiosqlite echoes SQL parameters (interaction tokens) at DEBUG: setup_logging holds it at INFO."""
    setup_logging("DEBUG", secrets=[SECRET_KEY])
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.INFO
    assert logging.getLogger("bot.jobs.runner").getEffectiveLevel() == logging.DEBUG
    setup_logging("WARNING")
    assert logging.getLogger("aiosqlite").getEffectiveLevel() == logging.WARNING
