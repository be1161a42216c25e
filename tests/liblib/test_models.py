"""Wire models: client-side validation, body shapes and lenient response parsing (liblib-api.md §5–§8)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from bot.liblib import endpoints
from bot.liblib.endpoints import Family, GenerateStatus
from bot.liblib.models import (
    AdditionalNetwork,
    ControlNetUnit,
    CustomImg2ImgParams,
    CustomText2ImgParams,
    HiResFixInfo,
    InpaintParam,
    KontextImg2ImgParams,
    KontextText2ImgParams,
    ModelVersion,
    Star3Img2ImgParams,
    Star3Text2ImgParams,
    SubmitRequest,
    TaskResult,
    TaskStatus,
    UploadSignature,
    custom_img2img,
    custom_text2img,
    explain,
    kontext_img2img,
    kontext_text2img,
    star3_img2img,
    star3_text2img,
)

URL = "https://liblibai-airship-temp.oss-cn-beijing.aliyuncs.com/aliyun-cn-prod/0123.png"

STAR3_T2I: dict[str, Any] = {"prompt": "a red fox", "aspect_ratio": "square"}
STAR3_I2I: dict[str, Any] = {"prompt": "a red fox", "source_image": URL}
CUSTOM_T2I: dict[str, Any] = {"check_point_id": "0ea388c7eb854be3ba3c6f65aac6bfd3", "prompt": "a red fox"}
CUSTOM_I2I: dict[str, Any] = {**CUSTOM_T2I, "source_image": URL, "resized_width": 768, "resized_height": 1024}
KONTEXT_T2I: dict[str, Any] = {"prompt": "一只狐狸"}
KONTEXT_I2I: dict[str, Any] = {"prompt": "make it watercolor", "image_list": [URL]}
CN_UNIT: dict[str, Any] = {"source_image": URL, "width": 1024, "height": 1024, "preprocessor": 3, "model": "6349e9"}
INPAINT: dict[str, Any] = {"mask_image": URL}
HIRES: dict[str, Any] = {"resized_width": 1536, "resized_height": 1536}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**base, **changes}


VALID = [
    pytest.param(Star3Text2ImgParams, STAR3_T2I, id="star3-t2i-aspect"),
    pytest.param(
        Star3Text2ImgParams,
        {"prompt": "x", "image_size": {"width": 512, "height": 2048}, "img_count": 4, "steps": 30},
        id="star3-t2i-size",
    ),
    pytest.param(
        Star3Text2ImgParams,
        _with(STAR3_T2I, controlnet={"control_type": "IPAdapter", "control_image": URL}),
        id="star3-t2i-control",
    ),
    pytest.param(Star3Img2ImgParams, STAR3_I2I, id="star3-i2i"),
    pytest.param(Star3Text2ImgParams, _with(STAR3_T2I, prompt="p" * 2000), id="prompt-2000"),
    pytest.param(CustomText2ImgParams, CUSTOM_T2I, id="custom-t2i-defaults"),
    pytest.param(
        CustomText2ImgParams,
        _with(
            CUSTOM_T2I,
            negative_prompt="",
            vae_id="",
            sampler=30,
            steps=60,
            cfg_scale=15,
            width=128,
            height=1536,
            seed=9_999_999_999,
            clip_skip=12,
            additional_network=[{"model_id": f"l{i}", "weight": -4} for i in range(5)],
            hi_res_fix_info=HIRES,
            control_net=[_with(CN_UNIT, unit_order=i) for i in range(4)],
        ),
        id="custom-t2i-limits",
    ),
    pytest.param(CustomImg2ImgParams, CUSTOM_I2I, id="custom-i2i"),
    pytest.param(CustomImg2ImgParams, _with(CUSTOM_I2I, mode=4, inpaint_param=INPAINT), id="custom-inpaint"),
    pytest.param(KontextText2ImgParams, KONTEXT_T2I, id="kontext-t2i"),
    pytest.param(KontextText2ImgParams, _with(KONTEXT_T2I, guidance_scale=20, aspect_ratio="21:9"), id="kontext-gs"),
    pytest.param(KontextImg2ImgParams, _with(KONTEXT_I2I, image_list=[URL] * 4), id="kontext-max-4-refs"),
    pytest.param(KontextImg2ImgParams, _with(KONTEXT_I2I, model="pro"), id="kontext-pro-1-ref"),
]


@pytest.mark.parametrize(("model", "data"), VALID)
def test_valid_params(model: type[BaseModel], data: dict[str, Any]) -> None:
    model.model_validate(data)


INVALID = [
    # prompts
    pytest.param(
        Star3Text2ImgParams, _with(STAR3_T2I, prompt="p" * 2001), "prompt is 2001 characters", id="prompt>2000"
    ),
    pytest.param(Star3Text2ImgParams, _with(STAR3_T2I, prompt="   "), "prompt must not be empty", id="prompt-blank"),
    pytest.param(KontextText2ImgParams, {"prompt": "x" * 2001}, "the limit is 2000", id="kontext-prompt"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, negative_prompt="n" * 2001), "negative prompt", id="neg>2000"),
    # Star-3
    pytest.param(Star3Text2ImgParams, {"prompt": "x"}, "exactly one of aspect ratio or image size", id="no-size"),
    pytest.param(
        Star3Text2ImgParams,
        _with(STAR3_T2I, image_size={"width": 1024, "height": 1024}),
        "exactly one",
        id="both-sizes",
    ),
    pytest.param(
        Star3Text2ImgParams,
        {"prompt": "x", "image_size": {"width": 511, "height": 1024}},
        "width must be between 512 and 2048 (got 511)",
        id="size<512",
    ),
    pytest.param(
        Star3Text2ImgParams,
        {"prompt": "x", "image_size": {"width": 1024, "height": 2049}},
        "height must be between 512 and 2048",
        id="size>2048",
    ),
    pytest.param(
        Star3Text2ImgParams,
        {"prompt": "x", "image_size": {"width": 1024}},
        "both a width and a height",
        id="half-size",
    ),
    pytest.param(Star3Text2ImgParams, _with(STAR3_T2I, aspect_ratio="wide"), "'square', 'portrait'", id="star3-ar"),
    pytest.param(Star3Text2ImgParams, _with(STAR3_T2I, img_count=0), "image count must be between 1 and 4", id="n=0"),
    pytest.param(Star3Text2ImgParams, _with(STAR3_T2I, img_count=5), "(got 5)", id="n=5"),
    pytest.param(
        Star3Text2ImgParams,
        _with(STAR3_T2I, controlnet={"control_type": "canny", "control_image": URL}),
        "'line', 'depth'",
        id="control-type",
    ),
    pytest.param(
        Star3Text2ImgParams,
        _with(STAR3_T2I, controlnet={"control_type": "depth"}),
        "both a control type and a control image",
        id="control-half",
    ),
    pytest.param(
        Star3Img2ImgParams, _with(STAR3_I2I, source_image="file:///x.png"), "full public http(s) URL", id="url"
    ),
    pytest.param(Star3Img2ImgParams, _with(STAR3_I2I, extra=1), "Extra inputs are not permitted", id="forbid-extra"),
    # custom checkpoint
    pytest.param(
        CustomText2ImgParams, _with(CUSTOM_T2I, check_point_id=""), "checkpoint id must not be empty", id="ckpt"
    ),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, sampler=22), "sampler 22 is not valid", id="sampler-22"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, sampler=23), "sampler 23 is not valid", id="sampler-23"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, sampler=26), "sampler 26 is not valid", id="sampler-26"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, sampler=31), "sampler 31", id="sampler-31"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, steps=61), "steps must be between 1 and 60", id="steps"),
    pytest.param(
        CustomText2ImgParams, _with(CUSTOM_T2I, cfg_scale=0.5), "CFG scale must be between 1 and 15", id="cfg"
    ),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, clip_skip=13), "clip skip", id="clip-skip"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, width=127), "width must be between 128 and 1536", id="w<128"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, height=1537), "height must be between 128 and 1536", id="h"),
    pytest.param(
        CustomText2ImgParams, _with(CUSTOM_T2I, seed=-2), "seed must be between -1 and 9999999999", id="seed<"
    ),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, seed=10_000_000_000), "seed", id="seed>"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, randn_source=2), "random source", id="randn"),
    pytest.param(CustomText2ImgParams, _with(CUSTOM_T2I, restore_faces=2), "between 0 and 1", id="restore-faces"),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, additional_network=[{"model_id": f"l{i}"} for i in range(6)]),
        "at most 5 LoRAs",
        id="6-loras",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, additional_network=[{"model_id": "l", "weight": 4.5}]),
        "LoRA weight must be between -4 and 4",
        id="lora-weight",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, control_net=[CN_UNIT] * 5),
        "at most 4 ControlNet units",
        id="5-units",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, control_net=[_with(CN_UNIT, preprocessor=24)]),
        "ControlNet preprocessor 24 is not a valid value",
        id="preprocessor",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, control_net=[_with(CN_UNIT, control_weight=2.5)]),
        "ControlNet weight",
        id="cn-weight",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, control_net=[_with(CN_UNIT, starting_control_step=0.8, ending_control_step=0.2)]),
        "starting step must not be after its ending step",
        id="cn-steps",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, control_net=[_with(CN_UNIT, width=4097)]),
        "ControlNet image width",
        id="cn-width",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, hi_res_fix_info=_with(HIRES, hires_steps=31)),
        "hires steps must be between 1 and 30",
        id="hires-steps",
    ),
    pytest.param(
        CustomText2ImgParams,
        _with(CUSTOM_T2I, hi_res_fix_info=_with(HIRES, upscaler=27)),
        "upscaler 27",
        id="upscaler",
    ),
    pytest.param(CustomImg2ImgParams, _with(CUSTOM_I2I, mode=1), "mode: Input should be 0 or 4", id="mode"),
    pytest.param(CustomImg2ImgParams, _with(CUSTOM_I2I, mode=4), "needs a mask", id="inpaint-no-mask"),
    pytest.param(
        CustomImg2ImgParams, _with(CUSTOM_I2I, inpaint_param=INPAINT), "only used with inpainting", id="mask-mode0"
    ),
    pytest.param(
        CustomImg2ImgParams,
        _with(CUSTOM_I2I, mode=4, inpaint_param=_with(INPAINT, mask_blur=65)),
        "mask blur must be between 0 and 64",
        id="mask-blur",
    ),
    pytest.param(
        CustomImg2ImgParams,
        _with(CUSTOM_I2I, mode=4, inpaint_param=_with(INPAINT, inpainting_fill=4)),
        "inpainting fill",
        id="inpaint-fill",
    ),
    pytest.param(CustomImg2ImgParams, _with(CUSTOM_I2I, resized_width=2049), "resized width", id="resized"),
    pytest.param(CustomImg2ImgParams, _with(CUSTOM_I2I, denoising_strength=1.1), "denoising strength", id="denoise"),
    pytest.param(CustomImg2ImgParams, _with(CUSTOM_I2I, width=512), "Extra inputs", id="i2i-no-width"),
    # Kontext
    pytest.param(KontextText2ImgParams, _with(KONTEXT_T2I, model="ultra"), "'pro' or 'max'", id="kontext-model"),
    pytest.param(KontextText2ImgParams, _with(KONTEXT_T2I, aspect_ratio="5:4"), "'1:1'", id="kontext-ar"),
    pytest.param(
        KontextText2ImgParams,
        _with(KONTEXT_T2I, guidance_scale=0.5),
        "guidance scale must be between 1 and 20",
        id="gs<",
    ),
    pytest.param(KontextText2ImgParams, _with(KONTEXT_T2I, guidance_scale=20.5), "guidance scale", id="gs>"),
    pytest.param(
        KontextImg2ImgParams, _with(KONTEXT_I2I, image_list=[]), "1 to 4 reference images (got 0)", id="0-refs"
    ),
    pytest.param(KontextImg2ImgParams, _with(KONTEXT_I2I, image_list=[URL] * 5), "(got 5)", id="5-refs"),
    pytest.param(KontextImg2ImgParams, {"prompt": "x"}, "image_list: Field required", id="refs-missing"),
    pytest.param(
        KontextImg2ImgParams, _with(KONTEXT_I2I, image_list=[URL] * 2, model="pro"), "single reference", id="pro-2-refs"
    ),
    pytest.param(KontextImg2ImgParams, _with(KONTEXT_I2I, image_list=["nope"]), "http(s) URL", id="ref-url"),
]


@pytest.mark.parametrize(("model", "data", "message"), INVALID)
def test_invalid_params_are_refused_with_a_human_message(
    model: type[BaseModel], data: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    assert message in explain(info.value)
    assert "Value error," not in explain(info.value)


def test_prompt_over_limit_refused_by_builder() -> None:
    with pytest.raises(ValueError, match="the limit is 2000"):
        star3_text2img("x" * 2001)


def test_camel_case_aliases_accepted_as_input() -> None:
    params = CustomText2ImgParams.model_validate({"checkPointId": "c", "prompt": "p", "cfgScale": 3, "imgCount": 2})
    assert params.check_point_id == "c"
    assert params.cfg_scale == 3
    assert params.img_count == 2


# to_body shapes ------------------------------------------------------------------------------------


def test_star3_text2img_body() -> None:
    request = star3_text2img("a red fox", aspect_ratio="portrait", img_count=2, steps=30)
    assert request.family is Family.STAR3
    assert request.path == endpoints.STAR3_TEXT2IMG
    assert request.img_count == 2
    assert request.to_body() == {
        "templateUuid": "5d7e67009b344550bc1aa6ccbfa1d7f4",
        "generateParams": {"prompt": "a red fox", "aspectRatio": "portrait", "imgCount": 2, "steps": 30},
    }


def test_star3_text2img_defaults_to_square_and_accepts_size_and_control() -> None:
    assert star3_text2img("x").to_body()["generateParams"] == {"prompt": "x", "aspectRatio": "square", "imgCount": 1}
    body = star3_text2img("x", width=1280, height=720, control_type="depth", control_image=URL).to_body()
    assert body["generateParams"] == {
        "prompt": "x",
        "imageSize": {"width": 1280, "height": 720},
        "imgCount": 1,
        "controlnet": {"controlType": "depth", "controlImage": URL},
    }


def test_star3_routes() -> None:
    assert star3_text2img("x", ultra=False).path == endpoints.WEBUI_TEXT2IMG
    request = star3_img2img("x", URL, ultra=False)
    assert request.path == endpoints.WEBUI_IMG2IMG
    assert request.template_uuid == endpoints.TEMPLATE_STAR3_IMG2IMG
    assert star3_img2img("x", URL).path == endpoints.STAR3_IMG2IMG
    assert star3_img2img("x", URL).to_body()["generateParams"] == {"prompt": "x", "sourceImage": URL, "imgCount": 1}


def test_custom_text2img_body_is_camel_case_without_nones() -> None:
    params = CustomText2ImgParams(
        check_point_id="ckpt",
        prompt="p",
        negative_prompt="lowres",
        seed=4_294_967_296,
        additional_network=[AdditionalNetwork(model_id="lora", weight=0.6)],
        hi_res_fix_info=HiResFixInfo(resized_width=1536, resized_height=1536),
        control_net=[ControlNetUnit.model_validate(_with(CN_UNIT, annotation_parameters={"depthLeres": {"x": 1}}))],
    )
    body = custom_text2img(params).to_body()
    assert body["templateUuid"] == endpoints.TEMPLATE_CUSTOM_TEXT2IMG
    gp = body["generateParams"]
    assert gp == {
        "checkPointId": "ckpt",
        "prompt": "p",
        "negativePrompt": "lowres",
        "clipSkip": 2,
        "sampler": 15,
        "steps": 25,
        "cfgScale": 7.0,
        "imgCount": 1,
        "randnSource": 0,
        "seed": 4_294_967_296,
        "restoreFaces": 0,
        "additionalNetwork": [{"modelId": "lora", "weight": 0.6}],
        "controlNet": [
            {
                "unitOrder": 1,
                "sourceImage": URL,
                "width": 1024,
                "height": 1024,
                "preprocessor": 3,
                "annotationParameters": {"depthLeres": {"x": 1}},
                "model": "6349e9",
                "controlWeight": 1.0,
                "startingControlStep": 0.0,
                "endingControlStep": 1.0,
                "pixelPerfect": 1,
                "controlMode": 0,
                "resizeMode": 1,
            }
        ],
        "width": 1024,
        "height": 1024,
        "hiResFixInfo": {
            "hiresSteps": 20,
            "hiresDenoisingStrength": 0.35,
            "upscaler": 10,
            "resizedWidth": 1536,
            "resizedHeight": 1536,
        },
    }
    assert "vaeId" not in gp


def test_custom_img2img_inpaint_body() -> None:
    params = CustomImg2ImgParams.model_validate(_with(CUSTOM_I2I, mode=4, inpaint_param=INPAINT))
    request = custom_img2img(params, template_uuid="74509e1b072a4c45a7f1843a963c8462")
    body = request.to_body()
    assert request.path == endpoints.WEBUI_IMG2IMG
    assert body["templateUuid"] == "74509e1b072a4c45a7f1843a963c8462"
    gp = body["generateParams"]
    assert gp["sourceImage"] == URL
    assert (gp["resizeMode"], gp["resizedWidth"], gp["resizedHeight"], gp["mode"]) == (0, 768, 1024, 4)
    assert gp["denoisingStrength"] == 0.75
    assert gp["inpaintParam"] == {
        "maskImage": URL,
        "maskBlur": 4,
        "maskPadding": 32,
        "maskMode": 0,
        "inpaintArea": 0,
        "inpaintingFill": 1,
    }
    assert "width" not in gp
    assert "hiResFixInfo" not in gp


def test_kontext_bodies_use_snake_case_where_the_api_does() -> None:
    t2i = kontext_text2img("一只狐狸", model="pro", aspect_ratio="3:4", guidance_scale=3.5, img_count=2)
    assert t2i.family is Family.KONTEXT
    assert t2i.to_body() == {
        "templateUuid": endpoints.TEMPLATE_KONTEXT_TEXT2IMG,
        "generateParams": {
            "model": "pro",
            "prompt": "一只狐狸",
            "aspectRatio": "3:4",
            "imgCount": 2,
            "guidance_scale": 3.5,
        },
    }
    i2i = kontext_img2img("watercolor", [URL, URL])
    assert i2i.path == endpoints.KONTEXT_IMG2IMG
    assert i2i.to_body() == {
        "templateUuid": endpoints.TEMPLATE_KONTEXT_IMG2IMG,
        "generateParams": {
            "model": "max",
            "prompt": "watercolor",
            "aspectRatio": "1:1",
            "imgCount": 1,
            "image_list": [URL, URL],
        },
    }


def test_submit_request_checks_path_and_template() -> None:
    params = KontextText2ImgParams(prompt="x")
    with pytest.raises(ValueError, match="start with"):
        SubmitRequest(Family.KONTEXT, "api/x", "t", params)
    with pytest.raises(ValueError, match="templateUuid"):
        SubmitRequest(Family.KONTEXT, "/api/x", "", params)


# responses -----------------------------------------------------------------------------------------


def test_task_status_full_and_lenient() -> None:
    status = TaskStatus.model_validate(
        {
            "generateUuid": "8dcbfa2997444899b71357ccb7db378b",
            "generateStatus": 5,
            "percentCompleted": 1,
            "generateMsg": "",
            "pointsCost": 58,
            "accountBalance": 1356344,
            "images": [
                {"imageUrl": "https://x/a.png", "seed": 2228967414, "auditStatus": 3, "nodeId": "9"},
                {"imageUrl": "https://x/b.png", "seed": None, "auditStatus": 4},
                {"imageUrl": "https://x/c.png"},
            ],
            "videos": [],
            "duration": 12,
        }
    )
    assert status.status is GenerateStatus.SUCCEEDED
    assert status.is_terminal
    assert status.points_cost == 58
    assert status.account_balance == 1356344
    assert status.images[0].seed == 2228967414
    assert [i.image_url for i in status.passed_images] == ["https://x/a.png", "https://x/c.png"]
    assert status.blocked_count == 1
    result = TaskResult.from_status(status)
    assert result.seeds == (2228967414, None)
    assert result.blocked_count == 1
    assert result.points_cost == 58


@pytest.mark.parametrize(
    ("data", "check"),
    [
        ({"generateStatus": 2}, lambda s: s.images == [] and s.generate_msg == "" and s.percent_completed is None),
        ({"generateStatus": "1", "images": None, "generateMsg": None}, lambda s: s.generate_status == 1),
        ({"generateStatus": 2, "percentCompleted": "garbage"}, lambda s: s.percent_completed is None),
        ({"generateStatus": 2, "percentCompleted": 40}, lambda s: s.progress == 0.4),
        ({"generateStatus": 9}, lambda s: s.status is None and not s.is_terminal),
        ({"generateStatus": 6, "generateMsg": "boom"}, lambda s: s.is_terminal and s.generate_msg == "boom"),
        (
            {"generateStatus": 5, "images": [{"imageUrl": "u", "seed": "12", "auditStatus": "x"}]},
            lambda s: s.images[0].seed == 12,
        ),
        ({"generate_status": 3, "points_cost": 8.0}, lambda s: s.generate_status == 3 and s.points_cost == 8),
    ],
)
def test_task_status_lenient_cases(data: dict[str, Any], check: Any) -> None:
    assert check(TaskStatus.model_validate(data))


def test_task_status_needs_a_status() -> None:
    with pytest.raises(ValidationError):
        TaskStatus.model_validate({"generateUuid": "x"})


SIG_CAMEL = {
    "key": "aliyun-cn-prod/a0d9244a5ea14465955faf6b178240b8.png",
    "policy": "eyJ...",
    "postUrl": "https://liblibai-airship-temp.oss-cn-beijing.aliyuncs.com",
    "xOssDate": "20250409T134329Z",
    "xOssExpires": 3600,
    "xOssSignature": "ab" * 32,
    "xOssCredential": "AK/20250409/cn-beijing/oss/aliyun_v4_request",
    "xOssSignatureVersion": "OSS4-HMAC-SHA256",
}
SIG_LOWER = {("xoss" + k[4:] if k.startswith("xOss") else k): v for k, v in SIG_CAMEL.items()}


@pytest.mark.parametrize("data", [SIG_CAMEL, SIG_LOWER, {**SIG_CAMEL, "xOssExpires": "3600", "extra": 1}])
def test_upload_signature_both_casings(data: dict[str, Any]) -> None:
    sig = UploadSignature.model_validate(data)
    assert sig.x_oss_date == "20250409T134329Z"
    assert sig.x_oss_expires == "3600"
    assert sig.public_url == (
        "https://liblibai-airship-temp.oss-cn-beijing.aliyuncs.com/aliyun-cn-prod/a0d9244a5ea14465955faf6b178240b8.png"
    )
    assert [name for name, _ in sig.form_fields()] == [
        "key",
        "policy",
        "x-oss-date",
        "x-oss-expires",
        "x-oss-signature",
        "x-oss-credential",
        "x-oss-signature-version",
    ]


def test_upload_signature_missing_field_is_an_error() -> None:
    with pytest.raises(ValidationError):
        UploadSignature.model_validate({k: v for k, v in SIG_CAMEL.items() if k != "xOssSignature"})


def test_model_version_enveloped_camel_case() -> None:
    mv = ModelVersion.model_validate(
        {
            "code": 0,
            "msg": "",
            "data": {
                "versionUuid": "21df5d84cca74f7a885ba672b5a80d19",
                "modelName": "AWPortrait XL",
                "versionName": "v1",
                "baseAlgoName": "基础算法 XL",
                "commercialUse": 1,
                "showType": 1,
                "modelUrl": "https://www.liblib.art/modelinfo/x",
            },
        }
    )
    assert mv.version_uuid == "21df5d84cca74f7a885ba672b5a80d19"
    assert mv.model_name == "AWPortrait XL"
    assert mv.base_algo == "基础算法 XL"
    assert mv.commercial_use is True
    assert mv.show_type == "1"


def test_model_version_bare_snake_case() -> None:
    mv = ModelVersion.model_validate(
        {
            "version_uuid": "v",
            "model_name": "m",
            "version_name": "n",
            "baseAlgo": "基础算法 v1.5",
            "show_type": "1",
            "commercial_use": "0",
            "model_url": "u",
        }
    )
    assert (mv.version_uuid, mv.model_name, mv.version_name, mv.base_algo) == ("v", "m", "n", "基础算法 v1.5")
    assert mv.commercial_use is False
    assert mv.model_url == "u"
    assert ModelVersion.model_validate({}).commercial_use is None


def test_inpaint_param_defaults() -> None:
    assert InpaintParam(mask_image=URL).model_dump(by_alias=True)["maskPadding"] == 32
