"""Routes, template uuids and status codes of the LiblibAI open API (liblib-api.md §3, §6)."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Family(StrEnum):
    """A generation family: decides the submit route, the template and the status route."""

    STAR3 = "star3"
    CUSTOM = "custom"
    KONTEXT = "kontext"
    COMFY = "comfy"  # ComfyUI workflows registered on the account (§5.8)


STAR3_TEXT2IMG = "/api/generate/webui/text2img/ultra"
STAR3_IMG2IMG = "/api/generate/webui/img2img/ultra"
WEBUI_TEXT2IMG = "/api/generate/webui/text2img"
WEBUI_IMG2IMG = "/api/generate/webui/img2img"
KONTEXT_TEXT2IMG = "/api/generate/kontext/text2img"
KONTEXT_IMG2IMG = "/api/generate/kontext/img2img"
COMFY_APP = "/api/generate/comfyui/app"
WEBUI_STATUS = "/api/generate/webui/status"
GENERIC_STATUS = "/api/generate/status"
COMFY_STATUS = "/api/generate/comfy/status"
UPLOAD_SIGNATURE = "/api/generate/upload/signature"
MODEL_VERSION = "/api/model/version/get"

SUBMIT_PATHS = frozenset(
    {STAR3_TEXT2IMG, STAR3_IMG2IMG, WEBUI_TEXT2IMG, WEBUI_IMG2IMG, KONTEXT_TEXT2IMG, KONTEXT_IMG2IMG} | {COMFY_APP}
)
STATUS_PATHS = frozenset({WEBUI_STATUS, GENERIC_STATUS, COMFY_STATUS})

# Every answer of the simulator carries this header (the real API never sends it): a client that sees it
# knows its results are simulated, whoever started the simulator.
SIMULATOR_HEADER = "X-Liblib-Simulator"

# Template uuids (liblib-api.md §3, §4).
TEMPLATE_STAR3_TEXT2IMG = "5d7e67009b344550bc1aa6ccbfa1d7f4"
TEMPLATE_STAR3_IMG2IMG = "07e00af4fc464c7ab55ff906f8acf1b7"
TEMPLATE_CUSTOM_TEXT2IMG = "e10adc3949ba59abbe56e057f20f883e"
TEMPLATE_CUSTOM_IMG2IMG = "9c7d531dc75f476aa833b3d452b8f7ad"
TEMPLATE_KONTEXT_TEXT2IMG = "fe9928fde1b4491c9b360dd24aa2b115"
TEMPLATE_KONTEXT_IMG2IMG = "1c0a9712b3d84e1b8a9f49514a46d88c"
TEMPLATE_COMFY = "4df2efa0f18d46dc9758803e478eb51c"  # the default; an account's workflow may name another

# Default status route per family (§6.1). Configurable because the sources disagree for some routes.
DEFAULT_STATUS_PATH: dict[Family, str] = {
    Family.STAR3: WEBUI_STATUS,
    Family.CUSTOM: WEBUI_STATUS,
    Family.KONTEXT: GENERIC_STATUS,
    Family.COMFY: COMFY_STATUS,
}


class GenerateStatus(IntEnum):
    """``generateStatus`` (§6.3). Values outside the enum mean "keep polling"."""

    QUEUED = 1
    RUNNING = 2
    GENERATED = 3
    AUDITING = 4
    SUCCEEDED = 5
    FAILED = 6
    TIMED_OUT = 7

    @property
    def terminal(self) -> bool:
        return self in (GenerateStatus.SUCCEEDED, GenerateStatus.FAILED, GenerateStatus.TIMED_OUT)


class AuditStatus(IntEnum):
    """Per-image ``auditStatus`` (§6.4). Only PASSED images are usable."""

    PENDING = 1
    AUDITING = 2
    PASSED = 3
    BLOCKED = 4
    FAILED = 5


PROMPT_MAX_CHARS = 2000
MAX_IMAGE_COUNT = 4
SEED_MAX = 9_999_999_999  # the largest seed any family takes (-1: random)
MAX_INPUT_IMAGE_BYTES = 10 * 1024 * 1024
KONTEXT_MAX_REFERENCES = 4
KONTEXT_ASPECT_RATIOS = ("1:1", "2:3", "3:2", "3:4", "4:3", "9:16", "16:9", "9:21", "21:9")
STAR3_ASPECT_RATIOS = ("square", "portrait", "landscape")
STAR3_CONTROL_TYPES = ("line", "depth", "pose", "IPAdapter")
VALID_SAMPLERS = frozenset(set(range(22)) | {24, 25, 27, 28, 29, 30})

# Result URLs that are videos, whichever list the status put them in (ComfyUI: ``videos``, §6.2).
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".mkv", ".avi")
