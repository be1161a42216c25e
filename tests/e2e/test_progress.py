"""The progress message's bar end to end: a Star-3 task (no percent from LiblibAI's webui routes) advances
through the throttled edits from the learned duration, and never shows 100 % before the result."""

from __future__ import annotations

import re
from pathlib import Path

from bot.jobs.progress import CAP
from bot.liblib.endpoints import Family
from tests.e2e.conftest import assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import imagine_done
from tests.e2e.test_imagine import is_original_edit, wait_result
from tests.fake_discord import FakeDiscord

BAR = re.compile(r"`([█░]{10})` (\d+)%")
EDIT_INTERVAL = 0.2


async def test_a_star3_progress_bar_advances_while_it_runs(fake: FakeDiscord, sim, tmp_path: Path) -> None:
    sim.set_durations(queued=0.02, running=2.0, auditing=0.04)
    settings = make_settings(fake, sim, tmp_path / "bot.db", queue={"progress_edit_interval": EDIT_INTERVAL})
    async with running_bot(settings, fake) as runtime:
        # Before any Star-3 task finished the bot assumes 30 s; the first job teaches it about 2 s.
        await imagine_done(fake, runtime.store, {"prompt": "a first fox", "mode": "star3"})
        assert 1.5 < runtime.client.estimated_duration(Family.STAR3) < 3.0
        inter = await fake.slash("imagine", {"prompt": "a second fox", "mode": "star3"})
        await wait_result(fake, inter.token)
    assert_no_pings(fake)

    edits = [c for c in fake.calls if is_original_edit(c, inter.token) and (c.json or {}).get("content")]
    running = [(c.at, BAR.search(c.json["content"])) for c in edits if "Generating" in c.json["content"]]
    assert len(running) >= 4, [c.json["content"] for c in edits]
    assert all(match is not None for _, match in running), "every running edit shows the bar"
    fills = [match[1].count("█") for _, match in running if match]
    percents = [int(match[2]) for _, match in running if match]
    assert fills == sorted(fills) and percents == sorted(percents)  # never backwards
    assert fills[-1] > fills[0] and fills[-1] >= 5  # it advanced, well past the middle by the end
    assert percents[-1] < 100 and fills[-1] < 10 and percents[-1] <= CAP * 100
    shown = [c.json["content"] for c in edits if BAR.search(c.json["content"])]
    assert all(" left" in text or "almost done" in text for text in shown)  # the time left, while running too
    # The bar rides on the throttled edits: no more of them than the edit interval allows.
    span = running[-1][0] - running[0][0]
    assert len(running) - 1 <= span / EDIT_INTERVAL + 1
