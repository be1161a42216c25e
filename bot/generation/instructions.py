"""The instruction an Upscale sends before the prompt to a family that follows instructions and takes the result
as its reference (Seedream; ``[models] upscale_reference_mode``): those families have no strength to keep the
picture with, so they are told to. The member's request keeps its own prompt; only the submit carries this.
"""

from __future__ import annotations

from bot.liblib.endpoints import PROMPT_MAX_CHARS

# Sent to LiblibAI as it is (the prompt is the model's input, not a member-facing text).
UPSCALE = (
    "Upscale this image to a higher resolution, keep every detail: the same subject, composition, colours, "
    "lighting and style, only sharper and with finer detail. Do not add, remove or move anything."
)
_PROMPT_LEAD = " Original prompt: "


def upscale_prompt(prompt: str) -> str:
    """``prompt`` after the upscale instruction, within LiblibAI's prompt limit (the prompt is cut, not the
    instruction)."""
    lead = UPSCALE + _PROMPT_LEAD
    room = PROMPT_MAX_CHARS - len(lead)
    return lead + (prompt if len(prompt) <= room else prompt[: room - 1] + "…")
