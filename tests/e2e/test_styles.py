"""Style presets and personal defaults end to end: /style, /prefer, /imagine style: and --style, through the real
bot, the fake Discord and the LiblibAI simulator (which shows what reached LiblibAI)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.liblib.simulator import Simulator
from bot.liblib.simulator.tasks import SimTask
from bot.models import Job
from bot.settings import Settings, StyleSettings
from tests.e2e.conftest import Env, assert_no_pings, make_settings, running_bot
from tests.e2e.helpers import job_for_token
from tests.e2e.test_imagine import wait_result
from tests.e2e.test_quotas import admin, private_reply
from tests.e2e.test_restyle import bot_image_message, png, replies_to, wait_reply
from tests.fake_discord import FakeDiscord

MODELS = {
    "custom": [
        {
            "name": "dreamtech-xl",
            "label": "Dream Tech XL v6",
            "checkpoint_id": "0ea388c7eb854be3ba3c6f65aac6bfd3",
            "loras": [{"model_id": "default-lora", "weight": 0.8}],
            "lora_presets": [{"name": "ink", "loras": [{"model_id": "ink-lora", "weight": 0.6}]}],
        },
        {"name": "anime-xl", "label": "Anime XL", "checkpoint_id": "anime-checkpoint", "english_only": False},
    ]
}
BOT_WIDE = [StyleSettings(name="wide", description="Cinemascope", suffix="cinemascope", aspect="21:9")]


def style_settings(fake: FakeDiscord, sim: Simulator, db: Path) -> Settings:
    settings = make_settings(fake, sim, db, models=MODELS)
    return settings.model_copy(update={"styles": BOT_WIDE})


@pytest.fixture
async def senv(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> AsyncIterator[Env]:
    settings = style_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        yield Env(fake, sim, runtime, settings, tmp_path / "bot.db")
    assert_no_pings(fake)
    assert fake.spec_errors == [], fake.spec_errors


async def style(fake: FakeDiscord, sub: str, options: dict[str, object], *, user_id: int | None = None) -> str:
    inter = await fake.slash("style", options, subcommand=sub, user_id=fake.admin_id if user_id is None else user_id)
    return await private_reply(fake, inter)


async def prefer(
    fake: FakeDiscord, sub: str, options: dict[str, object] | None = None, *, locale: str = "en-US"
) -> str:
    inter = await fake.slash("prefer", options or {}, subcommand=sub, locale=locale)
    return await private_reply(fake, inter)


async def imagine(env: Env, options: dict[str, object], **kwargs: Any) -> tuple[Job, SimTask]:
    """Run /imagine as the member to its result: the job, and the task LiblibAI (the simulator) received."""
    inter = await env.fake.slash("imagine", options, **kwargs)
    await wait_result(env.fake, inter.token)
    job = await job_for_token(env.runtime.store, inter.token)
    assert job.generate_uuid is not None
    task = env.sim.task(job.generate_uuid)
    assert task is not None
    return job, task


async def refusal(env: Env, options: dict[str, object], **kwargs: Any) -> str:
    inter = await env.fake.slash("imagine", options, **kwargs)
    return await private_reply(env.fake, inter)


NOIR = {
    "name": "noir",
    "prefix": "film noir photo of",
    "suffix": ", high contrast, grain",
    "negative": "color, blurry",
    "mode": "dreamtech-xl",
    "aspect": "3:4",
    "description": "Black and white",
}


# -- an admin's style, used by members -------------------------------------------------------------------


async def test_an_admins_style_reaches_liblibai_by_option_and_by_flag(senv: Env) -> None:
    fake, store = senv.fake, senv.runtime.store
    added = await style(fake, "add", NOIR)
    assert added.startswith("✅ Style `noir` added.") and "“film noir photo of”" in added
    [entry] = await store.list_audit(fake.guild_id)
    assert entry.action == "add style noir" and entry.actor_id == fake.admin_id
    assert json.loads(entry.detail)["prefix"] == "film noir photo of"

    for options in (
        {"prompt": "a detective in the rain", "style": "noir"},
        {"prompt": "a detective in the rain --style noir"},
    ):
        job, task = await imagine(senv, options)
        assert task.params["prompt"] == "film noir photo of a detective in the rain, high contrast, grain"
        assert task.params["negativePrompt"] == "color, blurry"
        assert task.params["checkPointId"] == "0ea388c7eb854be3ba3c6f65aac6bfd3"  # the style's mode
        assert (task.params["width"], task.params["height"]) == (896, 1152)  # 3:4
        assert job.request.aspect_ratio == "3:4" and job.request.mode == "dreamtech-xl"


async def test_a_styles_negative_prompt_is_left_out_where_the_mode_has_none(senv: Env) -> None:
    """A member's own mode that takes no negative prompt is not refused for the style's."""
    await style(senv.fake, "add", {k: v for k, v in NOIR.items() if k != "mode"})
    _, task = await imagine(senv, {"prompt": "a detective", "style": "noir", "mode": "star3"})
    assert task.params["prompt"] == "film noir photo of a detective, high contrast, grain"
    assert "negativePrompt" not in task.params
    typed = await refusal(senv, {"prompt": "a detective --no color", "mode": "star3"})  # the member's own: refused
    assert "does not take a negative prompt" in typed


async def test_edit_and_remove_are_audited_and_take_effect(senv: Env) -> None:
    fake, store = senv.fake, senv.runtime.store
    await style(fake, "add", NOIR)
    saved = await style(fake, "edit", {"name": "noir", "mode": "kontext-pro", "clear": "negative, suffix"})
    assert saved.startswith("✅ Style `noir` saved.")
    _, task = await imagine(senv, {"prompt": "a detective", "style": "noir"})
    assert task.path == "/api/generate/kontext/text2img" and task.params["aspectRatio"] == "3:4"
    assert task.params["prompt"] == "film noir photo of a detective"
    bad = await style(fake, "edit", {"name": "noir", "clear": "colour"})
    assert "`colour` cannot be cleared" in bad
    removed = await style(fake, "remove", {"name": "noir"})
    assert removed.startswith("✅ Style `noir` removed.")
    assert await store.list_styles(fake.guild_id) == []
    actions = [e.action for e in reversed(await store.list_audit(fake.guild_id))]
    assert actions == ["add style noir", "edit style noir", "remove style noir"]


async def test_members_cannot_change_styles_but_can_list_them(senv: Env) -> None:
    fake, store = senv.fake, senv.runtime.store
    for sub, options in (("add", NOIR), ("edit", {"name": "wide", "aspect": "1:1"}), ("remove", {"name": "wide"})):
        answer = await style(fake, sub, options, user_id=fake.user_id)
        assert "Manage Server" in answer and "Nothing was changed" in answer
    assert await store.list_styles(fake.guild_id) == [] and await store.list_audit(fake.guild_id) == []
    await style(fake, "add", NOIR)
    listed = await style(fake, "list", {}, user_id=fake.user_id)
    assert "**Styles on this server**" in listed and "`noir` — Black and white" in listed
    assert "**Bot-wide styles**" in listed and "`wide` — Cinemascope" in listed


async def test_an_unknown_style_is_refused_with_the_available_ones(senv: Env) -> None:
    await style(senv.fake, "add", NOIR)
    expected = "There is no style `nope` here. Available styles: `noir`, `wide`."
    assert await refusal(senv, {"prompt": "a fox", "style": "nope"}) == expected
    assert await refusal(senv, {"prompt": "a fox --style nope"}) == expected
    assert senv.sim.tasks() == []


async def test_invalid_styles_are_refused_and_nothing_is_stored(senv: Env) -> None:
    fake = senv.fake
    assert "a style name is 1-32 lowercase letters" in await style(fake, "add", {"name": "film noir", "prefix": "x"})
    assert "unknown mode `nope`" in await style(fake, "add", {"name": "n", "prefix": "x", "mode": "nope"})
    assert "at least one of" in await style(fake, "add", {"name": "n", "description": "nothing"})
    assert "Star-3 Alpha does not take a negative prompt" in await style(
        fake, "add", {"name": "n", "negative": "blur", "mode": "star3"}
    )
    assert await senv.runtime.store.list_styles(fake.guild_id) == []


async def test_a_style_with_a_banned_word_is_refused(senv: Env) -> None:
    """Its text would go into every member's prompt and strike them: refused before anything is stored."""
    fake = senv.fake
    await admin(fake, "settings", "words", {"action": "add", "words": "gore"})
    banned = "That style's text contains a word banned on this server. Nothing was saved."
    assert await style(fake, "add", {"name": "grim", "prefix": "a GORE scene of"}) == banned
    assert (await style(fake, "add", {"name": "grim", "prefix": "x"})).startswith("✅ Style `grim` added.")
    assert await style(fake, "edit", {"name": "grim", "negative": "no", "suffix": "lots of gore"}) == banned
    assert [s.prefix for s in await senv.runtime.store.list_styles(fake.guild_id)] == ["x"]
    assert (await senv.runtime.store.list_audit(fake.guild_id))[0].action == "add style grim"  # the newest


async def test_a_bot_wide_style_and_a_server_style_of_the_same_name(senv: Env) -> None:
    _, task = await imagine(senv, {"prompt": "a harbour", "style": "wide"})
    assert task.params["prompt"] == "a harbour cinemascope"
    assert task.params["imageSize"]["width"] > 2 * task.params["imageSize"]["height"]  # Star-3 at 21:9
    await style(senv.fake, "add", {"name": "wide", "prefix": "panorama of"})  # replaces it on this server
    _, task = await imagine(senv, {"prompt": "a harbour", "style": "wide"})
    assert task.params["prompt"] == "panorama of a harbour" and task.params["aspectRatio"] == "square"


async def test_a_styles_lora_preset_reaches_liblibai(senv: Env) -> None:
    await style(
        senv.fake, "add", {"name": "ink", "prefix": "ink wash painting of", "mode": "dreamtech-xl", "lora": "ink"}
    )
    _, task = await imagine(senv, {"prompt": "a crane", "style": "ink"})
    assert task.params["additionalNetwork"] == [{"modelId": "ink-lora", "weight": 0.6}]
    _, plain = await imagine(senv, {"prompt": "a crane", "mode": "dreamtech-xl"})
    assert plain.params["additionalNetwork"] == [{"modelId": "default-lora", "weight": 0.8}]
    unknown = await style(senv.fake, "add", {"name": "oil", "prefix": "x", "mode": "dreamtech-xl", "lora": "oil"})
    assert "dreamtech-xl has no LoRA preset `oil`. Its presets: ink." in unknown


async def test_style_autocomplete_offers_the_servers_and_the_bot_wide_styles(senv: Env) -> None:
    fake = senv.fake
    await style(fake, "add", NOIR)
    inter = await fake.autocomplete("imagine", {"prompt": "a fox", "style": ""}, focused="style")
    await fake.wait_for_ack(inter)
    response = fake.interaction_response(inter)
    assert response is not None and response["type"] == 8
    assert [(c["name"], c["value"]) for c in response["data"]["choices"]] == [
        ("noir — Black and white", "noir"),
        ("wide — Cinemascope", "wide"),
    ]
    for command, sub, options, focused, expected in (
        ("style", "add", {"name": "x", "mode": "kont"}, "mode", ["kontext-pro", "kontext-max"]),
        ("style", "edit", {"name": "kont", "mode": "kont"}, "mode", ["kontext-pro", "kontext-max"]),
        ("style", "edit", {"name": ""}, "name", ["noir"]),  # the server's own: a bot-wide one is not its to edit
        ("style", "remove", {"name": "n"}, "name", ["noir"]),
        ("prefer", "set", {"style": "cinema"}, "style", ["wide"]),  # by its description
        ("prefer", "set", {"mode": "anime"}, "mode", ["anime-xl"]),
    ):
        inter = await fake.autocomplete(command, options, focused=focused, subcommand=sub)
        await fake.wait_for_ack(inter)
        answer = fake.interaction_response(inter)
        assert answer is not None
        assert [c["value"] for c in answer["data"]["choices"]] == expected, (command, sub, focused)


async def test_a_reply_mention_restyle_takes_a_style_flag(senv: Env) -> None:
    fake = senv.fake
    await style(fake, "add", {"name": "ink", "prefix": "as an ink wash painting:", "mode": "kontext-max"})
    target = await bot_image_message(fake, png(300, 400))
    ask = await fake.user_message(
        f"<@{fake.bot_user_id}> keep the pose --style ink", reply_to=int(target["id"]), mention_bot=True
    )
    await wait_reply(fake, int(ask["id"]), files=True)
    [task] = senv.sim.tasks()
    assert task.path == "/api/generate/kontext/img2img" and task.params["model"] == "max"  # the style's mode
    assert task.params["prompt"] == "as an ink wash painting: keep the pose"
    assert task.params["aspectRatio"] == "3:4"  # a restyle keeps its image's shape


# -- the documented order, end to end -----------------------------------------------------------------------


async def test_option_beats_flag_beats_preference_beats_style_beats_server_default(senv: Env) -> None:
    fake = senv.fake
    await admin(fake, "settings", "models", {"default": "kontext-max"})
    await style(fake, "add", {"name": "tall", "prefix": "tall", "mode": "kontext-pro", "aspect": "9:16"})

    job, _ = await imagine(senv, {"prompt": "a fox"})
    assert (job.request.mode, job.request.kontext_model) == ("kontext", "max")  # server beats the bot's star3

    job, task = await imagine(senv, {"prompt": "a fox", "style": "tall"})
    assert (job.request.kontext_model, task.params["aspectRatio"]) == ("pro", "9:16")  # style beats server

    await prefer(fake, "set", {"mode": "anime-xl", "aspect": "3:2", "count": 2})
    job, task = await imagine(senv, {"prompt": "a fox", "style": "tall"})
    assert task.params["checkPointId"] == "anime-checkpoint"  # preference beats style
    assert (job.request.aspect_ratio, job.request.count, task.params["imgCount"]) == ("3:2", 2, 2)
    assert task.params["prompt"] == "tall a fox"  # the style's text still applies

    flagged = {"prompt": "a fox --mode dreamtech-xl --ar 4:3 --count 3", "style": "tall"}
    job, task = await imagine(senv, flagged)
    assert task.params["checkPointId"] == "0ea388c7eb854be3ba3c6f65aac6bfd3"  # flag beats preference
    assert (job.request.aspect_ratio, job.request.count) == ("4:3", 3)

    job, task = await imagine(senv, {**flagged, "mode": "star3", "aspect": "16:9", "count": 4})
    assert task.path.startswith("/api/generate/webui/text2img")  # option beats flag: Star-3
    assert (job.request.mode, job.request.aspect_ratio, job.request.count) == ("star3", "16:9", 4)
    assert task.params["aspectRatio"] == "landscape"


# -- personal defaults --------------------------------------------------------------------------------------


async def test_a_preference_applies_to_the_next_imagine_and_survives_a_restart(
    fake: FakeDiscord, sim: Simulator, tmp_path: Path
) -> None:
    settings = style_settings(fake, sim, tmp_path / "bot.db")
    async with running_bot(settings, fake) as runtime:
        env = Env(fake, sim, runtime, settings, tmp_path / "bot.db")
        await style(fake, "add", NOIR)
        saved = await prefer(fake, "set", {"mode": "kontext-pro", "aspect": "16:9", "count": 2})
        assert saved.startswith("✅ Saved.\n**Your defaults (in every server)**") and "• Mode: `kontext-pro`" in saved
        job, task = await imagine(env, {"prompt": "a fox"})
        assert task.path == "/api/generate/kontext/text2img" and task.params["aspectRatio"] == "16:9"
        assert task.params["imgCount"] == 2
        await prefer(fake, "set", {"style": "noir", "mode": "dreamtech-xl"})
    async with running_bot(settings, fake) as runtime:
        env = Env(fake, sim, runtime, settings, tmp_path / "bot.db")
        shown = await prefer(fake, "show")
        for line in ("• Mode: `dreamtech-xl`", "• Aspect ratio: `16:9`", "• Images: `2`", "• Style: `noir`"):
            assert line in shown
        job, task = await imagine(env, {"prompt": "a detective"})
        assert task.params["prompt"] == "film noir photo of a detective, high contrast, grain"  # the preferred style
        assert task.params["negativePrompt"] == "color, blurry"
        assert (job.request.mode, job.request.aspect_ratio, job.request.count) == ("dreamtech-xl", "16:9", 2)
        cleared = await prefer(fake, "reset", {"setting": "style"})
        assert cleared.startswith("✅ That default is cleared.") and "Style" not in cleared
        everything = await prefer(fake, "reset")
        assert "You have no personal defaults" in everything
        job, _ = await imagine(env, {"prompt": "a fox"})
        assert (job.request.mode, job.request.aspect_ratio, job.request.count) == ("star3", None, 1)
    assert_no_pings(fake)


async def test_prefer_refuses_bad_values_privately(senv: Env) -> None:
    assert "There is no style `noir` here" in await prefer(senv.fake, "set", {"style": "noir"})
    assert "unknown mode `nope`" in await prefer(senv.fake, "set", {"mode": "nope"})
    assert await senv.runtime.store.get_preferences(senv.fake.user_id) is None


async def test_prefer_language_changes_the_reply_language(senv: Env) -> None:
    fake = senv.fake
    chinese = await prefer(fake, "set", {"language": "zh-CN"})  # the member's Discord is in English
    assert chinese.startswith("✅ 已保存。") and "• 语言: 简体中文" in chinese
    assert "提示词是空的" in await refusal(senv, {"prompt": "   "})
    ask = await fake.user_message(f"<@{fake.bot_user_id}> make it blue", mention_bot=True)
    hint = await fake.wait_for_call(lambda c: replies_to(c, int(ask["id"])))
    assert "要重绘一张图片" in hint.json["content"]  # a reply + mention follows the member's choice too
    english = await prefer(fake, "reset", {"setting": "language"}, locale="en-US")
    assert english.startswith("✅ That default is cleared.")
    assert "the prompt is empty" in await refusal(senv, {"prompt": "   "})
