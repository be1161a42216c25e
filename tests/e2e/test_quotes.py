"""Quote before spending (issue 16, item 3), end to end: the real bot against the fake Discord and the simulator.

Every queued message shows the job's estimated cost. Above a server's threshold (`/settings spending`) the
member confirms privately first: Confirm queues once (however often it is clicked), Cancel, a timeout, a restart
or someone else's click queue nothing and touch no counter; the question comes before any image is fetched.
A points refusal offers the cheapest allowed mode that fits, as a button that starts the same request in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.liblib.simulator import Simulator
from bot.models import JobState
from bot.quotas.service import COOLDOWN, GUILD_SCOPE, member_usage_scope
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import custom_ids, job_for_token
from tests.e2e.test_actions import button
from tests.e2e.test_admit_first import downloads
from tests.e2e.test_imagine import wait_result
from tests.e2e.test_quotas import admin, private_reply, queued_or_refused, today
from tests.e2e.test_restyle import bot_image_message, png, wait_reply
from tests.fake_discord import FakeDiscord
from tests.fake_discord.records import Call, Interaction

MEMBER = 8_700_000_000_000_001
STRANGER = 8_700_000_000_000_002


def queued_text(fake: FakeDiscord, inter: Interaction) -> str:
    """The "Queued" edit of an interaction's response."""
    [call] = [
        c
        for c in fake.calls_to("PATCH", inter.token)
        if "@original" in c.path and "Queued" in ((c.json or {}).get("content") or "")
    ][:1]
    return str(call.json["content"])


async def question(fake: FakeDiscord, inter: Interaction) -> dict[str, Any]:
    """The private question an interaction's member is asked (the stored message, with Confirm and Cancel)."""

    def asked(c: Call) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        return c.method == "POST" and inter.token in c.path and "lbq:yes:" in str(body.get("components"))

    call = await fake.wait_for_call(asked)
    assert call.json["flags"] & 64  # ephemeral
    return fake.messages[int(call.response["id"])]


def choice(message: dict[str, Any], name: str) -> str:
    [custom_id] = [c for c in custom_ids(message) if c.startswith(f"lbq:{name}:")]
    return custom_id


async def edited_to(fake: FakeDiscord, message_id: int, text: str) -> Call:
    """An edit (by webhook or in the channel) that puts ``text`` in message ``message_id``."""

    def match(c: Call) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        return c.method == "PATCH" and f"/messages/{message_id}" in c.path and text in (body.get("content") or "")

    return await fake.wait_for_call(match)


async def jobs(env: Env) -> list[Any]:
    return await env.runtime.store.list_jobs(list(JobState))


async def spending(fake: FakeDiscord, confirm_above: int | None) -> str:
    return await admin(fake, "settings", "spending", {} if confirm_above is None else {"confirm_above": confirm_above})


# -- the quote -----------------------------------------------------------------------------------------


async def test_every_queued_message_shows_the_estimated_cost(env: Env) -> None:
    fake = env.fake
    star3 = await fake.slash("imagine", {"prompt": "a lighthouse"})
    assert await queued_or_refused(fake, star3) == "queued"
    assert "≈ 8 points" in queued_text(fake, star3)  # [liblib.prices] star3 = 8, one image
    kontext = await fake.slash("imagine", {"prompt": "two lighthouses", "mode": "kontext-max", "count": 2})
    assert await queued_or_refused(fake, kontext) == "queued"
    assert "≈ 116 points" in queued_text(fake, kontext)  # 2 × 58
    # A button (Reroll) and a reply + mention restyle (Kontext pro, the restyle default: 29) quote too.
    await wait_result(fake, star3.token)
    message = fake.original_message(star3)
    assert message is not None
    await job_for_token(env.runtime.store, star3.token)
    reroll = await fake.click(int(message["id"]), button(message, "reroll"))
    assert await queued_or_refused(fake, reroll) == "queued"
    assert "≈ 8 points" in queued_text(fake, reroll)
    target = await bot_image_message(fake, png())
    ask = await fake.user_message("make it snowy", reply_to=int(target["id"]), mention_bot=True)
    progress = await wait_reply(fake, int(ask["id"]))
    assert "Queued" in progress.json["content"] and "≈ 29 points" in progress.json["content"]
    reserved = {j.points_reserved for j in await jobs(env)}
    assert reserved == {8, 116, 29}  # the quote is what each job reserved


# -- confirming ----------------------------------------------------------------------------------------


async def test_confirm_queues_once_even_when_clicked_twice(env: Env) -> None:
    fake = env.fake
    assert "above 20 points" in await spending(fake, 20)
    assert "Members confirm jobs above 20 points" in await admin(fake, "settings", "show")
    inter = await fake.slash("imagine", {"prompt": "a castle", "mode": "kontext-max"})
    asked = await question(fake, inter)
    assert "about **58 points**" in asked["content"] and "more than 20 points" in asked["content"]
    assert fake.original_message(inter) is None  # the public "thinking…" went; the question is private
    assert await jobs(env) == []  # nothing queued while the member thinks
    first = await fake.click(int(asked["id"]), choice(asked, "yes"))
    second = await fake.click(int(asked["id"]), choice(asked, "yes"))  # a double click
    assert "already answered" in await private_reply(fake, second)
    assert await queued_or_refused(fake, first) == "queued"  # on the click's own (public) response
    assert "≈ 58 points" in queued_text(fake, first)
    await edited_to(fake, int(asked["id"]), "Confirmed")
    await fake.handled()
    [job] = await jobs(env)
    assert job.interaction_token == first.token and job.request.kontext_model == "max"
    await wait_result(fake, first.token)
    assert env.sim.counters.submits == 1


async def test_cancel_queues_nothing(env: Env) -> None:
    fake = env.fake
    await spending(fake, 0)  # every job that costs points asks
    inter = await fake.slash("imagine", {"prompt": "a bridge"})
    asked = await question(fake, inter)
    assert "about **8 points**" in asked["content"]
    click = await fake.click(int(asked["id"]), choice(asked, "no"))
    done = await fake.wait_for_ack(click)
    assert done.json["type"] == 7 and "nothing was queued" in done.json["data"]["content"]
    assert done.json["data"]["components"] == []
    await fake.handled()
    assert await jobs(env) == []
    assert await env.runtime.store.get_usage(member_usage_scope(fake.guild_id), fake.user_id, today()) == (0, 0)
    assert custom_ids(fake.messages[int(asked["id"])]) == []  # the buttons went with the answer
    assert env.sim.counters.submit_requests == 0


async def test_no_confirmation_in_time_queues_nothing_and_touches_no_counter(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(
        fake, sim, tmp_path / "bot.db", quotas={"confirm_above_points": 20, "confirm_timeout_seconds": 0.3}
    )
    async with running_bot(settings, fake) as runtime:
        await admin(fake, "quota", "set", {"cooldown_seconds": 600})  # a claimed cooldown would show
        inter = await fake.slash("imagine", {"prompt": "a tower", "mode": "kontext-pro"}, user_id=fake.user_id)
        asked = await question(fake, inter)
        buttons = asked["components"]
        await edited_to(fake, int(asked["id"]), "Not confirmed in time")
        await fake.handled()
        assert await runtime.store.list_jobs(list(JobState)) == []
        store = runtime.store
        assert await store.get_usage(member_usage_scope(fake.guild_id), fake.user_id, today()) == (0, 0)
        assert await store.get_usage(GUILD_SCOPE, fake.guild_id, today()) == (0, 0)
        assert await store.get_timer(fake.guild_id, fake.user_id, COOLDOWN) is None
        # A click that arrives after the timeout (the member's client still showed the buttons) queues nothing.
        fake.messages[int(asked["id"])]["components"] = buttons
        late = await fake.click(int(asked["id"]), choice(asked, "yes"))
        assert "expired" in await private_reply(fake, late)
        await fake.handled()
        assert await store.list_jobs(list(JobState)) == []
        # Below the threshold nothing is asked, and the cooldown was never claimed: this one is queued at once.
        cheap = await fake.slash("imagine", {"prompt": "a hut"})
        assert await queued_or_refused(fake, cheap) == "queued"
    assert sim.counters.submit_requests <= 1
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def test_only_the_requester_can_answer(env: Env) -> None:
    fake = env.fake
    fake.add_member(MEMBER, name="member")
    fake.add_member(STRANGER, name="stranger")
    await spending(fake, 20)
    inter = await fake.slash("imagine", {"prompt": "a mill", "mode": "kontext-pro"}, user_id=MEMBER)
    asked = await question(fake, inter)
    for name in ("yes", "no"):
        click = await fake.click(int(asked["id"]), choice(asked, name), user_id=STRANGER)
        assert "Only the member who made this request" in await private_reply(fake, click)
    assert await jobs(env) == []  # (the command's handler still waits for its member)
    mine = await fake.click(int(asked["id"]), choice(asked, "yes"), user_id=MEMBER)
    assert await queued_or_refused(fake, mine) == "queued"
    [job] = await jobs(env)
    assert job.user_id == MEMBER


async def test_a_question_a_restart_forgot_queues_nothing(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", quotas={"confirm_above_points": 0})
    async with running_bot(settings, fake):
        inter = await fake.slash("imagine", {"prompt": "a barn"})
        asked = await question(fake, inter)
        buttons = asked["components"]
    # Stopping ended the question (the message says so); after a crash its buttons would still be there.
    assert "Not confirmed in time" in fake.messages[int(asked["id"])]["content"]
    fake.messages[int(asked["id"])]["components"] = buttons
    async with running_bot(settings, fake) as runtime:
        click = await fake.click(int(asked["id"]), choice(asked, "yes"))
        assert "expired" in await private_reply(fake, click)
        await fake.handled()
        assert await runtime.store.list_jobs(list(JobState)) == []
    assert sim.counters.submit_requests == 0
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def test_a_restyle_is_confirmed_before_its_image_is_fetched(env: Env) -> None:
    fake, sim = env.fake, env.sim
    await spending(fake, 20)
    image = fake.host_file("image.png", png(256, 256))
    declined = await fake.slash("restyle", {"prompt": "make it blue"}, attachments={"image": image})
    asked = await question(fake, declined)
    assert "kontext-pro" in asked["content"] and "about **29 points**" in asked["content"]
    await fake.click(int(asked["id"]), choice(asked, "no"))
    await fake.handled()
    assert downloads(fake) == [] and sim.counters.uploads == 0 and await jobs(env) == []
    confirmed = await fake.slash("restyle", {"prompt": "make it red"}, attachments={"image": image})
    asked = await question(fake, confirmed)
    assert downloads(fake) == []  # asked before fetching
    click = await fake.click(int(asked["id"]), choice(asked, "yes"))
    assert await queued_or_refused(fake, click) == "queued"
    assert len(downloads(fake)) == 1
    await wait_result(fake, click.token)


async def test_a_reply_mention_asks_in_a_reply_that_becomes_its_progress(env: Env) -> None:
    fake = env.fake
    fake.add_member(STRANGER, name="stranger")
    await spending(fake, 20)
    target = await bot_image_message(fake, png())
    ask = await fake.user_message("make it autumn", reply_to=int(target["id"]), mention_bot=True)
    prompt = await wait_reply(fake, int(ask["id"]))
    assert "about **29 points**" in prompt.json["content"]
    asked = fake.messages[int(prompt.response["id"])]
    stranger = await fake.click(int(asked["id"]), choice(asked, "yes"), user_id=STRANGER)
    assert "Only the member" in await private_reply(fake, stranger)
    click = await fake.click(int(asked["id"]), choice(asked, "yes"))
    assert (await fake.wait_for_ack(click)).json["type"] == 7
    queued = await edited_to(fake, int(asked["id"]), "Queued")
    assert "≈ 29 points" in queued.json["content"]
    await fake.handled()
    [job] = await jobs(env)
    assert job.progress_message_id == int(asked["id"])
    await wait_reply(fake, int(ask["id"]), files=True)


# -- a cheaper mode --------------------------------------------------------------------------------------


async def refusal_with_offer(fake: FakeDiscord, inter: Interaction) -> Call:
    def match(c: Call) -> bool:
        body = c.json if isinstance(c.json, dict) else {}
        return c.method == "POST" and inter.token in c.path and bool(body.get("flags", 0) & 64)

    return await fake.wait_for_call(match)


async def test_a_points_refusal_offers_the_cheapest_allowed_mode_that_fits(env: Env) -> None:
    fake, sim = env.fake, env.sim
    fake.add_member(STRANGER, name="stranger")
    await admin(fake, "quota", "set", {"points_per_day": 30})
    await admin(fake, "settings", "models", {"allowed": "kontext-pro, kontext-max"})  # not star3 (8) nor custom
    inter = await fake.slash("imagine", {"prompt": "a harbour", "mode": "kontext-max"})
    refusal = await refusal_with_offer(fake, inter)
    text = refusal.json["content"]
    assert "your daily points limit" in text and "**kontext-pro**, about 29 points" in text
    offered = fake.messages[int(refusal.response["id"])]
    [offer] = custom_ids(offered)
    assert offer.startswith("lbq:offer:")
    assert "Use kontext-pro (≈ 29 points)" in str(offered["components"])
    stranger = await fake.click(int(offered["id"]), offer, user_id=STRANGER)
    assert "Only the member" in await private_reply(fake, stranger)
    take = await fake.click(int(offered["id"]), offer)
    again = await fake.click(int(offered["id"]), offer)  # the offer is taken once
    assert "already used" in await private_reply(fake, again)
    assert await queued_or_refused(fake, take) == "queued"
    assert "≈ 29 points" in queued_text(fake, take)
    await wait_result(fake, take.token)
    await fake.handled()
    [job] = await jobs(env)
    assert job.request.mode == "kontext" and job.request.kontext_model == "pro" and job.request.prompt == "a harbour"
    [task] = sim.tasks()
    assert task.params["model"] == "pro"


async def test_the_offered_mode_goes_through_the_same_confirmation(env: Env) -> None:
    fake = env.fake
    await spending(fake, 20)
    await admin(fake, "quota", "set", {"points_per_day": 30})
    await admin(fake, "settings", "models", {"allowed": "kontext-pro, kontext-max"})
    inter = await fake.slash("imagine", {"prompt": "a canal", "mode": "kontext-max"})
    refusal = await refusal_with_offer(fake, inter)  # refused before being asked: it could never fit
    offered = fake.messages[int(refusal.response["id"])]
    take = await fake.click(int(offered["id"]), custom_ids(offered)[0])
    asked = await question(fake, take)
    assert "kontext-pro" in asked["content"] and "about **29 points**" in asked["content"]
    assert await jobs(env) == []
    click = await fake.click(int(asked["id"]), choice(asked, "yes"))
    assert await queued_or_refused(fake, click) == "queued"
    [job] = await jobs(env)
    assert job.request.kontext_model == "pro"


async def test_no_offer_when_no_mode_fits(env: Env) -> None:
    fake = env.fake
    await admin(fake, "quota", "set", {"points_per_day": 5})  # below every price
    inter = await fake.slash("imagine", {"prompt": "a dock", "mode": "kontext-pro"})
    call = await refusal_with_offer(fake, inter)
    assert "your daily points limit" in call.json["content"] and "cheaper" not in call.json["content"]
    assert not call.json.get("components")
    # Within budget for Kontext pro, but among the allowed modes only Kontext max takes four images (Seedream and
    # IMG1 take more, for less): no allowed mode can take this request.
    await admin(fake, "quota", "set", {"points_per_day": 30})
    await admin(fake, "settings", "models", {"allowed": "star3, kontext-pro, kontext-max, dreamtech-xl"})
    files = {name: fake.host_file(f"{name}.png", png()) for name in ("image", "reference", "reference2", "reference3")}
    restyle = await fake.slash("restyle", {"prompt": "blend them"}, attachments=files)
    call = await refusal_with_offer(fake, restyle)
    assert "your daily points limit" in call.json["content"] and not call.json.get("components")
    assert downloads(fake) == []
    await fake.handled()
    assert await jobs(env) == []


async def test_settings_spending_overrides_and_restores_the_bot_default(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", quotas={"confirm_above_points": 5})
    async with running_bot(settings, fake):
        assert "Members confirm jobs above 5 points" in await admin(fake, "settings", "show")  # the bot default
        assert "never asked" in await spending(fake, -1)
        assert "Members confirm" not in await admin(fake, "settings", "show")
        quiet = await fake.slash("imagine", {"prompt": "a pier"})
        assert await queued_or_refused(fake, quiet) == "queued"  # 8 points, and this server never asks
        assert "every job that costs points" in await spending(fake, 0)
        assert "above 0 points" in await admin(fake, "settings", "show")
        assert "bot's default" in await spending(fake, None)
        asked = await question(
            fake, await fake.slash("imagine", {"prompt": "一座码头", "mode": "kontext-pro"}, locale="zh-CN")
        )
        assert (
            "约 **29 积分**" in asked["content"] and "5 积分" in asked["content"]
        )  # the bot default again, in Chinese
        assert "确认" in str(asked["components"])
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors
