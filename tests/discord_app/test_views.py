from __future__ import annotations

from bot.discord_app.ui.views import CUSTOM_ID, Click, cancel_view, result_view
from bot.generation.actions import Action
from bot.models import GenerationRequest, Job, JobResult, JobState, ResultImage


def job(mode: str, images: int) -> Job:
    return Job(
        id="abcdef0123",
        user_id=42,
        channel_id=5,
        guild_id=6,
        request=GenerationRequest(mode=mode, prompt="p", kontext_model="pro" if mode == "kontext" else None),
        state=JobState.SUCCEEDED,
        result=JobResult(images=tuple(ResultImage(url=f"u{i}", seed=i) for i in range(images))),
    )


def rows(view) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {}
    for item in view.children:
        out.setdefault(item.row, []).append(item.item.label)
    return out


def test_custom_ids_round_trip_and_fit_discord_limits() -> None:
    click = Click(Action.UPSCALE, "abcdef0123", 3, 1_400_000_000_000_000_001)
    match = CUSTOM_ID.fullmatch(click.custom_id)
    assert match is not None and len(click.custom_id) <= 100
    assert (match["action"], match["job"], int(match["index"]), int(match["owner"])) == (
        "upscale",
        "abcdef0123",
        3,
        1_400_000_000_000_000_001,
    )


def test_result_view_numbers_vary_and_upscale_per_image() -> None:
    layout = rows(result_view(job("star3", 4)))
    assert layout[0] == ["🔁 Reroll", "🎛️ Remix", "🗑️ Delete"]
    assert layout[1] == ["🎲 V1", "🎲 V2", "🎲 V3", "🎲 V4"]
    assert layout[2] == ["🔍 U1", "🔍 U2", "🔍 U3", "🔍 U4"]


def test_result_view_for_one_kontext_image_has_no_upscale() -> None:
    layout = rows(result_view(job("kontext", 1)))
    assert layout[1] == ["🎲 Vary"] and 2 not in layout


def test_owner_can_be_someone_else_than_the_requester() -> None:
    view = result_view(job("star3", 1), owner_id=7)
    assert all(item.custom_id.endswith(":7") for item in view.children)
    [cancel] = cancel_view(job("star3", 1)).children
    assert cancel.custom_id == "lb:cancel:abcdef0123:0:42"
