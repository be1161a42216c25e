"""Fetch images members point at by URL (attachments, replied-to messages, context-menu targets), safely.

Only https URLs on the allowed hosts (Discord's CDN by default) are fetched; ``fetch.extra_hosts``
adds trusted origins, which may use http and private addresses (a self-hosted media proxy, the test
fake). Every connection of the session resolves names through ``GuardedResolver``, which drops
loopback, private and link-local addresses for untrusted hosts, so DNS cannot aim an allowed name at
the bot's own network. Redirects are followed by hand, each hop checked against the same rules.
Bodies are streamed and cut off past the size cap, and one timeout covers the whole download.
``SourceRef.check`` applies the same size rule, and the type, to what Discord declared before any I/O.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.errors import InvalidRequestError
from bot.i18n import N_
from bot.liblib.endpoints import MAX_INPUT_IMAGE_BYTES
from bot.media.codec import check_input_size, too_large_text
from bot.settings import FetchSettings

log = logging.getLogger(__name__)

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".gif")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """An image a member pointed at, with what Discord told us about it (None: unknown)."""

    url: str
    field: str = "image"
    size: int | None = None
    content_type: str | None = None
    filename: str | None = None

    @property
    def looks_like_image(self) -> bool:
        if self.content_type:
            return self.content_type.startswith("image/")
        return (self.filename or "").lower().endswith(IMAGE_EXTENSIONS) or self.filename is None

    def check(self) -> None:
        """THE metadata check of a member's image, before any I/O: the declared size and type."""
        check_input_size(self.size, field=self.field)
        if not self.looks_like_image:
            raise InvalidRequestError(self.field, N_("that attachment is not an image (PNG, JPEG, WebP or GIF)."))


class SourceFetchError(InvalidRequestError):
    """A refused or failed download; ``code`` says why (host, address, too_large, timeout, status, network)."""

    def __init__(self, field: str, code: str, reason: str, /, **params: object) -> None:
        super().__init__(field, reason, **params)
        self.code = code


class BlockedAddressError(OSError):
    """Raised by the resolver: the name resolves only to addresses we refuse to connect to."""


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True, slots=True)
class AllowedOrigin:
    scheme: str
    host: str
    port: int
    trusted: bool  # may resolve to private/loopback addresses

    @classmethod
    def parse(cls, entry: str, *, trusted: bool) -> AllowedOrigin:
        """``host`` (https, port 443) or ``scheme://host[:port]``."""
        text = entry.strip()
        if "://" not in text:
            return cls("https", text.lower().rstrip("."), 443, trusted)
        url = yarl.URL(text)
        if url.scheme not in _DEFAULT_PORTS or not url.host or url.path not in ("", "/") or url.user:
            raise ValueError(f"not a host or an http(s) origin: {entry!r}")
        return cls(url.scheme, url.host.lower().rstrip("."), url.port or _DEFAULT_PORTS[url.scheme], trusted)


class HostPolicy:
    """Which URLs may be fetched, and which hosts may live on private addresses."""

    def __init__(self, allowed_hosts: Iterable[str] = (), extra_hosts: Iterable[str] = ()) -> None:
        self._origins = [AllowedOrigin.parse(h, trusted=False) for h in allowed_hosts]
        self._origins += [AllowedOrigin.parse(h, trusted=True) for h in extra_hosts]

    @classmethod
    def from_settings(cls, settings: FetchSettings) -> HostPolicy:
        return cls(settings.allowed_hosts, settings.extra_hosts)

    def match(self, url: yarl.URL) -> AllowedOrigin | None:
        host = (url.host or "").lower().rstrip(".")
        if url.scheme not in _DEFAULT_PORTS or not host or url.user is not None:
            return None
        port = url.port or _DEFAULT_PORTS[url.scheme]
        for origin in self._origins:
            if (origin.scheme, origin.host, origin.port) == (url.scheme, host, port):
                return origin
        return None

    def private_ok(self, host: str) -> bool:
        host = host.lower().rstrip(".")
        return any(o.trusted and o.host == host for o in self._origins)


class GuardedResolver(AbstractResolver):
    """Resolves through aiohttp's default resolver and drops addresses untrusted hosts may not use."""

    def __init__(self, policy: HostPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or aiohttp.DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        infos = await self._inner.resolve(host, port, family)
        if self._policy.private_ok(host):
            return infos
        public = [info for info in infos if is_public_address(info["host"])]
        if not public:
            raise BlockedAddressError(f"{host} resolves to a non-public address")
        return public

    async def close(self) -> None:
        await self._inner.close()


@contextlib.asynccontextmanager
async def open_fetch_session(policy: HostPolicy, settings: FetchSettings) -> AsyncIterator[aiohttp.ClientSession]:
    """The one session for downloading member images (owned by the composition root)."""
    connector = aiohttp.TCPConnector(resolver=GuardedResolver(policy), limit=16)
    timeout = aiohttp.ClientTimeout(total=settings.timeout, sock_connect=min(10.0, settings.timeout))
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, trust_env=False, headers={"User-Agent": "liblib-discord-bot"}
    ) as session:
        yield session


class SourceImageFetcher:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        policy: HostPolicy,
        *,
        timeout: float = 20.0,
        max_bytes: int = MAX_INPUT_IMAGE_BYTES,
        max_redirects: int = 3,
    ) -> None:
        self._session = session
        self._policy = policy
        self._timeout = timeout
        self._max_bytes = max_bytes
        self._max_redirects = max_redirects

    async def fetch(self, url: str, *, field: str = "image") -> bytes:
        """The bytes at ``url``, or a SourceFetchError with a message fit for the member."""
        try:
            async with asyncio.timeout(self._timeout):
                return await self._follow(yarl.URL(url, encoded=True), field)
        except TimeoutError:
            raise SourceFetchError(
                field, "timeout", N_("downloading the image took too long. Please try again.")
            ) from None

    async def _follow(self, url: yarl.URL, field: str) -> bytes:
        for _ in range(self._max_redirects + 1):
            self._check(url, field)
            try:
                async with self._session.get(url, allow_redirects=False, headers={"Accept": "image/*"}) as resp:
                    if resp.status in _REDIRECTS:
                        location = resp.headers.get("Location")
                        if not location:
                            raise SourceFetchError(field, "status", N_("the image link redirects nowhere."))
                        url = url.join(yarl.URL(location, encoded=True))
                        continue
                    if resp.status != 200:
                        log.info("source image fetch from %s: HTTP %d", url.host, resp.status)
                        gone = resp.status in (403, 404, 410)
                        raise SourceFetchError(
                            field,
                            "status",
                            N_("that image is no longer available (deleted, or its link expired).")
                            if gone
                            else N_("could not download that image. Please try again."),
                        )
                    return await self._read(resp, field)
            except aiohttp.ClientConnectorError as exc:
                if isinstance(exc.os_error, BlockedAddressError):
                    raise self._blocked(field) from None
                log.info("source image fetch from %s failed: %s", url.host, type(exc).__name__)
                raise SourceFetchError(field, "network", N_("could not reach the image's host.")) from None
            except aiohttp.ClientError as exc:
                log.info("source image fetch from %s failed: %s", url.host, type(exc).__name__)
                raise SourceFetchError(
                    field, "network", N_("could not download that image. Please try again.")
                ) from None
        raise SourceFetchError(field, "status", N_("the image link redirects too many times."))

    def _check(self, url: yarl.URL, field: str) -> None:
        origin = self._policy.match(url)
        if origin is None:
            raise SourceFetchError(field, "host", N_("I can only fetch images posted on Discord."))
        host = url.host or ""
        try:
            literal = ipaddress.ip_address(host.strip("[]"))
        except ValueError:
            return  # a name: the resolver checks its addresses when connecting
        if not origin.trusted and not is_public_address(str(literal)):
            raise self._blocked(field)

    @staticmethod
    def _blocked(field: str) -> SourceFetchError:
        return SourceFetchError(field, "address", N_("that image's host is not reachable from the bot."))

    async def _read(self, resp: aiohttp.ClientResponse, field: str) -> bytes:
        limit = self._max_bytes
        if resp.content_length is not None and resp.content_length > limit:
            raise self._too_large(field, resp.content_length)
        buf = bytearray()
        async for chunk in resp.content.iter_chunked(65536):
            buf += chunk
            if len(buf) > limit:
                raise self._too_large(field, None)
        return bytes(buf)

    def _too_large(self, field: str, size: int | None) -> SourceFetchError:
        text = too_large_text(size, self._max_bytes)
        return SourceFetchError(field, "too_large", text.msgid, **text.params)
