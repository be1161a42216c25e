"""Style presets and personal defaults on both stores (StyleStore, PreferenceStore)."""

from __future__ import annotations

import asyncio

import pytest

from bot.models import Preferences, Style
from bot.storage import Store
from tests.storage.contract.conftest import Backend

GUILD = 500
FULL = Style(
    name="noir",
    description="black and white, 黑白",
    prefix="film noir photo of",
    suffix=", high contrast",
    negative="color",
    mode="dreamtech-xl",
    aspect="3:4",
    lora="ink",
    strength=0.55,
    guild_id=GUILD,
)


async def test_a_style_round_trips_every_field(store: Store) -> None:
    assert await store.insert_style(FULL)
    assert await store.list_styles(GUILD) == [FULL]
    minimal = Style(name="bare", prefix="x", guild_id=GUILD)
    assert await store.insert_style(minimal)
    assert await store.list_styles(GUILD) == [minimal, FULL]  # by name


async def test_style_names_are_unique_per_server(store: Store) -> None:
    assert await store.insert_style(FULL)
    assert not await store.insert_style(Style(name="noir", prefix="other", guild_id=GUILD))
    assert await store.list_styles(GUILD) == [FULL]  # unchanged
    elsewhere = Style(name="noir", prefix="other", guild_id=GUILD + 1)
    assert await store.insert_style(elsewhere)  # another server's namesake
    assert await store.list_styles(GUILD + 1) == [elsewhere]


async def test_update_and_delete_say_whether_the_style_existed(store: Store) -> None:
    assert not await store.update_style(FULL)
    await store.insert_style(FULL)
    cleared = Style(name="noir", prefix="film noir", guild_id=GUILD)  # every other field back to empty
    assert await store.update_style(cleared)
    assert await store.list_styles(GUILD) == [cleared]
    assert await store.delete_style(GUILD, "noir")
    assert not await store.delete_style(GUILD, "noir")
    assert await store.list_styles(GUILD) == []


async def test_a_bot_wide_style_is_not_stored(store: Store) -> None:
    with pytest.raises(ValueError, match="only a server's style"):
        await store.insert_style(Style(name="noir", prefix="x"))


async def test_concurrent_adds_of_one_name_store_one(backend: Backend) -> None:
    async with backend.open() as a, backend.open() as b:
        results = await asyncio.gather(
            *(s.insert_style(Style(name="noir", prefix=f"p{i}", guild_id=GUILD)) for i, s in enumerate([a, b] * 4))
        )
        assert results.count(True) == 1
        assert len(await a.list_styles(GUILD)) == 1


async def test_preferences_round_trip_replace_and_forget(store: Store) -> None:
    assert await store.get_preferences(42) is None
    full = Preferences(mode="kontext-pro", aspect="16:9", count=3, style="noir", language="zh-CN")
    await store.set_preferences(42, full)
    assert await store.get_preferences(42) == full
    fewer = Preferences(count=2)
    await store.set_preferences(42, fewer)  # replaced whole, not merged
    assert await store.get_preferences(42) == fewer
    assert await store.get_preferences(43) is None  # per member
    await store.set_preferences(42, Preferences())  # nothing set: forgotten
    assert await store.get_preferences(42) is None
    await store.set_preferences(42, fewer)
    await store.set_preferences(42, None)
    assert await store.get_preferences(42) is None


async def test_styles_and_preferences_survive_a_restart(backend: Backend) -> None:
    preferences = Preferences(mode="star3", language="en-US")
    async with backend.open() as first:
        await first.insert_style(FULL)
        await first.set_preferences(7, preferences)
    async with backend.open() as restarted:
        assert await restarted.list_styles(GUILD) == [FULL]
        assert await restarted.get_preferences(7) == preferences
