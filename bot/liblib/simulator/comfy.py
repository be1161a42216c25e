"""ComfyUI workflows in the simulator: ``/api/generate/comfyui/app`` (liblib-api.md §5.8) and their outputs.

Validation follows what PROBE saw on the real service, in its order: an empty ``generateParams`` → 100050; no
``workflowUuid`` → 100000 "参数无效: workflowUuid"; a wrong ``templateUuid`` → 100000 "参数无效: template not
found, templateUuid: x". Then every node must be ``{"class_type": str, "inputs": {...}}``.

Any ``workflowUuid`` runs (the real account's workflows are unknown here); ``register_workflow`` gives one its
price per output, its timing, another template, or makes it output a video (listed under ``videos``, or among
the ``images`` with a video URL). The outputs follow the node map: one image per ``batch_size`` for each
``SaveImage``/``PreviewImage`` node, one video per video node (``VHS_VideoCombine``, ``SaveVideo``...), sized by
the first node with ``width``/``height`` inputs (else the input image), seeded by the first ``seed`` or
``noise_seed``. Image inputs given as URLs are fetched like the real service's.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.liblib import endpoints as ep
from bot.liblib.simulator.images import clamp_size
from bot.liblib.simulator.validate import MSG_INCOMPLETE, Rejection, invalid

Durations = tuple[float, float, float]

WORKFLOW_KEY = "workflowUuid"
IMAGE_OUTPUT_TYPES = frozenset({"SaveImage", "PreviewImage"})
MAX_BATCH = 8
DEFAULT_VIDEO_BYTES = 64 * 1024
_PROMPT_INPUTS = ("text", "prompt", "positive", "text_g")
_SEED_INPUTS = ("seed", "noise_seed")


@dataclass(frozen=True, slots=True)
class SimWorkflow:
    """How the simulator runs one workflow (``Simulator.register_workflow``)."""

    uuid: str
    points_per_output: int | None = None  # None: the simulator's "comfy" price
    video: bool = False  # make a video (even when the node map has no video node)
    video_in_images: bool = False  # list the video among ``images`` (a URL ending .mp4), not under ``videos``
    video_bytes: int = DEFAULT_VIDEO_BYTES  # size of the simulated video file
    durations: Durations | None = None  # seconds in status 1, 2 and 3+4; None: the simulator's
    template_uuid: str = ep.TEMPLATE_COMFY


@dataclass(frozen=True, slots=True)
class PlannedOutput:
    node_id: str
    output_name: str  # "images" or "videos"
    video: bool


@dataclass(frozen=True, slots=True)
class ComfyPlan:
    """What a submitted workflow will output."""

    outputs: tuple[PlannedOutput, ...]
    width: int
    height: int
    seed: int  # -1: random
    prompt: str
    video_in_images: bool = False
    video_bytes: int = DEFAULT_VIDEO_BYTES


def check_submit(body: Mapping[str, Any], templates: frozenset[str]) -> Rejection | None:
    """None when the body is a well-formed workflow submit; else the real service's answer, in PROBE's order."""
    params = body.get("generateParams")
    if not isinstance(params, dict) or not params:
        return Rejection(100050, MSG_INCOMPLETE)
    workflow = params.get(WORKFLOW_KEY)
    if not isinstance(workflow, str) or not workflow.strip():
        return invalid(WORKFLOW_KEY)
    template = body.get("templateUuid")
    if not isinstance(template, str) or not template:
        return invalid("templateUuid")
    if template not in templates:
        return invalid(f"template not found, templateUuid: {template}")
    nodes = nodes_of(params)
    if not nodes:
        return Rejection(100050, MSG_INCOMPLETE)
    for node_id, node in nodes.items():
        if not isinstance(node, dict) or not isinstance(node.get("class_type"), str) or not node["class_type"]:
            return invalid(f"{node_id}.class_type")
        if not isinstance(node.get("inputs"), dict):
            return invalid(f"{node_id}.inputs")
    return None


def nodes_of(params: Mapping[str, Any]) -> dict[str, Any]:
    return {node_id: node for node_id, node in params.items() if node_id != WORKFLOW_KEY}


def _inputs(params: Mapping[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(node id, inputs) of every node, in node-id order (numeric ids by value)."""
    nodes = nodes_of(params)
    order = sorted(nodes, key=lambda k: [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", k)])
    return [(node_id, nodes[node_id]["inputs"]) for node_id in order]


def texts(params: Mapping[str, Any]) -> list[str]:
    """Every string input (the prompts among them), for the sensitive-word check."""
    return [value for _, inputs in _inputs(params) for value in inputs.values() if isinstance(value, str)]


def source_urls(params: Mapping[str, Any]) -> list[str]:
    """Image inputs given as URLs: the service downloads them."""
    return [
        value
        for _, inputs in _inputs(params)
        for name, value in inputs.items()
        if "image" in name.lower() and isinstance(value, str) and value.startswith(("http://", "https://"))
    ]


def _first_int(params: Mapping[str, Any], names: tuple[str, ...]) -> int | None:
    for _, inputs in _inputs(params):
        for name in names:
            value = inputs.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def _is_video_node(class_type: str) -> bool:
    return "video" in class_type.lower() and ("Save" in class_type or "Combine" in class_type)


def plan(params: Mapping[str, Any], workflow: SimWorkflow, sources: list[tuple[int, int]]) -> ComfyPlan:
    """The outputs of a (checked) workflow submit."""
    nodes = nodes_of(params)
    batch = max(1, min(MAX_BATCH, _first_int(params, ("batch_size",)) or 1))
    outputs: list[PlannedOutput] = []
    for node_id, _ in _inputs(params):
        class_type = nodes[node_id]["class_type"]
        if _is_video_node(class_type):
            outputs.append(PlannedOutput(node_id, "videos", True))
        elif class_type in IMAGE_OUTPUT_TYPES or class_type.endswith("SaveImage"):
            outputs.extend(PlannedOutput(node_id, "images", False) for _ in range(batch))
    if not outputs:  # no output node: the last node's output
        outputs.append(PlannedOutput(_inputs(params)[-1][0], "images", False))
    if workflow.video and not any(o.video for o in outputs):
        outputs = [PlannedOutput(outputs[0].node_id, "videos", True)]
    width, height = 1024, 1024
    for _, inputs in _inputs(params):
        w, h = inputs.get("width"), inputs.get("height")
        if isinstance(w, int) and isinstance(h, int) and w > 0 and h > 0:
            width, height = clamp_size((w, h), 64, 2048)
            break
    else:
        if sources:
            width, height = clamp_size(sources[0], 64, 2048)
    seed = _first_int(params, _SEED_INPUTS)
    prompt = next(
        (
            str(inputs[name])
            for _, inputs in _inputs(params)
            for name in _PROMPT_INPUTS
            if isinstance(inputs.get(name), str) and inputs[name]
        ),
        "ComfyUI workflow",
    )
    return ComfyPlan(
        outputs=tuple(outputs),
        width=width,
        height=height,
        seed=seed if seed is not None and seed >= 0 else -1,
        prompt=prompt,
        video_in_images=workflow.video_in_images,
        video_bytes=workflow.video_bytes,
    )


def _box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def fake_mp4(label: str, size: int) -> bytes:
    """An ISO-BMFF file (``ftyp`` + ``mdat``) of about ``size`` bytes: typed as MP4, not playable."""
    ftyp = _box(b"ftyp", b"isom" + (512).to_bytes(4, "big") + b"isomiso2mp41")
    filler = hashlib.sha256(label.encode()).digest()
    length = max(0, size - len(ftyp) - 8)
    payload = (filler * (length // len(filler) + 1))[:length]
    return ftyp + _box(b"mdat", payload)
