"""The simulator's signature check (liblib-api.md §2.4): known AccessKey, 5-minute timestamp window, HMAC
signature, and optionally no reused SignatureNonce."""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict

from aiohttp import web

from bot.liblib.signing import sign

DEV_ACCESS_KEY = "sim-access-key"
DEV_SECRET_KEY = "sim-secret-key"  # noqa: S105 - a published dev key, only valid here

_TIMESTAMP_WINDOW_MS = 300_000
_NONCE_TTL = 300.0


class Authenticator:
    """Checks the signed query of each API request against the accounts it knows."""

    def __init__(self, accounts: dict[str, str], *, check_nonce_reuse: bool) -> None:
        self._accounts = dict(accounts)
        self._check_nonce_reuse = check_nonce_reuse
        self._nonces: dict[str, OrderedDict[str, float]] = {}

    def error(self, request: web.Request) -> str | None:
        """Why the request's signature does not check out, or None when it does."""
        query = request.query
        access_key, signature = query.get("AccessKey"), query.get("Signature")
        timestamp, nonce = query.get("Timestamp"), query.get("SignatureNonce")
        if not access_key or not signature or not timestamp or not nonce:
            return "missing auth parameter"
        secret = self._accounts.get(access_key)
        if secret is None:
            return "unknown AccessKey"
        if not timestamp.isdigit():
            return "non-integer Timestamp"
        if abs(time.time() * 1000 - int(timestamp)) > _TIMESTAMP_WINDOW_MS:
            return "Timestamp outside the 5 minute window"
        expected = sign(request.path, secret, timestamp, nonce)
        if not hmac.compare_digest(expected.encode(), signature.rstrip("=").encode()):
            return "signature mismatch"
        if self._check_nonce_reuse and not self._remember_nonce(access_key, nonce):
            return "SignatureNonce reused"
        return None

    def _remember_nonce(self, access_key: str, nonce: str) -> bool:
        seen = self._nonces.setdefault(access_key, OrderedDict())
        now = time.monotonic()
        while seen and next(iter(seen.values())) < now:  # insertion order is expiry order
            seen.popitem(last=False)
        if nonce in seen:
            return False
        seen[nonce] = now + _NONCE_TTL
        return True
