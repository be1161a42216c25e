"""What the fake records: REST calls, uploaded files, interactions, injected faults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class UploadedFile:
    """One ``files[n]`` part of a multipart request (discord.py always sends application/octet-stream)."""

    filename: str
    content: bytes
    content_type: str
    field_name: str = ""


@dataclass(slots=True)
class Call:
    """One HTTP request the fake answered.

    ``path`` is the raw path without the ``/api/v10`` prefix (``/channels/123/messages``), ``route`` the
    template it matched (``/channels/{channel_id}/messages``; equal to ``path`` when nothing matched).
    ``json`` is the parsed JSON body, or the parsed ``payload_json`` part of a multipart body.
    """

    method: str
    path: str
    route: str
    query: dict[str, str]
    json: Any
    files: list[UploadedFile]
    headers: dict[str, str]
    status: int = 0
    response: Any = None
    params: dict[str, str] = field(default_factory=dict)
    at: float = 0.0

    @property
    def code(self) -> int | None:
        """Discord's JSON error code of the response, if any."""
        return self.response.get("code") if isinstance(self.response, dict) else None

    def __repr__(self) -> str:
        return f"<Call {self.method} {self.path} -> {self.status}>"


@dataclass(eq=False, slots=True)
class Interaction:
    """An interaction the fake dispatched, and what the bot did with it."""

    id: int
    token: str
    type: int
    payload: dict[str, Any]
    user_id: int
    channel_id: int
    created_at: float
    message_id: int | None = None  # the message a component/modal interaction came from
    response: dict[str, Any] | None = None  # the callback body (type + data)
    acked_at: float | None = None
    original_message_id: int | None = None
    followup_ids: list[int] = field(default_factory=list)
    expired: bool = False
    opened_by: Interaction | None = None  # for a modal submit: the interaction that opened the modal

    @property
    def data(self) -> dict[str, Any]:
        return self.payload.get("data") or {}

    @property
    def acked(self) -> bool:
        return self.acked_at is not None

    @property
    def response_type(self) -> int | None:
        return self.response["type"] if self.response else None

    def __repr__(self) -> str:
        return f"<Interaction id={self.id} type={self.type} response_type={self.response_type}>"


@dataclass(slots=True)
class HostedFile:
    filename: str
    content: bytes
    content_type: str


DROPPED = 0  # the status recorded for a request whose connection the fake dropped (no answer at all)
STALLED = -1  # a Fault that answers normally, but only after ``delay`` seconds


@dataclass(slots=True)
class Fault:
    """A canned error for matching requests; ``status`` DROPPED closes the connection without an answer
    (``reset``: with a TCP reset), STALLED answers as usual after ``delay`` seconds."""

    method: str
    path_contains: str
    status: int
    count: int
    retry_after: float | None
    code: int | None
    reset: bool = False
    delay: float = 0.0
    when: Callable[[Call], bool] | None = None  # a further condition on the request (its body, say)

    def matches(self, call: Call) -> bool:
        return (
            self.count > 0
            and self.method in {call.method, "*"}
            and (self.path_contains in call.path or self.path_contains in call.route)
            and (self.when is None or self.when(call))
        )
