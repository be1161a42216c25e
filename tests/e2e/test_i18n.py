"""Every command, option, subcommand and choice the bot syncs is localized for zh-CN."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from tests.e2e.conftest import Env

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
