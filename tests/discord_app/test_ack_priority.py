"""AckPriority: answered commands wait while interactions received before them are still unanswered."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from bot.discord_app.ack_priority import HOLD, AckPriority


@dataclass
class _Response:
    done: bool = False
    checks: int = 0  # how often AckPriority looked

    def is_done(self) -> bool:
        self.checks += 1
        return self.done


@dataclass
class _Interaction:
    id: int
    response: _Response = field(default_factory=_Response)


async def watcher_passes(response: _Response, waiters: list[asyncio.Task[None]], passes: int = 2) -> None:
    """Wait until the watcher has looked at ``response`` ``passes`` more times (it saw the state set before the
    call and, still finding an interaction unanswered, went on polling), or until it released a waiter."""
    target = response.checks + passes
    async with asyncio.timeout(5):
        while response.checks < target and not any(w.done() for w in waiters):
            await asyncio.sleep(0.001)


async def test_returns_at_once_when_nothing_is_waiting_for_an_answer() -> None:
    acks = AckPriority(max_wait=5.0)
    answered = _Interaction(1, _Response(done=True))
    acks.received(answered)
    await asyncio.wait_for(acks.wait_turn(), 0.1)
    assert acks.unanswered == 0


async def test_waits_until_every_earlier_interaction_is_answered() -> None:
    acks = AckPriority(max_wait=5.0, check_every=0.001)
    pending = [_Interaction(i) for i in range(3)]
    for interaction in pending:
        acks.received(interaction)
    waiters = [asyncio.create_task(acks.wait_turn()) for _ in range(20)]  # share one watcher
    await asyncio.sleep(0)  # every waiter has called wait_turn
    await watcher_passes(pending[2].response, waiters)
    assert not any(w.done() for w in waiters)
    pending[0].response.done = pending[1].response.done = True
    await watcher_passes(pending[2].response, waiters)
    assert acks.unanswered == 1 and not any(w.done() for w in waiters)
    pending[2].response.done = True
    await asyncio.wait_for(asyncio.gather(*waiters), 0.5)


async def test_never_waits_longer_than_max_wait() -> None:
    acks = AckPriority(max_wait=0.05, check_every=0.001)
    acks.received(_Interaction(1))  # a handler that never answers
    loop = asyncio.get_running_loop()
    started = loop.time()
    await acks.wait_turn()
    assert 0.04 <= loop.time() - started < 0.5


async def test_an_interaction_unanswered_for_long_no_longer_holds_others_back() -> None:
    now = [0.0]
    acks = AckPriority(clock=lambda: now[0])
    acks.received(_Interaction(1))
    assert acks.unanswered == 1
    now[0] = HOLD + 0.1  # nobody answers it (no handler matched): it must not slow every later command
    assert acks.unanswered == 0


def test_the_map_stays_small_when_nobody_waits() -> None:
    acks = AckPriority()
    for i in range(1000):
        acks.received(_Interaction(i, _Response(done=True)))  # autocompletes, errors: answered, never waited on
    assert len(acks._pending) <= 65


async def test_waiters_resume_in_the_order_they_called() -> None:
    acks = AckPriority(max_wait=5.0, check_every=0.001)
    first = _Interaction(1)
    acks.received(first)
    order: list[int] = []

    async def command(n: int) -> None:
        await acks.wait_turn()
        order.append(n)

    early = asyncio.create_task(command(1))
    await watcher_passes(first.response, [early])  # command 1 is queued, and the watcher polls
    first.response.done = True  # nothing is unanswered now, but command 1 is still waiting its turn
    late = asyncio.create_task(command(2))
    await asyncio.wait_for(asyncio.gather(early, late), 0.5)
    assert order == [1, 2]
