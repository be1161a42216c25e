"""Every command, option, subcommand and choice the bot syncs is localized for zh-CN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bot.i18n import zh_cn
from bot.liblib.simulator import Simulator
from tests.e2e.conftest import Env, make_settings, running_bot
from tests.e2e.helpers import custom_ids, embed_fields, job_for_token, labels, original_edit_with, result_of
from tests.e2e.test_quotas import private_reply
from tests.e2e.test_restyle import replies_to
from tests.fake_discord import FakeDiscord
from tests.fake_discord.records import Interaction
from tests.i18n.test_catalog import _marked, _sources

_NAME = re.compile(r"^[-_\w]{1,32}$")


def _walk(commands: list[dict[str, Any]], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    for item in commands:
        here = f"{path}/{item['name']}"
        yield here, item
        yield from _walk(item.get("options") or [], here)


def _is_context_menu(path: str, item: dict[str, Any]) -> bool:
    """Top-level user/message commands (types 2, 3) may use spaces and capitals; options never."""
    return path.count("/") == 1 and item.get("type") in (2, 3)


async def test_every_synced_name_and_description_has_a_chinese_translation(env: Env) -> None:
    missing: list[str] = []
    for path, item in _walk(env.fake.commands):
        zh_name = (item.get("name_localizations") or {}).get("zh-CN")
        if not zh_name:
            missing.append(f"{path}: name")
        elif not _is_context_menu(path, item) and (not _NAME.match(zh_name) or zh_name != zh_name.lower()):
            missing.append(f"{path}: invalid localized name {zh_name!r}")
        if item.get("description") and not (item.get("description_localizations") or {}).get("zh-CN"):
            missing.append(f"{path}: description {item['description']!r}")
        for choice in item.get("choices") or []:
            if re.search(r"[A-Za-z]", choice["name"]) and not (choice.get("name_localizations") or {}).get("zh-CN"):
                missing.append(f"{path}: choice {choice['name']!r}")
    assert not missing, "untranslated:\n" + "\n".join(missing)
    assert {c["name"] for c in env.fake.commands} >= {"imagine"}


def _zh_name(item: dict[str, Any]) -> str:
    return str((item.get("name_localizations") or {}).get("zh-CN") or item["name"])


async def test_localized_names_are_unique_among_siblings(env: Env) -> None:
    """Discord rejects two siblings with the same localized name (and members could not tell them apart)."""
    clashes: list[str] = []

    def check(items: list[dict[str, Any]], path: str) -> None:
        seen: dict[tuple[int, str], str] = {}
        for item in items:
            key = (item.get("type", 1) if path == "" else 0, _zh_name(item))
            if key in seen:
                clashes.append(f"{path}: {seen[key]!r} and {item['name']!r} are both {key[1]!r}")
            seen[key] = item["name"]
            check(item.get("options") or [], f"{path}/{item['name']}")

    check(env.fake.commands, "")
    assert not clashes, "\n".join(clashes)


async def test_qualified_names_override_bare_ones(env: Env) -> None:
    by_path = dict(_walk(env.fake.commands))
    assert _zh_name(by_path["/quota/set"]) == "修改"  # not the /settings group's 设置
    assert _zh_name(by_path["/settings/strikes/limit"]) == "次数"
    assert _zh_name(by_path["/settings/audit/limit"]) == "条数"


# -- messages in the member's language ---------------------------------------------------------------


def _callback(fake: FakeDiscord, inter: Interaction) -> Any:
    return fake.wait_for_call(lambda c: "/callback" in c.path and str(inter.id) in c.path)


async def test_a_chinese_member_gets_a_chinese_validation_error_privately(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "画一只猫", "mode": "star3"}, locale="zh-CN")
    call = await _callback(env.fake, inter)
    assert call.json["type"] == 4 and call.json["data"]["flags"] & 64  # ephemeral
    content = call.json["data"]["content"]
    # The field is the option's Chinese name, the reason the Chinese text with its parameters filled in.
    assert content.startswith(f"**{zh_cn.NAMES['prompt']}**: ")
    assert "只理解英文提示词" in content and "kontext-pro" in content
    assert "English" not in content
    assert env.sim.counters.submit_requests == 0


async def test_an_english_member_still_gets_english(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "画一只猫", "mode": "star3"}, locale="en-US")
    call = await _callback(env.fake, inter)
    assert (
        call.json["data"]["content"].startswith("**prompt**: ")
        and "English prompts only" in call.json["data"]["content"]
    )


async def test_a_chinese_member_sees_chinese_progress_result_and_buttons(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "a red fox in the snow", "count": 2}, locale="zh-CN")
    queued = await original_edit_with(env.fake, inter, "排队中")
    assert "第 **" in queued.json["content"]
    assert labels(queued.json) == ["✖️ 取消"]  # the Cancel button, in Chinese
    result = await result_of(env.fake, inter)
    fields = embed_fields(result)
    assert {"模式", "种子", "尺寸", "积分", "用时"} <= set(fields)
    assert result.json["embeds"][0]["footer"]["text"].startswith("任务 ")
    shown = labels(result.json)
    assert {"🔁 重新生成", "🎛️ 改提示词", "🗑️ 删除", "🎲 变体1（微调）", "🌀 变体2（大幅）", "🔍 放大1 约8"} <= set(shown)
    job = await job_for_token(env.runtime.store, inter.token)
    assert job.locale == "zh-CN"


async def test_a_chinese_members_button_click_keeps_chinese_labels_and_errors(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "a lighthouse"}, locale="zh-CN")
    await result_of(env.fake, inter)
    message = env.fake.original_message(inter)
    assert message is not None
    reroll = next(c for c in custom_ids(message) if c.startswith("lb:reroll:"))
    # A stranger (an English client) is refused in English; the requester's reroll is in Chinese.
    stranger = await env.fake.click(int(message["id"]), reroll, user_id=env.fake.owner_id, locale="en-US")
    refused = await _callback(env.fake, stranger)
    assert "Only the member who started this job" in refused.json["data"]["content"]
    again = await env.fake.click(int(message["id"]), reroll, locale="zh-CN")
    result = await result_of(env.fake, again)
    assert "🔁 重新生成" in labels(result.json)
    assert embed_fields(result)["来源"].startswith("🔁 重新生成自")


async def test_english_result_stays_english(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "a red fox"}, locale="en-US")
    result = await result_of(env.fake, inter)
    assert {"Mode", "Seed", "Points"} <= set(embed_fields(result))
    assert "🔁 Reroll" in labels(result.json)


async def test_a_chinese_failure_notice(env: Env) -> None:
    inter = await env.fake.slash("imagine", {"prompt": "a forbidden-word picture"}, locale="zh-CN")
    failed = await original_edit_with(env.fake, inter, "提示词被拒绝")
    embed = failed.json["embeds"][0]
    assert embed["title"] == "❌ 提示词被拒绝"
    assert "敏感内容" in embed["description"]  # LiblibAI's error, localized


async def test_help_in_chinese(env: Env) -> None:
    inter = await env.fake.slash("help", {}, locale="zh-CN")
    call = await _callback(env.fake, inter)
    embed = call.json["data"]["embeds"][0]
    assert embed["title"] == "LiblibAI 机器人 — 帮助" and "/绘图" in embed["description"]


# -- the server default --------------------------------------------------------------------------------


async def test_server_language_setting_applies_to_mentions_and_unsupported_locales(env: Env) -> None:
    fake = env.fake
    inter = await fake.slash("settings", {"language": "zh-CN"}, subcommand="language", user_id=fake.admin_id)
    assert "简体中文" in await private_reply(fake, inter)
    # A member whose Discord language we do not speak (French) gets the server's language ...
    french = await fake.slash("imagine", {"prompt": "画一只猫", "mode": "star3"}, locale="fr")
    assert "只理解英文提示词" in (await _callback(fake, french)).json["data"]["content"]
    # ... and so does a reply + mention (no member locale at all).
    ask = await fake.user_message(f"<@{fake.bot_user_id}> make it blue", mention_bot=True)
    answer = await fake.wait_for_call(lambda c: replies_to(c, int(ask["id"])))
    assert "要重绘一张图片" in answer.json["content"]
    # An English client still reads English.
    english = await fake.slash("imagine", {"prompt": "画一只猫", "mode": "star3"}, locale="en-GB")
    assert "English prompts only" in (await _callback(fake, english)).json["data"]["content"]
    # Back to the bot default: French is answered in English again.
    reset = await fake.slash("settings", {"language": "default"}, subcommand="language", user_id=fake.admin_id)
    await private_reply(fake, reset)
    french2 = await fake.slash("imagine", {"prompt": "画一只猫", "mode": "star3"}, locale="fr")
    assert "English prompts only" in (await _callback(fake, french2)).json["data"]["content"]


async def test_bot_wide_default_locale(fake: FakeDiscord, sim: Simulator, tmp_path: Path) -> None:
    settings = make_settings(fake, sim, tmp_path / "bot.db", discord={"default_locale": "zh-CN"})
    async with running_bot(settings, fake):
        french = await fake.slash("imagine", {"prompt": "   "}, locale="fr")
        content = (await _callback(fake, french)).json["data"]["content"]
        assert "提示词是空的" in content


# -- the catalog has nothing unused --------------------------------------------------------------------


async def test_the_chinese_catalog_has_no_unused_entries(env: Env) -> None:
    """Every catalog key is a marked message, an error field, or a synced name/description/choice."""
    texts, fields = _marked(_sources())
    synced: set[str] = set()
    for path, item in _walk(env.fake.commands):
        parts = path.strip("/").split("/")
        synced |= {item["name"], " ".join(parts), item.get("description") or ""}
        synced |= {c["name"] for c in item.get("choices") or []}
    used = set(texts) | set(fields) | synced
    unused_texts = sorted(set(zh_cn.TEXTS) - used)
    unused_names = sorted(set(zh_cn.NAMES) - used)
    assert not unused_texts and not unused_names, f"unused: {unused_texts} {unused_names}"
