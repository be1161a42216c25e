"""Which Discord failures the sink calls transient (the Deliverer posts again) and which are final.

The end-to-end cases (dropped connections, resets, RateLimited, 401/404/413) are in tests/e2e/test_discord_faults.py;
this table adds the statuses discord.py only raises after its own retries (5xx, 429), too slow to reach there.
"""

from __future__ import annotations

from dataclasses import dataclass

import aiohttp
import discord
import pytest

from bot.discord_app.sink import is_transient


@dataclass
class _Response:
    """What discord.HTTPException reads from an aiohttp response."""

    status: int
    reason: str = "reason"


def http(status: int) -> discord.HTTPException:
    return discord.HTTPException(_Response(status), {"message": "x", "code": 0})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (aiohttp.ServerDisconnectedError(), True),
        (aiohttp.ClientOSError(104, "Connection reset by peer"), True),
        (aiohttp.ServerTimeoutError(), True),
        (TimeoutError(), True),
        (ConnectionRefusedError(), True),
        (discord.RateLimited(31.0), True),
        (http(500), True),
        (http(502), True),
        (http(429), True),  # after discord.py's own retries, or a Cloudflare 429 without Via
        (http(400), False),
        (http(401), False),
        (http(403), False),
        (http(404), False),
        (http(413), False),
        (ValueError("a bug"), False),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else str(value),
)
def test_transient_failures_are_the_network_timeouts_5xx_and_rate_limits(error: Exception, transient: bool) -> None:
    assert is_transient(error) is transient
