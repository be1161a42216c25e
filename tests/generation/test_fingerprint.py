from __future__ import annotations

import hashlib
import json
from dataclasses import asdict

import pytest

from bot.generation.fingerprint import is_reproducible, request_fingerprint
from bot.models import GenerationRequest

BASE = GenerationRequest(mode="dreamtech-xl", prompt="a fox", seed=42, count=2, aspect_ratio="16:9")


def test_equal_requests_share_a_fingerprint_and_it_is_a_sha256() -> None:
    same = GenerationRequest(mode="dreamtech-xl", prompt="a fox ", seed=42, count=2, aspect_ratio="16:9")
    assert request_fingerprint(BASE) == request_fingerprint(same)
    assert len(request_fingerprint(BASE)) == 64
    assert request_fingerprint(BASE) == request_fingerprint(GenerationRequest.from_json(BASE.to_json()))


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "a cat"},
        {"seed": 43},
        {"seed": None},
        {"count": 1},
        {"aspect_ratio": "1:1"},
        {"mode": "star3"},
        {"steps": 30},
        {"negative_prompt": "blurry"},
        {"source_images": ("https://example.invalid/a.png",)},
        {"hires": True},
        {"strength": 0.4},
        {"simulated": True},
        {"enhance": True},
        {"quality": "masterpiece"},
        {"variation": "subtle"},
        {"variation": "strong"},
        {"loras": (("ink-lora", 0.6),)},
        {"loras": ()},
    ],
)
def test_anything_that_changes_the_picture_changes_the_fingerprint(change: dict) -> None:
    assert request_fingerprint(BASE.with_(**change)) != request_fingerprint(BASE)


def test_a_request_without_a_style_lora_keeps_the_fingerprint_it_had_before_loras() -> None:
    """Stored jobs are found again by their fingerprint: a field added later must not move the old ones."""
    assert request_fingerprint(BASE) == "d1079c9bb405a26bc56291b971ff4aeb059dace7c13a979b5d3a47bfa4ad7d6f"


def test_only_seeded_requests_are_reproducible() -> None:
    assert is_reproducible(BASE)
    assert not is_reproducible(BASE.with_(seed=None))


def test_fields_added_later_keep_earlier_fingerprints() -> None:
    """``enhance``, ``quality``, ``variation`` and ``loras`` came after request-v1: at their defaults a request hashes
    as it always did, so recent identical seeded requests stored before the upgrade are still found (and not paid
    for again)."""
    data = asdict(BASE)
    for name in ("enhance", "quality", "variation", "loras", "routed_from", "routed_language"):
        del data[name]
    data["source_images"] = []
    canonical = json.dumps(
        {"schema": "request-v1", "request": data}, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    )
    assert request_fingerprint(BASE) == hashlib.sha256(canonical.encode()).hexdigest()
