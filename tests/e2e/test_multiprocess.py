"""Three real bot processes on one PostgreSQL schema and one LiblibAI account (issue 10).

Each process runs ``python -m bot run`` as one shard of three (``discord.shard_ids = [i]``) against its own
FakeDiscord, whose guild id falls on that shard; the simulator (in the test process, on a thread of its own)
enforces the account's submit rate and concurrent-task cap. One process is elected dispatcher (the ``leases``
row) and submits and polls for everyone; each process delivers the results of its own shard's jobs.

- ``test_three_processes_deliver_every_job_once``: 30 jobs from six members over the three guilds are all
  delivered exactly once, by the process that owns the guild, with one submit per job, all from the one
  dispatcher, and no limit violation; a clean stop of the dispatcher hands the lease over at once.
- ``test_a_dispatcher_stalled_while_its_job_waits_for_the_limiter_submits_nothing_after_it_wakes``: the
  dispatcher is stopped (SIGSTOP) while its next job waits for the submit limiter; a standby takes over and
  submits that job; woken (SIGCONT) past its lease, the stalled process sends nothing, and every job is
  delivered once.
- ``test_sigkilled_dispatcher_is_replaced_within_the_lease_bound``: the dispatcher is SIGKILLed with jobs
  running and queued; a standby takes over within ``queue.dispatcher_lease_seconds``, resumes the running
  jobs by their generateUuid, fails the job caught mid-submit with a refund, and submits the rest; the killed
  process is restarted (as systemd or Docker would) and delivers its shard's results; every other job is
  delivered exactly once and nothing is submitted twice.
- ``test_a_cancelled_job_is_settled_once_across_a_dispatcher_takeover``: a job cancelled after LiblibAI accepted
  it is followed by the new dispatcher to its end and settled once at the billed cost (issue 16).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TypeVar

import pytest

from bot.jobs.leadership import DISPATCHER
from bot.liblib.simulator import DEV_ACCESS_KEY, DEV_SECRET_KEY, Simulator
from bot.models import FailureReason, Job, JobState
from bot.quotas.service import GUILD_SCOPE
from bot.settings import SimulatorSettings
from bot.storage import PostgresStore, open_store
from bot.storage.postgres import PostgresLease
from tests.e2e.conftest import assert_no_pings
from tests.e2e.faults import embed_titles, is_original_edit
from tests.e2e.helpers import ack, custom_ids
from tests.e2e.process import BotProcess, start, write_settings
from tests.e2e.test_quotas import today
from tests.fake_discord import Call, FakeDiscord
from tests.fake_discord.state import CHANNEL_ID, GUILD_ID
from tests.sim_thread import SimThread

pytestmark = pytest.mark.slow

T = TypeVar("T")

SHARDS = 3
JOBS = 30
MEMBERS_PER_GUILD = 2
# The account: five submits a second and three tasks at a time. The bots use the same task cap and a lower
# rate, so that a process that stalls between spacing two submits and sending them (a loaded 2-core machine)
# cannot bunch them into a violation. Two dispatchers at once would still break both limits.
ACCOUNT_SUBMIT_PER_SECOND = 5.0
SUBMIT_PER_SECOND = 3.0
MAX_CONCURRENT = 3
SIM = SimulatorSettings(port=0, queued_seconds=0.1, running_seconds=0.8, auditing_seconds=0.1)


def guild_on_shard(shard: int) -> int:
    """A guild id that Discord routes to ``shard`` of ``SHARDS``: ``(guild_id >> 22) % SHARDS == shard``."""
    return (((GUILD_ID >> 22) // SHARDS * SHARDS + shard) << 22) | 1


@dataclass
class Node:
    """One bot process: its shard, its own fake Discord (one gateway session each) and its settings."""

    shard: int
    fake: FakeDiscord
    settings_path: Path
    log_path: Path
    members: list[int]
    bot: BotProcess | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # prompt -> interaction token

    @property
    def process(self) -> BotProcess:
        assert self.bot is not None
        return self.bot

    async def start(self) -> None:
        self.bot = await start(self.settings_path, log_path=self.log_path, fake=self.fake)
        await self.bot.wait_ready(self.fake, timeout=40.0)

    def logs(self) -> str:
        return f"--- shard {self.shard} ---\n{self.process.log_tail(30)}"


@dataclass
class Cluster:
    nodes: list[Node]
    sim: SimThread
    store: PostgresStore
    lease: PostgresLease

    async def start(self) -> None:
        await asyncio.gather(*(node.start() for node in self.nodes))

    def logs(self) -> str:
        return "\n".join(node.logs() for node in self.nodes)

    async def jobs(self) -> list[Job]:
        return await self.store.list_jobs(list(JobState))

    async def wait_jobs(self, done: Callable[[list[Job]], bool], timeout: float, what: str) -> list[Job]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = await self.jobs()
            if done(jobs):
                return jobs
            if time.monotonic() > deadline:
                states = Counter(str(j.state) for j in jobs)
                raise AssertionError(f"timed out waiting for {what}; states {dict(states)}\n{self.logs()}")
            await asyncio.sleep(0.1)

    async def dispatcher(self, timeout: float = 20.0) -> tuple[Node, str]:
        """The node whose process holds the dispatcher lease, and the holder id (``host:pid:random``)."""
        deadline = time.monotonic() + timeout
        while (holder := await self.lease.holder()) is None:
            if time.monotonic() > deadline:
                raise AssertionError(f"no dispatcher elected within {timeout}s\n{self.logs()}")
            await asyncio.sleep(0.05)
        pid = int(holder.split(":")[-2])
        [node] = [n for n in self.nodes if n.bot is not None and n.bot.pid == pid]
        return node, holder

    async def imagine(self, count: int) -> None:
        """``count`` /imagine commands spread over the guilds (round robin) and their members."""
        for n in range(count):
            node = self.nodes[n % SHARDS]
            prompt = f"shard {node.shard} job {n}"
            user = node.members[(n // SHARDS) % len(node.members)]
            interaction = await node.fake.slash("imagine", {"prompt": prompt}, user_id=user)
            node.tokens[prompt] = interaction.token

    async def stop(self) -> None:
        for node in self.nodes:
            if node.bot is not None:
                with contextlib.suppress(Exception):
                    await node.bot.kill(signal.SIGTERM)

    async def stop_cleanly(self) -> None:
        """SIGTERM every process and wait until each exited 0: nothing can be submitted or delivered after."""
        for node in self.nodes:
            assert await node.process.kill(signal.SIGTERM) == 0, node.logs()

    async def wait_call(self, predicate: Callable[[Call], bool], timeout: float, what: str) -> None:
        """Until any process has made a call matching ``predicate`` (to its own fake)."""
        deadline = time.monotonic() + timeout
        while not any(predicate(c) for node in self.nodes for c in node.fake.calls):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}\n{self.logs()}")
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def cluster(
    tmp_path: Path,
    url: str,
    *,
    lease_seconds: float,
    submit_per_second: float = SUBMIT_PER_SECOND,
    log_level: str = "INFO",
) -> AsyncIterator[Cluster]:
    async with contextlib.AsyncExitStack() as stack:
        sim = stack.enter_context(
            SimThread(
                Simulator(SIM, submit_per_second=ACCOUNT_SUBMIT_PER_SECOND, max_concurrent=MAX_CONCURRENT)
            ).running()
        )
        store = await stack.enter_async_context(open_store(url))
        assert isinstance(store, PostgresStore)
        nodes: list[Node] = []
        for shard in range(SHARDS):
            # A channel id of its own too, so no process can post into another guild's channel by mistake.
            fake = FakeDiscord(guild_id=guild_on_shard(shard), channel_id=CHANNEL_ID + shard)
            await fake.start()  # no patching of discord.py: the bots run in other processes
            stack.push_async_callback(fake.stop)
            members = [
                int(fake.add_member(9000 + 10 * shard + m, name=f"member{shard}{m}")["user"]["id"])
                for m in range(MEMBERS_PER_GUILD)
            ]
            settings_path = write_settings(
                tmp_path / f"bot{shard}.toml",
                {
                    "discord": {
                        "token": fake.token,
                        "dev_guild_id": fake.guild_id,
                        "api_base_url": fake.api_base,
                        "gateway_url": fake.gateway_url,
                        "shard_count": SHARDS,
                        "shard_ids": [shard],
                    },
                    "liblib": {
                        "base_url": sim.sim.base_url,
                        "access_key": DEV_ACCESS_KEY,
                        "secret_key": DEV_SECRET_KEY,
                        "submit_per_second": submit_per_second,
                        "max_concurrent_tasks": MAX_CONCURRENT,
                        "poll_interval_min": 0.05,
                        "poll_interval_max": 0.2,
                        "request_timeout": 10.0,
                        "image_transport": "upload",
                    },
                    "queue": {
                        "max_active_per_user": JOBS,
                        "progress_edit_interval": 0.3,
                        "dispatcher_lease_seconds": lease_seconds,
                    },
                    "storage": {"url": url},
                    "logging": {"level": log_level},
                },
            )
            nodes.append(Node(shard, fake, settings_path, tmp_path / f"bot{shard}.log", members))
        lease = store.lease(DISPATCHER, ttl_seconds=lease_seconds)
        group = Cluster(nodes, sim, store, lease)
        try:
            yield group
        finally:
            await group.stop()


def result_edits(node: Node, prompt: str) -> list[int]:
    """Message ids of the result uploads (edits of the original response with files) for ``prompt``."""
    token = node.tokens[prompt]
    return [
        int(c.response["id"])
        for c in node.fake.calls
        if is_original_edit(c, token) and c.status == 200 and c.files and isinstance(c.response, dict)
    ]


def is_failure_notice(call: Call, token: str) -> bool:
    return is_original_edit(call, token) and any("❌" in t for t in embed_titles(call))


def assert_fakes_clean(nodes: list[Node]) -> None:
    for node in nodes:
        assert_no_pings(node.fake)
        assert node.fake.spec_errors == [], (node.shard, node.fake.spec_errors)


async def test_three_processes_deliver_every_job_once(pg_schema_url: str, tmp_path: Path) -> None:
    async with cluster(tmp_path, pg_schema_url, lease_seconds=15.0) as group:
        await group.start()
        dispatcher, _holder = await group.dispatcher()
        await group.imagine(JOBS)
        final = await group.wait_jobs(
            lambda js: len(js) == JOBS and all(j.state.terminal for j in js), 45, "every job to finish"
        )
        # A clean stop resigns the lease: it is released at once, not left to expire.
        old_holder = await group.lease.holder()
        assert await dispatcher.process.kill(signal.SIGTERM) == 0, dispatcher.logs()
        assert await group.lease.holder() != old_holder

        await group.stop_cleanly()  # a duplicate submit or delivery, if any, has happened by now
        tasks = group.sim.tasks()
        counters = group.sim.counter_snapshot()
        nodes = group.nodes
        logs = {node.shard: node.process.log_text() for node in nodes}

    assert Counter(j.state for j in final) == {JobState.SUCCEEDED: JOBS}, [(j.id, j.failure_detail) for j in final]
    by_prompt = {j.request.prompt: j for j in final}
    for node in nodes:
        for prompt in node.tokens:
            # Delivered once, by the process of the guild's shard (the other processes talk to other fakes).
            [message_id] = result_edits(node, prompt)
            job = by_prompt[prompt]
            assert job.guild_id == node.fake.guild_id
            assert job.result_message_id == message_id
            assert not job.refunded
    assert sum(len(node.tokens) for node in nodes) == JOBS
    # One submit per job, all by the single elected dispatcher, within the account's limits.
    prompts = Counter(t.params.get("prompt") for t in tasks)
    assert set(prompts) == set(by_prompt) and set(prompts.values()) == {1}, prompts
    assert counters["submits"] == JOBS
    assert counters["rate_limit_violations"] == 0 and counters["concurrency_violations"] == 0, counters
    assert [s for s, text in logs.items() if "is now the dispatcher" in text] == [dispatcher.shard]
    assert logs[dispatcher.shard].count("liblib submitted") == JOBS
    assert_fakes_clean(nodes)


async def test_sigkilled_dispatcher_is_replaced_within_the_lease_bound(pg_schema_url: str, tmp_path: Path) -> None:
    lease_seconds = 3.0
    async with cluster(tmp_path, pg_schema_url, lease_seconds=lease_seconds) as group:
        await group.start()
        await group.imagine(JOBS)
        await group.wait_jobs(
            lambda js: (
                len(js) == JOBS
                and any(j.state is JobState.SUCCEEDED for j in js)
                and sum(j.state is JobState.RUNNING for j in js) >= 2
                and sum(j.state is JobState.QUEUED for j in js) >= 10
            ),
            30,
            "jobs succeeded, running and queued",
        )
        # Hold the next submit briefly, and kill the dispatcher while that request is at LiblibAI: its job is
        # SUBMITTING with an unknown outcome. (The task it creates ends before any standby can take over.)
        dispatcher, old_holder = await group.dispatcher()
        group.sim.call(group.sim.sim.inject, "slow", route="submit", count=1, value=0.2)
        held_by = time.monotonic() + 10
        while group.sim.counter_snapshot()["faults_served"] < 1:
            assert time.monotonic() < held_by, f"no submit reached LiblibAI\n{group.logs()}"
            await asyncio.sleep(0.005)
        killed_at = time.monotonic()
        assert await dispatcher.process.kill(signal.SIGKILL) == -signal.SIGKILL
        at_kill = await group.jobs()
        running_at_kill = {j.id: j.generate_uuid for j in at_kill if j.state is JobState.RUNNING}
        submitting_at_kill = [j.id for j in at_kill if j.state is JobState.SUBMITTING]
        assert len(submitting_at_kill) == 1 and running_at_kill, Counter(j.state for j in at_kill)

        # A standby takes the lease over within the bound, then submits the queued jobs.
        while await group.lease.holder() in (None, old_holder):
            assert time.monotonic() - killed_at < lease_seconds + 5, f"no takeover\n{group.logs()}"
            await asyncio.sleep(0.02)
        takeover = time.monotonic() - killed_at
        successor, _holder = await group.dispatcher()
        assert successor is not dispatcher
        while not any(t.created_at > killed_at + 0.5 for t in group.sim.tasks()):
            assert time.monotonic() - killed_at < lease_seconds + 10, f"no submit after takeover\n{group.logs()}"
            await asyncio.sleep(0.02)
        first_submit = min(t.created_at for t in group.sim.tasks() if t.created_at > killed_at + 0.5) - killed_at

        # Restarted, as systemd or Docker would: the killed process's shard gets its results again.
        await dispatcher.start()
        final = await group.wait_jobs(
            lambda js: len(js) == JOBS and all(j.state.terminal for j in js), 40, "every job to finish"
        )
        [caught] = [j for j in final if j.id in submitting_at_kill]
        token = next(node.tokens[caught.request.prompt] for node in group.nodes if caught.request.prompt in node.tokens)
        if caught.state is JobState.FAILED:  # its notice follows the terminal state (else the checks below fail)
            await group.wait_call(partial(is_failure_notice, token=token), 10, "the failure notice")
        await group.stop_cleanly()  # a duplicate submit or delivery, if any, has happened by now
        tasks = group.sim.tasks()
        counters = group.sim.counter_snapshot()
        nodes = group.nodes

    # The lease is ttl 3/4 and renewed every 1/4 of the bound: a standby holds it within the bound of the
    # last renewal, which came before the kill. The slack covers this test's 20 ms polling and a loaded machine.
    assert takeover <= lease_seconds + 0.5, takeover
    assert first_submit <= lease_seconds + 2.0, first_submit

    by_id = {j.id: j for j in final}
    # Nothing submitted twice: one task per prompt, and each job kept the task it was first given.
    prompts = Counter(t.params.get("prompt") for t in tasks)
    assert set(prompts.values()) == {1}, prompts
    assert counters["submits"] == len(tasks)
    assert counters["rate_limit_violations"] == 0 and counters["concurrency_violations"] == 0, counters
    uuid_prompt = {t.uuid: t.params.get("prompt") for t in tasks}
    for job_id, generate_uuid in running_at_kill.items():
        # Resumed by its generateUuid, not resubmitted.
        assert by_id[job_id].state is JobState.SUCCEEDED, by_id[job_id]
        assert by_id[job_id].generate_uuid == generate_uuid
    # The job caught mid-submit has an unknown outcome: failed, never submitted again, settled at the estimate.
    [unknown] = [by_id[job_id] for job_id in submitting_at_kill]
    assert unknown.state is JobState.FAILED and unknown.failure_reason is FailureReason.SUBMIT_UNKNOWN, unknown
    assert not unknown.refunded and unknown.points_cost == unknown.points_reserved and unknown.generate_uuid is None
    assert prompts.get(unknown.request.prompt, 0) <= 1
    assert [j for j in final if j.state is not JobState.SUCCEEDED] == [unknown]
    by_prompt = {j.request.prompt: j for j in final}
    for node in nodes:
        for prompt in node.tokens:
            job = by_prompt[prompt]
            if job is unknown:
                continue
            assert uuid_prompt[job.generate_uuid or ""] == prompt
            assert not job.refunded
            # One visible result: a delivery cut short by the kill may be repeated, on the same message.
            assert set(result_edits(node, prompt)) == {job.result_message_id}, (prompt, node.shard)
    # The new dispatcher told the member through the interaction: on the real Discord any process can edit any
    # interaction response; here each fake knows only its own guild's interactions, so look at every fake.
    assert any(is_failure_notice(c, token) for node in nodes for c in node.fake.calls), "member not told"
    assert_fakes_clean(nodes)


async def test_a_cancelled_job_is_settled_once_across_a_dispatcher_takeover(pg_schema_url: str, tmp_path: Path) -> None:
    """Issue 16: a member cancels a job LiblibAI already accepted, then the dispatcher is SIGKILLed before the
    task ends. The standby that takes over keeps following the task (the cancel request is in the store), and
    the job ends CANCELLED, settled once at the points LiblibAI billed; a job running beside it is delivered."""
    lease_seconds = 3.0
    async with cluster(tmp_path, pg_schema_url, lease_seconds=lease_seconds) as group:
        group.sim.call(group.sim.sim.set_durations, 0.1, 2 * lease_seconds + 4.0, 0.1)
        await group.start()
        dispatcher, old_holder = await group.dispatcher()
        node = next(n for n in group.nodes if n is not dispatcher)  # it answers the click, and lives on
        member = node.members[0]
        stopped = await node.fake.slash("imagine", {"prompt": "cancel me"}, user_id=member)
        kept = await node.fake.slash("imagine", {"prompt": "keep me"}, user_id=member)
        await group.wait_jobs(
            lambda js: len(js) == 2 and all(j.state is JobState.RUNNING for j in js), 20, "both jobs to run"
        )
        progress = node.fake.original_message(stopped)
        [button] = [c for c in custom_ids(progress) if c.startswith("lb:cancel:")]
        click = await node.fake.click(int(progress["id"]), button, user_id=member)
        answer = (await ack(node.fake, click)).json
        assert answer["type"] == 7, answer
        assert await dispatcher.process.kill(signal.SIGKILL) == -signal.SIGKILL
        assert not all(t.terminal for t in group.sim.tasks()), "the tasks ended before the kill"
        while await group.lease.holder() in (None, old_holder):
            await asyncio.sleep(0.05)
        final = await group.wait_jobs(lambda js: all(j.state.terminal for j in js), 40, "both jobs to end")
        await group.wait_call(
            lambda c: is_original_edit(c, kept.token) and bool(c.files) and c.status == 200, 20, "the kept result"
        )
        await group.stop()
        tasks = group.sim.tasks()
        usage = await group.store.get_usage(GUILD_SCOPE, node.fake.guild_id, today())

    by_prompt = {j.request.prompt: j for j in final}
    cancelled, delivered = by_prompt["cancel me"], by_prompt["keep me"]
    billed = {t.params["prompt"]: t.points for t in tasks}
    assert len(tasks) == 2 and all(points > 0 for points in billed.values()), billed
    assert cancelled.state is JobState.CANCELLED and not cancelled.refunded, cancelled
    assert cancelled.points_cost == billed["cancel me"]
    assert delivered.state is JobState.SUCCEEDED and delivered.points_cost == billed["keep me"]
    assert usage == (2, sum(billed.values())), (usage, billed)
    assert "still charges this job" in answer["data"]["content"]


async def test_a_dispatcher_stalled_while_its_job_waits_for_the_limiter_submits_nothing_after_it_wakes(
    pg_schema_url: str, tmp_path: Path
) -> None:
    lease_seconds = 3.0
    jobs = 4
    # One submit every 2 s: the dispatcher spends most of its time waiting for the limiter. DEBUG: the submitter
    # says when a job starts waiting for its submit slot.
    async with cluster(
        tmp_path, pg_schema_url, lease_seconds=lease_seconds, submit_per_second=0.5, log_level="DEBUG"
    ) as group:
        await group.start()
        stalled, old_holder = await group.dispatcher()
        await group.imagine(jobs)
        first = await group.wait_jobs(
            lambda js: len(js) == jobs and sum(j.generate_uuid is not None for j in js) == 1, 20, "the first submit"
        )
        [submitted] = [j.id for j in first if j.generate_uuid is not None]

        def in_the_limiter_wait(js: list[Job]) -> bool:
            if any(j.state is JobState.SUBMITTING for j in js):  # (where the job waited before the fix)
                return True
            text = stalled.process.log_text()
            return any(f"job {j.id}: waiting for a submit slot" in text for j in js if j.id != submitted)

        at_stall = await group.wait_jobs(in_the_limiter_wait, 10, "the next job to wait for the limiter")
        assert group.sim.counter_snapshot()["submits"] == 1
        stalled.process.process.send_signal(signal.SIGSTOP)  # a stall: no crash, no release, no renewal
        try:
            while await group.lease.holder() in (None, old_holder):  # a standby takes over within the bound
                await asyncio.sleep(0.05)
            successor, _holder = await group.dispatcher()
            assert successor is not stalled
            await group.wait_jobs(lambda js: sum(j.generate_uuid is not None for j in js) >= 2, 15, "a new submit")
        finally:
            stalled.process.process.send_signal(signal.SIGCONT)  # woken, long past its lease
        final = await group.wait_jobs(
            lambda js: len(js) == jobs and all(j.state.terminal for j in js), 40, "every job to finish"
        )
        await group.stop_cleanly()  # a late submit by the woken process, if any, has happened by now
        tasks = group.sim.tasks()
        counters = group.sim.counter_snapshot()
        stalled_log = stalled.process.log_text()
        nodes = group.nodes

    assert Counter(j.state for j in final) == {JobState.SUCCEEDED: jobs}, [(j.id, j.failure_reason) for j in final]
    prompts = Counter(t.params.get("prompt") for t in tasks)
    assert set(prompts) == {j.request.prompt for j in final} and set(prompts.values()) == {1}, prompts
    assert counters["submits"] == jobs
    assert counters["rate_limit_violations"] == 0 and counters["concurrency_violations"] == 0, counters
    assert stalled_log.count("liblib submitted") == 1  # the first job only: nothing after it woke
    assert not [j for j in at_stall if j.state is JobState.SUBMITTING]  # it waited in the queue
    by_prompt = {j.request.prompt: j for j in final}
    for node in nodes:
        for prompt in node.tokens:
            assert set(result_edits(node, prompt)) == {by_prompt[prompt].result_message_id}, (prompt, node.shard)
    assert_fakes_clean(nodes)
