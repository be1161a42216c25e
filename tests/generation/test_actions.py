from __future__ import annotations

import pytest

from bot.generation.actions import (
    JOB_KIND,
    NEW_JOB_ACTIONS,
    VARIATIONS,
    Action,
    may_act,
    reroll_request,
    supports_upscale,
    upscale_request,
    vary_request,
)
from bot.generation.variation import Variation
from bot.models import GenerationRequest, Job, JobKind, JobResult, JobState, ResultImage

OWNER, OTHER = 1, 2


def job(request: GenerationRequest, seeds: tuple[int, ...] = (11, 12)) -> Job:
    return Job(
        id="abcdef0123",
        user_id=OWNER,
        channel_id=5,
        guild_id=6,
        request=request,
        state=JobState.SUCCEEDED,
        result=JobResult(images=tuple(ResultImage(url=f"https://r/{s}.png", seed=s) for s in seeds)),
    )


@pytest.mark.parametrize(
    ("action", "actor", "admin", "open_", "allowed"),
    [
        (Action.REROLL, OWNER, False, False, True),
        (Action.REROLL, OTHER, False, False, False),
        (Action.REROLL, OTHER, True, False, True),
        (Action.REROLL, OTHER, False, True, True),
        (Action.VARY, OTHER, False, True, True),
        (Action.UPSCALE, OTHER, False, True, True),
        (Action.REMIX, OTHER, False, True, True),
        (Action.DELETE, OTHER, False, True, False),
        (Action.CANCEL, OTHER, False, True, False),
        (Action.DELETE, OTHER, True, False, True),
        (Action.CANCEL, OWNER, False, False, True),
    ],
)
def test_who_may_press_which_button(action: Action, actor: int, admin: bool, open_: bool, allowed: bool) -> None:
    assert may_act(action, actor_id=actor, owner_id=OWNER, is_admin=admin, open_to_everyone=open_) is allowed


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (GenerationRequest(mode="star3", prompt="p"), True),
        (GenerationRequest(mode="star3", prompt="p", source_images=("u",)), False),  # follows the source size
        (GenerationRequest(mode="kontext", prompt="p", kontext_model="pro"), False),  # no size option
        (GenerationRequest(mode="dreamtech-xl", prompt="p"), True),
        (GenerationRequest(mode="dreamtech-xl", prompt="p", source_images=("u",)), True),
        (GenerationRequest(mode="dreamtech-xl", prompt="p", hires=True), False),  # already large
    ],
)
def test_which_results_can_be_upscaled(request_: GenerationRequest, expected: bool) -> None:
    assert supports_upscale(request_) is expected


def test_reroll_keeps_everything_but_the_seed() -> None:
    original = GenerationRequest(mode="dreamtech-xl", prompt="p", seed=7, count=3, steps=20, negative_prompt="n")
    assert reroll_request(job(original)) == original.with_(seed=None)


@pytest.mark.parametrize("variation", list(Variation))
def test_vary_starts_from_the_given_image_and_records_its_strength(variation: Variation) -> None:
    original = GenerationRequest(
        mode="dreamtech-xl", prompt="p", count=2, control_type="depth", control_image="c", strength=0.9
    )
    varied = vary_request(job(original), "https://copy.png", variation)
    assert varied.source_images == ("https://copy.png",) and varied.variation == variation
    assert varied.strength is None  # the family maps the variation at submit, not an earlier job's strength
    assert varied.count == 2 and varied.seed is None and varied.control_image is None


def test_both_varys_start_vary_jobs_and_an_upscale_is_no_variation() -> None:
    assert JOB_KIND[Action.VARY] is JOB_KIND[Action.VARY_STRONG] is JobKind.VARY
    assert VARIATIONS == {Action.VARY: Variation.SUBTLE, Action.VARY_STRONG: Variation.STRONG}
    assert {Action.VARY, Action.VARY_STRONG} <= NEW_JOB_ACTIONS
    varied = GenerationRequest(mode="dreamtech-xl", prompt="p", source_images=("s",), variation="strong")
    assert upscale_request(job(varied), 0, "https://copy.png", strength=0.3).variation is None


def test_upscale_of_a_custom_text2img_result_reuses_that_images_seed() -> None:
    up = upscale_request(job(GenerationRequest(mode="dreamtech-xl", prompt="p", count=2)), 1, "", strength=0.3)
    assert up.hires and up.count == 1 and up.seed == 12 and not up.is_img2img


def test_upscale_of_an_img2img_result_starts_from_that_image() -> None:
    original = GenerationRequest(mode="dreamtech-xl", prompt="p", source_images=("https://member.png",))
    up = upscale_request(job(original), 0, "https://result-copy.png", strength=0.3)
    assert up.source_images == ("https://result-copy.png",) and up.strength == 0.3 and up.hires


def test_star3_upscale_has_no_seed_to_keep() -> None:
    up = upscale_request(job(GenerationRequest(mode="star3", prompt="p")), 0, "", strength=0.3)
    assert up.seed is None and up.hires
