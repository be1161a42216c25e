"""The simulated API routes: submit (rate gate, validation, concurrency cap, points, input-image fetches),
status, upload signature and model version (liblib-api.md §4–§9)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from typing import Any

import aiohttp

from bot.liblib import endpoints as ep
from bot.liblib.simulator import comfy
from bot.liblib.simulator.auth import DEV_ACCESS_KEY
from bot.liblib.simulator.comfy import SimWorkflow
from bot.liblib.simulator.images import SourcePicture, read_source
from bot.liblib.simulator.oss import EXTENSIONS, OssStore
from bot.liblib.simulator.replies import (
    MSG_BAD_IMAGE,
    MSG_CONCURRENCY,
    MSG_POINTS,
    MSG_RATE,
    MSG_SENSITIVE,
    MSG_UNREACHABLE,
    Reply,
    invalid_reply,
)
from bot.liblib.simulator.tasks import Billing, SimCounters, TaskBook
from bot.liblib.simulator.validate import MSG_INCOMPLETE, Rejection, SubmitKind, classify, small_sources, source_urls
from bot.liblib.simulator.validate import validate as validate_params
from bot.settings import SimulatorSettings

log = logging.getLogger(__name__)

SENSITIVE_WORD = "forbidden-word"  # deterministic hook: any prompt containing it answers 100052

_RATE_JITTER = 0.03  # the least timing jitter a client's requests may show on arrival
_RATE_TOLERANCE = 0.1  # ... and as a share of the interval: a request that left late must not make the next look early

# A few real checkpoints (liblib-api.md §5.6): versionUuid -> (modelName, versionName, baseAlgo).
_MODELS: dict[str, tuple[str, str, str]] = {
    "412b427ddb674b4dbab9e5abd5ae6057": ("F.1-dev-fp8", "F.1-dev-fp8", "基础算法 F.1"),
    "0ea388c7eb854be3ba3c6f65aac6bfd3": ("Dream Tech XL | 筑梦工业XL", "v6", "基础算法 XL"),
    "21df5d84cca74f7a885ba672b5a80d19": ("AWPortrait XL", "1.1", "基础算法 XL"),
    "75e0be0c93b34dd8baeec9c968013e0c": ("Qwen-Image", "v1", "基础算法 Qwen"),
}


class RateGate:
    """Per-key rate limit as a virtual schedule (the generic cell rate algorithm): each admitted request books the
    next slot one interval later; a request earlier than its slot by more than the jitter tolerance is refused.

    A request that arrived late (the network or a busy loop delayed it) does not make the next, on time, look early,
    but a client faster than the rate runs out of tolerance within a few requests and is refused."""

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("rate must be positive")
        self.interval = 1.0 / per_second
        self.tolerance = max(_RATE_JITTER, _RATE_TOLERANCE * self.interval)
        self._next: dict[str, float] = {}  # the earliest on-time arrival of the key's next request

    def admit(self, key: str, now: float) -> bool:
        due = self._next.get(key)
        if due is not None and now < due - self.tolerance:
            return False
        self._next[key] = max(due if due is not None else now, now) + self.interval
        return True


class ApiRoutes:
    """The routes' logic, mixed into ``Simulator``, which owns the state declared here."""

    settings: SimulatorSettings
    counters: SimCounters
    max_concurrent: int
    points_per_image: dict[str, int]
    _book: TaskBook
    _submit_gate: RateGate
    _status_gate: RateGate | None
    _outcomes: deque[str]
    _billings: deque[Billing]
    _oss: OssStore
    _workflows: dict[str, SimWorkflow]
    _http: aiohttp.ClientSession | None
    _base_url: str

    @property
    def base_url(self) -> str:
        """``http://host:port`` of the running server (no trailing slash)."""
        if not self._base_url:
            raise RuntimeError("the simulator is not started")
        return self._base_url

    def balance(self, access_key: str = DEV_ACCESS_KEY) -> int:
        """The account's remaining points."""
        return self._book.balance(access_key)

    # ------------------------------------------------------------------ submit

    async def _submit(self, path: str, body: object, access_key: str) -> Reply:
        if not self._submit_gate.admit(access_key, time.monotonic()):
            self.counters.rate_limit_violations += 1
            log.info("submit QPS exceeded on %s", path)
            retry = {"Retry-After": "1"} if self.settings.http_error_statuses else None
            return Reply(429, MSG_RATE, headers=retry)
        if not isinstance(body, dict):
            return invalid_reply("body")
        workflow: SimWorkflow | None = None
        if path == ep.COMFY_APP:  # its own checks, in the order the real service makes them
            rejection = comfy.check_submit(body, self._comfy_templates())
            if rejection is not None:
                return Reply(rejection.code, rejection.msg)
            kind, params = SubmitKind.COMFY, body["generateParams"]
            workflow = self._workflow(params[comfy.WORKFLOW_KEY])
            texts = comfy.texts(params)
        else:
            # PROBE's real order: empty or missing generateParams (an empty body: ``check``'s probe) is 100050,
            # before the template is looked at. A validation refusal: nothing created, nothing charged.
            params = body.get("generateParams")
            if not isinstance(params, dict) or not params:
                return Reply(100050, MSG_INCOMPLETE)
            classified = classify(path, body.get("templateUuid"))
            if isinstance(classified, Rejection):
                return Reply(classified.code, classified.msg)
            kind = classified
            rejection = validate_params(kind, params, body["templateUuid"])
            if rejection is not None:
                return Reply(rejection.code, rejection.msg)
            texts = [str(params.get(name, "")) for name in ("prompt", "negativePrompt")]
        if any(SENSITIVE_WORD in text for text in texts):
            return Reply(100052, MSG_SENSITIVE)
        if self._book.active_count(access_key) >= self.max_concurrent:
            self.counters.concurrency_violations += 1
            return Reply(100054, MSG_CONCURRENCY)
        points_key = self._points_key(kind, params)
        cost = self.points_per_image[points_key] * int(params.get("imgCount", 1))
        if workflow is not None:  # priced per output; the outputs follow the node map
            per_output = workflow.points_per_output
            outputs = len(comfy.plan(params, workflow, []).outputs)
            cost = (self.points_per_image[points_key] if per_output is None else per_output) * outputs
        if self.balance(access_key) < cost:
            return Reply(100021, MSG_POINTS)
        if self._outcomes and self._outcomes[0] == "sensitive_prompt":
            self._outcomes.popleft()
            return Reply(100052, MSG_SENSITIVE)
        # Hold a slot while fetching so concurrent submits cannot overshoot the cap.
        self._book.hold(access_key, +1)
        try:
            sources: list[SourcePicture] = []
            urls = comfy.source_urls(params) if workflow is not None else source_urls(kind, params)
            small = small_sources(kind, params) if workflow is None else frozenset()
            for url in urls:
                limit = ep.IMG1_INPAINT_MAX_BYTES if url in small else ep.MAX_INPUT_IMAGE_BYTES
                fetched = await self._fetch_source(url, limit=limit)
                if isinstance(fetched, Reply):
                    return fetched
                sources.append(fetched)
        finally:
            self._book.hold(access_key, -1)
        task = self._book.create(
            path=path,
            kind=kind,
            params=params,
            access_key=access_key,
            points_key=points_key,
            cost=cost,
            sources=sources,
            outcome=self._outcomes.popleft() if self._outcomes else None,
            base_url=self.base_url,
            plan=comfy.plan(params, workflow, [(p.width, p.height) for p in sources]) if workflow is not None else None,
            durations=workflow.durations if workflow is not None else None,
            billing=self._billings.popleft() if self._billings else None,
        )
        return Reply(0, "", {"generateUuid": task.uuid})

    def _points_key(self, kind: SubmitKind, params: dict[str, Any]) -> str:
        if kind.family is ep.Family.KONTEXT:
            return f"kontext-{params.get('model', 'max')}"
        if kind.family is ep.Family.SEEDREAM:
            return "seedream-4.5" if params.get("model") == ep.SEEDREAM_45_MODEL else "seedream"
        if kind.family is ep.Family.IMG1:  # priced by quality, generate and inpaint alike
            return f"img1-{params.get('quality', 'normal')}"
        return kind.family.value

    # ------------------------------------------------------------------ ComfyUI workflows

    def register_workflow(
        self,
        workflow_uuid: str,
        *,
        points_per_output: int | None = None,
        video: bool = False,
        video_in_images: bool = False,
        video_bytes: int = comfy.DEFAULT_VIDEO_BYTES,
        durations: tuple[float, float, float] | None = None,
        template_uuid: str = ep.TEMPLATE_COMFY,
    ) -> None:
        """How the workflow ``workflow_uuid`` runs from now on: its price per output, a video output (listed under
        ``videos``, or among the ``images`` with ``video_in_images``) of ``video_bytes``, its timing, its template.
        Unregistered workflows run too, with the defaults."""
        self._workflows[workflow_uuid] = SimWorkflow(
            workflow_uuid, points_per_output, video, video_in_images, video_bytes, durations, template_uuid
        )

    def _workflow(self, workflow_uuid: str) -> SimWorkflow:
        return self._workflows.get(workflow_uuid) or SimWorkflow(workflow_uuid)

    def _comfy_templates(self) -> frozenset[str]:
        return frozenset({ep.TEMPLATE_COMFY, *(w.template_uuid for w in self._workflows.values())})

    async def _fetch_source(self, url: str, *, limit: int = ep.MAX_INPUT_IMAGE_BYTES) -> SourcePicture | Reply:
        """Download an input image like the real service: the picture, or the 100030/100031 reply (an image over
        ``limit`` bytes: 100030)."""
        self.counters.source_fetches.append(url)
        if self._http is None:
            raise RuntimeError("the simulator is not started")
        try:
            async with self._http.get(url) as resp:
                if not 200 <= resp.status < 300 or (resp.content_length or 0) > limit:
                    log.info("source fetch refused: HTTP %d, %s bytes", resp.status, resp.content_length)
                    return Reply(100030, MSG_UNREACHABLE)
                data = bytearray()
                async for chunk in resp.content.iter_chunked(65536):
                    data += chunk
                    if len(data) > limit:
                        return Reply(100030, MSG_UNREACHABLE)
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.info("source fetch failed: %s", type(exc).__name__)
            return Reply(100030, MSG_UNREACHABLE)
        self.counters.source_digests.append(hashlib.sha256(data).hexdigest())
        # Off the loop: when the simulator runs inside the bot (no keys), decoding a 10 MB image would stall it.
        picture = await asyncio.to_thread(read_source, bytes(data))  # decodes a thumbnail: CPU work
        if picture is None:
            return Reply(100031, MSG_BAD_IMAGE)
        return picture

    # ------------------------------------------------------------------ status, upload, model

    def _status(self, path: str, body: dict[str, Any], access_key: str) -> Reply:
        if self._status_gate is not None and not self._status_gate.admit(access_key, time.monotonic()):
            self.counters.status_rate_limit_violations += 1
            return Reply(429, MSG_RATE)
        generate_uuid = body.get("generateUuid")
        if not isinstance(generate_uuid, str) or not generate_uuid:
            return invalid_reply("generateUuid")
        task = self._book.get(generate_uuid)
        if task is None or task.access_key != access_key or task.status_path != path:
            return Reply(100051, f"生图任务不存在: {generate_uuid}")
        task.status_queries += 1
        if task.terminal:
            if task.terminal_reported:
                self.counters.duplicate_uuid_queries_after_terminal += 1
            task.terminal_reported = True
        passed = [img for img in task.images if img.audit_status == ep.AuditStatus.PASSED]
        images = passed if task.status == ep.GenerateStatus.SUCCEEDED else []
        data: dict[str, Any] = {
            "generateUuid": task.uuid,
            "generateStatus": task.status,
            "percentCompleted": task.reported_percent,
            "generateMsg": task.generate_msg,
            "pointsCost": task.points,
            "accountBalance": self.balance(access_key),
            "images": [
                {"imageUrl": img.url, "seed": img.seed, "auditStatus": img.audit_status}
                for img in images
                if not img.video
            ],
        }
        if SubmitKind(task.kind).family is ep.Family.IMG1:  # IMG1 reports no progress and no seeds (§5.8)
            del data["percentCompleted"]
            data["images"] = [{k: v for k, v in image.items() if k != "seed"} for image in data["images"]]
        if task.kind == SubmitKind.COMFY:  # ComfyUI: outputs name their node; videos have a list of their own
            data["images"] = [
                {
                    "imageUrl": img.url,
                    "nodeId": img.node_id,
                    "outputName": img.output_name,
                    "seed": img.seed,
                    "auditStatus": img.audit_status,
                }
                for img in images
                if not img.video or img.in_images
            ]
            data["videos"] = [
                {
                    "videoUrl": img.url,
                    "coverPath": img.cover_url,
                    "nodeId": img.node_id,
                    "outputName": img.output_name,
                    "auditStatus": img.audit_status,
                }
                for img in images
                if img.video and not img.in_images
            ]
        if not task.billing.report:
            del data["pointsCost"]
        return Reply(0, "", data)

    def _upload(self, body: dict[str, Any]) -> Reply:
        name, extension = body.get("name"), body.get("extension")
        if not isinstance(name, str) or not 1 <= len(name) <= 100:
            return invalid_reply("name")
        if not isinstance(extension, str) or extension.lower().lstrip(".") not in EXTENSIONS:
            return invalid_reply("extension")
        return Reply(0, "", self._oss.issue(extension.lower().lstrip("."), self.base_url))

    def _model_version(self, body: dict[str, Any]) -> Reply:
        version_uuid = body.get("versionUuid")
        if not isinstance(version_uuid, str) or not version_uuid:
            return invalid_reply("versionUuid")
        model = _MODELS.get(version_uuid)
        if model is None:
            return Reply(200001, "model.notExist")
        model_name, version_name, base_algo = model
        model_uuid = hashlib.md5(model_name.encode(), usedforsecurity=False).hexdigest()
        data = {
            "versionUuid": version_uuid,
            "modelName": model_name,
            "versionName": version_name,
            "baseAlgo": base_algo,
            "showType": "1",
            "commercialUse": 1,
            "modelUrl": f"https://www.liblib.art/modelinfo/{model_uuid}?versionUuid={version_uuid}",
        }
        return Reply(0, "", data)
