from __future__ import annotations

import pytest

from bot.errors import InvalidRequestError
from bot.generation.prompt_flags import PromptFlags, parse_flags


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a fox", PromptFlags(prompt="a fox")),
        ("a fox --ar 16:9", PromptFlags(prompt="a fox", aspect_ratio="16:9")),
        ("a fox --aspect 3:4 --seed 42", PromptFlags(prompt="a fox", aspect_ratio="3:4", seed=42)),
        (
            "a fox --no blurry, low quality --count 3",
            PromptFlags(prompt="a fox", negative_prompt="blurry, low quality", count=3),
        ),
        ("a fox --steps 30 --mode Kontext-Max", PromptFlags(prompt="a fox", steps=30, mode="kontext-max")),
        ("well--known fox — dash", PromptFlags(prompt="well--known fox — dash")),
        ("画一只猫 --ar 1:1", PromptFlags(prompt="画一只猫", aspect_ratio="1:1")),
        ("--ar 2:3", PromptFlags(prompt="", aspect_ratio="2:3")),
        ("a fox --style Noir --ar 3:4", PromptFlags(prompt="a fox", style="noir", aspect_ratio="3:4")),
    ],
)
def test_parse_table(text: str, expected: PromptFlags) -> None:
    assert parse_flags(text) == expected


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a fox --stylize 100", "Known flags: --ar"),
        ("a fox --seed", "needs a value"),
        ("a fox --seed abc", "whole number"),
        ("a fox --ar 16:9 --ar 1:1", "twice"),
        ("a fox --ar 16:9 --aspect 1:1", "twice"),
        ("a fox --count 2 3", "one value"),
        ("a fox --style film noir", "one value"),
        ("a fox --style", "needs a value"),
    ],
)
def test_parse_errors_are_friendly(text: str, fragment: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        parse_flags(text)
    assert fragment in info.value.message
