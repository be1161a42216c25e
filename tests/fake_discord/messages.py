"""Message bodies as Discord checks and normalises them: limits, component ids, embeds, file sniffing."""

from __future__ import annotations

import copy
import io
import itertools
import mimetypes
from collections.abc import Iterator
from typing import Any

from . import payloads

MAX_CONTENT = 2000
MAX_FILES = 10
MAX_REQUEST_BYTES = 25 * 1024 * 1024
MAX_EMBEDS = 10
MAX_EMBED_TOTAL = 6000
_EMBED_LIMITS = {"title": 256, "description": 4096}


class ApiError(Exception):
    """An error response: raised by the fake's handlers, turned into JSON by the server."""

    def __init__(self, status: int, code: int, message: str, body: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.body = body or {"message": message, "code": code}


def form_error(field: str, code: str, text: str) -> ApiError:
    return ApiError(400, 50035, "Invalid Form Body", payloads.invalid_form_body(field, code, text))


def check_files(files_sizes: list[int], *, per_file_limit: int) -> None:
    if len(files_sizes) > MAX_FILES:
        raise form_error("files", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_FILES} or fewer in length.")
    if any(size > per_file_limit for size in files_sizes) or sum(files_sizes) > MAX_REQUEST_BYTES:
        raise ApiError(413, 40005, "Request entity too large")


def check_body(data: dict[str, Any]) -> None:
    """The limits Discord enforces on content, embeds and components (400 50035 on failure)."""
    content = data.get("content")
    flags = data.get("flags") or 0
    nonce = data.get("nonce")
    if isinstance(nonce, str) and len(nonce) > 25:
        raise form_error("nonce", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
    if flags & payloads.FLAG_IS_COMPONENTS_V2 and (content or data.get("embeds")):
        raise form_error("content", "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", "Invalid field.")
    if content is not None and len(content) > MAX_CONTENT:
        raise form_error("content", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_CONTENT} or fewer in length.")
    embeds = data.get("embeds") or []
    if len(embeds) > MAX_EMBEDS:
        raise form_error("embeds", "BASE_TYPE_MAX_LENGTH", f"Must be {MAX_EMBEDS} or fewer in length.")
    total = 0
    for i, embed in enumerate(embeds):
        for key, limit in _EMBED_LIMITS.items():
            value = embed.get(key) or ""
            total += len(value)
            if len(value) > limit:
                raise form_error(f"embeds.{i}.{key}", "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > 25:
            raise form_error(f"embeds.{i}.fields", "BASE_TYPE_MAX_LENGTH", "Must be 25 or fewer in length.")
        for j, field in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                value = field.get(key) or ""
                total += len(value)
                if not value or len(value) > limit:
                    raise form_error(
                        f"embeds.{i}.fields.{j}.{key}", "BASE_TYPE_BAD_LENGTH", f"Must be between 1 and {limit}."
                    )
        total += len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
    if total > MAX_EMBED_TOTAL:
        raise form_error(
            "embeds", "MESSAGE_EMBEDS_TOTAL_LENGTH", f"Embed size exceeds maximum size of {MAX_EMBED_TOTAL}"
        )
    _check_components(data.get("components") or [], v2=bool(flags & payloads.FLAG_IS_COMPONENTS_V2))


def _check_components(components: list[dict[str, Any]], *, v2: bool) -> None:
    if not v2 and len(components) > 5:
        raise form_error("components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")
    seen: set[str] = set()
    for path, component in walk_components(components, "components"):
        custom_id = component.get("custom_id")
        if custom_id is not None:
            if not 1 <= len(custom_id) <= 100:
                raise form_error(f"{path}.custom_id", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length.")
            if custom_id in seen:
                raise form_error(
                    f"{path}.custom_id", "COMPONENT_CUSTOM_ID_DUPLICATED", "Component custom id cannot be duplicated"
                )
            seen.add(custom_id)
        if len(component.get("label") or "") > 80:
            raise form_error(f"{path}.label", "BASE_TYPE_MAX_LENGTH", "Must be 80 or fewer in length.")
        if component.get("type") == 1 and not v2 and len(component.get("components") or []) > 5:
            raise form_error(f"{path}.components", "BASE_TYPE_MAX_LENGTH", "Must be 5 or fewer in length.")


def walk_components(components: list[dict[str, Any]], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every component, depth first, with its dotted path (rows, containers, sections, labels)."""
    for i, component in enumerate(components):
        here = f"{path}.{i}" if path else str(i)
        yield here, component
        if component.get("components"):
            yield from walk_components(component["components"], f"{here}.components")
        for key in ("accessory", "component"):
            if isinstance(component.get(key), dict):
                yield f"{here}.{key}", component[key]
                yield from walk_components(component[key].get("components") or [], f"{here}.{key}.components")


def with_component_ids(components: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A copy with Discord's integer ``id`` on every component (numbered depth first from 1)."""
    result = copy.deepcopy(components)
    taken = {c["id"] for _, c in walk_components(result) if isinstance(c.get("id"), int)}
    free = (n for n in itertools.count(1) if n not in taken)
    for _, component in walk_components(result):
        if not isinstance(component.get("id"), int):
            component["id"] = next(free)
    return result


def find_component(components: list[dict[str, Any]], custom_id: str) -> dict[str, Any] | None:
    return next((c for _, c in walk_components(components) if c.get("custom_id") == custom_id), None)


def normalize_embeds(embeds: list[dict[str, Any]], attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Embeds as Discord returns them: ``type: rich``, ``inline`` set, ``attachment://`` urls resolved."""
    by_name = {a["filename"]: a for a in attachments}
    result = []
    for embed in copy.deepcopy(embeds):
        embed.setdefault("type", "rich")
        for field in embed.get("fields") or []:
            field.setdefault("inline", False)
        for key in ("image", "thumbnail"):
            media = embed.get(key)
            if isinstance(media, dict) and str(media.get("url", "")).startswith("attachment://"):
                target = by_name.get(media["url"].removeprefix("attachment://"))
                if target is not None:
                    media.update(url=target["url"], proxy_url=target["proxy_url"])
                    for extra in ("width", "height", "content_type"):
                        if extra in target:
                            media[extra] = target[extra]
        result.append(embed)
    return result


def sniff_content_type(content: bytes, filename: str) -> str:
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    return mimetypes.guess_type(filename)[0] or "application/octet-stream"


def image_size(content: bytes) -> tuple[int, int] | None:
    try:
        from PIL import Image

        with Image.open(io.BytesIO(content)) as image:
            return image.size
    except Exception:
        return None
