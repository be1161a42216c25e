"""Personal defaults (bot/generation/preferences.py): checked values, a member's defaults in every server."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import BotError, InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.preferences import PreferenceService
from bot.generation.resolution import Choices
from bot.generation.styles import StyleCatalog, UnknownStyleError
from bot.models import Preferences, Style
from bot.settings import ModelsSettings, StyleSettings
from bot.storage import Store, open_store

USER = 42
GUILD = 500


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


@pytest.fixture
async def service(store: Store) -> PreferenceService:
    catalog = StyleCatalog(store, RequestBuilder(ModelsSettings()), [StyleSettings(name="wide", aspect="21:9")])
    await catalog.add(GUILD, Style(name="noir", prefix="film noir"))
    return PreferenceService(store, catalog)


async def test_set_show_and_reset(service: PreferenceService, store: Store) -> None:
    assert await service.get(USER) == Preferences()
    saved = await service.update(USER, {"mode": "Kontext", "aspect": "16:9", "count": 2}, guild_id=GUILD)
    assert saved == Preferences(mode="kontext-pro", aspect="16:9", count=2)
    saved = await service.update(USER, {"style": "Noir", "language": "zh-CN"}, guild_id=GUILD)
    assert saved == Preferences(mode="kontext-pro", aspect="16:9", count=2, style="noir", language="zh-CN")
    assert await store.get_preferences(USER) == saved
    assert await service.get(USER) == saved and await service.language(USER) == "zh-CN"
    assert await service.reset(USER, ["language", "nope"]) == Preferences(
        mode="kontext-pro", aspect="16:9", count=2, style="noir"
    )
    assert await service.language(USER) is None
    assert await service.reset(USER) == Preferences()
    assert await store.get_preferences(USER) is None  # nothing left: the row is gone


async def test_the_defaults_are_a_level_of_the_resolution(service: PreferenceService) -> None:
    await service.update(USER, {"mode": "star3", "aspect": "3:2", "count": 3, "style": "wide"}, guild_id=GUILD)
    preferences, choices = await service.choices(USER)
    assert preferences.style == "wide"
    assert choices == Choices(mode="star3", aspect="3:2", count=3)


async def test_a_mode_no_longer_configured_is_left_out(store: Store) -> None:
    await store.set_preferences(USER, Preferences(mode="retired-model", count=2))
    service = PreferenceService(store, StyleCatalog(store, RequestBuilder(ModelsSettings())))
    _, choices = await service.choices(USER)
    assert choices == Choices(count=2)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mode": "midjourney"}, "mode"),
        ({"aspect": "5:4"}, "aspect"),
        ({"count": 0}, "count"),
        ({"count": 5}, "count"),
        ({"style": "no such style!"}, "style"),
        ({"language": "fr"}, "language"),
    ],
)
async def test_bad_values_name_the_field_and_change_nothing(
    service: PreferenceService, changes: dict[str, object], field: str
) -> None:
    await service.update(USER, {"count": 2}, guild_id=GUILD)
    with pytest.raises(InvalidRequestError) as caught:
        await service.update(USER, {"aspect": "1:1", **changes}, guild_id=GUILD)
    assert caught.value.field == field
    assert await service.get(USER) == Preferences(count=2)


async def test_a_style_must_exist_where_it_is_chosen(service: PreferenceService) -> None:
    with pytest.raises(UnknownStyleError, match="Available styles: `wide`"):
        await service.update(USER, {"style": "noir"}, guild_id=GUILD + 1)  # noir is the other server's
    assert (await service.update(USER, {"style": "wide"}, guild_id=None)).style == "wide"  # bot-wide, in a DM


async def test_nothing_to_change_is_refused(service: PreferenceService) -> None:
    with pytest.raises(BotError, match="Nothing to change"):
        await service.update(USER, {}, guild_id=GUILD)
