"""Style presets (bot/generation/styles.py): validation, the text around a prompt, LoRA presets, the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import BotError, InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.families import make_submit_builder
from bot.generation.resolution import Resolved, Source
from bot.generation.styles import (
    MAX_SERVER_STYLES,
    StyleCatalog,
    UnknownStyleError,
    bot_wide_styles,
    check_style,
    style_name,
    styled_prompt,
    with_style_loras,
)
from bot.models import GenerationRequest, Style
from bot.settings import ModelsSettings, Settings, StyleSettings
from bot.storage import Store, open_store

GUILD = 500

MODELS = {
    "custom": [
        {
            "name": "dreamtech-xl",
            "checkpoint_id": "ckpt",
            "loras": [{"model_id": "default-lora", "weight": 0.8}],
            "lora_presets": [
                {"name": "ink", "loras": [{"model_id": "ink-lora", "weight": 0.6}]},
                {"name": "none", "loras": []},
            ],
        },
        {"name": "anime-xl", "checkpoint_id": "ckpt2", "english_only": False},
    ]
}


@pytest.fixture
def builder() -> RequestBuilder:
    return RequestBuilder(ModelsSettings.model_validate(MODELS))


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with open_store(f"sqlite:///{tmp_path / 'bot.db'}") as opened:
        yield opened


# -- names and validation ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a", "noir", "film-noir_2", "9lives", "x" * 32, "  Noir  "])
def test_valid_names(name: str) -> None:
    assert style_name(name) == name.strip().lower()


@pytest.mark.parametrize("name", ["", " ", "x" * 33, "-noir", "_noir", "film noir", "noir!", "风格", "a/b"])
def test_invalid_names(name: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        style_name(name)
    assert caught.value.field == "style"


def test_a_valid_style_is_normalised(builder: RequestBuilder) -> None:
    style = check_style(
        Style(
            name="Noir",
            description="  black and white ",
            prefix=" film  noir photo of\u200b ",
            suffix=", high contrast",
            negative="color",
            mode="DreamTech-XL",
            aspect="3:4",
            lora="INK",
            strength=0.5,
        ),
        builder,
    )
    assert style == Style(
        name="noir",
        description="black and white",
        prefix="film noir photo of",
        suffix=", high contrast",
        negative="color",
        mode="dreamtech-xl",
        aspect="3:4",
        lora="ink",
        strength=0.5,
    )


def test_plain_kontext_is_stored_as_the_default_kontext_model(builder: RequestBuilder) -> None:
    assert check_style(Style(name="k", mode="kontext"), builder).mode == "kontext-pro"


@pytest.mark.parametrize(
    ("style", "field", "fragment"),
    [
        (Style(name="empty"), "style", "at least one of"),
        (Style(name="only-words", description="nothing else"), "style", "at least one of"),
        (Style(name="long", prefix="x" * 501), "prefix", "the limit is 500"),
        (Style(name="long", suffix="x" * 501), "suffix", "the limit is 500"),
        (Style(name="long", negative="x" * 1001), "negative", "the limit is 1000"),
        (Style(name="long", prefix="x", description="x" * 101), "description", "the limit is 100"),
        (Style(name="m", mode="midjourney"), "mode", "unknown mode `midjourney`. Available: star3"),
        (Style(name="a", aspect="5:4"), "aspect", "choose one of 1:1"),
        (Style(name="s", strength=1.5), "strength", "between 0 and 1"),
        (Style(name="s", strength=0.5, mode="star3"), "strength", "no strength setting"),
        (Style(name="n", negative="blur", mode="star3"), "negative", "does not take a negative prompt"),
        (Style(name="l", lora="ink"), "lora", "give the style that mode"),
        (Style(name="l", lora="ink", mode="star3"), "lora", "give the style that mode"),
        (Style(name="l", lora="oil", mode="dreamtech-xl"), "lora", "no LoRA preset `oil`. Its presets: ink, none"),
        (Style(name="l", lora="ink", mode="anime-xl"), "lora", "Its presets: -"),
        (Style(name="zh", prefix="水墨画", mode="star3"), "prompt", "English prompts only"),
    ],
)
def test_invalid_styles_name_the_field(builder: RequestBuilder, style: Style, field: str, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        check_style(style, builder)
    assert caught.value.field == field
    assert fragment in caught.value.reason


def test_a_chinese_style_without_a_mode_is_allowed(builder: RequestBuilder) -> None:
    """It may be used with a mode that reads Chinese; an English-only mode then refuses it when used."""
    assert check_style(Style(name="zh", prefix="水墨画"), builder).prefix == "水墨画"


# -- what a style does to a request --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "suffix", "expected"),
    [
        ("", "", "a fox"),
        ("film noir photo of", "", "film noir photo of a fox"),
        ("", "high contrast", "a fox high contrast"),
        ("", ", high contrast", "a fox, high contrast"),
        ("水墨画，", "。留白", "水墨画， a fox。留白"),
    ],
)
def test_styled_prompt(prefix: str, suffix: str, expected: str) -> None:
    assert styled_prompt("a fox", Style(name="s", prefix=prefix, suffix=suffix)) == expected
    assert styled_prompt("a fox", None) == "a fox"


def test_a_lora_preset_replaces_the_models_loras_in_the_submit(builder: RequestBuilder) -> None:
    submit = make_submit_builder(Settings(models=MODELS))

    def networks(request: GenerationRequest) -> object:
        return submit(request).to_body()["generateParams"].get("additionalNetwork")

    plain = builder.build("a fox", mode="dreamtech-xl")
    styled = with_style_loras(plain, Style(name="ink", lora="ink", mode="dreamtech-xl"), builder)
    assert styled.loras == (("ink-lora", 0.6),)
    assert networks(plain) == [{"modelId": "default-lora", "weight": 0.8}]
    assert networks(styled) == [{"modelId": "ink-lora", "weight": 0.6}]
    empty = with_style_loras(plain, Style(name="bare", lora="none", mode="dreamtech-xl"), builder)
    assert empty.loras == () and networks(empty) is None  # an empty preset: no LoRA at all


def test_a_lora_preset_does_not_apply_in_another_mode(builder: RequestBuilder) -> None:
    style = Style(name="ink", lora="ink", mode="dreamtech-xl")
    assert with_style_loras(builder.build("a fox", mode="star3"), style, builder).loras is None
    assert with_style_loras(builder.build("a fox", mode="anime-xl"), style, builder).loras is None


def test_loras_survive_the_jobs_json_and_change_the_fingerprint(builder: RequestBuilder) -> None:
    from bot.generation.fingerprint import request_fingerprint

    plain = builder.build("a fox", mode="dreamtech-xl", seed=1)
    styled = with_style_loras(plain, Style(name="ink", lora="ink", mode="dreamtech-xl"), builder)
    assert GenerationRequest.from_json(styled.to_json()) == styled
    assert request_fingerprint(styled) != request_fingerprint(plain)
    assert GenerationRequest.from_json(plain.to_json()).loras is None


# -- bot-wide styles -------------------------------------------------------------------------------------


def test_bot_wide_styles_are_checked_like_a_servers(builder: RequestBuilder) -> None:
    styles = bot_wide_styles([StyleSettings(name="Noir", prefix="film noir", aspect="3:4")], builder)
    assert styles == {"noir": Style(name="noir", prefix="film noir", aspect="3:4")}
    with pytest.raises(ValueError, match=r"styles: 'bad': mode: unknown mode `nope`"):
        bot_wide_styles([StyleSettings(name="bad", mode="nope")], builder)


def test_settings_refuse_two_styles_of_one_name() -> None:
    with pytest.raises(ValueError, match="style names must be unique"):
        Settings(styles=[{"name": "a", "prefix": "x"}, {"name": "a", "prefix": "y"}])


def test_settings_refuse_two_lora_presets_of_one_name() -> None:
    model = {"name": "m", "checkpoint_id": "c", "lora_presets": [{"name": "a"}, {"name": "a"}]}
    with pytest.raises(ValueError, match="LoRA preset names must be unique"):
        Settings(models={"custom": [model]})


# -- the catalog ------------------------------------------------------------------------------------------


async def test_a_server_style_wins_over_a_bot_wide_one_there_only(store: Store, builder: RequestBuilder) -> None:
    catalog = StyleCatalog(
        store, builder, [StyleSettings(name="noir", prefix="bot noir"), StyleSettings(name="wide", aspect="21:9")]
    )
    await catalog.add(GUILD, Style(name="noir", prefix="server noir"))
    here = {s.name: s for s in await catalog.available(GUILD)}
    assert here["noir"].prefix == "server noir" and here["noir"].guild_id == GUILD
    assert here["wide"].guild_id is None
    elsewhere = {s.name: s for s in await catalog.available(GUILD + 1)}
    assert elsewhere["noir"].prefix == "bot noir"
    assert [s.name for s in await catalog.available(None)] == ["noir", "wide"]  # direct messages: bot-wide


async def test_an_unknown_style_lists_the_available_ones(store: Store, builder: RequestBuilder) -> None:
    catalog = StyleCatalog(store, builder, [StyleSettings(name="wide", aspect="21:9")])
    await catalog.add(GUILD, Style(name="noir", prefix="film noir"))
    with pytest.raises(UnknownStyleError) as caught:
        await catalog.get(GUILD, "Noire")
    assert caught.value.message == "There is no style `noire` here. Available styles: `noir`, `wide`."
    with pytest.raises(UnknownStyleError, match="no style is defined yet"):
        await StyleCatalog(store, builder).get(GUILD + 1, "noir")


async def test_a_named_style_must_exist_a_preferred_one_need_not(store: Store, builder: RequestBuilder) -> None:
    catalog = StyleCatalog(store, builder)
    await catalog.add(GUILD, Style(name="noir", prefix="film noir"))
    found = await catalog.in_use(GUILD, Resolved("noir", Source.FLAG))
    assert found.source is Source.FLAG and found.value is not None and found.value.name == "noir"
    with pytest.raises(UnknownStyleError):
        await catalog.in_use(GUILD + 1, Resolved("noir", Source.OPTION))
    assert await catalog.in_use(GUILD + 1, Resolved("noir", Source.PREFERENCE)) == Resolved()  # another server's
    assert await catalog.in_use(GUILD, Resolved()) == Resolved()


async def test_add_edit_remove(store: Store, builder: RequestBuilder) -> None:
    catalog = StyleCatalog(store, builder, [StyleSettings(name="wide", aspect="21:9")])
    await catalog.add(GUILD, Style(name="noir", prefix="film noir", negative="color", mode="dreamtech-xl"))
    with pytest.raises(BotError, match="already has a style `noir`"):
        await catalog.add(GUILD, Style(name="NOIR", prefix="again"))
    edited = await catalog.edit(GUILD, "noir", {"aspect": "3:4", "mode": "anime-xl"}, unset=["negative", "nope"])
    assert (edited.aspect, edited.mode, edited.negative, edited.prefix) == ("3:4", "anime-xl", None, "film noir")
    assert (await catalog.get(GUILD, "noir")) == edited  # the cache was cleared
    with pytest.raises(InvalidRequestError, match="at least one of"):
        await catalog.edit(GUILD, "noir", {}, unset=["prefix", "aspect", "mode"])
    with pytest.raises(BotError, match="Nothing to change"):
        await catalog.edit(GUILD, "noir", {})
    with pytest.raises(BotError, match="`wide` is a bot-wide style"):
        await catalog.edit(GUILD, "wide", {"aspect": "1:1"})
    with pytest.raises(BotError, match="`wide` is a bot-wide style"):
        await catalog.remove(GUILD, "wide")
    assert (await catalog.remove(GUILD, "noir")).name == "noir"
    with pytest.raises(UnknownStyleError, match="Available styles: `wide`"):
        await catalog.remove(GUILD, "noir")


async def test_a_vet_refusal_stores_nothing(store: Store, builder: RequestBuilder) -> None:
    catalog = StyleCatalog(store, builder)

    async def refuse(style: Style) -> None:
        raise BotError("no")

    with pytest.raises(BotError, match="no"):
        await catalog.add(GUILD, Style(name="noir", prefix="film noir"), vet=refuse)
    assert await store.list_styles(GUILD) == []


async def test_a_server_has_at_most_so_many_styles(store: Store, builder: RequestBuilder) -> None:
    catalog = StyleCatalog(store, builder)
    for i in range(MAX_SERVER_STYLES):
        await store.insert_style(Style(name=f"s{i}", prefix="x", guild_id=GUILD))
    with pytest.raises(BotError, match=f"at most {MAX_SERVER_STYLES} styles"):
        await catalog.add(GUILD, Style(name="one-more", prefix="x"))


def test_the_example_configs_commented_style_and_lora_preset_are_valid() -> None:
    """config.example.toml documents a [[styles]] block and a LoRA preset, commented out: uncommented, they load."""
    import tomllib

    text = (Path(__file__).parents[2] / "config.example.toml").read_text(encoding="utf-8")
    lines = text.splitlines()
    preset = lines.index("# [[models.custom.lora_presets]]")
    styles = lines.index("# [[styles]]")
    for i in [*range(preset, preset + 3), *range(styles, len(lines))]:
        lines[i] = lines[i].removeprefix("# ")
    data = tomllib.loads("\n".join(lines).replace("<LoRA versionUuid>", "31360f2f031b4ff6b589412a52713fcf"))
    settings = Settings(**data)
    [style] = bot_wide_styles(settings.styles, RequestBuilder(settings.models)).values()
    assert (style.name, style.mode, style.lora, style.strength) == ("noir", "dreamtech-xl", "ink", 0.6)
