"""/blend: two to five images into one, through a mode that takes that many reference images (F.1 Kontext max up to
4, Seedream 4.0 up to 10 and 4.5 up to 14, Smart IMG1 up to 8), with an optional prompt and aspect ratio. Pure
rules (no I/O): which modes can, and the request in one of them. The member's mode, else the cheapest of those
modes the server allows (``JobService.cheapest_admitted``).
"""

from __future__ import annotations

from bot.generation.builder import RequestBuilder
from bot.models import GenerationRequest

MIN_IMAGES = 2
MAX_IMAGES = 5
# Sent to LiblibAI when the member gives no prompt; also shown as the result's prompt.
DEFAULT_PROMPT = "Blend these images into one coherent picture that combines their subjects, styles and colours."


def blend_modes(builder: RequestBuilder, count: int) -> list[str]:
    """The configured modes that take ``count`` images as references in one request (not inpainting, not a
    workflow: those take one image)."""
    return [
        m.name
        for m in builder.modes()
        if m.takes_image and not m.workflow and not m.needs_mask and m.max_references >= count
    ]


def blend_request(
    builder: RequestBuilder, prompt: str | None, *, mode: str, aspect_ratio: str | None, count: int
) -> GenerationRequest:
    """The blend of ``count`` images in ``mode``, checked as a member's own request would be (InvalidRequestError
    when that mode cannot take it); its image URLs are filled in once they are fetched and published."""
    return builder.build(
        prompt or DEFAULT_PROMPT,
        mode=mode,
        aspect_ratio=aspect_ratio,
        has_image=True,
        reference_count=count - 1,
    )
