"""The ``generateParams`` of a ComfyUI workflow (``/api/generate/comfyui/app``, liblib-api.md §5.8).

They are the workflow's node map, node id → ``{"class_type": ..., "inputs": {...}}``, plus the string key
``"workflowUuid"`` naming the workflow registered on the account. Only ``inputs`` are customised; everything
is sent as given, so nothing here renames keys (inputs keep ComfyUI's own spelling).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_serializer

WORKFLOW_KEY = "workflowUuid"


class ComfyNodeParams(BaseModel):
    model_config = ConfigDict(extra="forbid")

    class_type: str = Field(min_length=1)
    inputs: dict[str, Any] = Field(default_factory=dict)


class ComfyParams(BaseModel):
    """A workflow's node map and its ``workflowUuid``; dumps to the flat wire form."""

    model_config = ConfigDict(extra="forbid")

    workflow_uuid: str = Field(min_length=1)
    nodes: dict[str, ComfyNodeParams] = Field(min_length=1)
    img_count: int = Field(1, ge=1)  # the outputs the bot expects (not sent: the workflow decides)

    @field_validator("nodes")
    @classmethod
    def _no_node_named_like_the_workflow_key(cls, value: dict[str, ComfyNodeParams]) -> dict[str, ComfyNodeParams]:
        if WORKFLOW_KEY in value:
            raise ValueError(f"{WORKFLOW_KEY} is not a node id")
        return value

    @model_serializer(mode="plain")
    def _wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            node_id: {"class_type": node.class_type, "inputs": node.inputs} for node_id, node in self.nodes.items()
        }
        wire[WORKFLOW_KEY] = self.workflow_uuid
        return wire
