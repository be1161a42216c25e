"""Hand member images to LiblibAI in a form it can fetch (setting ``liblib.image_transport``).

Discord attachment URLs expire, so ``upload`` copies the bytes into LiblibAI's own storage through the
upload-signature flow; ``url`` passes the Discord URL through; ``auto`` uploads and falls back to the URL.
What is uploaded is a PNG or JPEG within LiblibAI's size limit (``as_png_or_jpeg``), converted on the image
workers, never on the event loop.
"""

from __future__ import annotations

import logging
from typing import Literal

from bot import liblib
from bot.errors import ServiceUnavailableError
from bot.i18n import N_
from bot.media.codec import InputImage, as_png_or_jpeg
from bot.media.workers import ImageWorkers

log = logging.getLogger(__name__)


class ImageTransport:
    def __init__(
        self, client: liblib.LiblibClient, mode: Literal["url", "upload", "auto"], *, workers: ImageWorkers
    ) -> None:
        self._client = client
        self._mode = mode
        self._workers = workers

    @property
    def workers(self) -> ImageWorkers:
        """The pool this transport converts images on; the code preparing images for it checks them there too."""
        return self._workers

    async def publish(self, image: InputImage, *, source_url: str | None, stem: str) -> str:
        if self._mode == "url" and source_url:
            return source_url
        upload = await self._workers.run(as_png_or_jpeg, image)
        try:
            return await self._client.upload_image(upload.data, f"{stem}.{upload.extension}", upload.content_type)
        except liblib.LiblibError as exc:
            if self._mode == "auto" and source_url:
                log.warning("image upload failed (%s); passing the attachment URL instead", type(exc).__name__)
                return source_url
            raise ServiceUnavailableError(
                N_("Could not upload your image to the image service. Please try again.")
            ) from exc

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """Fetch an image LiblibAI produced (a stored result), e.g. to re-post it or to vary it."""
        return await self._client.download(url, max_bytes=max_bytes)
