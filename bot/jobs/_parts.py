"""What every part of the runner (submit, poll, deliver) works with, wired once by JobRunner."""

from __future__ import annotations

from dataclasses import dataclass

from bot import liblib
from bot.jobs.events import JobFailer
from bot.jobs.sink import ResultSink
from bot.ops.metrics import JobMetrics
from bot.storage import Store


@dataclass(frozen=True, slots=True)
class RunnerParts:
    store: Store
    client: liblib.LiblibClient
    sink: ResultSink
    failer: JobFailer
    metrics: JobMetrics


class RunnerPart:
    """Base of the runner's parts: the shared wiring, as attributes."""

    def __init__(self, parts: RunnerParts) -> None:
        self._store = parts.store
        self._client = parts.client
        self._sink = parts.sink
        self._failer = parts.failer
        self._metrics = parts.metrics
