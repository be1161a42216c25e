"""One attachment policy for /imagine and /restyle: the same metadata check, the allowlisted fetcher, one unit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.liblib.simulator import Simulator
from tests.e2e.conftest import Env, make_settings, running_bot
from tests.e2e.test_imagine import wait_result
from tests.e2e.test_restyle import png
from tests.fake_discord import FakeDiscord

HUGE = 10 * 1024 * 1024 + 512 * 1024  # 10.5 MiB: over the API's 10 MiB limit (11.0 decimal MB)


def is_ephemeral_reply(call: Any) -> bool:
    body = call.json if isinstance(call.json, dict) else {}
    flags = (body.get("data") or body).get("flags", 0) if "/callback" in call.path else body.get("flags", 0)
    return call.method == "POST" and ("/callback" in call.path or "/webhooks/" in call.path) and bool(flags & 64)


async def test_imagine_fetches_its_images_through_the_host_allowlist(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    """Discord's CDN only: with the fake's origin off the allowlist, /imagine refuses as /restyle does."""
    settings = make_settings(fake, sim, tmp_path / "bot.db", fetch={"extra_hosts": []})
    async with running_bot(settings, fake):
        for command, options in (("imagine", {"prompt": "paint it"}), ("restyle", {"prompt": "paint it"})):
            attachment = fake.host_file("source.png", png(), "image/png")
            inter = await fake.slash(command, options, attachments={"image": attachment})
            call = await fake.wait_for_call(lambda c, i=inter: is_ephemeral_reply(c) and i.token in c.path)
            assert "I can only fetch images posted on Discord" in call.json["content"]
    assert fake.calls_to("GET", "/attachments/") == []  # refused before connecting
    assert sim.counters.uploads == 0 and sim.counters.submit_requests == 0


async def test_an_oversized_attachment_is_refused_alike_in_mib_before_any_download(env: Env) -> None:
    for command in ("imagine", "restyle"):
        attachment = env.fake.host_file("big.png", b"\x89PNG" + b"0" * HUGE, "image/png")
        inter = await env.fake.slash(command, {"prompt": "paint it"}, attachments={"image": attachment})
        call = await env.fake.wait_for_call(lambda c, i=inter: is_ephemeral_reply(c) and str(i.id) in c.path)
        assert "the file is 10.5 MB; the limit is 10 MB." in call.json["data"]["content"]
    assert env.fake.calls_to("GET", "/attachments/") == []
    assert env.sim.counters.uploads == 0 and env.sim.counters.submit_requests == 0


async def test_imagine_downloads_its_image_through_the_fetcher_once(env: Env) -> None:
    """The bot's one download of the member's image goes through the fetcher (no discord.py read)."""
    attachment = env.fake.host_file("source.png", png(), "image/png")
    inter = await env.fake.slash("imagine", {"prompt": "paint it"}, attachments={"image": attachment})
    await wait_result(env.fake, inter.token)
    [download] = env.fake.calls_to("GET", "/attachments/")
    assert download.headers.get("User-Agent") == "liblib-discord-bot"  # the fetch session's, not discord.py's
