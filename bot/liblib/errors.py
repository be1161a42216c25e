"""Errors raised by the LiblibAI adapter (STYLE §2.5). Never shown raw to users: each has ``human``."""

from __future__ import annotations

from bot.i18n import N_


class LiblibError(Exception):
    """Base of every LiblibAI adapter error."""

    human = N_("The image service had a problem.")

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.human)
        self.message = message or self.human


class LiblibConnectionError(LiblibError):
    """The request could not be completed at the transport level."""

    human = N_("Could not reach the image service.")

    def __init__(self, message: str = "", *, reached_server: bool = False) -> None:
        super().__init__(message)
        # False only when the request provably never left (connect failure): then a submit may retry.
        self.reached_server = reached_server


class LiblibTimeoutError(LiblibConnectionError):
    """No response in time; the request may have reached the server."""

    human = N_("The image service did not answer in time.")


class LiblibStatusError(LiblibError):
    """A non-2xx HTTP status or a non-zero ``code`` in the ``{code, msg, data}`` envelope."""

    human = N_("The image service refused the request.")

    def __init__(self, message: str = "", *, status: int = 200, code: int | None = None, path: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.path = path

    # Seconds the server asked us to wait (``Retry-After``), when it said; set by the client.
    retry_after: float | None = None

    def __str__(self) -> str:
        return f"{type(self).__name__}(status={self.status}, code={self.code}, path={self.path}): {self.message}"


class LiblibAuthError(LiblibStatusError):
    """Signature rejected, key unknown or expired: a configuration problem for the owner."""

    human = N_("The bot's LiblibAI keys were rejected. Ask the server owner to check them.")


class LiblibAccessDeniedError(LiblibAuthError):
    """403: no API entitlement, or not enough API points."""

    human = N_("LiblibAI denied access: the account has no API entitlement or not enough API points.")


class LiblibInsufficientPointsError(LiblibStatusError):
    human = N_("The LiblibAI account is out of points. Ask the server owner to top it up.")


class LiblibRateLimitError(LiblibStatusError):
    """429 (HTTP or envelope): too many requests."""

    human = N_("The image service is busy right now; please try again shortly.")

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kw: object) -> None:
        super().__init__(message, **kw)  # type: ignore[arg-type]
        self.retry_after = retry_after


class LiblibConcurrencyError(LiblibStatusError):
    """100054: the account's concurrent-task cap is reached."""

    human = N_("The LiblibAI account is running as many tasks as it may; the job will wait.")


class LiblibInvalidParameterError(LiblibStatusError):
    human = N_("The image service rejected the request's parameters.")


class LiblibModelNotFoundError(LiblibInvalidParameterError):
    """200001 (or the bare 400/404 ``{message}`` form): the model version is unknown or not offered by the API."""

    human = N_("LiblibAI does not know that model version, or does not offer it through the API.")


class LiblibSensitivePromptError(LiblibStatusError):
    human = N_("The image service refused the prompt because it contains sensitive content.")


class LiblibImageUnreachableError(LiblibStatusError):
    human = N_("The image service could not fetch the input image (unreachable, too large or not an image).")


class LiblibTaskNotFoundError(LiblibStatusError):
    human = N_("The image service does not know this task.")


class LiblibServerError(LiblibStatusError):
    """5xx, or the API's internal/upstream failure codes."""

    human = N_("The image service had an internal error; please try again.")


class LiblibResponseValidationError(LiblibError):
    """The response was not the JSON shape the API documents."""

    human = N_("The image service sent a response the bot could not understand.")


class LiblibPayloadTooLargeError(LiblibError):
    """A downloaded result was larger than the caller's cap (never retried)."""

    human = N_("The generated image is too large to deliver.")


class GenerationFailedError(LiblibError):
    """The task ended without usable images (status 6, or every image blocked).

    ``points_cost`` is what LiblibAI reported the task cost (None: not reported, or no terminal status seen).
    """

    human = N_("The image generation failed.")

    def __init__(
        self,
        message: str = "",
        *,
        generate_uuid: str = "",
        status: int | None = None,
        points_cost: int | None = None,
        account_balance: int | None = None,
    ) -> None:
        super().__init__(message)
        self.generate_uuid = generate_uuid
        self.status = status
        self.points_cost = points_cost
        self.account_balance = account_balance


class AuditRejectedError(GenerationFailedError):
    human = N_("The result was blocked by LiblibAI's content audit.")


class GenerationTimedOutError(GenerationFailedError):
    human = N_("The image service gave up on the task (timeout); its points were released.")


class GenerationWaitTimeoutError(GenerationTimedOutError):
    """The client stopped waiting (its own deadline); the task may still run on the server."""

    human = N_("The image is taking too long; the bot stopped waiting for it.")


_BY_CODE: dict[int, type[LiblibStatusError]] = {
    401: LiblibAuthError,
    403: LiblibAccessDeniedError,
    429: LiblibRateLimitError,
    100000: LiblibInvalidParameterError,
    100010: LiblibAuthError,
    100020: LiblibAuthError,
    100021: LiblibInsufficientPointsError,
    100030: LiblibImageUnreachableError,
    100031: LiblibImageUnreachableError,
    100032: LiblibImageUnreachableError,
    100050: LiblibInvalidParameterError,
    100051: LiblibTaskNotFoundError,
    100052: LiblibSensitivePromptError,
    100053: LiblibInvalidParameterError,
    100054: LiblibConcurrencyError,
    100055: LiblibSensitivePromptError,
    100120: LiblibInvalidParameterError,
    200000: LiblibServerError,
    200001: LiblibModelNotFoundError,
    210000: LiblibServerError,
}

SIGNATURE_FAILED_MSG = "签名验证失败"


def error_for_code(code: int, msg: str, *, status: int = 200, path: str = "") -> LiblibStatusError:
    """Map an envelope ``code`` (or an HTTP error status) to the typed error (liblib-api.md §10)."""
    cls = _BY_CODE.get(code)
    if cls is None:
        cls = LiblibServerError if code >= 500 and code < 600 else LiblibStatusError
    if SIGNATURE_FAILED_MSG in msg:  # PROBE saw the auth failure carried under code 100000
        cls = LiblibAuthError
    return cls(msg or cls.human, status=status, code=code, path=path)
