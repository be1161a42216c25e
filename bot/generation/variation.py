"""Vary (Subtle) and Vary (Strong): how far a variation may stray from its image, and what that means in the
words a family understands. A Vary records only its strength (``GenerationRequest.variation``); each family's
mapping in ``bot.generation.families`` turns it into the family's own lever at submit:

* custom checkpoints (img2img ``denoisingStrength``): ``[actions] vary_strength`` (subtle, 0.35) or
  ``vary_strong_strength`` (strong, 0.75); a strength the member chose (a restyle) always wins;
* F.1 Kontext, Seedream and IMG1 (they follow instructions and take no strength; the image is their reference):
  the instruction below, before the prompt;
* Star-3 Alpha (its img2img route takes no strength, liblib-api.md §5.2): subtle is its img2img from the image;
  strong draws anew from the prompt with the image as an ``IPAdapter`` reference (its content and style, not
  its layout).
"""

from __future__ import annotations

from enum import StrEnum

from bot.liblib.endpoints import PROMPT_MAX_CHARS


class Variation(StrEnum):
    SUBTLE = "subtle"
    STRONG = "strong"


# Sent to LiblibAI as they are (the prompt is the model's input, not a member-facing text).
INSTRUCTIONS: dict[Variation, str] = {
    Variation.SUBTLE: (
        "Make a subtle variation of this image: keep its subject, composition, colours and style, "
        "and change only small details."
    ),
    Variation.STRONG: (
        "Make a significantly different variation of this image: keep its subject and theme, "
        "but change the composition, pose, lighting and details."
    ),
}
_PROMPT_LEAD = " Original prompt: "


def variation_of(request_variation: str | None) -> Variation | None:
    """The request's variation; None for a request that is no Vary (or names one this version does not know)."""
    try:
        return Variation(request_variation) if request_variation else None
    except ValueError:
        return None


def instructed_prompt(prompt: str, variation: Variation) -> str:
    """``prompt`` after the variation's instruction, within LiblibAI's prompt limit (the prompt is cut, not the
    instruction)."""
    lead = INSTRUCTIONS[variation] + _PROMPT_LEAD
    room = PROMPT_MAX_CHARS - len(lead)
    return lead + (prompt if len(prompt) <= room else prompt[: room - 1] + "…")
