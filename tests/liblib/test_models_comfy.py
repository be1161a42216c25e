"""ComfyUI wire models: the flat node map with ``workflowUuid``, and videos in a status."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from bot.liblib import endpoints as ep
from bot.liblib.endpoints import Family
from bot.liblib.models import ComfyNodeParams, ComfyParams, SubmitRequest, TaskResult, TaskStatus


def test_comfy_params_dump_to_the_flat_wire_form() -> None:
    params = ComfyParams(
        workflow_uuid="wf",
        nodes={"6": ComfyNodeParams(class_type="CLIPTextEncode", inputs={"text": "a cat", "clip": ["4", 1]})},
        img_count=2,
    )
    body = SubmitRequest(Family.COMFY, ep.COMFY_APP, ep.TEMPLATE_COMFY, params).to_body()
    assert body == {
        "templateUuid": "4df2efa0f18d46dc9758803e478eb51c",
        "generateParams": {
            "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "a cat", "clip": ["4", 1]}},
            "workflowUuid": "wf",
        },
    }


def test_comfy_params_refuse_a_node_named_workflowuuid_and_an_empty_map() -> None:
    with pytest.raises(ValidationError):
        ComfyParams(workflow_uuid="wf", nodes={"workflowUuid": ComfyNodeParams(class_type="X")})
    with pytest.raises(ValidationError):
        ComfyParams(workflow_uuid="wf", nodes={})


def test_videos_come_from_the_videos_list_and_from_video_urls_among_the_images() -> None:
    status = TaskStatus.model_validate(
        {
            "generateUuid": "u",
            "generateStatus": 5,
            "images": [
                {"imageUrl": "https://x/a.png", "nodeId": "9", "outputName": "images", "auditStatus": 3},
                {"imageUrl": "https://x/b.MP4?Expires=1", "nodeId": 12, "outputName": "gifs", "auditStatus": 3},
            ],
            "videos": [
                {"videoUrl": "https://x/c.webm", "coverPath": "https://x/c.png", "nodeId": "14", "auditStatus": 3},
                {"videoUrl": "https://x/d.mp4", "auditStatus": 4},
            ],
        }
    )
    result = TaskResult.from_status(status)
    assert [i.image_url for i in result.images] == ["https://x/a.png"]
    assert result.images[0].node_id == "9"
    assert [v.video_url for v in result.videos] == ["https://x/c.webm", "https://x/b.MP4?Expires=1"]
    assert result.videos[0].cover_path == "https://x/c.png" and result.videos[1].node_id == "12"
    assert result.blocked_count == 1  # the blocked video


def test_a_status_without_videos_reads_as_before() -> None:
    status = TaskStatus.model_validate(
        {"generateStatus": 5, "images": [{"imageUrl": "https://x/a.png"}], "videos": None}
    )
    assert TaskResult.from_status(status).videos == ()
