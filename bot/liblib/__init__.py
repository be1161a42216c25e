"""LiblibAI open-API adapter: client, wire models, errors, routes (STYLE §2.2)."""

from bot.liblib import models
from bot.liblib.base import RequestKind, SubmitGate
from bot.liblib.client import LiblibClient
from bot.liblib.endpoints import AuditStatus, Family, GenerateStatus
from bot.liblib.errors import (
    AuditRejectedError,
    GenerationFailedError,
    GenerationTimedOutError,
    GenerationWaitTimeoutError,
    LiblibAccessDeniedError,
    LiblibAuthError,
    LiblibConcurrencyError,
    LiblibConnectionError,
    LiblibError,
    LiblibImageUnreachableError,
    LiblibInsufficientPointsError,
    LiblibInvalidParameterError,
    LiblibModelNotFoundError,
    LiblibPayloadTooLargeError,
    LiblibRateLimitError,
    LiblibResponseValidationError,
    LiblibRouteNotServedError,
    LiblibSensitivePromptError,
    LiblibServerError,
    LiblibStatusError,
    LiblibTaskNotFoundError,
    LiblibTimeoutError,
    error_for_code,
)
from bot.liblib.models import *  # noqa: F403 - the wire models, listed once in models.__all__

__all__ = [
    "AuditRejectedError",
    "AuditStatus",
    "Family",
    "GenerateStatus",
    "GenerationFailedError",
    "GenerationTimedOutError",
    "GenerationWaitTimeoutError",
    "LiblibAccessDeniedError",
    "LiblibAuthError",
    "LiblibClient",
    "LiblibConcurrencyError",
    "LiblibConnectionError",
    "LiblibError",
    "LiblibImageUnreachableError",
    "LiblibInsufficientPointsError",
    "LiblibInvalidParameterError",
    "LiblibModelNotFoundError",
    "LiblibPayloadTooLargeError",
    "LiblibRateLimitError",
    "LiblibResponseValidationError",
    "LiblibRouteNotServedError",
    "LiblibSensitivePromptError",
    "LiblibServerError",
    "LiblibStatusError",
    "LiblibTaskNotFoundError",
    "LiblibTimeoutError",
    "RequestKind",
    "SubmitGate",
    "error_for_code",
]
__all__ += models.__all__
