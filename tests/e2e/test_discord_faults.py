"""Discord fault matrix through the whole bot (fake Discord + simulator + SQLite).

Nothing paid for is lost: a result lands where the member can see it (the interaction response, or a reply
in the channel that pings only them), or the job fails with the reason shown. A result Discord will not take
was still billed by LiblibAI, so it is charged what LiblibAI billed (issue 16: the ledger follows the bill);
only a job LiblibAI billed nothing for is refunded. When nothing can be posted at all (channel deleted, or no
Send Messages once the interaction token has expired) the job is failed, charged and logged: a DM is
deliberately not attempted (members often close DMs, and an unasked DM from a bot surprises more than it helps).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.composition import Runtime
from bot.discord_app.sink import DiscordResultSink
from bot.liblib.simulator import Simulator
from bot.models import FailureReason, Job, JobState
from bot.settings import Settings
from bot.storage import open_store
from tests.e2e.conftest import assert_no_pings, make_settings, running_bot
from tests.e2e.faults import (
    WINDOW,
    DebitAdmission,
    channel_posts,
    embed_titles,
    is_original_edit,
    job_by_prompt,
    seed_usage,
    wait_failure_notice,
    wait_result,
)
from tests.fake_discord import Call, FakeDiscord, Interaction
from tests.fake_discord.records import DROPPED

SEED = (2, 16)  # what seed_usage leaves on the member's counter


@asynccontextmanager
async def bot(fake: FakeDiscord, sim: Simulator, tmp_path: Path, **sections: dict[str, Any]) -> AsyncIterator[Runtime]:
    """The bot with a quota-debiting admission, a counter holding an earlier job, and jobs that take ~0.5 s."""
    sim.set_durations(queued=0.02, running=0.5, auditing=0.02)
    settings = make_settings(fake, sim, tmp_path / "bot.db", **sections)
    assert await seed_usage(settings.storage.url, fake.user_id) == SEED
    async with running_bot(settings, fake, admission=DebitAdmission()) as runtime:
        yield runtime
    assert fake.spec_errors == [], fake.spec_errors
    assert_no_pings(fake)


async def start(fake: FakeDiscord, prompt: str, **kw: Any) -> Interaction:
    """/imagine, returning once the member sees the queued position."""
    inter = await fake.slash("imagine", {"prompt": prompt}, **kw)
    await fake.wait_for_call(lambda c: is_original_edit(c, inter.token) and c.status == 200)
    return inter


async def usage(settings: Settings, user_id: int) -> tuple[int, int]:
    async with open_store(settings.storage.url) as store:
        return await store.get_usage("user", user_id, WINDOW)


def plus(*costs: tuple[int, int]) -> tuple[int, int]:
    return (sum(c[0] for c in costs), sum(c[1] for c in costs))


def kept(job: Job) -> tuple[int, int]:
    assert job.state is JobState.SUCCEEDED and not job.refunded
    assert job.result is not None and job.points_cost is not None
    return (len(job.result.images), job.points_cost)


def refunded(job: Job, reason: FailureReason) -> tuple[int, int]:
    assert job.state is JobState.FAILED and job.refunded
    assert job.failure_reason is reason
    return (0, 0)


def charged(job: Job) -> tuple[int, int]:
    """A result LiblibAI billed that could not be delivered: charged the images asked for and the bill."""
    assert job.state is JobState.FAILED and not job.refunded
    assert job.failure_reason is FailureReason.DELIVERY_FAILED and job.points_cost
    return (job.request.count, job.points_cost)


async def logged(caplog: pytest.LogCaptureFixture, text: str, timeout: float = 5.0) -> None:
    """Wait for a log line (the job is terminal in the store just before the member is notified)."""
    for _ in range(int(timeout / 0.02)):
        if text in caplog.text:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{text!r} was never logged")


def channel_result(fake: FakeDiscord) -> Call:
    """The one result the bot posted in the channel: it pings only the member, once."""
    [post] = channel_posts(fake, with_files=True)
    assert post.json["content"] == f"<@{fake.user_id}>"
    assert [int(u) for u in post.json["allowed_mentions"]["users"]] == [fake.user_id]
    return post


async def test_429_on_edits_is_retried_and_the_result_lands_once(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        inter = await start(fake, "rate limited edits")
        fake.fail_next("PATCH", "/messages/@original", 429, count=3, retry_after=0.1)
        await wait_result(fake, inter.token)
        job = await job_by_prompt(runtime.store, "rate limited edits")
    assert [c.status for c in fake.calls_to("PATCH", "@original")].count(429) == 3
    assert channel_posts(fake) == []
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_429_on_a_channel_upload_is_retried_and_posted_once(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        inter = await start(fake, "rate limited upload")
        fake.expire_interaction_tokens()  # the result must go through the channel
        fake.fail_next("POST", f"/channels/{fake.channel_id}/messages", 429, count=2, retry_after=0.1)
        await fake.wait_for_call(lambda c: bool(c.files) and c.status == 200 and "/channels/" in c.path)
        job = await job_by_prompt(runtime.store, "rate limited upload")
    assert inter.token
    assert [c.status for c in fake.calls_to("POST", "/messages")].count(429) == 2
    assert channel_result(fake).json["message_reference"]  # a reply to the member's (stale) response
    assert job.result_message_id is not None and job.result_message_id in fake.messages
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_a_rate_limit_beyond_the_clients_patience_is_retried_later(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        runtime.runner.delivery_retry_delay = 0.05
        await start(fake, "long rate limit")
        fake.expire_interaction_tokens()
        # discord.py gives up on a wait above max_ratelimit_timeout (at least 30 s) with RateLimited.
        fake.fail_next("POST", f"/channels/{fake.channel_id}/messages", 429, count=1, retry_after=31.0)
        job = await job_by_prompt(runtime.store, "long rate limit")
    assert [c.status for c in fake.calls_to("POST", "/messages")] == [429, 200]
    channel_result(fake)
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


SUBMITTED = "Accepted by LiblibAI"  # the progress edit the submit loop makes right after the request


def is_progress_edit(call: Call) -> bool:
    """The sink's progress edits: text only (the starter's first edit carries the Cancel button, a result files)."""
    return not call.files and "components" not in (call.json or {})


@pytest.mark.parametrize(
    ("stage", "reset"),
    [(SUBMITTED, False), ("Delivering", True), ("", False)],
    ids=["submitted-disconnect", "delivering-reset", "every-stage-disconnect"],
)
async def test_network_errors_on_progress_edits_never_hold_up_the_job(
    stage: str, reset: bool, fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    # Unthrottled, every stage is edited; each edit of ``stage`` (all of them for "") loses its connection. The
    # runner must not notice: the job used to stay SUBMITTING, unsent, or DELIVERING, its result unposted, until
    # its deadline failed it. (The submit loop edits the message once the request is answered: "Accepted".)
    def failing(call: Call) -> bool:
        return is_progress_edit(call) and stage in call.json["content"]

    async with bot(fake, sim, tmp_path, queue={"progress_edit_interval": 0}) as runtime:
        inter = await start(fake, "progress edits fail")
        fake.drop_next("PATCH", "/messages/@original", count=10_000, reset=reset, when=failing)
        await wait_result(fake, inter.token)
        job = await job_by_prompt(runtime.store, "progress edits fail")
    dropped = [c.json["content"] for c in fake.calls if c.status == DROPPED]
    assert any(SUBMITTED in text for text in dropped) == (stage != "Delivering")
    assert any("Delivering" in text for text in dropped) == (stage != SUBMITTED)
    assert sim.counters.submits == 1
    assert channel_posts(fake) == []
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_a_hanging_progress_edit_is_given_up_and_never_holds_up_the_submit(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    def submitting(call: Call) -> bool:
        return is_progress_edit(call) and SUBMITTED in call.json["content"]

    async with bot(fake, sim, tmp_path, queue={"progress_edit_interval": 0}) as runtime:
        sink = runtime.runner._deliverer._sink
        assert isinstance(sink, DiscordResultSink)
        sink._progress_timeout = 0.3  # 10 s in production; discord.py's own session would wait minutes
        inter = await start(fake, "discord hangs")
        fake.stall_next("PATCH", "/messages/@original", 60.0, when=submitting)  # the submit loop awaits that edit
        await wait_result(fake, inter.token)
        job = await job_by_prompt(runtime.store, "discord hangs")
    assert sim.counters.submits == 1
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_a_result_edit_that_lost_its_connection_is_made_again_not_moved_to_the_channel(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        runtime.runner.delivery_retry_delay = 0.05
        inter = await start(fake, "result edit lost")
        # The edit may have landed before the connection dropped: only editing again is sure to show it once.
        fake.drop_next("PATCH", "/messages/@original", when=lambda c: bool(c.files))
        fake.drop_next("PATCH", "/messages/@original", reset=True, when=lambda c: bool(c.files))
        await wait_result(fake, inter.token)
        job = await job_by_prompt(runtime.store, "result edit lost")
    assert [c.status for c in fake.calls if c.files] == [DROPPED, DROPPED, 200]
    assert channel_posts(fake) == []
    assert str(job.result_message_id) == fake.original_message(inter.token)["id"]
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_a_channel_post_is_tried_again_through_every_transient_failure(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    async with bot(fake, sim, tmp_path) as runtime:
        runtime.runner.delivery_retry_delay = 0.05
        await start(fake, "flaky channel")
        fake.expire_interaction_tokens()
        # More failures in a row than the old fixed three attempts allowed; the deadline is far.
        for reset in (False, True, False, True):
            fake.drop_next("POST", path, reset=reset, when=lambda c: bool(c.files))
        fake.fail_next("POST", path, 429, retry_after=31.0)  # beyond discord.py's patience: RateLimited
        job = await job_by_prompt(runtime.store, "flaky channel")
    assert [c.status for c in fake.calls_to("POST", path)] == [DROPPED] * 4 + [429, 200]
    channel_result(fake)
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_delivery_stops_retrying_before_its_deadline_and_charges_what_liblib_billed(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    path = f"/channels/{fake.channel_id}/messages"
    async with bot(fake, sim, tmp_path, queue={"delivering_deadline": 2.0}) as runtime:
        runtime.runner.delivery_retry_delay = 0.05
        await start(fake, "discord is down")
        fake.expire_interaction_tokens()
        fake.drop_next("POST", path, count=10_000, when=lambda c: bool(c.files))  # the result never gets through
        job = await job_by_prompt(runtime.store, "discord is down")
        notice = await fake.wait_for_call(lambda c: c.path == path and c.status == 200)
    tries = [c for c in fake.calls_to("POST", path) if c.files]
    assert len(tries) > 3 and all(c.status == DROPPED for c in tries)
    # Failed by the deliverer with the last error, before the watchdog's deadline (whose text differs).
    assert "Discord did not answer" in str(job.failure_detail)
    assert any("Could not deliver the result" in t for t in embed_titles(notice))
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, charged(job))


@pytest.mark.parametrize("path", ["@original", "/channels/"], ids=["interaction-edit", "channel-post"])
async def test_5xx_on_upload_is_retried_and_posted_once(
    path: str, fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        inter = await start(fake, "server error upload")
        if path == "/channels/":
            fake.expire_interaction_tokens()
        await fake.wait_for_call(lambda c: is_original_edit(c, inter.token) and "Generating" in str(c.json))
        # The next edit or post of this job hits a 500; discord.py retries it after a second.
        fake.fail_next("*", path, 500, count=1)
        job = await job_by_prompt(runtime.store, "server error upload")
    assert 500 in [c.status for c in fake.calls if path in c.path]
    uploads = [c for c in fake.calls if c.files and c.status == 200]
    assert len(uploads) == 1
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_413_oversized_result_fails_with_the_reason_charged_what_liblib_billed(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        fake.attachment_size_limit = 2_000  # far below any rendered image
        inter = await start(fake, "too big to upload")
        notice = await wait_failure_notice(fake, inter.token, "Could not deliver the result")
        job = await job_by_prompt(runtime.store, "too big to upload")
        fake.attachment_size_limit = 10 * 1024 * 1024
        after = await start(fake, "after the oversized one")
        await wait_result(fake, after.token)
        second = await job_by_prompt(runtime.store, "after the oversized one")
    assert any(c.status == 413 and c.code == 40005 for c in fake.calls)
    assert "too large" in notice.json["embeds"][0]["description"]
    assert "8 points charged" in notice.json["embeds"][0]["footer"]["text"]
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, charged(job), kept(second))


async def test_expired_token_sends_the_failure_notice_to_the_channel(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        sim.fail_next_tasks("failed")
        await start(fake, "fails after the token expired")
        fake.expire_interaction_tokens()
        post = await fake.wait_for_call(lambda c: "/channels/" in c.path and c.method == "POST" and c.status == 200)
        job = await job_by_prompt(runtime.store, "fails after the token expired")
    assert any("Generation failed" in t for t in embed_titles(post))
    assert post.json["content"] == f"<@{fake.user_id}>"
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, refunded(job, FailureReason.GENERATION_FAILED))


async def test_deleted_response_message_moves_the_result_to_the_channel(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        inter = await start(fake, "my response was deleted")
        original = fake.original_message(inter.token)
        assert original is not None
        fake.delete_message(int(original["id"]))
        await fake.wait_for_call(lambda c: bool(c.files) and c.status == 200)
        job = await job_by_prompt(runtime.store, "my response was deleted")
    channel_result(fake)
    assert any(is_original_edit(c, inter.token) and c.code == 10008 for c in fake.calls)
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_deleted_channel_fails_the_job_charged_and_the_bot_serves_others(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    other = fake.add_channel(1_300_000_000_000_000_077, "art")
    async with bot(fake, sim, tmp_path) as runtime:
        await start(fake, "channel goes away")
        fake.delete_channel(fake.channel_id)
        job = await job_by_prompt(runtime.store, "channel goes away")
        await logged(caplog, "could not tell the member")  # nowhere left to post
        inter = await start(fake, "in another channel", channel_id=int(other["id"]))
        await wait_result(fake, inter.token)
        second = await job_by_prompt(runtime.store, "in another channel")
    assert "no longer exists" in str(job.failure_detail or "")
    [upload] = [c for c in fake.calls if c.files and c.status == 200]
    assert inter.token in upload.path  # only the job in the other channel got its images
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, charged(job), kept(second))


async def test_missing_permissions_do_not_matter_while_the_token_lives(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    fake.set_channel_permissions(fake.channel_id, send_messages=False, attach_files=False)
    async with bot(fake, sim, tmp_path) as runtime:
        inter = await start(fake, "no perms, live token")
        await wait_result(fake, inter.token)
        job = await job_by_prompt(runtime.store, "no perms, live token")
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(job))


async def test_missing_send_messages_after_the_token_expired_fails_charges_and_logs(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with bot(fake, sim, tmp_path) as runtime:
        await start(fake, "cannot post anywhere")
        fake.expire_interaction_tokens()
        fake.set_channel_permissions(fake.channel_id, send_messages=False)
        job = await job_by_prompt(runtime.store, "cannot post anywhere")
        await logged(caplog, "could not tell the member")  # nowhere left to post
    assert any(c.status == 403 and c.code == 50013 for c in fake.calls)
    assert channel_posts(fake) == []
    assert "Send Messages" in str(job.failure_detail or "")
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, charged(job))


async def test_missing_attach_files_after_the_token_expired_tells_the_member_in_the_channel(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        await start(fake, "cannot attach")
        fake.expire_interaction_tokens()
        fake.set_channel_permissions(fake.channel_id, attach_files=False)
        notice = await fake.wait_for_call(lambda c: "/channels/" in c.path and c.method == "POST" and c.status == 200)
        job = await job_by_prompt(runtime.store, "cannot attach")
    assert channel_posts(fake) == [notice]
    assert any("Could not deliver the result" in t for t in embed_titles(notice))
    assert "Attach Files" in notice.json["embeds"][0]["description"]
    assert notice.json["content"] == f"<@{fake.user_id}>"
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, charged(job))


async def test_gateway_disconnect_and_resume_lose_nothing(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    async with bot(fake, sim, tmp_path) as runtime:
        inter = await start(fake, "across a reconnect")
        await fake.disconnect_gateway(resume=True)  # op 7 RECONNECT, then RESUME
        await wait_result(fake, inter.token)
        await fake.disconnect_gateway(close_code=4000)  # an abrupt, resumable close
        after = await start(fake, "after the reconnects")
        await wait_result(fake, after.token)
        first = await job_by_prompt(runtime.store, "across a reconnect")
        second = await job_by_prompt(runtime.store, "after the reconnects")
    assert fake.identify_count == 1 and fake.resume_count == 2
    assert await usage(runtime.settings, fake.user_id) == plus(SEED, kept(first), kept(second))
