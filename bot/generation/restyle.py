"""Restyling an image: choose the mode, validate (no I/O), then fetch, check and publish the images.

Shared by the three ways in (reply + mention, the "Restyle image" context menu, ``/restyle``). Images
are referenced by URL (``SourceRef``); the fetcher enforces the host allowlist, size cap and timeout,
``sniff_input`` the real type and dimensions, and the transport hands them to LiblibAI.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from bot.errors import InvalidRequestError
from bot.generation.builder import ASPECT_RATIOS, RequestBuilder
from bot.media.codec import MAX_INPUT_BYTES, InputImage, as_png_mask, sniff_input
from bot.media.sources import SourceImageFetcher
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """An image a member pointed at, with what Discord told us about it (None: unknown)."""

    url: str
    field: str = "image"
    size: int | None = None
    content_type: str | None = None
    filename: str | None = None

    @property
    def looks_like_image(self) -> bool:
        if self.content_type:
            return self.content_type.startswith("image/")
        return (self.filename or "").lower().endswith(IMAGE_EXTENSIONS) or self.filename is None

    def check(self) -> None:
        """Metadata checks only (no I/O): the declared size and type."""
        if self.size is not None and self.size > MAX_INPUT_BYTES:
            raise InvalidRequestError(
                self.field,
                "the file is {size:.1f} MB; the limit is {limit:.0f} MB.",
                size=self.size / 1_048_576,
                limit=MAX_INPUT_BYTES // 1_048_576,
            )
        if not self.looks_like_image:
            raise InvalidRequestError(self.field, "that attachment is not an image (PNG, JPEG, WebP or GIF).")


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The supported ratio ("W:H") closest to the image's, so a restyle keeps its shape."""
    target = width / height

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(w / h - target)

    return min(ASPECT_RATIOS, key=distance)


def restyle_mode(builder: RequestBuilder, default_mode: str, requested: str | None, image_count: int) -> str:
    """The mode to use: the member's, else the restyle default (Kontext max when several images are given,
    since Kontext pro takes a single reference)."""
    if requested:
        return requested
    if image_count > 1 and builder.resolve_mode(default_mode) == "kontext-pro":
        return "kontext-max"
    return default_mode


def build_restyle_request(
    builder: RequestBuilder,
    prompt: str,
    *,
    mode: str,
    strength: float | None = None,
    reference_count: int = 0,
    has_mask: bool = False,
    negative_prompt: str | None = None,
    aspect_ratio: str | None = None,
    count: int | None = None,
    seed: int | None = None,
    steps: int | None = None,
) -> GenerationRequest:
    """Validate an img2img request before any I/O; strength only where the mode has it."""
    info = builder.mode_info(builder.resolve_mode(mode))
    if strength is not None and not info.supports_strength:
        custom = [m.name for m in builder.modes() if m.supports_strength]
        if custom:
            raise InvalidRequestError(
                "strength",
                "{label} has no strength setting. Try a custom model ({models}).",
                label=info.label,
                models=", ".join(custom),
            )
        raise InvalidRequestError("strength", "{label} has no strength setting.", label=info.label)
    return builder.build(
        prompt,
        mode=mode,
        negative_prompt=negative_prompt,
        aspect_ratio=aspect_ratio,
        count=count,
        seed=seed,
        steps=steps,
        has_image=True,
        reference_count=reference_count,
        strength=strength,
        has_mask=has_mask,
    )


class SourcePublisher:
    """Fetch → sniff → publish the images of one restyle job."""

    def __init__(self, fetcher: SourceImageFetcher, transport: ImageTransport) -> None:
        self._fetcher = fetcher
        self._transport = transport

    async def _load(self, ref: SourceRef) -> InputImage:
        data = await self._fetcher.fetch(ref.url, field=ref.field)
        return sniff_input(data, field=ref.field)

    async def _publish(self, ref: SourceRef, image: InputImage, original: bytes | None, stem: str) -> str:
        # LiblibAI may fetch the Discord URL itself (transport "url") only when we send the bytes unchanged.
        source_url = ref.url if image.data is original else None
        return await self._transport.publish(image, source_url=source_url, stem=stem)

    async def prepare(
        self,
        request: GenerationRequest,
        source: SourceRef,
        references: Sequence[SourceRef] = (),
        mask: SourceRef | None = None,
        *,
        job_id: str,
    ) -> GenerationRequest:
        """Every image checked first (so a bad one costs no upload), then published; returns the request
        with its image URLs, and an aspect ratio matching the source where the mode takes one."""
        refs = [source, *references]
        raw = [await self._fetcher.fetch(ref.url, field=ref.field) for ref in refs]
        images = [sniff_input(data, field=ref.field) for ref, data in zip(refs, raw, strict=True)]
        mask_image: InputImage | None = None
        if mask is not None:
            mask_image = as_png_mask(await self._load(mask))
            main = images[0]
            if (mask_image.width, mask_image.height) != (main.width, main.height):
                raise InvalidRequestError(
                    "mask",
                    "the mask is {width}×{height} but the image is {image_width}×{image_height}; "
                    "they must be the same size.",
                    width=mask_image.width,
                    height=mask_image.height,
                    image_width=main.width,
                    image_height=main.height,
                )
        urls = []
        for index, (ref, image, data) in enumerate(zip(refs, images, raw, strict=True)):
            stem = f"{job_id}-src" if index == 0 else f"{job_id}-ref{index}"
            urls.append(await self._publish(ref, image, data, stem))
        changes: dict[str, object] = {"source_images": tuple(urls)}
        if mask_image is not None:
            changes["mask_image"] = await self._transport.publish(mask_image, source_url=None, stem=f"{job_id}-mask")
        if request.mode != "star3" and request.aspect_ratio is None:
            changes["aspect_ratio"] = nearest_aspect_ratio(images[0].width, images[0].height)
        return request.with_(**changes)
