"""Points budgets (issue 16): per member and per role (day, month), per server (day, month) and the bot-wide
account cap (day). Each is reserved atomically with the job at the price table ([liblib.prices]) and refused
with the budget's name, the usage and when it resets; 50 commands at once admit exactly what fits."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from bot.liblib.simulator import Simulator
from bot.models import JobState
from bot.quotas.service import ACCOUNT_ID, ACCOUNT_SCOPE, GUILD_SCOPE
from tests.e2e.conftest import assert_no_pings, make_settings, running_bot
from tests.e2e.test_imagine import wait_jobs
from tests.e2e.test_quotas import admin, queued_or_refused, today
from tests.fake_discord import FakeDiscord

PATRON = 8_200_000_000_000_001
MEMBERS = [8_300_000_000_000_000 + n for n in range(50)]
STAR3 = 8  # the default price of a Star-3 image


async def burst(fake: FakeDiscord, users: list[int]) -> list[str]:
    inters = await asyncio.gather(
        *(fake.slash("imagine", {"prompt": f"lantern {i}"}, user_id=user) for i, user in enumerate(users))
    )
    return [await queued_or_refused(fake, inter) for inter in inters]


CASES: dict[str, tuple[dict[str, Any], list[tuple[str, str, dict[str, Any]]], bool, int, str]] = {
    # name: (quotas settings, admin commands, members have the role, admitted, refusal names)
    "member day": ({}, [("quota", "set", {"points_per_day": 5 * STAR3})], False, 5, "your daily points limit"),
    "member month": ({}, [("quota", "set", {"points_per_month": 4 * STAR3})], False, 4, "your monthly points limit"),
    "role day": (
        {"points_per_day": 0},  # members without the role may not spend points at all
        [("quota", "role", {"role": PATRON, "points_per_day": 3 * STAR3})],
        True,
        3,
        "your daily points limit",
    ),
    "server day": (
        {},
        [("quota", "set", {"server_points_per_day": 7 * STAR3})],
        False,
        7,
        "this server's daily points",
    ),
    "server month": (
        {},
        [("quota", "set", {"server_points_per_month": 6 * STAR3})],
        False,
        6,
        "this server's monthly points",
    ),
    "account day": ({"account_points_per_day": 9 * STAR3}, [], False, 9, "the bot's daily points limit"),
}


@pytest.mark.parametrize("case", list(CASES))
async def test_fifty_concurrent_commands_admit_exactly_what_the_budget_fits(
    case: str, fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    quotas, commands, with_role, admitted, name = CASES[case]
    fake.add_role(PATRON, "Patron")
    one_member = case.startswith(("member", "role"))
    users = [MEMBERS[0]] * 50 if one_member else MEMBERS
    for user in set(users):
        fake.add_member(user, name=f"m{user % 100}", roles=[PATRON] if with_role else [])
    sim.set_durations(queued=0.05, running=0.3, auditing=0.02)
    settings = make_settings(
        fake, sim, tmp_path / "bot.db", quotas={"images_per_day": None, **quotas}, queue={"max_active_per_user": 100}
    )
    async with running_bot(settings, fake) as runtime:
        for group, sub, options in commands:
            await admin(fake, group, sub, options)
        outcomes = await burst(fake, users)
        refusals = [o for o in outcomes if o != "queued"]
        assert outcomes.count("queued") == admitted, refusals[:3]
        assert all(name in o and "<t:" in o and "points" in o for o in refusals), refusals[:3]
        assert len(await runtime.store.list_jobs(list(JobState))) == admitted
        await wait_jobs(runtime.store, JobState.SUCCEEDED, admitted, timeout=30)
        spent = await runtime.store.get_usage(ACCOUNT_SCOPE, ACCOUNT_ID, today())
        assert spent == (admitted, sim.counters.points_spent)  # settled at what LiblibAI billed
        assert await runtime.store.get_usage(GUILD_SCOPE, fake.guild_id, today()) == spent
    assert sim.counters.submits == admitted
    assert_no_pings(fake)


async def test_presets_and_show_cover_points(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    fake.add_role(PATRON, "Patron")
    settings = make_settings(fake, sim, tmp_path / "bot.db", quotas={"points_per_day": 10, "points_per_month": -1})
    async with running_bot(settings, fake):
        shown = await admin(fake, "quota", "show")
        assert "points: 10/day, unlimited/month" in shown and "Server per month: unlimited points" in shown
        text = await admin(fake, "quota", "role", {"role": PATRON, "points_per_day": 40, "points_per_month": 400})
        assert "points_per_day=40" in text and "points_per_month=400" in text
        text = await admin(fake, "quota", "role", {"role": PATRON, "preset": "unlimited"})
        assert "points_per_day=unlimited" in text and "points_per_month=unlimited" in text
        text = await admin(fake, "quota", "set", {"server_points_per_month": 1000})
        assert "Server per month: 1000 points" in text
        text = await admin(fake, "quota", "set", {"points_per_day": 0, "member": fake.user_id})
        assert "points: blocked/day" in text
        refusal = await queued_or_refused(fake, await fake.slash("imagine", {"prompt": "a kite"}))
        assert "do not allow" in refusal
    assert sim.counters.submits == 0
