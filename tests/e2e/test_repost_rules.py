"""Re-posts follow the rules delivery and admission follow (issue 17, item 8): /show and the re-post of an
identical seeded request cost nothing, but they still show a result somewhere, to someone."""

from __future__ import annotations

from bot.models import JobState
from tests.e2e.conftest import Env
from tests.e2e.helpers import imagine_done, job_for_token
from tests.e2e.test_imagine import wait_result
from tests.e2e.test_privacy import answer
from tests.e2e.test_quotas import admin

STRANGER = 7_400_000_000_000_000_001
NSFW_CHANNEL = 1_300_000_000_000_000_888
ART_CHANNEL = 8_500_000_000_000_001
SEEDED = {"prompt": "two foxes under the moon", "mode": "dreamtech-xl", "seed": 42, "count": 2}


async def test_reposts_withhold_flagged_batches_outside_age_restricted_channels(env: Env) -> None:
    """``flagged_only_nsfw``: a batch the audit partly filtered shows only in age-restricted channels, whether
    delivered, re-posted with /show, or re-posted for an identical request."""
    fake, sim = env.fake, env.sim
    nsfw = int(fake.add_channel(NSFW_CHANNEL, "after-dark", nsfw=True)["id"])
    await admin(fake, "settings", "moderation", {"flagged_only_nsfw": True})
    sim.fail_next_tasks("partial_audit")
    inter = await fake.slash("imagine", SEEDED, channel_id=nsfw)
    assert len((await wait_result(fake, inter.token)).files) == 1
    flagged = await job_for_token(env.runtime.store, inter.token)
    assert flagged.result is not None and flagged.result.blocked_count == 1

    show = await fake.slash("show", {"job": flagged.id})  # in #general
    kind, call = await answer(fake, show)
    assert kind == "posted" and not call.files
    assert "age-restricted" in str(call.json["embeds"]) and "Re-posted with /show" in str(call.json["embeds"])
    there = await fake.slash("show", {"job": flagged.id}, channel_id=nsfw)
    assert len((await wait_result(fake, there.token)).files) == 1

    again = await fake.slash("imagine", SEEDED, user_id=fake.admin_id)  # the same request, in #general
    kind, call = await answer(fake, again)
    assert kind == "posted" and not call.files
    assert "age-restricted" in str(call.json["embeds"]) and "nothing was charged" in str(call.json["embeds"])
    assert sim.counters.submit_requests == 1


async def test_reposts_follow_channel_access_blocks_and_the_servers_request_rules(env: Env) -> None:
    fake, sim, store = env.fake, env.sim, env.runtime.store
    fake.add_member(STRANGER, name="stranger")
    _, job, _ = await imagine_done(fake, store, SEEDED)

    # A channel closed to generation: neither /show nor a re-post shows anything there.
    art = int(fake.add_channel(ART_CHANNEL, "art")["id"])
    await admin(fake, "settings", "channels", {"mode": "listed"})
    await admin(fake, "settings", "channel", {"channel": art, "access": "allow"})
    for inter in (await fake.slash("show", {"job": job.id}), await fake.slash("imagine", SEEDED)):
        kind, text = await answer(fake, inter)
        assert kind == "private" and "not enabled in this channel" in text, (kind, text)
    assert (await answer(fake, await fake.slash("show", {"job": job.id}, channel_id=art)))[0] == "posted"

    # A member blocked by banned-word strikes gets nothing either.
    await admin(fake, "settings", "words", {"action": "add", "words": "kraken"})
    await admin(fake, "settings", "strikes", {"limit": 1})
    struck = await fake.slash("imagine", {"prompt": "a kraken"}, user_id=STRANGER, channel_id=art)
    assert "blocked" in (await answer(fake, struck))[1]
    for inter in (
        await fake.slash("show", {"job": job.id}, user_id=STRANGER, channel_id=art),
        await fake.slash("imagine", SEEDED, user_id=STRANGER, channel_id=art),
    ):
        kind, text = await answer(fake, inter)
        assert kind == "private" and "blocked" in text, (kind, text)

    # A re-post answers a new request, so the request's own rules apply: a model no longer allowed, or a
    # banned word added since, refuses it as they would refuse a render.
    await admin(fake, "settings", "models", {"allowed": "star3"})
    kind, text = await answer(fake, await fake.slash("imagine", SEEDED, channel_id=art))
    assert kind == "private" and "not allowed here" in text, (kind, text)
    await admin(fake, "settings", "models", {"allowed": "all"})
    await admin(fake, "settings", "words", {"action": "add", "words": "foxes"})
    await admin(fake, "settings", "strikes", {"limit": 3})
    kind, text = await answer(fake, await fake.slash("imagine", SEEDED, channel_id=art))
    assert kind == "private" and "Strike 1 of 3" in text, (kind, text)

    assert sim.counters.submit_requests == 1
    assert [j.id for j in await store.list_jobs(list(JobState))] == [job.id]
