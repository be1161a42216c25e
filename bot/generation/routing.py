"""Which mode a request goes to when its member named none (no mode option, no ``--mode`` flag), and which
submit routes each family uses (for ``liblib-bot check``'s probe). No I/O.

A request whose member named no mode takes their default (personal, server or bot), except:

- **its language:** a prompt that is not English (``bot.generation.language``) whose default takes English only
  (Star-3, custom checkpoints) goes to the language default instead: the server's ``non_english_default``, then
  the bot's ``[models] non_english_default``, else the cheapest allowed mode that takes the language (never an
  owner's ComfyUI workflow unless named so: a workflow does whatever it was built for);
- **an unavailable default:** when LiblibAI no longer serves the default (``bot.liblib.availability``), the
  request goes to the cheapest other allowed mode that is served and can take it.

A routed request says so (``routed_from``, ``routed_language``); the member sees it in the queued message and the
result. A member who named an English-only mode keeps the builder's refusal, and one who named an unavailable
mode the admission's: the bot never overrides a choice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterator, Sequence

from bot.errors import BotError
from bot.generation.builder import ModeInfo, RequestBuilder
from bot.generation.families import SubmitBuilder, family_of, mode_name
from bot.generation.language import request_language
from bot.models import GenerationRequest

log = logging.getLogger(__name__)

Build = Callable[[str], GenerationRequest]
"""The member's request in a mode (by name), checked as their own would be: raises a BotError when that mode
cannot take it (its images, options or language)."""

PROBE_IMAGE = "https://probe.invalid/probe.png"  # never fetched: a sample request's image, to learn its route


def mode_allowed(
    allowed: Collection[str] | None, request: GenerationRequest, kontext_default: str | None = None
) -> bool:
    """Whether a server's ``allowed_models`` (None: every model) allow ``request``'s mode, by its full name
    ("kontext-pro") or its family's ("kontext"). The one owner of that rule (the admission checks it too)."""
    return allowed is None or mode_name(request, kontext_default) in allowed or request.mode in allowed


def route_request(
    builder: RequestBuilder,
    build: Build,
    *,
    prompt: str,
    negative: str | None,
    default: str,
    preferred: Sequence[str | None] = (),
    allowed: Collection[str] | None = None,
    available: Callable[[str], bool] = lambda _mode: True,
    price: Callable[[GenerationRequest], int] = lambda _request: 0,
) -> GenerationRequest:
    """The request in ``default`` (the member's default mode), or in the mode the rules above choose instead.

    ``preferred``: the language defaults to try first (the server's, the bot's; None skipped); ``allowed``: the
    server's allowed models; ``available``: whether LiblibAI serves a mode now; ``price``: a request's points per
    image. When nothing fits, the request in ``default`` (so the member gets its refusal)."""
    name = builder.resolve_mode(default)
    try:
        info = builder.mode_info(name)
    except BotError:
        return build(default)  # an unknown default: its refusal
    language = request_language(prompt, negative)
    for_language = info.english_only and not language.is_english
    if not for_language and available(name):
        return build(default)
    wanted = list(preferred) if for_language else []
    for request in _candidates(builder, build, name, wanted, allowed, available, price):
        log.info(
            "routed a request from %s to %s (%s)",
            name,
            mode_name(request),
            f"{language} prompt" if for_language else "unavailable",
        )
        return request.with_(routed_from=name, routed_language=str(language) if for_language else None)
    return build(default)


def _candidates(
    builder: RequestBuilder,
    build: Build,
    default: str,
    preferred: Sequence[str | None],
    allowed: Collection[str] | None,
    available: Callable[[str], bool],
    price: Callable[[GenerationRequest], int],
) -> Iterator[GenerationRequest]:
    """The requests the member could be routed to, best first: ``preferred`` in order, then every built-in mode and
    custom model by price (ties in the modes' listed order). Each is allowed, served, and takes the request (its
    language included)."""
    seen = {default}

    def fit(mode: str) -> GenerationRequest | None:
        if mode in seen:
            return None
        seen.add(mode)
        if not available(mode):
            return None
        try:
            request = build(mode)
        except BotError:
            return None  # the mode cannot take it (its language, images or options) or is unknown
        return request if mode_allowed(allowed, request) else None

    for mode in preferred:
        if mode and (request := fit(builder.resolve_mode(mode))) is not None:
            yield request
    # An owner's ComfyUI workflow does whatever it was built for: it is a language default only when named one.
    modes = [info for info in builder.modes() if not info.workflow]
    others = [(price(r), n, r) for n, info in enumerate(modes) if (r := fit(info.name)) is not None]
    for _price, _n, request in sorted(others, key=lambda o: (o[0], o[1])):
        yield request


def family_submit_routes(builder: RequestBuilder, submit: SubmitBuilder) -> dict[str, tuple[str, ...]]:
    """Every configured family's submit routes (family name -> paths, text-to-image first), found by building a
    sample request in each mode (from a prompt, from an image, with a mask, as far as the mode takes each)."""
    routes: dict[str, list[str]] = {}
    for info in builder.modes():
        paths = routes.setdefault(str(family_of(info.name)), [])
        for sample in _samples(builder, info):
            try:
                path = submit(sample).path
            except Exception:  # noqa: S112 - a shape this mode's submit does not take: nothing to learn
                continue
            if path not in paths:
                paths.append(path)
    return {family: tuple(paths) for family, paths in routes.items() if paths}


def _samples(builder: RequestBuilder, info: ModeInfo) -> Iterator[GenerationRequest]:
    shapes = [(False, False)]
    if info.max_references > 0:
        shapes += [(True, False), (True, True)]
    for has_image, has_mask in shapes:
        try:
            request = builder.build("a probe", mode=info.name, has_image=has_image, has_mask=has_mask)
        except BotError:
            continue
        if has_image:
            request = request.with_(source_images=(PROBE_IMAGE,))
        if has_mask:
            request = request.with_(mask_image=PROBE_IMAGE)
        yield request
