from __future__ import annotations

from bot.discord_app.ui.offers import ResultOffers
from bot.discord_app.ui.views import CUSTOM_ID, OUTPAINT_ID, Click, OutpaintButton, cancel_view, result_view
from bot.generation.actions import Action
from bot.models import GenerationRequest, Job, JobResult, JobState, ResultImage
from bot.settings import ModelsSettings


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
    assert layout[3] == ["🔍 U1 ≈8", "🔍 U2 ≈8", "🔍 U3 ≈8", "🔍 U4 ≈8"]  # what an Upscale costs: Star-3's price
    assert layout[4] == ["🎨 R1", "🎨 R2", "🎨 R3", "🎨 R4"]  # no room left: no Zoom Out or Pan under four images


def test_five_images_fit_discord_s_five_rows() -> None:
    view = result_view(job("star3", 5))
    assert sorted(rows(view)) == [0, 1, 2, 3, 4] and len(view.children) <= 25


def test_one_kontext_image_upscales_through_seedream_and_zooms_and_pans() -> None:
    layout = rows(result_view(job("kontext", 1)))
    assert layout[1] == ["🎲 Vary (Subtle)", "🌀 Vary (Strong)"]
    assert layout[2] == ["🔍 Upscale (≈ 25 points)"]  # [models] upscale_reference_mode: seedream-4.5
    assert layout[3] == ["🔭 Zoom Out 2x", "🔭 Zoom Out 1.5x"]  # a square Kontext result: no Make Square
    assert layout[4] == ["⬅️", "➡️", "⬆️", "⬇️"]
    assert len(layout) == 5


def test_the_settings_decide_the_upscale_and_the_outpainting_buttons() -> None:
    off = ResultOffers(ModelsSettings(upscale_reference_mode="", outpaint_mode=""), {"kontext-pro": 29})
    layout = rows(result_view(job("kontext", 1), offers=off))
    assert sorted(layout) == [0, 1]  # Reroll..., Vary: no Upscale, no Zoom Out, no Pan
    wide = job("star3", 1)
    wide.request = wide.request.with_(aspect_ratio="16:9")
    layout = rows(result_view(wide, offers=ResultOffers(prices={"star3": 9})))
    assert layout[2] == ["🔍 Upscale (≈ 9 points)"]
    assert layout[3] == ["🔭 Zoom Out 2x", "🔭 Zoom Out 1.5x", "🔳 Make Square"]


def test_outpainting_ids_round_trip_apart_from_the_other_buttons() -> None:
    [*_, pan] = [b for b in result_view(job("star3", 1)).children if isinstance(b, OutpaintButton)]
    assert pan.custom_id == "lb:pandown:abcdef0123:0:42" and pan.item.label == "⬇️"
    for action in (Action.ZOOM_OUT_2, Action.ZOOM_OUT_15, Action.MAKE_SQUARE, Action.PAN_LEFT, Action.PAN_RIGHT):
        custom_id = Click(action, "abcdef0123", 0, 42).custom_id
        assert OUTPAINT_ID.fullmatch(custom_id) and not CUSTOM_ID.fullmatch(custom_id)
    assert not OUTPAINT_ID.fullmatch(Click(Action.UPSCALE, "abcdef0123", 0, 42).custom_id)


def test_labels_in_chinese() -> None:
    one, four = result_view(job("star3", 1), locale="zh-CN"), result_view(job("star3", 4), locale="zh-CN")
    assert rows(one)[1] == ["🎲 变体（微调）", "🌀 变体（大幅）"]
    assert rows(four)[2][0] == "🌀 变体1（大幅）"
    assert rows(four)[3][0] == "🔍 放大1 约8" and rows(one)[2] == ["🔍 放大（约 8 积分）"]
    assert rows(one)[3] == ["🔭 拉远 2 倍", "🔭 拉远 1.5 倍"] and rows(one)[4] == ["⬅️", "➡️", "⬆️", "⬇️"]


def test_owner_can_be_someone_else_than_the_requester() -> None:
    view = result_view(job("star3", 1), owner_id=7)
    assert all(item.custom_id.endswith(":7") for item in view.children)
    [cancel] = cancel_view(job("star3", 1)).children
    assert cancel.custom_id == "lb:cancel:abcdef0123:0:42"
