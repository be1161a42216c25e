"""ComfyUI workflows as an owner registers them (``[[models.comfyui]]``), shared by the tests."""

from __future__ import annotations

import copy
from typing import Any

TEXT_UUID = "0123456789abcdef0123456789abcdef"
IMAGE_UUID = "fedcba9876543210fedcba9876543210"
VIDEO_UUID = "00112233445566778899aabbccddeeff"

# ComfyUI's default text-to-image graph in API format (node id -> class_type, inputs).
TEXT_PARAMS: dict[str, Any] = {
    "3": {
        "class_type": "KSampler",
        "inputs": {
            "seed": 5,
            "steps": 20,
            "cfg": 8,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1,
            "model": ["4", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "v1-5-pruned-emaonly.safetensors"}},
    "5": {"class_type": "EmptyLatentImage", "inputs": {"width": 512, "height": 768, "batch_size": 1}},
    "6": {"class_type": "CLIPTextEncode", "inputs": {"text": "", "clip": ["4", 1]}},
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "blurry", "clip": ["4", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
}


def text_workflow(**changes: Any) -> dict[str, Any]:
    """A text-to-image workflow: prompt, negative, seed, size and batch size mapped."""
    return {
        "name": "sd15-flow",
        "label": "SD 1.5 flow",
        "description": "Plain SD 1.5 through the owner's ComfyUI graph",
        "workflow_uuid": TEXT_UUID,
        "prompt_input": "6.text",
        "negative_prompt_input": "7.text",
        "seed_input": "3.seed",
        "width_input": "5.width",
        "height_input": "5.height",
        "count_input": "5.batch_size",
        "params": copy.deepcopy(TEXT_PARAMS),
        **changes,
    }


def image_workflow(**changes: Any) -> dict[str, Any]:
    """An image-to-image workflow: a LoadImage node feeds the sampler."""
    params = copy.deepcopy(TEXT_PARAMS)
    params["10"] = {"class_type": "LoadImage", "inputs": {"image": ""}}
    params["11"] = {"class_type": "VAEEncode", "inputs": {"pixels": ["10", 0], "vae": ["4", 2]}}
    params["3"]["inputs"] |= {"latent_image": ["11", 0], "denoise": 0.6}
    del params["5"]
    return {
        "name": "repaint-flow",
        "description": "Repaints a picture",
        "workflow_uuid": IMAGE_UUID,
        "prompt_input": "6.text",
        "seed_input": "3.seed",
        "image_input": "10.image",
        "params": params,
        **changes,
    }


def video_workflow(**changes: Any) -> dict[str, Any]:
    """A workflow whose output node writes a video."""
    params = copy.deepcopy(TEXT_PARAMS)
    params["9"] = {
        "class_type": "VHS_VideoCombine",
        "inputs": {"frame_rate": 8, "format": "video/h264-mp4", "images": ["8", 0]},
    }
    return {
        "name": "clip-flow",
        "description": "A short clip",
        "workflow_uuid": VIDEO_UUID,
        "prompt_input": "6.text",
        "video": True,
        "params": params,
        **changes,
    }


def prices(*workflows: dict[str, Any], points: int = 12) -> dict[str, int]:
    return {w["name"]: points for w in workflows}
