"""Policy resolution (server > channel > role > member, most generous role), windows and the word matcher."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.quotas.policy import ConfigError, GuildConfig, Policy, ScopeConfig, validate_change
from bot.quotas.windows import current_windows, get_zone, window_resets_at
from bot.quotas.words import WordMatcher
from bot.settings import QuotaSettings

DEFAULTS = Policy.defaults(QuotaSettings(images_per_day=5, images_per_month=50), max_active=3, max_steps=60)


def config(**scopes: dict) -> GuildConfig:
    return GuildConfig.from_store({k.replace("_", ":"): v for k, v in scopes.items()})


def resolve(cfg: GuildConfig, *, channel: int = 1, roles: tuple[int, ...] = (), user: int = 9) -> Policy:
    return cfg.resolve(DEFAULTS, channel_id=channel, role_ids=roles, user_id=user)


def test_bot_defaults_apply_without_settings() -> None:
    policy = resolve(config())
    assert (policy.images_per_day, policy.images_per_month, policy.max_active) == (5, 50, 3)
    assert policy.channel_allowed and policy.timezone == "UTC"


def test_narrower_scope_wins() -> None:
    cfg = config(
        server={"images_per_day": 10, "max_count": 2},
        channel_1={"max_count": 1},
        role_7={"images_per_day": 20},
        member_9={"images_per_day": 2},
    )
    assert resolve(cfg, user=8).max_count == 1  # channel over server
    assert resolve(cfg, channel=2, user=8).max_count == 2
    assert resolve(cfg, roles=(7,), user=8).images_per_day == 20  # role over server
    assert resolve(cfg, roles=(7,)).images_per_day == 2  # member over role


def test_explicit_null_is_unlimited_and_absent_key_inherits() -> None:
    cfg = config(server={"images_per_day": None})
    policy = resolve(cfg)
    assert policy.images_per_day is None and policy.images_per_month == 50


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"role_1": {"images_per_day": 3}, "role_2": {"images_per_day": 8}}, 8),
        ({"role_1": {"images_per_day": 3}, "role_2": {"images_per_day": None}}, None),
        ({"role_1": {"images_per_day": 3}, "role_2": {"cooldown_seconds": 5}}, 3),
    ],
)
def test_most_generous_role_wins(roles: dict, expected: int | None) -> None:
    assert resolve(config(**roles), roles=(1, 2)).images_per_day == expected


def test_cooldown_most_generous_is_shortest_and_features_any() -> None:
    cfg = config(role_1={"cooldown_seconds": 30, "img2img": False}, role_2={"cooldown_seconds": 5, "img2img": True})
    policy = resolve(cfg, roles=(1, 2))
    assert policy.cooldown_seconds == 5 and policy.img2img


def test_blocked_role_counts_only_when_every_role_blocks() -> None:
    cfg = config(role_1={"blocked": True}, role_2={"images_per_day": 9})
    assert resolve(cfg, roles=(1,)).blocked
    both = resolve(cfg, roles=(1, 2))
    assert not both.blocked and both.images_per_day == 9
    assert not resolve(config(role_1={"blocked": True}, member_9={"blocked": False}), roles=(1,)).blocked


def test_roles_without_settings_do_not_count() -> None:
    assert resolve(config(role_1={"blocked": True}), roles=(1, 3)).blocked


def test_allowed_models_union_and_all() -> None:
    cfg = config(role_1={"allowed_models": ["star3"]}, role_2={"allowed_models": ["kontext-pro"]})
    assert resolve(cfg, roles=(1, 2)).allowed_models == ("kontext-pro", "star3")
    cfg = config(role_1={"allowed_models": ["star3"]}, role_2={"allowed_models": None})
    assert resolve(cfg, roles=(1, 2)).allowed_models is None


def test_validate_change_refuses_keys_outside_their_scope_and_bad_values() -> None:
    assert validate_change("server", {}, {"images_per_day": 4}) == {"images_per_day": 4}
    assert validate_change("role:1", {"images_per_day": 4, "exempt": True}, {}, unset=["exempt"]) == {
        "images_per_day": 4
    }
    with pytest.raises(ConfigError, match="banned_words"):
        validate_change("channel:1", {}, {"banned_words": ["x"]})
    with pytest.raises(ConfigError, match="server_points_per_day"):
        validate_change("member:1", {}, {"server_points_per_day": 1})
    with pytest.raises(ConfigError, match="time zone"):
        validate_change("server", {}, {"timezone": "Nowhere/Special"})
    assert validate_change("server", {}, {"max_count": 15}) == {"max_count": 15}  # Seedream makes up to 15
    with pytest.raises(ConfigError):
        validate_change("server", {}, {"max_count": 16})


def test_unknown_stored_keys_are_ignored_and_invalid_rows_skipped() -> None:
    cfg = GuildConfig.from_store({"server": {"images_per_day": 4, "future_key": 1}, "role:1": {"max_count": "x"}})
    assert resolve(cfg, roles=(1,)).images_per_day == 4
    assert cfg.get("role:1") is None


def test_scope_config_set_values_only_lists_what_was_set() -> None:
    assert ScopeConfig.model_validate({"images_per_day": None}).set_values() == {"images_per_day": None}


# -- windows ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "zone", "day", "month", "day_reset"),
    [
        (
            datetime(2026, 11, 23, 15, 59, tzinfo=UTC),
            "Asia/Shanghai",
            "day:2026-11-23",
            "month:2026-11",
            "2026-11-23T16:00",
        ),
        (
            datetime(2026, 11, 23, 16, 0, tzinfo=UTC),
            "Asia/Shanghai",
            "day:2026-11-24",
            "month:2026-11",
            "2026-11-24T16:00",
        ),
        (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), "UTC", "day:2026-11-30", "month:2026-11", "2026-12-01T00:00"),
        (
            datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
            "America/New_York",
            "day:2026-12-31",
            "month:2026-12",
            "2027-01-01T05:00",
        ),
        (
            datetime(2027, 1, 1, 4, 30, tzinfo=UTC),
            "America/New_York",
            "day:2026-12-31",
            "month:2026-12",
            "2027-01-01T05:00",
        ),
    ],
)
def test_windows_follow_the_zone_midnight(now: datetime, zone: str, day: str, month: str, day_reset: str) -> None:
    windows = current_windows(now, get_zone(zone))
    assert (windows.day, windows.month) == (day, month)
    assert windows.day_resets_at.isoformat().startswith(day_reset)
    assert window_resets_at(windows.day, get_zone(zone)) == windows.day_resets_at
    assert window_resets_at(windows.month, get_zone(zone)) == windows.month_resets_at


def test_month_reset_across_a_year_and_unknown_keys() -> None:
    assert window_resets_at("month:2026-12", UTC) == datetime(2027, 1, 1, tzinfo=UTC)
    assert window_resets_at("week:2026-1", UTC) is None
    assert window_resets_at("day:garbage", UTC) is None


def test_dst_day_in_a_zone_with_daylight_saving() -> None:
    # 2026-03-08 is 23 hours long in New York: the next midnight is 04:00 UTC, not 05:00.
    windows = current_windows(datetime(2026, 3, 8, 12, tzinfo=UTC), get_zone("America/New_York"))
    assert windows.day_resets_at == datetime(2026, 3, 9, 4, tzinfo=UTC)


# -- banned words ----------------------------------------------------------------------------------

WORDS = ["gore", "色情", "c++", "Ｎｓｆｗ", "two words", "ヌード"]


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("extra GORE please", "gore"),
        ("a gorgeous sunset", None),  # Latin: whole words only
        ("ungore", None),
        ("gore-fest", "gore"),
        ("一张色情图片", "色情"),  # CJK: substrings (no spaces between words)
        ("画一个gore女孩", "gore"),  # a Latin word inside Chinese text still matches
        ("画一只猫", None),
        ("nsfw art", "Ｎｓｆｗ"),  # NFKC: full-width letters fold to ASCII
        ("ＮＳＦＷ", "Ｎｓｆｗ"),
        ("go\u200bre", "gore"),  # invisible characters do not split a word
        ("two   words", "two words"),
        ("twowords", None),
        ("i like c++", "c++"),
        ("ヌード写真", "ヌード"),
        ("", None),
    ],
)
def test_word_matcher(text: str, hit: str | None) -> None:
    assert WordMatcher(WORDS).find(text) == hit


def test_word_matcher_checks_every_text_and_never_changes_them() -> None:
    prompt = "画一只在雪地里的红狐狸"
    matcher = WordMatcher(["狐狸"])
    assert matcher.find(None, "fine", prompt) == "狐狸"
    assert prompt == "画一只在雪地里的红狐狸"
    assert not WordMatcher(["  ", ""])


@pytest.mark.parametrize(
    ("bot_default", "server", "expected"),
    [
        (None, {}, None),  # nobody set it: never ask
        (-1, {}, None),  # -1 in [quotas] means never, like the budgets' "unlimited"
        (50, {}, 50),  # the bot-wide default applies
        (50, {"confirm_above_points": 10}, 10),  # the server's own threshold wins
        (50, {"confirm_above_points": None}, None),  # an explicit null: this server never asks
        (None, {"confirm_above_points": 0}, 0),  # 0: every job that costs points asks
    ],
)
def test_the_confirmation_threshold_is_the_servers_else_the_bots(
    bot_default: int | None, server: dict, expected: int | None
) -> None:
    defaults = Policy.defaults(QuotaSettings(confirm_above_points=bot_default), max_active=3, max_steps=60)
    policy = config(server=server).resolve(defaults, channel_id=1, role_ids=(), user_id=9)
    assert policy.confirm_above_points == expected


def test_only_a_server_sets_the_confirmation_threshold() -> None:
    assert validate_change("server", {}, {"confirm_above_points": 20}) == {"confirm_above_points": 20}
    for scope in ("channel:1", "role:2", "member:3"):
        with pytest.raises(ConfigError, match="cannot be set"):
            validate_change(scope, {}, {"confirm_above_points": 20})
    with pytest.raises(ConfigError):
        validate_change("server", {}, {"confirm_above_points": -5})
