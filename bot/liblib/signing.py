"""Request signing for the LiblibAI open API (liblib-api.md §2).

The signature is ``base64url_nopad(HMAC-SHA1(secret, path & timestamp_ms & nonce))`` and travels,
with the AccessKey, timestamp and nonce, in the query string. Nothing else is signed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time


def sign(path: str, secret_key: str, timestamp_ms: str, nonce: str) -> str:
    """Return the 27-character signature for one request to ``path`` (path only, no host or query)."""
    message = f"{path}&{timestamp_ms}&{nonce}".encode()
    digest = hmac.new(secret_key.encode(), message, hashlib.sha1).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_nonce() -> str:
    """A fresh random nonce (16 URL-safe characters), one per request."""
    return secrets.token_hex(8)


def signed_query(
    path: str,
    access_key: str,
    secret_key: str,
    *,
    timestamp_ms: int | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """The four auth query parameters for one request; a fresh timestamp and nonce unless given."""
    ts = str(timestamp_ms if timestamp_ms is not None else int(time.time() * 1000))
    nonce = nonce if nonce is not None else new_nonce()
    return {
        "AccessKey": access_key,
        "Signature": sign(path, secret_key, ts, nonce),
        "Timestamp": ts,
        "SignatureNonce": nonce,
    }
