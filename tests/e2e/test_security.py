"""Security through the whole bot: job ownership, and secrets or signed URLs never reaching members or logs.

Logs are captured raw at DEBUG, without the redaction filter ``bot.log`` installs in production: the
bot's own log lines must be clean by construction; the filter is only a last line of defence (checked too).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from pathlib import Path

import pytest
from PIL import Image

from bot.errors import NotJobOwnerError
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.log import RedactingFilter
from bot.models import FailureReason, JobState
from bot.settings import SettingsError, load_settings
from tests.e2e.conftest import Env, make_settings, running_bot
from tests.e2e.faults import is_original_edit, job_by_prompt, wait_failure_notice, wait_result
from tests.fake_discord import FakeDiscord

WRONG_SECRET = "wrong-secret-Zq8x41-do-not-leak"
_URL_WITH_QUERY = re.compile(r"https?://[^\s'\"]*\?")


def record_texts(caplog: pytest.LogCaptureFixture, prefix: str = "") -> list[str]:
    """Each captured record's message plus its traceback, for loggers under ``prefix``."""
    texts = []
    for record in caplog.records:
        if record.name.startswith(prefix):
            text = record.getMessage()
            if record.exc_info:
                text += "\n" + logging.Formatter().formatException(record.exc_info)
            texts.append(text)
    return texts


def everything_discord_saw(fake: FakeDiscord) -> str:
    return "\n".join(json.dumps(c.json, ensure_ascii=False) for c in fake.calls if c.json is not None)


async def test_a_member_cannot_cancel_another_members_job(env: Env) -> None:
    env.sim.set_durations(queued=0.02, running=1.0, auditing=0.02)
    stranger = int(env.fake.add_member(9100, name="stranger")["user"]["id"])
    inter = await env.fake.slash("imagine", {"prompt": "mine, not yours"})
    await env.fake.wait_for_call(lambda c: is_original_edit(c, inter.token) and "Queued" in str(c.json))
    jobs = env.runtime.services.jobs
    for _ in range(200):  # cancellable states are QUEUED and RUNNING; wait until it runs
        running = await env.runtime.store.list_jobs([JobState.RUNNING])
        if running:
            break
        await asyncio.sleep(0.01)
    [job] = running
    with pytest.raises(NotJobOwnerError) as refused:
        await jobs.cancel(job.id, actor_id=stranger, is_admin=False)
    assert job.id not in refused.value.message and "mine" not in refused.value.message
    still = await jobs.get(job.id)
    assert still.state is JobState.RUNNING and not still.refunded
    cancelled = await jobs.cancel(job.id, actor_id=env.fake.admin_id, is_admin=True)  # a server admin may
    # LiblibAI already accepted it: it runs on there, billed, and ends CANCELLED with that bill.
    assert cancelled.state is JobState.RUNNING and cancelled.cancel_requested and not cancelled.refunded


async def test_rejected_keys_never_reach_the_member_or_the_logs(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = make_settings(fake, sim, tmp_path / "bot.db", liblib={"secret_key": WRONG_SECRET})
    async with running_bot(settings, fake) as runtime:
        inter = await fake.slash("imagine", {"prompt": "signed with the wrong key"})
        notice = await wait_failure_notice(fake, inter.token, "Bot configuration problem")
        job = await job_by_prompt(runtime.store, "signed with the wrong key")
    assert job.failure_reason is FailureReason.CONFIG_ERROR and job.refunded
    assert sim.counters.auth_failures == 1 and sim.counters.submits == 0
    assert "keys were rejected" in notice.json["embeds"][0]["description"]
    secrets = [WRONG_SECRET, DEV_ACCESS_KEY, fake.token, inter.token]
    shown = everything_discord_saw(fake) + str(job.failure_detail or "")
    for secret in secrets[:3]:
        assert secret not in shown
    assert "Signature" not in shown
    for text in record_texts(caplog, "bot."):
        assert not any(s in text for s in secrets), text
        assert "Signature=" not in text and "SignatureNonce" not in text, text
    # discord.py's own DEBUG lines carry webhook URLs with the interaction token: production keeps the
    # discord logger at WARNING, and the redaction filter scrubs them anyway.
    redactor = RedactingFilter(secrets)
    for text in record_texts(caplog):
        assert not any(s in redactor.redact(text) for s in secrets), text


async def test_signed_urls_are_never_logged(env: Env, caplog: pytest.LogCaptureFixture) -> None:
    """A full img2img job: the member's signed attachment URL, LiblibAI's signed API calls, the OSS upload."""
    caplog.set_level(logging.DEBUG)
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (9, 8, 7)).save(out, "PNG")
    attachment = env.fake.host_file("source.png", out.getvalue(), "image/png")
    assert "hm=" in attachment["url"]  # Discord's CDN signature
    inter = await env.fake.slash("imagine", {"prompt": "sign nothing"}, attachments={"image": attachment})
    await wait_result(env.fake, inter.token)
    assert env.sim.counters.uploads == 1 and env.sim.counters.submits == 1
    bot_lines = record_texts(caplog, "bot.")
    assert bot_lines, "the job was logged"
    for text in bot_lines:
        assert _URL_WITH_QUERY.search(text) is None, text
        assert "Signature=" not in text and "hm=" not in text and DEV_SECRET_KEY not in text, text


def test_invalid_settings_name_the_key_but_never_echo_its_value(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[liblib]\nsecret_kye = "{WRONG_SECRET}"\naccess_key = 12345678\n', encoding="utf-8")
    with pytest.raises(SettingsError) as info:
        load_settings(path)
    message = str(info.value)
    assert "liblib.secret_kye" in message and "liblib.access_key" in message
    assert WRONG_SECRET not in message and "12345678" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__  # no chained pydantic error either
