"""Reading LiblibAI's answers: the ``{code, msg, data}`` envelope, HTTP statuses and transport failures,
mapped to the Liblib error tree (liblib-api.md §3; STYLE §2.5)."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp

from bot.liblib.errors import (
    LiblibConnectionError,
    LiblibRateLimitError,
    LiblibResponseValidationError,
    LiblibRouteNotServedError,
    LiblibServerError,
    LiblibStatusError,
    LiblibTimeoutError,
    error_for_code,
)

log = logging.getLogger(__name__)

BODY_SNIPPET = 200  # characters of a body quoted in an error


def snippet(raw: bytes) -> str:
    text = raw[:BODY_SNIPPET].decode("utf-8", errors="replace")
    return text + ("…" if len(raw) > BODY_SNIPPET else "")


def _status_error(code: int, msg: str, *, status: int, path: str, retry_after: float | None) -> LiblibStatusError:
    error = error_for_code(code, msg, status=status, path=path)
    error.retry_after = retry_after
    return error


def decode_envelope(path: str, status: int, raw: bytes, retry_after: float | None, *, allow_bare: bool) -> Any:
    """Check the HTTP status and the ``{code, msg, data}`` envelope; return ``data``.

    ``allow_bare``: a JSON object without ``code`` is returned as is (the model-version route may answer so).
    """
    try:
        payload: Any = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        payload = None

    if not 200 <= status < 300:
        code, msg = status, f"HTTP {status}"
        said = ""
        if isinstance(payload, dict):
            env_code = _as_int(payload.get("code"))
            if env_code:
                code = env_code
            said = str(payload.get("msg") or payload.get("message") or "")
        log.warning("liblib %s: HTTP %d code=%s", path, status, code)
        if status == 404 and not said:  # no route here (a bare 404 with a message is the model route's "unknown")
            raise LiblibRouteNotServedError(f"HTTP 404 for {path}", status=status, code=code, path=path)
        raise _status_error(code, said or msg, status=status, path=path, retry_after=retry_after)

    if not isinstance(payload, dict):
        kind = "not JSON" if payload is None else "not a JSON object"
        raise LiblibResponseValidationError(f"{path}: response is {kind} ({len(raw)} bytes): {snippet(raw)!r}")
    if "code" not in payload:
        if allow_bare:
            return payload
        raise LiblibResponseValidationError(f"{path}: response has no 'code': {snippet(raw)!r}")
    envelope_code = _as_int(payload.get("code"))
    if envelope_code is None:
        raise LiblibResponseValidationError(f"{path}: response 'code' is not an integer: {snippet(raw)!r}")
    if envelope_code != 0:
        msg = str(payload.get("msg") or payload.get("message") or "")
        log.warning("liblib %s: code=%d", path, envelope_code)
        raise _status_error(envelope_code, msg, status=status, path=path, retry_after=retry_after)
    data = payload.get("data")
    if data is None:
        raise LiblibResponseValidationError(f"{path}: success without 'data': {snippet(raw)!r}")
    return data


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        with contextlib.suppress(ValueError):
            return int(value.strip())
    return None


def http_error(status: int, what: str, *, path: str, retry_after: float | None) -> LiblibStatusError:
    """A non-2xx answer from a host that is not the API (OSS, result image CDN)."""
    cls: type[LiblibStatusError]
    if status == 429:
        cls = LiblibRateLimitError
    elif status >= 500:
        cls = LiblibServerError
    else:
        cls = LiblibStatusError
    error = cls(f"{what}: HTTP {status}", status=status, code=None, path=path)
    error.retry_after = retry_after
    return error


@contextlib.contextmanager
def transport_errors(label: str) -> Iterator[None]:
    """Map aiohttp/asyncio transport failures to the Liblib error tree, noting whether the server was reached."""
    try:
        yield
    except aiohttp.ConnectionTimeoutError as exc:  # the TCP/TLS connection was never established
        raise LiblibTimeoutError(f"{label}: timed out connecting", reached_server=False) from exc
    except aiohttp.ClientConnectorError as exc:  # refused, DNS, TLS handshake: the request never left
        raise LiblibConnectionError(f"{label}: could not connect ({exc.os_error})", reached_server=False) from exc
    except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
        raise LiblibTimeoutError(f"{label}: no response in time", reached_server=True) from exc
    except aiohttp.ClientError as exc:  # disconnected, reset, truncated payload: it may have been processed
        raise LiblibConnectionError(f"{label}: {type(exc).__name__}", reached_server=True) from exc
