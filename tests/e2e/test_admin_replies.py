"""Every /quota, /settings and /usage reply, word for word in both languages, and the audit trail they leave.

A characterization test: the texts were recorded before ``AdminCog`` became table-driven and must not move.
After a deliberate change of a reply, record them again with ``RECORD_ADMIN_REPLIES=1`` and review the diff.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from tests.e2e.conftest import Env
from tests.e2e.test_quotas import private_reply
from tests.fake_discord import FakeDiscord

PATRON = 8_200_000_000_000_001
ART = 8_400_000_000_000_001

# (user: "admin" or "member", "group sub" or "usage", options)
SCRIPT: list[tuple[str, str, dict[str, object]]] = [
    ("admin", "quota show", {}),
    ("admin", "quota set", {"images_per_day": 7, "images_per_month": -1}),
    ("admin", "quota set", {"member": "member", "max_active": 2, "cooldown_seconds": 5}),
    ("admin", "quota set", {}),
    ("admin", "quota role", {"role": PATRON, "images_per_day": 3}),
    ("admin", "quota role", {"role": PATRON, "preset": "unlimited"}),
    ("admin", "quota role", {"role": PATRON, "preset": "exempt"}),
    ("admin", "quota role", {"role": PATRON, "preset": "limits", "max_active": 4}),
    ("admin", "quota role", {"role": PATRON, "preset": "blocked"}),
    ("admin", "quota role", {"role": PATRON, "preset": "remove"}),
    ("admin", "quota show", {"member": "member"}),
    ("admin", "quota reset", {"member": "member"}),
    ("admin", "quota clear", {"member": "member"}),
    ("admin", "settings show", {}),
    ("admin", "settings show", {"channel": ART}),
    ("admin", "settings channels", {"mode": "listed"}),
    ("admin", "settings channels", {"mode": "all"}),
    ("admin", "settings channel", {"channel": ART, "access": "allow"}),
    ("admin", "settings channel", {"channel": ART, "access": "inherit"}),
    ("admin", "settings channel", {"channel": ART, "access": "deny"}),
    ("admin", "settings models", {"allowed": "star3, Kontext-Pro", "default": "Star3"}),
    ("admin", "settings models", {"allowed": "all", "role": PATRON}),
    ("admin", "settings caps", {"max_count": 2, "max_steps": 30, "channel": ART}),
    ("admin", "settings caps", {"max_count": 2, "channel": ART, "role": PATRON}),
    ("admin", "settings features", {"img2img": False, "multi_image": True}),
    ("admin", "settings words", {"action": "list"}),
    ("admin", "settings words", {"action": "add", "words": "foo, bar"}),
    ("admin", "settings words", {"action": "remove", "words": "foo"}),
    ("admin", "settings words", {"action": "add"}),
    ("admin", "settings strikes", {"limit": 2, "window_hours": 1.5, "block_hours": 2}),
    ("admin", "settings unblock", {"member": "member"}),
    ("admin", "settings moderation", {"audit_display": "silent", "flagged_only_nsfw": True}),
    ("admin", "settings timezone", {"name": "Asia/Shanghai"}),
    ("admin", "settings timezone", {"name": "Mars/Olympus"}),
    ("admin", "settings clear", {}),
    ("admin", "settings clear", {"channel": ART}),
    ("admin", "settings buttons", {"everyone": True}),
    ("admin", "settings buttons", {"everyone": False}),
    ("admin", "settings language", {"language": "zh-CN"}),
    ("admin", "settings language", {"language": "default"}),
    ("admin", "settings audit", {"limit": 3}),
    ("admin", "settings log", {}),
    ("admin", "usage top", {}),
    ("member", "usage mine", {}),
    ("member", "usage top", {}),
    ("member", "quota show", {}),
    ("member", "settings buttons", {"everyone": True}),
]


async def run_script(fake: FakeDiscord, locale: str) -> list[str]:
    users = {"admin": fake.admin_id, "member": fake.user_id}
    replies = []
    for who, command, options in SCRIPT:
        name, _, sub = command.partition(" ")
        values = {k: users.get(v, v) if isinstance(v, str) else v for k, v in options.items()}
        inter = await fake.slash(name, values, subcommand=sub or None, user_id=users[who], locale=locale)
        text = await private_reply(fake, inter)
        replies.append(re.sub(r"<t:\d+:(\w)>", r"<t:…:\1>", text))  # relative times
    return replies


async def test_admin_replies_are_unchanged_in_both_languages(env: Env) -> None:
    fake = env.fake
    fake.add_role(PATRON, "Patron")
    fake.add_channel(ART, "art")
    await fake.settle()
    for command in fake.guild_commands[fake.guild_id]:  # re-granted to everyone: only the bot's own check stands
        if command["name"] in {"quota", "settings"}:
            command["default_member_permissions"] = None
    got = {locale: await run_script(fake, locale) for locale in ("en-US", "zh-CN")}
    audit = await env.runtime.store.list_audit(fake.guild_id, limit=200)
    # the counters' windows are today's: recorded as "day:…" and "month:…"
    detail = [re.sub(r'"(day|month):[0-9-]+"', r'"\1:…"', e.detail) for e in reversed(audit)]
    trail = [(e.action, json.loads(d)) for e, d in zip(reversed(audit), detail, strict=True)]
    path = Path(__file__).parent / "admin_replies.json"
    if os.environ.get("RECORD_ADMIN_REPLIES") == "1":
        fresh = {**got, "audit": [[action, detail] for action, detail in trail]}
        path.write_text(json.dumps(fresh, ensure_ascii=False, indent=1), encoding="utf-8")
    recorded = json.loads(path.read_text(encoding="utf-8"))
    for locale, replies in got.items():
        for step, (reply, expected) in enumerate(zip(replies, recorded[locale], strict=True)):
            assert reply == expected, (locale, SCRIPT[step])
    assert [[action, detail] for action, detail in trail] == recorded["audit"]
