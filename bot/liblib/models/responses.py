"""Response wire models for the LiblibAI open API (liblib-api.md §6–§8).

They set ``extra="allow"`` and parse leniently: unknown keys are kept but ignored, missing optional fields are
fine, and numbers may come as strings.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic.alias_generators import to_camel

from bot.liblib.endpoints import VIDEO_EXTENSIONS, AuditStatus, GenerateStatus


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="allow")


def _lenient_int(value: Any) -> int | None:
    """An int from int/float/str, or None for null or anything unparseable."""
    if value is None:
        return None
    if isinstance(value, int):  # bool included
        return value
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value.is_integer() else None
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                as_float = float(value)
            except ValueError:
                return None
            return int(as_float) if math.isfinite(as_float) and as_float.is_integer() else None
    return None


def _lenient_float(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        result = float(value)
    except (TypeError, ValueError):
        return None
    return result if math.isfinite(result) else None


def _none_to(default: Callable[[], Any]) -> BeforeValidator:
    return BeforeValidator(lambda v: default() if v is None else v)


def _to_str_or_none(value: Any) -> str | None:
    return None if value is None else str(value)


LenientInt = Annotated[int | None, BeforeValidator(_lenient_int)]
LenientFloat = Annotated[float | None, BeforeValidator(_lenient_float)]
_StrOrNone = Annotated[str | None, BeforeValidator(_to_str_or_none)]


class _Audited(_Response):
    audit_status: LenientInt = None

    @property
    def passed(self) -> bool:
        """Usable: audit passed, or no audit status reported (the API lists only passed images)."""
        return self.audit_status is None or self.audit_status == AuditStatus.PASSED

    @property
    def blocked(self) -> bool:
        return self.audit_status in (AuditStatus.BLOCKED, AuditStatus.FAILED)


class TaskImage(_Audited):
    image_url: str
    seed: LenientInt = None
    node_id: _StrOrNone = None  # ComfyUI: the output node and its output
    output_name: _StrOrNone = None

    @property
    def is_video(self) -> bool:
        """A video listed among the images (a ComfyUI workflow's video node may land there): by its extension."""
        return is_video_url(self.image_url)


class TaskVideo(_Audited):
    """One ``videos`` entry (ComfyUI and Kling, §6.2): ``{videoUrl, coverPath, nodeId, outputName, auditStatus}``."""

    video_url: str
    cover_path: _StrOrNone = None
    node_id: _StrOrNone = None
    output_name: _StrOrNone = None


def is_video_url(url: str) -> bool:
    path = url.split("?", 1)[0].split("#", 1)[0].lower()
    return path.endswith(VIDEO_EXTENSIONS)


class TaskStatus(_Response):
    """The ``data`` of a status response (§6.2)."""

    generate_uuid: Annotated[str, _none_to(str)] = ""
    generate_status: int
    percent_completed: LenientFloat = None
    generate_msg: Annotated[str, _none_to(str)] = ""
    points_cost: LenientInt = None
    account_balance: LenientInt = None
    images: Annotated[list[TaskImage], _none_to(list)] = Field(default_factory=list)
    videos: Annotated[list[TaskVideo], _none_to(list)] = Field(default_factory=list)

    @property
    def status(self) -> GenerateStatus | None:
        """The known status, or None for a value outside 1–7 (treated as "keep polling")."""
        try:
            return GenerateStatus(self.generate_status)
        except ValueError:
            return None

    @property
    def is_terminal(self) -> bool:
        status = self.status
        return status is not None and status.terminal

    @property
    def progress(self) -> float | None:
        """``percentCompleted`` normalised to 0–1 (a value above 1 is read as a percentage)."""
        p = self.percent_completed
        if p is None or p < 0:
            return None
        if p > 1:
            p = p / 100
        return min(p, 1.0)

    @property
    def passed_images(self) -> list[TaskImage]:
        return [image for image in self.images if image.passed]

    @property
    def passed_videos(self) -> list[TaskVideo]:
        """Usable videos: the ``videos`` list, and any video listed among the images (by its extension)."""
        listed = [video for video in self.videos if video.passed]
        among_images = [
            TaskVideo(video_url=i.image_url, node_id=i.node_id, output_name=i.output_name, audit_status=i.audit_status)
            for i in self.passed_images
            if i.is_video
        ]
        return listed + among_images

    @property
    def blocked_count(self) -> int:
        return sum(1 for image in self.images if image.blocked) + sum(1 for video in self.videos if video.blocked)


@dataclass(frozen=True, slots=True)
class TaskResult:
    """A finished task: only images that passed audit, plus what it cost."""

    generate_uuid: str
    images: tuple[TaskImage, ...]
    points_cost: int | None = None
    account_balance: int | None = None
    blocked_count: int = 0
    status: TaskStatus | None = field(default=None, compare=False, repr=False)
    videos: tuple[TaskVideo, ...] = ()  # a ComfyUI workflow may make videos instead of (or besides) images

    @property
    def seeds(self) -> tuple[int | None, ...]:
        return tuple(image.seed for image in self.images)

    @property
    def image_urls(self) -> tuple[str, ...]:
        return tuple(image.image_url for image in self.images)

    @classmethod
    def from_status(cls, status: TaskStatus) -> TaskResult:
        return cls(
            generate_uuid=status.generate_uuid,
            images=tuple(image for image in status.passed_images if not image.is_video),
            points_cost=status.points_cost,
            account_balance=status.account_balance,
            blocked_count=status.blocked_count,
            status=status,
            videos=tuple(status.passed_videos),
        )


def _oss(camel: str, snake: str) -> Any:
    js = "xoss" + camel[4:]  # the JS SDK spells xOssDate as xossDate (§11.2)
    return Field(validation_alias=AliasChoices(camel, js, snake))


_ExpiresStr = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int | float) else v)]


class UploadSignature(_Response):
    """The ``data`` of ``/api/generate/upload/signature`` (§7). Accepts ``xOssDate`` and ``xossDate``."""

    key: str
    policy: str
    post_url: str = Field(validation_alias=AliasChoices("postUrl", "post_url"))
    x_oss_date: str = _oss("xOssDate", "x_oss_date")
    x_oss_expires: _ExpiresStr = _oss("xOssExpires", "x_oss_expires")
    x_oss_signature: str = _oss("xOssSignature", "x_oss_signature")
    x_oss_credential: str = _oss("xOssCredential", "x_oss_credential")
    x_oss_signature_version: str = _oss("xOssSignatureVersion", "x_oss_signature_version")

    @property
    def public_url(self) -> str:
        """Where the uploaded file is served: ``postUrl + "/" + key``."""
        return self.post_url.rstrip("/") + "/" + self.key.lstrip("/")

    def form_fields(self) -> list[tuple[str, str]]:
        """The OSS PostObject form fields in the documented order (the file goes after these)."""
        return [
            ("key", self.key),
            ("policy", self.policy),
            ("x-oss-date", self.x_oss_date),
            ("x-oss-expires", self.x_oss_expires),
            ("x-oss-signature", self.x_oss_signature),
            ("x-oss-credential", self.x_oss_credential),
            ("x-oss-signature-version", self.x_oss_signature_version),
        ]


def _lenient_bool(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes"):
        return True
    if text in ("0", "false", "no"):
        return False
    return None


class ModelVersion(_Response):
    """``/api/model/version/get`` (§8): the enveloped camelCase form or the bare snake_case form."""

    version_uuid: str = Field(default="", validation_alias=AliasChoices("versionUuid", "version_uuid"))
    model_name: _StrOrNone = Field(default=None, validation_alias=AliasChoices("modelName", "model_name"))
    version_name: _StrOrNone = Field(default=None, validation_alias=AliasChoices("versionName", "version_name"))
    base_algo: _StrOrNone = Field(
        default=None, validation_alias=AliasChoices("baseAlgo", "baseAlgoName", "base_algo", "base_algo_name")
    )
    show_type: _StrOrNone = Field(default=None, validation_alias=AliasChoices("showType", "show_type"))
    commercial_use: Annotated[bool | None, BeforeValidator(_lenient_bool)] = Field(
        default=None, validation_alias=AliasChoices("commercialUse", "commercial_use")
    )
    model_url: _StrOrNone = Field(default=None, validation_alias=AliasChoices("modelUrl", "model_url"))

    @model_validator(mode="before")
    @classmethod
    def _unwrap_envelope(cls, value: Any) -> Any:
        if isinstance(value, dict) and "code" in value and isinstance(value.get("data"), dict):
            return value["data"]
        return value
