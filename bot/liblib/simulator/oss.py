"""The simulator's stand-in for the Aliyun OSS PostObject upload (liblib-api.md §7).

``issue`` answers ``/api/generate/upload/signature``; ``handle_post`` is ``POST /oss`` (the multipart
form with the seven fields in order and ``file`` last, answered 204 like Aliyun); ``handle_get`` serves
the stored bytes at ``/oss/<key>`` so ``postUrl + "/" + key`` works as a source image.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiohttp import BodyPartReader, web

log = logging.getLogger(__name__)

FORM_FIELDS = (
    "key",
    "policy",
    "x-oss-date",
    "x-oss-expires",
    "x-oss-signature",
    "x-oss-credential",
    "x-oss-signature-version",
)
EXTENSIONS = {"jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png"}
MAX_UPLOAD_BYTES = 10 * 1024 * 1024
EXPIRES_SECONDS = 3600
_OSS_ACCESS_ID = "LTAI5tSimulatorOssKey"


@dataclass(slots=True)
class _Grant:
    policy: str
    signature: str
    expires_at: float  # time.monotonic()


@dataclass(slots=True)
class _Object:
    data: bytes
    content_type: str


def _oss_error(status: int, code: str, message: str) -> web.Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message><HostId>simulator</HostId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


class OssStore:
    """Issued upload grants and uploaded objects, kept in memory."""

    def __init__(self, on_upload: Callable[[], None] | None = None) -> None:
        self._grants: dict[str, _Grant] = {}
        self._objects: dict[str, _Object] = {}
        self._secret = secrets.token_bytes(16)
        self._on_upload = on_upload

    def issue(self, extension: str, base_url: str) -> dict[str, object]:
        """The ``data`` of a successful upload-signature answer, with a fresh key."""
        now = datetime.now(UTC)
        key = f"aliyun-cn-prod/{secrets.token_hex(16)}.{extension}"
        expiration = (now + timedelta(seconds=EXPIRES_SECONDS)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        policy_doc = {
            "expiration": expiration,
            "conditions": [
                {"bucket": "liblibai-airship-temp"},
                ["eq", "$key", key],
                ["content-length-range", 1, MAX_UPLOAD_BYTES],
            ],
        }
        policy = base64.b64encode(json.dumps(policy_doc, separators=(",", ":")).encode()).decode()
        signature = hmac.new(self._secret, policy.encode(), hashlib.sha256).hexdigest()
        self._grants[key] = _Grant(policy, signature, time.monotonic() + EXPIRES_SECONDS)
        return {
            "key": key,
            "policy": policy,
            "postUrl": f"{base_url}/oss",
            "xOssDate": now.strftime("%Y%m%dT%H%M%SZ"),
            "xOssExpires": EXPIRES_SECONDS,
            "xOssSignature": signature,
            "xOssCredential": f"{_OSS_ACCESS_ID}/{now:%Y%m%d}/cn-beijing/oss/aliyun_v4_request",
            "xOssSignatureVersion": "OSS4-HMAC-SHA256",
        }

    async def handle_post(self, request: web.Request) -> web.Response:
        if not request.content_type.startswith("multipart/"):
            return _oss_error(400, "InvalidArgument", "Content-Type must be multipart/form-data")
        reader = await request.multipart()
        order: list[str] = []
        fields: dict[str, str] = {}
        data: bytes | None = None
        content_type = ""
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                return _oss_error(400, "InvalidArgument", "Nested multipart is not supported")
            name = part.name or ""
            if data is not None:
                return _oss_error(400, "InvalidArgument", "The file field must be the last field")
            order.append(name)
            if name != "file":
                fields[name] = await part.text()
                continue
            content_type = part.headers.get("Content-Type", "")
            buf = bytearray()
            while chunk := await part.read_chunk(65536):
                buf += chunk
                if len(buf) > MAX_UPLOAD_BYTES:
                    return _oss_error(400, "EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
            data = bytes(buf)
        known = [name for name in order if name in FORM_FIELDS]
        if tuple(known) != FORM_FIELDS:
            return _oss_error(400, "InvalidArgument", "Form fields missing or out of order")
        if data is None or not data:
            return _oss_error(400, "InvalidArgument", "The file field is missing or empty")
        key = fields["key"]
        grant = self._grants.get(key)
        if grant is None or time.monotonic() > grant.expires_at:
            return _oss_error(403, "AccessDenied", "Invalid according to Policy: Policy expired or unknown key")
        if not hmac.compare_digest(fields["x-oss-signature"], grant.signature) or fields["policy"] != grant.policy:
            return _oss_error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match")
        extension = key.rsplit(".", 1)[-1]
        self._objects[key] = _Object(data, EXTENSIONS.get(extension, content_type or "application/octet-stream"))
        if self._on_upload is not None:
            self._on_upload()
        log.info("oss: stored %d bytes at %s", len(data), key)
        return web.Response(status=204)

    async def handle_get(self, request: web.Request) -> web.Response:
        obj = self._objects.get(request.match_info["key"])
        if obj is None:
            return _oss_error(404, "NoSuchKey", "The specified key does not exist.")
        return web.Response(body=obj.data, content_type=obj.content_type)
