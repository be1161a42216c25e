"""ComfyUI workflows the owner registered (``[[models.comfyui]]``): their mode names, and the submit of a request.

A request for a workflow has the mode ``"comfy:<name>"``; members and admins know it by ``<name>``. The submit
is the workflow's configured node map with the member's prompt, negative prompt, seed, size, input image and
count written into the node inputs the settings name, plus ``workflowUuid`` (liblib-api.md §5.8). Nothing
else in the map changes.
"""

from __future__ import annotations

import copy
import math
import secrets
from typing import Any

from bot.errors import InvalidRequestError
from bot.i18n import N_
from bot.liblib import endpoints
from bot.liblib.endpoints import Family
from bot.liblib.models import ComfyNodeParams, ComfyParams, SubmitRequest
from bot.models import GenerationRequest
from bot.settings import ComfyWorkflow

COMFY_PREFIX = "comfy:"
SIZE_LIMITS = (256, 2048)  # the sides a member's aspect ratio may produce (multiples of 64)
DEFAULT_SIDE = 1024  # a size input the workflow leaves unset
SEED_BOUND = 2**32  # a random seed for a request without one: ComfyUI samplers take 0 .. 2^64-1


def comfy_mode(name: str) -> str:
    """The request mode of the workflow called ``name``."""
    return f"{COMFY_PREFIX}{name}"


def workflow_name(mode: str) -> str | None:
    """The workflow a request mode names, or None when it is no workflow's."""
    return mode.removeprefix(COMFY_PREFIX) if mode.startswith(COMFY_PREFIX) else None


def _split(ref: str) -> tuple[str, str]:
    node_id, _, input_name = ref.partition(".")
    return node_id, input_name


def default_size(workflow: ComfyWorkflow) -> tuple[int, int] | None:
    """The size the workflow is configured with (None: it has no size inputs)."""
    if workflow.width_input is None or workflow.height_input is None:
        return None
    sides = []
    for ref in (workflow.width_input, workflow.height_input):
        node_id, input_name = _split(ref)
        value = workflow.params[node_id].inputs.get(input_name)
        sides.append(value if isinstance(value, int) else DEFAULT_SIDE)
    return sides[0], sides[1]


def ratio_size(ratio: str, area: int) -> tuple[int, int]:
    """Width and height near ``area`` pixels at ``ratio`` ("W:H"): multiples of 64 within ``SIZE_LIMITS``."""
    rw, rh = (int(x) for x in ratio.split(":"))
    height = math.sqrt(area * rh / rw)
    lo, hi = SIZE_LIMITS

    def fit(side: float) -> int:
        return max(lo, min(hi, round(side / 64) * 64))

    return fit(height * rw / rh), fit(height)


def comfy_submit(request: GenerationRequest, workflow: ComfyWorkflow) -> SubmitRequest:
    """The ``/comfyui/app`` submit of ``request`` through ``workflow``."""
    nodes: dict[str, dict[str, Any]] = {
        node_id: {"class_type": node.class_type, "inputs": copy.deepcopy(node.inputs)}
        for node_id, node in workflow.params.items()
    }

    def put(ref: str | None, value: Any) -> None:
        if ref is not None:
            node_id, input_name = _split(ref)
            nodes[node_id]["inputs"][input_name] = value

    put(workflow.prompt_input, request.prompt)
    if request.negative_prompt is not None:
        put(workflow.negative_prompt_input, request.negative_prompt)
    if workflow.seed_input is not None:
        # A request without a seed (Reroll drops it) gets a fresh one: the configured value would repeat the picture.
        put(workflow.seed_input, request.seed if request.seed is not None else secrets.randbelow(SEED_BOUND))
    size = default_size(workflow)
    if size is not None and (request.aspect_ratio or request.width or request.height):
        width, height = size
        if request.width and request.height:
            width, height = request.width, request.height
        elif request.aspect_ratio:
            width, height = ratio_size(request.aspect_ratio, width * height)
        put(workflow.width_input, width)
        put(workflow.height_input, height)
    if request.source_images:
        if workflow.image_input is None:
            raise InvalidRequestError(
                "image", N_("the workflow `{name}` does not take an input image."), name=workflow.name
            )
        put(workflow.image_input, request.source_images[0])
    elif workflow.image_input is not None and workflow.image_required:
        raise InvalidRequestError(
            "image",
            N_("the workflow `{name}` needs an input image: attach one with `image:` or use /restyle."),
            name=workflow.name,
        )
    put(workflow.count_input, request.count)
    params = ComfyParams(
        workflow_uuid=workflow.workflow_uuid,
        nodes={node_id: ComfyNodeParams(**node) for node_id, node in nodes.items()},
        img_count=request.count,
    )
    return SubmitRequest(Family.COMFY, endpoints.COMFY_APP, workflow.template_uuid, params)
