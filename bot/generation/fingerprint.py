"""A canonical fingerprint of a GenerationRequest: equal fingerprints mean the same paid render.

sha256 over the request's normalised JSON (keys sorted, no insignificant whitespace, a schema tag).
Everything that changes the picture is included; nothing volatile lives in a request (ids and times
live on the Job). Input images enter by URL, and member uploads get a fresh URL per job, so
image-to-image requests practically never match: the fingerprint never claims two different pictures
are the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from datetime import timedelta

from bot.models import GenerationRequest, Job, utcnow
from bot.storage import JobStore

_SCHEMA = "request-v1"
# Fields added after request-v1, left out at their defaults so earlier requests keep their fingerprints.
_LATER_DEFAULTS: dict[str, object] = {"enhance": False, "quality": None, "variation": None, "loras": None}
# Notes on how the mode was chosen, not part of the picture: left out (earlier requests keep their fingerprints).
_NOT_THE_PICTURE = ("routed_from", "routed_language")


def request_fingerprint(request: GenerationRequest) -> str:
    data = asdict(request)
    for name in _NOT_THE_PICTURE:
        del data[name]
    data["source_images"] = list(request.source_images)
    data["prompt"] = request.prompt.strip()
    if data.get("negative_prompt") is not None:
        data["negative_prompt"] = data["negative_prompt"].strip()
    for name, default in _LATER_DEFAULTS.items():
        if data.get(name) == default:
            del data[name]
    canonical = json.dumps(
        {"schema": _SCHEMA, "request": data}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def is_reproducible(request: GenerationRequest) -> bool:
    """Only a request with a fixed seed renders the same picture again (and so may be re-posted)."""
    return request.seed is not None


async def find_duplicate(
    store: JobStore, request: GenerationRequest, *, guild_id: int | None, user_id: int, window_seconds: float
) -> Job | None:
    """A recent succeeded job that rendered exactly this seeded request in this server (in DMs: for
    this member), or None. Disabled by a zero window."""
    if window_seconds <= 0 or not is_reproducible(request):
        return None
    return await store.find_recent_by_fingerprint(
        request_fingerprint(request),
        since=utcnow() - timedelta(seconds=window_seconds),
        guild_id=guild_id,
        user_id=None if guild_id is not None else user_id,
    )
