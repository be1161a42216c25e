"""Restyling an image: choose the mode, validate (no I/O), then fetch, check and publish the images.

Shared by the three ways in (reply + mention, the "Restyle image" context menu, ``/restyle``); /imagine's
input images take the same ``SourcePublisher`` path. Images are referenced by URL (``SourceRef``); the
fetcher enforces the host allowlist, size cap and timeout, ``sniff_input`` the real type and dimensions,
and the transport hands them to LiblibAI. Decoding and converting run on the transport's image workers,
off the event loop.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot.errors import InvalidRequestError
from bot.generation.builder import ASPECT_RATIOS, RequestBuilder
from bot.generation.families import keeps_source_shape, kontext_mode
from bot.i18n import N_
from bot.liblib.endpoints import IMG1_INPAINT_MAX_BYTES, MAX_INPUT_IMAGE_BYTES
from bot.media.codec import InputImage, as_png_mask, as_png_or_jpeg, sniff_input
from bot.media.sources import SourceImageFetcher, SourceRef
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest

log = logging.getLogger(__name__)


def nearest_aspect_ratio(width: int, height: int) -> str:
    """The supported ratio ("W:H") closest to the image's, so a restyle keeps its shape."""
    target = width / height

    def distance(ratio: str) -> float:
        w, h = (int(x) for x in ratio.split(":"))
        return abs(w / h - target)

    return min(ASPECT_RATIOS, key=distance)


def shaped_like_source(request: GenerationRequest, width: int, height: int) -> GenerationRequest:
    """An image-to-image request keeps its source's shape (``width`` x ``height``): modes that take an aspect
    ratio (Kontext, custom models) get the nearest supported one unless one was asked for (Star-3 image-to-image
    takes no aspect ratio, and IMG1's "auto" follows its images)."""
    if keeps_source_shape(request.mode) and request.aspect_ratio is None:
        return request.with_(aspect_ratio=nearest_aspect_ratio(width, height))
    return request


def restyle_mode(builder: RequestBuilder, default_mode: str, requested: str | None, image_count: int) -> str:
    """The mode to use: the member's, else the restyle default (Kontext max when several images are given,
    since Kontext pro takes a single reference)."""
    if requested:
        return requested
    if image_count > 1 and builder.resolve_mode(default_mode) == kontext_mode("pro"):
        return kontext_mode("max")
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
                N_("{label} has no strength setting. Try a custom model ({models})."),
                label=info.label,
                models=", ".join(custom),
            )
        raise InvalidRequestError("strength", N_("{label} has no strength setting."), label=info.label)
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


@dataclass(frozen=True, slots=True)
class _Fetched:
    ref: SourceRef
    raw: bytes  # as downloaded
    image: InputImage  # checked, possibly converted (GIF → PNG)


class SourcePublisher:
    """Fetch → sniff → publish a job's input images (/imagine's and every restyle's alike)."""

    def __init__(self, fetcher: SourceImageFetcher, transport: ImageTransport) -> None:
        self._fetcher = fetcher
        self._transport = transport
        self._workers = transport.workers

    async def _fetch(self, ref: SourceRef) -> _Fetched:
        raw = await self._fetcher.fetch(ref.url, field=ref.field)
        return _Fetched(ref, raw, await self._workers.run(sniff_input, raw, field=ref.field))

    async def _publish(self, fetched: _Fetched, stem: str) -> str:
        # LiblibAI may fetch the Discord URL itself (transport "url") only when we send the bytes unchanged.
        source_url = fetched.ref.url if fetched.image.data is fetched.raw else None
        return await self._transport.publish(fetched.image, source_url=source_url, stem=stem)

    async def prepare_imagine(
        self,
        request: GenerationRequest,
        images: Sequence[SourceRef],
        control_image: SourceRef | None,
        *,
        job_id: str,
    ) -> GenerationRequest:
        """/imagine's input images (the start image or the references, in order; maybe none) and control image
        (optional): all checked first, then published."""
        stems = [f"{job_id}-src", *(f"{job_id}-ref{index}" for index in range(1, len(images)))]
        refs = [*zip(stems, images, strict=True), *([(f"{job_id}-ctl", control_image)] if control_image else [])]
        fetched = [(stem, await self._fetch(ref)) for stem, ref in refs]
        urls = [await self._publish(f, stem) for stem, f in fetched]
        changes: dict[str, object] = {}
        if images:
            changes["source_images"] = tuple(urls[: len(images)])
        if control_image is not None:
            changes["control_image"] = urls[-1]
        return request.with_(**changes)

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
        fetched = [await self._fetch(ref) for ref in (source, *references)]
        main = fetched[0].image
        mask_image: InputImage | None = None
        if mask is not None:
            mask_image = (await self._fetch(mask)).image
            if (mask_image.width, mask_image.height) != (main.width, main.height):
                raise InvalidRequestError(
                    "mask",
                    N_(
                        "the mask is {width}×{height} but the image is {image_width}×{image_height}; "
                        "they must be the same size."
                    ),
                    width=mask_image.width,
                    height=mask_image.height,
                    image_width=main.width,
                    image_height=main.height,
                )
            # The mask must match the image LiblibAI gets, which may have been downscaled to fit its limit
            # (Smart IMG1 inpaint takes an image and a mask of at most 4 MB each, liblib-api.md §9).
            limit = IMG1_INPAINT_MAX_BYTES if request.mode == "img1-inpaint" else MAX_INPUT_IMAGE_BYTES
            upload = await self._workers.run(as_png_or_jpeg, main, max_bytes=limit)
            fetched[0] = replace(fetched[0], image=upload)
            size = (upload.width, upload.height)
            mask_image = await self._workers.run(as_png_mask, mask_image, size=size, max_bytes=limit)
        stems = [f"{job_id}-src", *(f"{job_id}-ref{index}" for index in range(1, len(fetched)))]
        urls = [await self._publish(f, stem) for f, stem in zip(fetched, stems, strict=True)]
        changes: dict[str, object] = {"source_images": tuple(urls)}
        if mask_image is not None:
            changes["mask_image"] = await self._transport.publish(mask_image, source_url=None, stem=f"{job_id}-mask")
        return shaped_like_source(request.with_(**changes), main.width, main.height)
