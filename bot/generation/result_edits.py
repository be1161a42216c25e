"""New jobs made from one result image's pixels: Upscale (``bot.generation.upscaling``) and Zoom Out, Make Square
and Pan (``bot.generation.outpainting``).

Each has a request built without I/O (the result URL standing as its source), then its image work (``prepare``),
which the starter runs only once the member passed the admission's pre-check: fetch the result (LiblibAI's copy, or
the one posted on Discord once that expired), check or draw what is sent (on the image workers, never on the event
loop), and publish it for LiblibAI.
"""

from __future__ import annotations

from bot.errors import InvalidRequestError
from bot.generation.builder import RequestBuilder
from bot.generation.comfy import workflow_name
from bot.generation.families import mode_name
from bot.generation.outpainting import CANVAS_LIMITS, OUTPAINT_STRENGTH, outpaint_kinds, upload_limit
from bot.generation.upscaling import Route, UpscaleRoute, upscale_request, upscale_route, upscale_size
from bot.i18n import N_
from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES
from bot.media.canvas import enlarge, render_outpaint
from bot.media.codec import image_size, sniff_input
from bot.media.outpaint import Outpaint
from bot.media.results import MAX_DOWNLOAD_BYTES, PostedImage, result_image_bytes
from bot.media.transport import ImageTransport
from bot.models import GenerationRequest, Job, result_image
from bot.settings import ModelsSettings


class Upscaler:
    """The Upscale of a result: which route (``route``), its request (``request``, no I/O), and the image work once
    the member is admitted (``prepare``: fetch the result, size it, enlarge it where needed, publish it)."""

    def __init__(
        self, builder: RequestBuilder, transport: ImageTransport, models: ModelsSettings, *, strength: float
    ) -> None:
        self._builder = builder
        self._transport = transport
        self._models = models
        self._strength = strength

    def route(self, request: GenerationRequest) -> UpscaleRoute | None:
        return upscale_route(request, self._models)

    def request(self, parent: Job, index: int) -> GenerationRequest:
        """The Upscale's request; InvalidRequestError when the result cannot be upscaled, or its prompt cannot go
        to the mode that would draw it (checked as a member's own request to that mode would be)."""
        route = self.route(parent.request)
        if route is None:
            raise InvalidRequestError("upscale", N_("this result cannot be rendered larger with its mode."))
        request = upscale_request(parent, index, route, strength=self._strength)
        if route.how in (Route.REFERENCE, Route.WORKFLOW):
            name = workflow_name(route.mode) or route.mode
            self._builder.build(request.prompt, mode=name, has_image=True)  # the prompt's language and length
        return request

    async def prepare(
        self, request: GenerationRequest, parent: Job, index: int, *, stem: str, posted: PostedImage | None
    ) -> GenerationRequest:
        """``request`` with its source published (the result's pixels; for Star-3, enlarged) and its target size."""
        route = self.route(parent.request)
        if route is None:  # pragma: no cover - ``request`` refused it before
            raise InvalidRequestError("upscale", N_("this result cannot be rendered larger with its mode."))
        workers = self._transport.workers
        raw, url = await result_image_bytes(self._transport, parent, index, posted=posted)
        width, height = await workers.run(image_size, raw)
        target = upscale_size(route, width, height)
        if target is None:
            raise InvalidRequestError(
                "upscale",
                N_("this image ({width}×{height}) is already about as large as {mode} draws."),
                width=width,
                height=height,
                mode=mode_name(request),
            )
        if route.how is Route.ENLARGED:
            image = await workers.run(enlarge, raw, target, max_bytes=MAX_INPUT_IMAGE_BYTES)
            source = await self._transport.publish(image, source_url=None, stem=stem)
        else:
            image = await workers.run(sniff_input, raw, field="image", max_bytes=MAX_DOWNLOAD_BYTES)
            as_is = len(raw) <= MAX_INPUT_IMAGE_BYTES  # LiblibAI may fetch the URL itself only when it fits
            source = await self._transport.publish(image, source_url=url if as_is else None, stem=stem)
        return request.with_(source_images=(source,), width=target[0], height=target[1])


class Outpainter:
    """Zoom Out, Make Square and Pan through ``[models] outpaint_mode``: which are offered (``kinds``), the request
    (``request``, no I/O) and the canvas work once the member is admitted (``prepare``)."""

    def __init__(self, builder: RequestBuilder, transport: ImageTransport, models: ModelsSettings) -> None:
        self._builder = builder
        self._transport = transport
        self.mode = models.outpaint_mode

    def kinds(self, job: Job) -> list[Outpaint]:
        return outpaint_kinds(job, self.mode)

    def request(self, parent: Job, index: int, *, prompt: str | None = None) -> GenerationRequest:
        """The outpainting of ``parent``'s image ``index`` with ``prompt`` (a Remix's) or the original prompt, checked
        as a member's own request to the inpainting mode would be; its image and mask stand as the result URL until
        ``prepare`` draws them."""
        if not self.mode:
            raise InvalidRequestError("outpaint", N_("zooming out and panning are turned off on this bot."))
        info = self._builder.mode_info(self.mode)
        original = parent.request
        request = self._builder.build(
            prompt or original.prompt,
            mode=self.mode,
            negative_prompt=original.negative_prompt if info.supports_negative else None,
            has_image=True,
            has_mask=True,
            strength=OUTPAINT_STRENGTH if info.supports_strength else None,
        )
        url = result_image(parent, index).url
        return request.with_(source_images=(url,), mask_image=url)

    async def prepare(
        self,
        request: GenerationRequest,
        parent: Job,
        index: int,
        kind: Outpaint,
        *,
        stem: str,
        posted: PostedImage | None,
    ) -> GenerationRequest:
        """``request`` with the canvas (the result placed for ``kind``) and its mask published, and the canvas's
        size (what a custom model draws at)."""
        raw, _ = await result_image_bytes(self._transport, parent, index, posted=posted)
        limit = upload_limit(request.mode)
        drawn = await self._transport.workers.run(render_outpaint, raw, kind, CANVAS_LIMITS, max_bytes=limit)
        canvas = await self._transport.publish(drawn.canvas, source_url=None, stem=f"{stem}-canvas")
        mask = await self._transport.publish(drawn.mask, source_url=None, stem=f"{stem}-mask")
        return request.with_(
            source_images=(canvas,), mask_image=mask, width=drawn.canvas.width, height=drawn.canvas.height
        )
