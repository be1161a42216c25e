"""Task records and the task life cycle of the LiblibAI simulator (liblib-api.md §6, §9).

A task's status follows real time from its creation: 1 for ``queued`` seconds, 2 for ``running``
(``percentCompleted`` rising 0→1, except on the webui routes, where LiblibAI answers 0 throughout), then 3
and 4 for half of ``auditing`` each, then 5. Injected outcomes end it as 6 or 7 after the running phase
instead. A loop timer makes each task terminal on time even when nobody polls, so the concurrency count and
the points charged never depend on the client polling.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from bot.liblib import endpoints as ep
from bot.liblib.simulator.comfy import ComfyPlan
from bot.liblib.simulator.images import (
    STAR3_SIZES,
    RenderSpec,
    SourcePicture,
    clamp_size,
    kontext_size,
    megapixel_size,
)
from bot.liblib.simulator.validate import SubmitKind

log = logging.getLogger(__name__)

Durations = tuple[float, float, float]  # seconds in status 1, in 2, and in 3+4

# Smart IMG1's output sizes by ``aspectRatio`` (liblib-api.md §5.8).
IMG1_SIZES: dict[str, tuple[int, int]] = {"square": (1024, 1024), "portrait": (1024, 1536), "landscape": (1536, 1024)}
# How much longer than the configured running time each family renders: a Seedream group takes a little longer per
# image, IMG1 by quality. A rough likeness of the real service, so progress and waits differ by family in the bot.
_IMG1_RUNNING = {"turbo": 0.5, "normal": 1.0, "masterpiece": 2.0}


def running_factor(kind: SubmitKind, params: dict[str, Any]) -> float:
    if kind is SubmitKind.SEEDREAM:
        return 1.0 + 0.1 * (int(params.get("imgCount", 1)) - 1)
    if kind.family is ep.Family.IMG1:
        return _IMG1_RUNNING.get(str(params.get("quality", "normal")), 1.0)
    return 1.0


def _scaled(durations: Durations, running: float) -> Durations:
    return (durations[0], durations[1] * running, durations[2])


@dataclass(frozen=True, slots=True)
class Billing:
    """How one task is billed, instead of the usual (its price on success, nothing on a failure or timeout).

    ``cost``: the points it is charged when it ends, whatever its outcome (None: the usual). ``report``: False
    leaves ``pointsCost`` out of its status answers (it is charged all the same).
    """

    cost: int | None = None
    report: bool = True


@dataclass
class SimCounters:
    """What the simulator saw; tests and benchmarks assert on these."""

    submits: int = 0  # tasks created
    submit_requests: int = 0  # submit attempts that passed auth
    status_queries: int = 0  # status queries that passed auth
    rate_limit_violations: int = 0  # submits refused 429 because the client crossed the QPS limit
    concurrency_violations: int = 0  # submits refused 100054 because the client crossed the cap
    max_concurrent_seen: int = 0  # most non-terminal tasks one AccessKey had at once
    auth_failures: int = 0
    duplicate_uuid_queries_after_terminal: int = 0  # status queries for a task already reported terminal
    source_fetches: list[str] = field(default_factory=list)
    source_digests: list[str] = field(default_factory=list)  # sha256 hex of each source image fetched
    submits_by_path: dict[str, int] = field(default_factory=dict)
    points_spent: int = 0
    status_rate_limit_violations: int = 0  # only with settings.status_qps
    faults_served: int = 0  # injected faults consumed
    uploads: int = 0  # files stored through POST /oss
    image_downloads: int = 0  # result images requested (GET /images/...): delivery, re-posts, Vary sources

    def snapshot(self) -> dict[str, object]:
        """A JSON-able deep copy."""
        return dataclasses.asdict(self)

    def reset(self) -> None:
        """Zero everything in place, so references held elsewhere stay valid."""
        fresh = SimCounters()
        for f in dataclasses.fields(self):
            setattr(self, f.name, getattr(fresh, f.name))


@dataclass(slots=True)
class SimImage:
    url: str
    seed: int
    audit_status: int  # an ep.AuditStatus value; only PASSED images are reported
    width: int
    height: int
    node_id: str = ""  # ComfyUI: the output node, and its output ("images" or "videos")
    output_name: str = ""
    video: bool = False  # a ComfyUI video output (``url`` is the video, ``cover_url`` a frame)
    cover_url: str = ""
    in_images: bool = False  # a video listed among the images rather than under ``videos``


@dataclass(slots=True)
class SimTask:
    """One generation task. ``status`` is brought up to date whenever the simulator looks at it."""

    uuid: str
    path: str
    params: dict[str, Any]
    status: int
    created_at: float  # time.monotonic()
    images: list[SimImage]  # every image planned, blocked ones included
    points: int  # points charged (0 until it ends; then its price on success, or as ``billing`` says)
    access_key: str
    kind: str = ""  # a SubmitKind value
    points_key: str = ""  # "star3", "custom", "kontext-pro" or "kontext-max"
    cost: int = 0  # points it will be charged on success
    outcome: str | None = None  # an injected outcome, None for success
    billing: Billing = field(default_factory=Billing)
    durations: Durations = (0.0, 0.0, 0.0)
    percent: float = 0.0
    generate_msg: str = ""
    terminal_reported: bool = False
    finished_at: float | None = None  # time.monotonic() when it became terminal (benchmarks)
    status_queries: int = 0  # status queries answered for it (benchmarks)

    @property
    def terminal(self) -> bool:
        return self.status in (ep.GenerateStatus.SUCCEEDED, ep.GenerateStatus.FAILED, ep.GenerateStatus.TIMED_OUT)

    @property
    def status_path(self) -> str:
        return ep.DEFAULT_STATUS_PATH[SubmitKind(self.kind).family]

    @property
    def reported_percent(self) -> float:
        """``percentCompleted`` as LiblibAI answers it: "not implemented" on the webui routes (Star-3, custom
        checkpoints), where it stays 0 even on success (DOC's example); rising 0→1 elsewhere."""
        return 0.0 if self.status_path == ep.WEBUI_STATUS else self.percent

    @property
    def end_offset(self) -> float:
        """Seconds from creation to the terminal status."""
        queued, running, auditing = self.durations
        if self.outcome in ("failed", "timeout"):
            return queued + running
        return queued + running + auditing


def output_size(kind: SubmitKind, params: dict[str, Any], sources: list[tuple[int, int]]) -> tuple[int, int]:
    """The (width, height) of the images a (validated) request produces."""
    if kind is SubmitKind.STAR3_T2I:
        size = params.get("imageSize")
        if isinstance(size, dict):  # COMFY drops aspectRatio when a size is given: the size wins
            return (int(size["width"]), int(size["height"]))
        return STAR3_SIZES[params["aspectRatio"]]
    if kind is SubmitKind.CUSTOM_T2I:
        return (int(params["width"]), int(params["height"]))
    if kind is SubmitKind.CUSTOM_I2I and "resizedWidth" in params and "resizedHeight" in params:
        return (int(params["resizedWidth"]), int(params["resizedHeight"]))
    if kind.family is ep.Family.KONTEXT:
        if "aspectRatio" in params or not sources:
            return kontext_size(params.get("aspectRatio", "1:1"))
        return megapixel_size(*sources[0])
    if kind is SubmitKind.SEEDREAM:
        return (int(params.get("width", 2048)), int(params.get("height", 2048)))
    if kind is SubmitKind.LIBDREAM:
        side = ep.LIBDREAM_DEFAULT_SIDE
        return (int(params.get("width", side)), int(params.get("height", side)))
    if kind.family is ep.Family.IMG1:
        ratio = params.get("aspectRatio", "auto")
        if ratio in IMG1_SIZES:
            return IMG1_SIZES[ratio]
        if sources:  # "auto" (and inpaint) follow the first image: the one repainted, or the first reference
            return clamp_size(sources[0], 64, 2048)
        return IMG1_SIZES["square"]
    if sources:  # img2img without an explicit size follows the source picture
        low = 512 if kind.family is ep.Family.STAR3 else 128
        return clamp_size(sources[0], low, 2048)
    return (1024, 1024)


def _audit(outcome: str | None, index: int, count: int) -> int:
    """The audit status of image ``index`` of ``count``: injected outcomes block all, or the last."""
    blocked = outcome == "audit_reject" or (outcome == "partial_audit" and index == count - 1)
    return int(ep.AuditStatus.BLOCKED if blocked else ep.AuditStatus.PASSED)


class TaskBook:
    """Every task, the per-key active sets and balances, and the image registry."""

    def __init__(self, counters: SimCounters, initial_balance: int, durations: Durations) -> None:
        self.counters = counters
        self.initial_balance = initial_balance
        self.durations = durations
        self.tasks: dict[str, SimTask] = {}
        self.images: dict[str, RenderSpec] = {}  # file name -> what render_png paints
        self.videos: dict[str, tuple[str, int]] = {}  # file name -> (its cover image URL, its size in bytes)
        self._active: dict[str, set[str]] = {}
        self._pending: dict[str, int] = {}  # submits past the cap check, still fetching their sources
        self._balances: dict[str, int] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._rng = random.Random()

    def get(self, generate_uuid: str) -> SimTask | None:
        task = self.tasks.get(generate_uuid)
        if task is not None:
            self.refresh(task)
        return task

    def balance(self, access_key: str) -> int:
        return self._balances.get(access_key, self.initial_balance)

    def active_count(self, access_key: str) -> int:
        """Non-terminal tasks of this key, plus submits holding a slot while they fetch sources."""
        for task_uuid in list(self._active.get(access_key, ())):
            self.refresh(self.tasks[task_uuid])
        return len(self._active.get(access_key, ())) + self._pending.get(access_key, 0)

    def hold(self, access_key: str, delta: int) -> None:
        self._pending[access_key] = self._pending.get(access_key, 0) + delta

    def create(
        self,
        *,
        path: str,
        kind: SubmitKind,
        params: dict[str, Any],
        access_key: str,
        points_key: str,
        cost: int,
        sources: list[SourcePicture],
        outcome: str | None,
        base_url: str,
        plan: ComfyPlan | None = None,
        durations: Durations | None = None,
        billing: Billing | None = None,
    ) -> SimTask:
        if plan is not None:
            images = self._comfy_images(plan, outcome, base_url)
        else:
            images = self._images(kind, params, sources, outcome, base_url)
        task = SimTask(
            uuid=uuid.uuid4().hex,
            path=path,
            params=params,
            status=int(ep.GenerateStatus.QUEUED),
            created_at=time.monotonic(),
            images=images,
            points=0,
            access_key=access_key,
            kind=kind.value,
            points_key=points_key,
            cost=cost,
            outcome=outcome,
            billing=billing or Billing(),
            durations=durations or _scaled(self.durations, running_factor(kind, params)),
        )
        self.tasks[task.uuid] = task
        active = self._active.setdefault(access_key, set())
        active.add(task.uuid)
        self.counters.submits += 1
        self.counters.submits_by_path[path] = self.counters.submits_by_path.get(path, 0) + 1
        # The number of active tasks only grows here, so this sees the true maximum.
        self.counters.max_concurrent_seen = max(self.counters.max_concurrent_seen, len(active))
        self._timers[task.uuid] = asyncio.get_running_loop().call_later(task.end_offset, self.finish, task)
        log.info("task %s created on %s (%s, outcome %s)", task.uuid, path, kind.value, outcome or "success")
        return task

    def _images(
        self,
        kind: SubmitKind,
        params: dict[str, Any],
        sources: list[SourcePicture],
        outcome: str | None,
        base_url: str,
    ) -> list[SimImage]:
        count = int(params.get("imgCount", 1))
        width, height = output_size(kind, params, [(s.width, s.height) for s in sources])
        seeded = kind.family in (ep.Family.CUSTOM, ep.Family.LIBDREAM)
        base_seed = int(params.get("seed", -1)) if seeded else -1
        prompt = str(params["prompt"])
        # Image-to-image results are painted from the main source (the first fetched).
        source = sources[0] if kind.img2img and sources else None
        images: list[SimImage] = []
        for index in range(count):
            seed = base_seed + index if base_seed >= 0 else self._rng.randint(0, ep.SEED_MAX)
            url = self._register_image(RenderSpec(prompt, seed, index + 1, count, width, height, source), base_url)
            images.append(SimImage(url, seed, _audit(outcome, index, count), width, height))
        return images

    def _comfy_images(self, plan: ComfyPlan, outcome: str | None, base_url: str) -> list[SimImage]:
        """One per planned output of a ComfyUI workflow (videos get a file and a cover frame)."""
        images: list[SimImage] = []
        count = len(plan.outputs)
        for index, output in enumerate(plan.outputs):
            seed = plan.seed + index if plan.seed >= 0 else self._rng.randint(0, ep.SEED_MAX)
            spec = RenderSpec(plan.prompt, seed, index + 1, count, plan.width, plan.height)
            url = self._register_image(spec, base_url)
            image = SimImage(
                url, seed, _audit(outcome, index, count), plan.width, plan.height, output.node_id, output.output_name
            )
            if output.video:
                name = hashlib.sha256(f"video\x00{url}".encode()).hexdigest()
                self.videos[name] = (url, plan.video_bytes)
                image.video, image.cover_url, image.url = True, url, f"{base_url}/videos/{name}.mp4"
                image.in_images = plan.video_in_images
            images.append(image)
        return images

    def _register_image(self, spec: RenderSpec, base_url: str) -> str:
        source = spec.source.digest if spec.source else ""
        key = f"{spec.prompt}\x00{spec.seed}\x00{spec.index}\x00{spec.count}\x00{spec.width}x{spec.height}\x00{source}"
        name = hashlib.sha256(key.encode()).hexdigest()
        self.images[name] = spec
        return f"{base_url}/images/{name}.png"

    def refresh(self, task: SimTask) -> None:
        """Bring ``task.status`` and ``task.percent`` up to the current time."""
        if task.terminal:
            return
        elapsed = time.monotonic() - task.created_at
        queued, running, auditing = task.durations
        if elapsed >= task.end_offset:
            self.finish(task)
        elif elapsed < queued:
            task.status, task.percent = int(ep.GenerateStatus.QUEUED), 0.0
        elif elapsed < queued + running:
            task.status = int(ep.GenerateStatus.RUNNING)
            task.percent = round(min(1.0, (elapsed - queued) / running), 3) if running > 0 else 1.0
        else:
            half_way = elapsed < queued + running + auditing / 2
            task.status = int(ep.GenerateStatus.GENERATED if half_way else ep.GenerateStatus.AUDITING)
            task.percent = 1.0

    def finish(self, task: SimTask) -> None:
        """Move a task to its terminal status (idempotent); charge it (its price if it succeeded, or its billing)."""
        if task.terminal:
            return
        handle = self._timers.pop(task.uuid, None)
        if handle is not None:
            handle.cancel()
        self._active.get(task.access_key, set()).discard(task.uuid)
        # The scheduled moment, not now: a late timer or a status query may get here a little after it.
        task.finished_at = task.created_at + task.end_offset
        charge = 0
        if task.outcome == "failed":
            task.status, task.generate_msg = int(ep.GenerateStatus.FAILED), "生图失败：模型推理异常"
        elif task.outcome == "timeout":  # the real service gives up at 30 min and releases the points
            task.status, task.generate_msg = int(ep.GenerateStatus.TIMED_OUT), "生图超时"
        else:  # blocked images are still paid for: only the survivors are reported
            task.status, task.percent, charge = int(ep.GenerateStatus.SUCCEEDED), 1.0, task.cost
        if task.billing.cost is not None:
            charge = task.billing.cost
        task.points = charge
        self._balances[task.access_key] = self.balance(task.access_key) - charge
        self.counters.points_spent += charge
        log.info("task %s finished with status %d", task.uuid, task.status)

    def cancel_timers(self) -> None:
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
