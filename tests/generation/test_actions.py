from __future__ import annotations

import pytest

from bot.generation.actions import (
    JOB_KIND,
    NEW_JOB_ACTIONS,
    OUTPAINTS,
    VARIATIONS,
    Action,
    may_act,
    reroll_request,
    supports_upscale,
    vary_request,
)
from bot.generation.upscaling import Route as UpscaleHow
from bot.generation.upscaling import UpscaleRoute, upscale_request
from bot.generation.variation import Variation
from bot.media.outpaint import Outpaint
from bot.models import GenerationRequest, Job, JobKind, JobResult, JobState, ResultImage
from bot.settings import ModelsSettings

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
        (GenerationRequest(mode="star3", prompt="p", source_images=("u",)), True),  # from the image, enlarged
        (GenerationRequest(mode="kontext", prompt="p", kontext_model="pro"), True),  # through Seedream 4.5
        (GenerationRequest(mode="dreamtech-xl", prompt="p"), True),
        (GenerationRequest(mode="dreamtech-xl", prompt="p", source_images=("u",)), True),
        (GenerationRequest(mode="dreamtech-xl", prompt="p", hires=True), False),  # already large
    ],
)
def test_which_results_can_be_upscaled(request_: GenerationRequest, expected: bool) -> None:
    assert supports_upscale(request_, ModelsSettings()) is expected


def test_zoom_make_square_and_pan_are_new_jobs_of_their_own_kinds() -> None:
    assert set(OUTPAINTS.values()) == set(Outpaint) and set(OUTPAINTS) <= NEW_JOB_ACTIONS
    assert JOB_KIND[Action.ZOOM_OUT_2] is JOB_KIND[Action.ZOOM_OUT_15] is JobKind.ZOOM_OUT
    assert JOB_KIND[Action.MAKE_SQUARE] is JobKind.MAKE_SQUARE
    assert {JOB_KIND[a] for a in (Action.PAN_LEFT, Action.PAN_RIGHT, Action.PAN_UP, Action.PAN_DOWN)} == {JobKind.PAN}
    assert may_act(Action.PAN_RIGHT, actor_id=OTHER, owner_id=OWNER, is_admin=False, open_to_everyone=True)
    assert not may_act(Action.ZOOM_OUT_2, actor_id=OTHER, owner_id=OWNER, is_admin=False, open_to_everyone=False)


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
    route = UpscaleRoute("dreamtech-xl", UpscaleHow.IMG2IMG)
    assert upscale_request(job(varied), 0, route, strength=0.3).variation is None
