"""The source-image fetcher against a loopback aiohttp server: allowlist, SSRF guard, size cap, timeout;
and the metadata check of source images (``SourceRef``)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import pytest
from aiohttp import web

from bot.errors import InvalidRequestError
from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES
from bot.media.codec import sniff_input
from bot.media.sources import (
    AllowedOrigin,
    HostPolicy,
    SourceFetchError,
    SourceImageFetcher,
    SourceRef,
    is_public_address,
    open_fetch_session,
)
from bot.settings import FetchSettings

PAYLOAD = b"\x89PNG\r\n\x1a\n" + b"x" * 5000


async def _ok(request: web.Request) -> web.Response:
    return web.Response(body=PAYLOAD, content_type="image/png")


async def _chunked(request: web.Request) -> web.StreamResponse:
    """No Content-Length: the cap must be enforced while streaming."""
    resp = web.StreamResponse()
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    for _ in range(50):
        await resp.write(b"y" * 1000)
    await resp.write_eof()
    return resp


RELEASE = web.AppKey("release", asyncio.Event)


async def _slow(request: web.Request) -> web.Response:
    await request.app[RELEASE].wait()  # released at teardown
    return web.Response(body=PAYLOAD)


async def _redirect_same(request: web.Request) -> web.Response:
    raise web.HTTPFound("/ok.png")


async def _redirect_away(request: web.Request) -> web.Response:
    raise web.HTTPFound("http://evil.example/steal.png")


async def _redirect_loop(request: web.Request) -> web.Response:
    raise web.HTTPFound("/loop")


async def _gone(request: web.Request) -> web.Response:
    return web.Response(status=404)


HUGE = 10 * 1024 * 1024 + 512 * 1024  # 10.5 MiB (11.0 decimal MB)


async def _huge(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * HUGE, content_type="image/png")


@pytest.fixture
async def origin() -> AsyncIterator[str]:
    app = web.Application()
    app[RELEASE] = asyncio.Event()
    app.router.add_get("/ok.png", _ok)
    app.router.add_get("/big", _chunked)
    app.router.add_get("/slow", _slow)
    app.router.add_get("/hop", _redirect_same)
    app.router.add_get("/away", _redirect_away)
    app.router.add_get("/loop", _redirect_loop)
    app.router.add_get("/gone", _gone)
    app.router.add_get("/huge", _huge)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        app[RELEASE].set()
        await runner.cleanup()


Opener = Callable[..., AbstractAsyncContextManager[SourceImageFetcher]]


@pytest.fixture
def fetcher_for() -> Opener:
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def open_fetcher(
        allowed: list[str] | None = None,
        extra: list[str] | None = None,
        *,
        timeout: float = 5.0,
        max_bytes: int = 10_000,
    ) -> AsyncIterator[SourceImageFetcher]:
        settings = FetchSettings(allowed_hosts=allowed or [], extra_hosts=extra or [], timeout=timeout)
        policy = HostPolicy.from_settings(settings)
        async with open_fetch_session(policy, settings) as session:
            yield SourceImageFetcher(session, policy, timeout=timeout, max_bytes=max_bytes)

    return open_fetcher


async def test_trusted_extra_origin_is_fetched(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin]) as fetcher:
        assert await fetcher.fetch(f"{origin}/ok.png") == PAYLOAD


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/cat.png",  # not on the list
        "http://cdn.discordapp.com/attachments/1/2/cat.png",  # the default hosts are https only
        "ftp://cdn.discordapp.com/cat.png",
        "https://cdn.discordapp.com@evil.example/cat.png",  # userinfo trick: the host is evil.example
        "https://cdn.discordapp.com:8443/cat.png",  # another port
        "file:///etc/passwd",
    ],
)
async def test_urls_off_the_allowlist_are_refused_before_any_connection(url: str, fetcher_for: Opener) -> None:
    async with fetcher_for(allowed=["cdn.discordapp.com"]) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(url)
    assert info.value.code == "host"
    assert "Discord" in info.value.message


async def test_an_untrusted_name_resolving_to_loopback_is_refused(origin: str, fetcher_for: Opener) -> None:
    # "localhost" is allowed as a host but not trusted: its loopback addresses are dropped at resolution,
    # so the request never reaches the server (https would otherwise fail later, in TLS, with "network").
    port = origin.rsplit(":", 1)[1]
    async with fetcher_for(extra=[], allowed=[f"https://localhost:{port}"]) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"https://localhost:{port}/ok.png")
    assert info.value.code == "address"


async def test_an_untrusted_loopback_literal_is_refused(origin: str, fetcher_for: Opener) -> None:
    port = origin.rsplit(":", 1)[1]
    async with fetcher_for(allowed=[f"https://127.0.0.1:{port}"]) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"https://127.0.0.1:{port}/ok.png")
    assert info.value.code == "address"


async def test_trust_is_per_origin_not_per_address(origin: str, fetcher_for: Opener) -> None:
    # Trusting http://127.0.0.1:PORT allows neither another port nor another scheme on that address.
    port = int(origin.rsplit(":", 1)[1])
    async with fetcher_for(extra=[origin]) as fetcher:
        for url in (f"http://127.0.0.1:{port + 1}/ok.png", f"https://127.0.0.1:{port}/ok.png"):
            with pytest.raises(SourceFetchError) as info:
                await fetcher.fetch(url)
            assert info.value.code == "host"


async def test_declared_size_over_the_cap_is_refused(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin], max_bytes=1000) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"{origin}/ok.png")
    assert info.value.code == "too_large"


async def test_streamed_body_over_the_cap_is_cut_off(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin], max_bytes=10_000) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"{origin}/big")
    assert info.value.code == "too_large"


async def test_slow_server_times_out(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin], timeout=0.2) as fetcher:
        started = asyncio.get_running_loop().time()
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"{origin}/slow")
    assert info.value.code == "timeout"
    assert asyncio.get_running_loop().time() - started < 2


async def test_redirect_within_the_allowlist_is_followed(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin]) as fetcher:
        assert await fetcher.fetch(f"{origin}/hop") == PAYLOAD


async def test_redirect_to_another_host_is_refused(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin]) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"{origin}/away")
    assert info.value.code == "host"


async def test_redirect_loop_stops(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin]) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"{origin}/loop")
    assert info.value.code == "status" and "redirects" in info.value.message


async def test_missing_image_says_it_expired_or_was_deleted(origin: str, fetcher_for: Opener) -> None:
    async with fetcher_for(extra=[origin]) as fetcher:
        with pytest.raises(SourceFetchError) as info:
            await fetcher.fetch(f"{origin}/gone")
    assert "no longer available" in info.value.message


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),  # cloud metadata
        ("100.64.0.1", False),  # carrier-grade NAT
        ("0.0.0.0", False),  # noqa: S104 - an address to classify, not a bind
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),  # IPv4-mapped loopback
        ("224.0.0.1", False),
        ("162.159.128.233", True),
        ("2606:4700::6810:84e5", True),
    ],
)
def test_public_address_classification(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_origin_entries_parse() -> None:
    assert AllowedOrigin.parse("cdn.discordapp.com", trusted=False) == AllowedOrigin(
        "https", "cdn.discordapp.com", 443, False
    )
    assert AllowedOrigin.parse("http://127.0.0.1:8080", trusted=True) == AllowedOrigin("http", "127.0.0.1", 8080, True)
    with pytest.raises(ValueError, match="not a host"):
        AllowedOrigin.parse("ftp://example.com", trusted=True)


def test_settings_reject_malformed_host_entries() -> None:
    with pytest.raises(ValueError, match="not a host"):
        FetchSettings(extra_hosts=["gopher://example.com"])
    with pytest.raises(ValueError, match="not a host"):
        FetchSettings(extra_hosts=["https://example.com/path"])


def test_source_ref_metadata_checks() -> None:
    SourceRef("u", size=1000, content_type="image/png").check()
    SourceRef("u").check()  # an embed image: nothing known until downloaded
    with pytest.raises(InvalidRequestError, match="limit is 10 MB"):
        SourceRef("u", size=11 * 1024 * 1024, content_type="image/png").check()
    with pytest.raises(InvalidRequestError, match="not an image"):
        SourceRef("u", size=10, content_type="video/mp4").check()
    with pytest.raises(InvalidRequestError, match="not an image"):
        SourceRef("u", size=10, filename="notes.txt").check()
    SourceRef("u", size=10, filename="photo.JPG").check()


async def test_one_size_rule_and_unit_for_declared_fetched_and_read_sizes(origin: str, fetcher_for: Opener) -> None:
    """The API's 10 MiB limit, shown in MiB ("MB") alike before the download, during it and after it."""
    with pytest.raises(InvalidRequestError) as declared:
        SourceRef("u", size=HUGE, content_type="image/png").check()
    with pytest.raises(InvalidRequestError) as read:
        sniff_input(b"x" * HUGE)
    async with fetcher_for(extra=[origin], max_bytes=MAX_INPUT_IMAGE_BYTES) as fetcher:
        with pytest.raises(SourceFetchError) as fetched:
            await fetcher.fetch(f"{origin}/huge")
    expected = "**image**: the file is 10.5 MB; the limit is 10 MB."
    assert declared.value.message == read.value.message == fetched.value.message == expected
