"""Restyling end to end: reply + mention, the "Restyle image" menu and /restyle, against the simulator."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot.liblib.simulator import Simulator
from bot.models import JobKind, JobState
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import custom_ids
from tests.e2e.test_imagine import wait_jobs, wait_result
from tests.fake_discord import FakeDiscord


def png(width: int = 320, height: int = 240, color: tuple[int, int, int] = (10, 20, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, "PNG")
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
async def renv(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> AsyncIterator[Env]:
    # The fake Discord serves attachments from loopback: trust that origin, as a self-hosted proxy would be.
    settings = make_settings(fake, sim, tmp_path / "bot.db", fetch={"extra_hosts": [fake.base_url]})
    async with running_bot(settings, fake) as runtime:
        yield Env(fake, sim, runtime, settings, tmp_path / "bot.db")
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def bot_image_message(fake: FakeDiscord, data: bytes, filename: str = "result.png") -> dict[str, Any]:
    """A message the bot posted earlier with an image (e.g. an /imagine result)."""
    return await fake.user_message(
        "here you go", user_id=fake.bot_user_id, attachments=[fake.host_file(filename, data)]
    )


def replies_to(call: Any, message_id: int) -> bool:
    body = call.json if isinstance(call.json, dict) else {}
    ref = body.get("message_reference") or {}
    return call.method == "POST" and "/messages" in call.path and str(ref.get("message_id")) == str(message_id)


async def wait_reply(fake: FakeDiscord, message_id: int, *, files: bool = False, timeout: float = 10.0) -> Any:
    return await fake.wait_for_call(lambda c: replies_to(c, message_id) and bool(c.files) == files, timeout=timeout)


# -- reply + mention ---------------------------------------------------------------------------------


async def test_reply_mention_restyles_the_replied_image_and_replies_with_the_result(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    source = png(300, 400)
    target = await bot_image_message(fake, source)
    ask = await fake.user_message(
        f"<@{fake.bot_user_id}> make it cyberpunk, keep the pose", reply_to=int(target["id"]), mention_bot=True
    )
    progress = await wait_reply(fake, int(ask["id"]))
    assert "Queued" in progress.json["content"]
    assert progress.json["allowed_mentions"]["parse"] == []
    result = await wait_reply(fake, int(ask["id"]), files=True)
    assert len(result.files) == 1
    [task] = sim.tasks()
    assert task.path == "/api/generate/kontext/img2img"
    assert task.params["model"] == "pro"  # the restyle default
    assert task.params["prompt"] == "make it cyberpunk, keep the pose"  # the mention is stripped
    assert task.params["aspectRatio"] == "3:4"  # the source's shape is kept
    assert sim.counters.source_digests == [sha(source)]  # LiblibAI got exactly the image replied to
    [job] = await wait_jobs(renv.runtime.store, JobState.SUCCEEDED, 1)
    assert job.kind is JobKind.RESTYLE and job.reply_to_message_id == int(ask["id"])
    # The progress reply carried a Cancel button and is removed once the result is posted.
    assert any(c.startswith("lb:cancel:") for c in custom_ids(progress.json))
    await fake.wait_for_call(lambda c: c.method == "DELETE" and f"/messages/{job.progress_message_id}" in c.path)


async def test_a_reply_mention_job_can_be_cancelled_from_its_progress_message(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    sim.set_durations(0.2, 5.0, 0.2)
    settings = make_settings(fake, sim, tmp_path / "bot.db", fetch={"extra_hosts": [fake.base_url]})
    async with running_bot(settings, fake) as runtime:
        target = await bot_image_message(fake, png())
        ask = await fake.user_message("make it snow", reply_to=int(target["id"]), mention_bot=True)
        progress = await wait_reply(fake, int(ask["id"]))
        [cancel] = [c for c in custom_ids(progress.json) if c.startswith("lb:cancel:")]
        assert await wait_jobs(runtime.store, JobState.RUNNING, 1)  # Cancel works while queued or running
        click = await fake.click(int(progress.response["id"]), cancel)
        done = await fake.wait_for_call(lambda c: "/callback" in c.path and str(click.id) in c.path)
        assert done.json["type"] == 7, done.json  # the progress message is edited to "Cancelled"
        [job] = await wait_jobs(runtime.store, JobState.CANCELLED, 1)
        assert job.cancel_requested and not job.refunded and job.points_cost  # LiblibAI billed the running task


async def test_images_attached_to_the_reply_are_extra_references(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    source, style = png(256, 256, (200, 0, 0)), png(256, 256, (0, 0, 200))
    target = await bot_image_message(fake, source)
    ask = await fake.user_message(
        "put this pattern on the shirt",
        reply_to=int(target["id"]),
        mention_bot=True,
        attachments=[fake.host_file("style.png", style)],
    )
    await wait_reply(fake, int(ask["id"]), files=True)
    [task] = sim.tasks()
    assert task.params["model"] == "max"  # several images: Kontext max (pro takes one)
    assert len(task.params["image_list"]) == 2
    assert sim.counters.source_digests == [sha(source), sha(style)]


async def test_a_mention_with_an_attached_image_and_no_reply_restyles_that_image(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    source = png(256, 256)
    ask = await fake.user_message(
        f"<@{fake.bot_user_id}> as a pencil sketch --mode star3",
        mention_bot=True,
        attachments=[fake.host_file("me.png", source)],
    )
    await wait_reply(fake, int(ask["id"]), files=True)
    [task] = sim.tasks()
    assert task.path == "/api/generate/webui/img2img/ultra"
    assert sim.counters.source_digests == [sha(source)]


async def test_reply_to_a_message_without_an_image_gets_a_hint(renv: Env) -> None:
    fake = renv.fake
    target = await fake.user_message("just text", user_id=fake.bot_user_id)
    ask = await fake.user_message("make it blue", reply_to=int(target["id"]), mention_bot=True)
    hint = await wait_reply(fake, int(ask["id"]))
    assert "reply" in hint.json["content"] and "/restyle" in hint.json["content"]
    assert hint.json["allowed_mentions"]["replied_user"] is False
    assert renv.sim.counters.submit_requests == 0


async def test_a_mention_without_an_instruction_asks_for_one(renv: Env) -> None:
    fake = renv.fake
    target = await bot_image_message(fake, png())
    ask = await fake.user_message(f"<@{fake.bot_user_id}>", reply_to=int(target["id"]), mention_bot=True)
    hint = await wait_reply(fake, int(ask["id"]))
    assert hint.json["content"].startswith("What should I change?")
    assert renv.sim.counters.submit_requests == 0


async def test_reply_to_a_members_image_hidden_by_discord_points_to_the_menu(renv: Env) -> None:
    fake = renv.fake
    # Without the message-content intent Discord blanks other members' messages in the reply.
    target = await fake.user_message("my cat", attachments=[fake.host_file("cat.png", png())])
    ask = await fake.user_message("make it a lion", reply_to=int(target["id"]), mention_bot=True)
    hint = await wait_reply(fake, int(ask["id"]))
    assert "Restyle image" in hint.json["content"]
    assert renv.sim.counters.submit_requests == 0


async def test_with_the_message_content_intent_a_reply_restyles_another_members_image(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(
        fake, sim, tmp_path / "bot.db", fetch={"extra_hosts": [fake.base_url]}, discord={"message_content_intent": True}
    )
    async with running_bot(settings, fake):
        source = png(256, 256, (90, 10, 10))
        target = await fake.user_message("my cat", attachments=[fake.host_file("cat.png", source)])
        await fake.user_message("make it a lion", reply_to=int(target["id"]), mention_bot=True)
        await fake.wait_for_call(lambda c: c.method == "POST" and c.files and "/messages" in c.path, timeout=10)
        assert sim.counters.source_digests == [sha(source)]
        assert fake.gateway.intents & (1 << 15)  # MESSAGE_CONTENT was requested


async def test_non_image_and_oversized_replied_attachments_are_refused_without_an_api_call(renv: Env) -> None:
    fake = renv.fake
    fake_png = await fake.user_message(
        "x", user_id=fake.bot_user_id, attachments=[fake.host_file("cat.png", b"not an image at all", "image/png")]
    )
    ask = await fake.user_message("restyle", reply_to=int(fake_png["id"]), mention_bot=True)
    refusal = await wait_reply(fake, int(ask["id"]))
    assert "not a readable image" in refusal.json["content"]

    text_file = await fake.user_message(
        "x", user_id=fake.bot_user_id, attachments=[fake.host_file("notes.txt", b"hello", "text/plain")]
    )
    ask2 = await fake.user_message("restyle", reply_to=int(text_file["id"]), mention_bot=True)
    refusal2 = await wait_reply(fake, int(ask2["id"]))
    assert "not an image" in refusal2.json["content"]

    big = b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024)
    huge = await fake.user_message("x", user_id=fake.bot_user_id, attachments=[fake.host_file("big.png", big)])
    ask3 = await fake.user_message("restyle", reply_to=int(huge["id"]), mention_bot=True)
    refusal3 = await wait_reply(fake, int(ask3["id"]))
    assert "limit is 10 MB" in refusal3.json["content"]
    # The size was refused from the attachment's metadata: the file was never downloaded.
    assert not fake.calls_to("GET", f"/{huge['attachments'][0]['id']}/")
    assert renv.sim.counters.submit_requests == 0
    assert renv.sim.counters.uploads == 0


async def test_oversized_embed_image_is_cut_off_while_downloading(renv: Env) -> None:
    fake = renv.fake
    big = fake.host_file("big.png", b"\x89PNG\r\n\x1a\n" + bytes(11 * 1024 * 1024))
    target = await fake.user_message("x", user_id=fake.bot_user_id, embeds=[{"image": {"url": big["url"]}}])
    ask = await fake.user_message("restyle", reply_to=int(target["id"]), mention_bot=True)
    refusal = await wait_reply(fake, int(ask["id"]))
    assert "limit is 10 MB" in refusal.json["content"]
    assert renv.sim.counters.submit_requests == 0


async def test_bots_and_everyone_pings_are_ignored(renv: Env) -> None:
    fake = renv.fake
    other_bot = fake.add_member(4242, name="otherbot")
    fake.users[4242]["bot"] = True
    target = await bot_image_message(fake, png())
    await fake.user_message("restyle this", user_id=int(other_bot["user"]["id"]), reply_to=int(target["id"]))
    await fake.user_message("@everyone look at this", attachments=[fake.host_file("a.png", png())])
    # A member's plain message proves the listener ran in between and still answered nobody.
    marker = await fake.user_message("is anyone there?", mention_bot=True)
    await wait_reply(fake, int(marker["id"]))
    replies = [c for c in fake.calls if c.method == "POST" and "/messages" in c.path and c.json]
    assert len(replies) == 1


# -- context menu -> modal ----------------------------------------------------------------------------


async def open_modal(fake: FakeDiscord, message_id: int) -> tuple[Any, dict[str, Any]]:
    inter = await fake.context_menu("Restyle image", message_id)
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    assert call.json["type"] == 9, call.json  # MODAL
    return inter, call.json["data"]


async def test_context_menu_opens_a_modal_and_the_submit_restyles_the_embed_image(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    source = png(400, 300, (5, 6, 7))
    hosted = fake.host_file("shot.png", source)
    target = await fake.user_message("look", embeds=[{"title": "a shot", "image": {"url": hosted["url"]}}])
    _, modal = await open_modal(fake, int(target["id"]))
    submit = await fake.submit_modal(modal["custom_id"], {"instruction": "turn it into a watercolor", "mode": []})
    ack = await fake.wait_for_call(lambda c: "/callback" in c.path and str(submit.id) in c.path)
    assert ack.json["type"] == 5
    await wait_result(fake, submit.token)
    [task] = sim.tasks()
    assert task.params["model"] == "pro" and task.params["aspectRatio"] == "4:3"
    assert sim.counters.source_digests == [sha(source)]


async def test_modal_strength_runs_a_custom_model_with_that_denoising(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    target = await fake.user_message("img", attachments=[fake.host_file("p.png", png(512, 512))])
    _, modal = await open_modal(fake, int(target["id"]))
    submit = await fake.submit_modal(
        modal["custom_id"], {"instruction": "oil painting", "mode": ["dreamtech-xl"], "strength": "0.4"}
    )
    await wait_result(fake, submit.token)
    [task] = sim.tasks()
    assert task.path == "/api/generate/webui/img2img"
    assert task.params["denoisingStrength"] == pytest.approx(0.4)


async def test_modal_strength_with_kontext_is_a_friendly_error(renv: Env) -> None:
    fake = renv.fake
    target = await fake.user_message("img", attachments=[fake.host_file("p.png", png())])
    _, modal = await open_modal(fake, int(target["id"]))
    submit = await fake.submit_modal(modal["custom_id"], {"instruction": "sketch", "strength": "0.5"})
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(submit.id) in c.path)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
    assert "strength" in call.json["data"]["content"] and "dreamtech-xl" in call.json["data"]["content"]
    assert renv.sim.counters.submit_requests == 0


async def test_context_menu_on_a_message_without_an_image_is_refused(renv: Env) -> None:
    fake = renv.fake
    target = await fake.user_message("only words")
    inter = await fake.context_menu("Restyle image", int(target["id"]))
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
    assert "no image" in call.json["data"]["content"]


# -- /restyle -----------------------------------------------------------------------------------------


async def slash_restyle(fake: FakeDiscord, options: dict[str, object], **files: bytes) -> Any:
    attachments = {name: fake.host_file(f"{name}.png", data) for name, data in files.items()}
    return await fake.slash("restyle", options, attachments=attachments)


@pytest.mark.parametrize(
    ("mode", "path", "model"),
    [
        (None, "/api/generate/kontext/img2img", "pro"),
        ("kontext-max", "/api/generate/kontext/img2img", "max"),
        ("star3", "/api/generate/webui/img2img/ultra", None),
        ("dreamtech-xl", "/api/generate/webui/img2img", None),
    ],
)
async def test_restyle_command_in_each_mode(renv: Env, mode: str | None, path: str, model: str | None) -> None:
    fake, sim = renv.fake, renv.sim
    source = png(320, 240)
    options: dict[str, object] = {"prompt": "make it look like a comic"}
    if mode:
        options["mode"] = mode
    inter = await slash_restyle(fake, options, image=source)
    await wait_result(fake, inter.token)
    [task] = sim.tasks()
    assert task.path == path
    assert task.params.get("model") == model
    assert sim.counters.source_digests == [sha(source)]


async def test_restyle_custom_model_with_strength_and_mask_inpaints(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    source, mask = png(512, 512, (90, 90, 90)), png(512, 512, (255, 255, 255))
    inter = await slash_restyle(
        fake, {"prompt": "a red scarf", "mode": "dreamtech-xl", "strength": 0.55}, image=source, mask=mask
    )
    await wait_result(fake, inter.token)
    [task] = sim.tasks()
    assert task.params["mode"] == 4 and task.params["denoisingStrength"] == pytest.approx(0.55)
    mask_url = task.params["inpaintParam"]["maskImage"]
    assert mask_url != task.params["sourceImage"]
    assert sha(source) == sim.counters.source_digests[0]


async def test_restyle_with_references_uses_them_all(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    images = [png(256, 256, (i * 40, 0, 0)) for i in range(3)]
    inter = await slash_restyle(
        fake, {"prompt": "combine", "mode": "kontext-max"}, image=images[0], reference=images[1], reference2=images[2]
    )
    await wait_result(fake, inter.token)
    [task] = sim.tasks()
    assert len(task.params["image_list"]) == 3
    assert sim.counters.source_digests == [sha(i) for i in images]


async def ephemeral_refusal(fake: FakeDiscord, inter: Any) -> str:
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)
    if call.json["type"] == 4:
        assert call.json["data"]["flags"] & 64
        return str(call.json["data"]["content"])
    follow = await fake.wait_for_call(
        lambda c: c.method == "POST" and inter.token in c.path and (c.json or {}).get("flags", 0) & 64
    )
    return str(follow.json["content"])


async def test_restyle_refusals_are_friendly_and_cost_no_api_call(renv: Env) -> None:
    fake = renv.fake
    cases: list[tuple[dict[str, object], dict[str, bytes], str]] = [
        ({"prompt": "x", "strength": 0.5}, {"image": png()}, "no strength setting"),
        ({"prompt": "x", "mode": "star3"}, {"image": png(), "mask": png()}, "mask"),
        ({"prompt": "x", "mode": "kontext-pro"}, {"image": png(), "reference": png()}, "at most 1 reference"),
        ({"prompt": "x", "mode": "dreamtech-xl"}, {"image": png(512, 512), "mask": png(256, 256)}, "same size"),
        ({"prompt": "x"}, {"image": b"GIF89a but not really"}, "not a readable image"),
        ({"prompt": "x"}, {"image": png(5000, 100)}, "largest allowed side"),
    ]
    for options, files, expected in cases:
        inter = await slash_restyle(fake, options, **files)
        text = await ephemeral_refusal(fake, inter)
        assert expected in text, (expected, text)
    await fake.handled()  # every handler returned: nothing was queued, nothing can be submitted
    assert await renv.runtime.store.list_jobs(list(JobState)) == []
    assert renv.sim.counters.submit_requests == 0


async def test_gif_uses_its_first_frame(renv: Env) -> None:
    fake, sim = renv.fake, renv.sim
    frames = [Image.new("RGB", (200, 200), c) for c in ((255, 0, 0), (0, 255, 0))]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:])
    inter = await slash_restyle(fake, {"prompt": "neon"}, image=out.getvalue())
    await wait_result(fake, inter.token)
    assert sim.counters.uploads == 1
    [task] = sim.tasks()
    fetched = task.params["image_list"][0]
    assert fetched.endswith(".png")


async def test_url_transport_lets_liblib_fetch_the_discord_attachment_itself(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = make_settings(
        fake, sim, tmp_path / "bot.db", fetch={"extra_hosts": [fake.base_url]}, liblib={"image_transport": "url"}
    )
    source = png(320, 320, (1, 1, 1))
    async with running_bot(settings, fake):
        target = await bot_image_message(fake, source)
        ask = await fake.user_message("make it gold", reply_to=int(target["id"]), mention_bot=True)
        await wait_reply(fake, int(ask["id"]), files=True)
    [fetched_url] = sim.counters.source_fetches
    assert fetched_url == target["attachments"][0]["url"]
    assert sim.counters.source_digests == [sha(source)]
    assert sim.counters.uploads == 0
    assert_no_pings(fake)


async def test_restyle_command_is_synced_with_the_context_menu(renv: Env) -> None:
    kinds = {(c["name"], c.get("type", 1)) for c in renv.fake.commands}
    assert ("restyle", 1) in kinds and ("Restyle image", 3) in kinds


# -- the Restyle button on results -------------------------------------------------------------------


async def test_restyle_button_on_a_result_restyles_that_image(renv: Env) -> None:
    from tests.e2e.helpers import custom_ids, imagine_done, job_for_token

    fake, sim = renv.fake, renv.sim
    _, parent, message = await imagine_done(fake, renv.runtime.store, {"prompt": "two owls", "count": 2})
    [second] = [c for c in custom_ids(message) if c.startswith("lb:restyle:") and c.split(":")[3] == "1"]
    click = await fake.click(int(message["id"]), second)
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(click.id) in c.path)
    assert call.json["type"] == 9, call.json  # the restyle modal
    submit = await fake.submit_modal(call.json["data"]["custom_id"], {"instruction": "as a woodcut", "mode": []})
    await wait_result(fake, submit.token)
    child = await job_for_token(renv.runtime.store, submit.token)
    assert child.parent_job_id == parent.id
    # LiblibAI got exactly the second image of the result message.
    assert sim.counters.source_digests == [sha(fake.attachment_bytes(message["attachments"][1]))]


async def test_a_strangers_restyle_click_is_refused_without_a_modal(renv: Env) -> None:
    from tests.e2e.helpers import custom_ids, imagine_done

    fake = renv.fake
    _, _parent, message = await imagine_done(fake, renv.runtime.store, {"prompt": "an owl"})
    [restyle] = [c for c in custom_ids(message) if c.startswith("lb:restyle:")]
    fake.add_member(7_100_000_000_000_000_001, name="stranger")
    click = await fake.click(int(message["id"]), restyle, user_id=7_100_000_000_000_000_001)
    call = await fake.wait_for_call(lambda c: "/callback" in c.path and str(click.id) in c.path)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64
    assert not fake.modals


@pytest.mark.parametrize("command", ["imagine", "restyle"])
async def test_mode_autocomplete_offers_the_configured_modes(renv: Env, command: str) -> None:
    fake = renv.fake
    inter = await fake.autocomplete(command, {"mode": "kont"}, focused="mode")
    await fake.wait_for_ack(inter)
    response = fake.interaction_response(inter)
    assert response is not None and response["type"] == 8
    values = [c["value"] for c in response["data"]["choices"]]
    assert values and all("kontext" in v for v in values)
    everything = await fake.autocomplete(command, {"mode": ""}, focused="mode")
    await fake.wait_for_ack(everything)
    assert "dreamtech-xl" in str(fake.interaction_response(everything))
