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


def test_custom_ids_of_both_varys_round_trip() -> None:
    for action in (Action.VARY, Action.VARY_STRONG):
        match = CUSTOM_ID.fullmatch(Click(action, "abcdef0123", 4, 42).custom_id)
        assert match is not None and Action(match["action"]) is action
    # Buttons posted before Vary had two strengths carry "vary": they stay Vary (Subtle).
    assert CUSTOM_ID.fullmatch("lb:vary:abcdef0123:0:42")["action"] == Action.VARY == "vary"


def test_result_view_numbers_both_varys_and_upscale_per_image() -> None:
    layout = rows(result_view(job("star3", 4)))
    assert layout[0] == ["🔁 Reroll", "🎛️ Remix", "🗑️ Delete"]
    assert layout[1] == ["🎲 V1 Subtle", "🎲 V2 Subtle", "🎲 V3 Subtle", "🎲 V4 Subtle"]
    assert layout[2] == ["🌀 V1 Strong", "🌀 V2 Strong", "🌀 V3 Strong", "🌀 V4 Strong"]
    assert layout[3] == ["🔍 U1", "🔍 U2", "🔍 U3", "🔍 U4"]
    assert layout[4] == ["🎨 R1", "🎨 R2", "🎨 R3", "🎨 R4"]


def test_five_images_fit_discord_s_five_rows() -> None:
    view = result_view(job("star3", 5))
    assert sorted(rows(view)) == [0, 1, 2, 3, 4] and len(view.children) <= 25


def test_result_view_for_one_kontext_image_has_no_upscale() -> None:
    layout = rows(result_view(job("kontext", 1)))
    assert layout[1] == ["🎲 Vary (Subtle)", "🌀 Vary (Strong)"] and 2 not in layout


def test_labels_in_chinese() -> None:
    one, four = result_view(job("star3", 1), locale="zh-CN"), result_view(job("star3", 4), locale="zh-CN")
    assert rows(one)[1] == ["🎲 变体（微调）", "🌀 变体（大幅）"]
    assert rows(four)[2][0] == "🌀 变体1（大幅）"


def test_owner_can_be_someone_else_than_the_requester() -> None:
    view = result_view(job("star3", 1), owner_id=7)
    assert all(item.custom_id.endswith(":7") for item in view.children)
    [cancel] = cancel_view(job("star3", 1)).children
    assert cancel.custom_id == "lb:cancel:abcdef0123:0:42"
