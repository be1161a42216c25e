"""Files and metadata: input-image uploads to LiblibAI's OSS bucket, result-image downloads from its CDN,
and checkpoint/LoRA metadata (liblib-api.md §7, §8)."""

from __future__ import annotations

import io
import logging
from pathlib import PurePath
from typing import Any

import aiohttp
from yarl import URL

from bot.backoff import parse_retry_after
from bot.liblib import endpoints
from bot.liblib.base import BaseClient
from bot.liblib.envelope import http_error, snippet, transport_errors
from bot.liblib.errors import LiblibModelNotFoundError, LiblibPayloadTooLargeError, LiblibStatusError
from bot.liblib.models import ModelVersion, UploadSignature

log = logging.getLogger(__name__)

UPLOAD_EXTENSIONS = frozenset({"jpg", "jpeg", "png"})
_CONTENT_TYPE_EXTENSIONS = {"image/png": "png", "image/jpeg": "jpg", "image/jpg": "jpg"}
_CHUNK = 64 * 1024


class FilesMixin(BaseClient):
    """Uploads, downloads and model metadata, all queries under the base client's retry policy."""

    async def request_upload_signature(self, name: str, extension: str) -> UploadSignature:
        """A PostObject signature for one upload (§7 step 1)."""
        return await self._request(
            endpoints.UPLOAD_SIGNATURE,
            {"name": name, "extension": extension},
            kind="query",
            parse=UploadSignature.model_validate,
        )

    async def upload_image(self, data: bytes, filename: str, content_type: str) -> str:
        """Upload a jpg/png (≤10 MB) to LiblibAI's OSS bucket and return its public URL.

        Raises ``ValueError`` for a wrong type or size (check before calling).
        """
        if len(data) > endpoints.MAX_INPUT_IMAGE_BYTES:
            raise ValueError(
                f"the image is {len(data) / 1048576:.1f} MB; the limit is "
                f"{endpoints.MAX_INPUT_IMAGE_BYTES // 1048576} MB"
            )
        stem, extension = _split_filename(filename, content_type)
        signature = await self.request_upload_signature(stem, extension)
        upload_name = f"{stem}.{extension}"

        async def attempt() -> None:
            form = aiohttp.FormData(quote_fields=False)
            for name, value in signature.form_fields():
                form.add_field(name, value)
            # A stream, not the bytes: aiohttp warns that a body over 1 MB given as bytes may block the loop.
            form.add_field("file", io.BytesIO(data), filename=upload_name, content_type=content_type)
            with transport_errors("oss upload"):
                async with self._http().post(signature.post_url, data=form, timeout=self._transfer_timeout) as resp:
                    body = await resp.read()
                    if not 200 <= resp.status < 300:
                        log.warning("liblib oss upload: HTTP %d", resp.status)
                        raise http_error(
                            resp.status,
                            f"upload rejected by storage ({snippet(body)})",
                            path="oss upload",
                            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                        )

        await self._with_retries("query", "oss upload", attempt)
        return signature.public_url

    async def get_model_version(self, version_uuid: str) -> ModelVersion:
        """Checkpoint/LoRA metadata (§8); accepts the enveloped camelCase and the bare snake_case answer."""
        try:
            return await self._request(
                endpoints.MODEL_VERSION,
                {"versionUuid": version_uuid},
                kind="query",
                parse=_parse_model_version,
                allow_bare=True,
            )
        except LiblibStatusError as exc:
            if type(exc) is LiblibStatusError and exc.status in (400, 404):  # bare {"message": ...} form
                raise LiblibModelNotFoundError(exc.message, status=exc.status, code=exc.code, path=exc.path) from exc
            raise

    async def download(self, url: str, *, max_bytes: int) -> bytes:
        """GET a result image (no auth), refusing more than ``max_bytes``; transient errors are retried."""
        label = f"download {URL(url).path}"

        async def attempt() -> bytes:
            with transport_errors(label):
                async with self._http().get(url, timeout=self._transfer_timeout) as resp:
                    self._note_answer(resp.headers)
                    if resp.status != 200:
                        await resp.read()
                        raise http_error(
                            resp.status,
                            "result image fetch failed",
                            path=label,
                            retry_after=parse_retry_after(resp.headers.get("Retry-After")),
                        )
                    if resp.content_length is not None and resp.content_length > max_bytes:
                        raise LiblibPayloadTooLargeError(f"{label}: {resp.content_length} bytes > {max_bytes}")
                    buffer = bytearray()
                    async for chunk in resp.content.iter_chunked(_CHUNK):
                        buffer += chunk
                        if len(buffer) > max_bytes:
                            raise LiblibPayloadTooLargeError(f"{label}: more than {max_bytes} bytes")
                    return bytes(buffer)

        return await self._with_retries("query", label, attempt)


def _parse_model_version(data: Any) -> ModelVersion:
    if isinstance(data, dict) and "message" in data and not ({"versionUuid", "version_uuid"} & data.keys()):
        raise LiblibModelNotFoundError(str(data["message"]), code=200001, path=endpoints.MODEL_VERSION)
    return ModelVersion.model_validate(data)


def _split_filename(filename: str, content_type: str) -> tuple[str, str]:
    """(name, extension) for the upload signature: the stem (1–100 chars) and jpg/jpeg/png."""
    pure = PurePath(filename or "image")
    extension = pure.suffix.lstrip(".").lower()
    if not extension:
        extension = _CONTENT_TYPE_EXTENSIONS.get(content_type.lower(), "")
    if extension not in UPLOAD_EXTENSIONS:
        raise ValueError(f"only jpg, jpeg and png images can be uploaded (got {extension or content_type!r})")
    stem = (pure.stem if pure.suffix else pure.name).strip() or "image"
    return stem[:100], extension
