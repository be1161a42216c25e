"""Async client for the LiblibAI open API (liblib-api.md; STYLE §2.4–2.5).

``LiblibClient`` is assembled from one part per concern: ``base`` (session, signing, rate limit, the retry
policy and the envelope), ``tasks`` (concurrency slots, submit, status, polling, durations), ``files``
(OSS uploads, result downloads, model metadata) and ``availability`` (whether a route is served, at no cost).
"""

from __future__ import annotations

from bot.liblib.availability import RouteProbeMixin
from bot.liblib.files import FilesMixin
from bot.liblib.tasks import TasksMixin


class LiblibClient(TasksMixin, FilesMixin, RouteProbeMixin):
    """The LiblibAI adapter. Use as ``async with LiblibClient(settings) as client:``.

    Keyword arguments: ``session`` (injected, never closed here), ``sleep`` and ``clock`` (injected time),
    ``simulated`` (pointed at a simulator from the start; the client also learns it from the simulator's tag).
    """
