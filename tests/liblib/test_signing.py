"""Signature test vectors from liblib-api.md §2.5 (Python hmac and openssl agree on them)."""

from __future__ import annotations

import pytest

from bot.liblib import signing

DOC_SK = "KppKsn7ezZxhi6lIDjbo7YyVYzanSu2d"

VECTORS = [
    pytest.param(
        DOC_SK, "/api/generate/webui/text2img", "1725458584000", "random1232", "NijkrxUUT49wN_UYRDG4Re8bZbY", id="1-doc"
    ),
    pytest.param(
        "test-secret",
        "/api/generate/webui/status",
        "1700000000000",
        "abcdef1234",
        "R400d3CVcsL4qLNl7LDrVCaUF94",
        id="2-probe",
    ),
    pytest.param(
        DOC_SK,
        "/api/generate/kontext/text2img",
        "1751328000000",
        "3f2b9c1e-8d4a-4e6f-9b7a-1c2d3e4f5a6b",
        "Z0GlsFIPyEqFVMNcS1EKcOnvIxI",
        id="3-uuid-nonce",
    ),
    pytest.param(
        DOC_SK, "/api/generate/status", "1751328000000", "Ab3dE6gH9jK2mN5p", "UlwhpI75iPrLDm_Zjmrd1ZCuIZ8", id="4-slash"
    ),
    pytest.param(
        DOC_SK,
        "/api/generate/kontext/img2img",
        "1751328000000",
        "nonce0000",
        "RFP_anrz9E9LxXAE9g-KMPcxbmU",
        id="5-plus",
    ),
]


@pytest.mark.parametrize(("secret", "path", "timestamp", "nonce", "expected"), VECTORS)
def test_sign_vectors(secret: str, path: str, timestamp: str, nonce: str, expected: str) -> None:
    signature = signing.sign(path, secret, timestamp, nonce)
    assert signature == expected
    assert len(signature) == 27
    assert not set(signature) & set("=+/")


@pytest.mark.parametrize(("secret", "path", "timestamp", "nonce", "expected"), VECTORS)
def test_signed_query_carries_the_same_signature(
    secret: str, path: str, timestamp: str, nonce: str, expected: str
) -> None:
    query = signing.signed_query(path, "AK", secret, timestamp_ms=int(timestamp), nonce=nonce)
    assert query == {"AccessKey": "AK", "Signature": expected, "Timestamp": timestamp, "SignatureNonce": nonce}


def test_signed_query_is_fresh_each_time() -> None:
    first = signing.signed_query("/api/generate/status", "AK", "SK")
    second = signing.signed_query("/api/generate/status", "AK", "SK")
    assert first["SignatureNonce"] != second["SignatureNonce"]
    assert len(first["Timestamp"]) == 13
    assert first["Timestamp"].isdigit()
    assert first["Signature"] == signing.sign("/api/generate/status", "SK", first["Timestamp"], first["SignatureNonce"])
