"""Routes, template uuids and status codes of the LiblibAI open API (liblib-api.md §3, §6)."""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final


class Family(StrEnum):
    """A generation family: decides the submit route, the template and the status route."""

    STAR3 = "star3"
    CUSTOM = "custom"
    KONTEXT = "kontext"
    SEEDREAM = "seedream"  # Seedream 4.0 / 4.5 (§5.8)
    LIBDREAM = "libdream"
    IMG1 = "img1"  # Smart IMG1 generate and inpaint
    COMFY = "comfy"  # ComfyUI workflows registered on the account (§5.8)


STAR3_TEXT2IMG = "/api/generate/webui/text2img/ultra"
STAR3_IMG2IMG = "/api/generate/webui/img2img/ultra"
WEBUI_TEXT2IMG = "/api/generate/webui/text2img"
WEBUI_IMG2IMG = "/api/generate/webui/img2img"
KONTEXT_TEXT2IMG = "/api/generate/kontext/text2img"
KONTEXT_IMG2IMG = "/api/generate/kontext/img2img"
SEEDREAM = "/api/generate/seedreamV4"
LIBDREAM = "/api/generate/libDream"
IMG1_GENERATE = "/api/generate/smart-img1/generate"
IMG1_INPAINT = "/api/generate/smart-img1/inpaint"
COMFY_APP = "/api/generate/comfyui/app"
WEBUI_STATUS = "/api/generate/webui/status"
GENERIC_STATUS = "/api/generate/status"
COMFY_STATUS = "/api/generate/comfy/status"
UPLOAD_SIGNATURE = "/api/generate/upload/signature"
MODEL_VERSION = "/api/model/version/get"

SUBMIT_PATHS = frozenset(
    {
        STAR3_TEXT2IMG,
        STAR3_IMG2IMG,
        WEBUI_TEXT2IMG,
        WEBUI_IMG2IMG,
        KONTEXT_TEXT2IMG,
        KONTEXT_IMG2IMG,
        SEEDREAM,
        LIBDREAM,
        IMG1_GENERATE,
        IMG1_INPAINT,
        COMFY_APP,
    }
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
TEMPLATE_SEEDREAM = "0b6bad2fd350433ebb5abc7eb91f2ec9"
TEMPLATE_LIBDREAM = "aa835a39c1a14cfca47c6fc941137c51"
TEMPLATE_IMG1_GENERATE = "86c58ea26e9a45bd9f562c6306c17c0f"
TEMPLATE_IMG1_INPAINT = "0fb3ddb15a094e74b1241fbda5db3199"
TEMPLATE_COMFY = "4df2efa0f18d46dc9758803e478eb51c"  # the default; an account's workflow may name another

# Default status route per family (§6.1). Configurable because the sources disagree for some routes.
DEFAULT_STATUS_PATH: dict[Family, str] = {
    Family.STAR3: WEBUI_STATUS,
    Family.CUSTOM: WEBUI_STATUS,
    Family.KONTEXT: GENERIC_STATUS,
    Family.SEEDREAM: GENERIC_STATUS,
    Family.LIBDREAM: GENERIC_STATUS,
    Family.IMG1: GENERIC_STATUS,
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

# Seedream 4.x (§5.8): the model names, and the image rules of each.
SEEDREAM_40_MODEL: Final = "doubao-seedream-4-0-250828"
SEEDREAM_45_MODEL: Final = "doubao-seedream-4-5-251128"
SEEDREAM_MODELS = (SEEDREAM_40_MODEL, SEEDREAM_45_MODEL)
SEEDREAM_MAX_IMAGES = 15  # references + outputs
MAX_IMAGES_ANY_FAMILY = SEEDREAM_MAX_IMAGES  # the most images one task of any family returns
SEEDREAM_MAX_REFERENCES = {SEEDREAM_40_MODEL: 10, SEEDREAM_45_MODEL: 14}
SEEDREAM_40_SIDE = (512, 4096)  # each side; and width * height <= SEEDREAM_40_MAX_PIXELS
SEEDREAM_40_MAX_PIXELS = 2048 * 2048
SEEDREAM_45_PIXELS = (3_686_400, 16_777_216)  # total pixels, inclusive
SEEDREAM_SEQUENTIAL = ("disabled", "auto")
# libDream (§5.8): sides 512-3072 with width * height <= 2048²; scale 1-10 (default 2.5).
LIBDREAM_SIDE = (512, 3072)
LIBDREAM_MAX_PIXELS = 2048 * 2048
LIBDREAM_DEFAULT_SIDE = 1328
LIBDREAM_SCALE = (1.0, 10.0)
# The doc names libDream's ``seed`` without a range; ByteDance's Seedream 3.0 behind it takes 0..2^31-1.
LIBDREAM_SEED_MAX = 2**31 - 1
# Smart IMG1 (§5.8).
IMG1_ASPECT_RATIOS = ("auto", "square", "portrait", "landscape")
IMG1_QUALITIES = ("turbo", "normal", "masterpiece")
IMG1_MAX_REFERENCES = 8
IMG1_INPAINT_MAX_BYTES = 4 * 1024 * 1024  # the inpaint ``image`` and ``mask`` each (§9)
# Result URLs that are videos, whichever list the status put them in (ComfyUI: ``videos``, §6.2).
VIDEO_EXTENSIONS = (".mp4", ".webm", ".mov", ".m4v", ".mkv", ".avi")
