"""The database-independent rules the SQL stores share: no SQL, no connections.

- the Job <-> row codec (each adapter supplies how its driver binds and returns datetimes);
- the transition rules: allowed moves, the ``expected`` normalisation, the default timestamps;
- the refund and settlement arithmetic (counter deltas, the settled debits);
- decoding of a row of the admin audit and of the prompt log; the style and preference codecs.

The shared SQL and its orchestration are in ``_sql.py`` (SqlStore); migrations in ``_migrations.py``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Final, Protocol

from bot.i18n import Text
from bot.models import (
    TRANSITIONS,
    FailureReason,
    GenerationRequest,
    Job,
    JobKind,
    JobResult,
    JobState,
    Preferences,
    Style,
    UsageDebit,
)
from bot.storage.base import (
    AuditEntry,
    EnqueueOutcome,
    EnqueueResult,
    InvalidTransitionError,
    PromptLogEntry,
    Settlement,
)

JOB_FIELDS: Final = tuple(f.name for f in dataclasses.fields(Job))
DATETIME_FIELDS: Final = frozenset(
    {
        "created_at",
        "state_changed_at",
        "submitted_at",
        "finished_at",
        "interaction_expires_at",
        "not_before",
        "cancel_requested_at",
    }
)
# Owned by the store: set only through enqueue/transition/request_cancel, never through **fields.
PROTECTED_FIELDS: Final = frozenset({"id", "state", "debits", "refunded", "cancel_requested_at"})

# A counter adjustment: (the debit whose counter moves, images delta, points delta).
Delta = tuple[UsageDebit, int, int]
CounterKey = tuple[str, int, str]  # (scope, scope_id, window): one row of the usage table


class Row(Protocol):
    """A result row addressed by column name (``sqlite3.Row``, ``asyncpg.Record``)."""

    def keys(self) -> Iterable[str]: ...

    def __getitem__(self, key: str, /) -> Any: ...


class Rollback(Exception):  # noqa: N818 - control flow, never escapes the adapters
    """Raised inside a write transaction to roll it back and hand ``result`` to the caller."""

    def __init__(self, result: EnqueueResult) -> None:
        super().__init__(result.outcome)
        self.result = result


# -- the Job codec ----------------------------------------------------------------------------------


def check_aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value!r}: the store keeps timezone-aware UTC only")
    return value


def encode_debits(debits: Iterable[UsageDebit]) -> str:
    return json.dumps([dataclasses.asdict(d) for d in debits], sort_keys=True)


def decode_debits(raw: str) -> tuple[UsageDebit, ...]:
    return tuple(UsageDebit(**item) for item in json.loads(raw))


def encode_field(name: str, value: Any, *, encode_datetime: Callable[[datetime], Any] = check_aware) -> Any:
    """Python value of Job attribute ``name`` -> column value (datetimes via ``encode_datetime``)."""
    if value is None:
        return None
    if name in DATETIME_FIELDS:
        return encode_datetime(value)
    if name in {"request", "result", "failure_detail"}:
        return value.to_json()
    if name == "debits":
        return encode_debits(value)
    if name == "refunded":
        return bool(value)
    if name in {"kind", "state", "failure_reason"}:
        return str(value)
    return value


def decode_field(name: str, raw: Any, *, decode_datetime: Callable[[Any], datetime]) -> Any:
    """Column value -> Python value of Job attribute ``name`` (datetimes via ``decode_datetime``)."""
    if raw is None:
        return None
    if name in DATETIME_FIELDS:
        return decode_datetime(raw)
    if name == "request":
        return GenerationRequest.from_json(raw)
    if name == "result":
        return JobResult.from_json(raw)
    if name == "debits":
        return decode_debits(raw)
    if name == "refunded":
        return bool(raw)
    if name == "kind":
        return JobKind(raw)
    if name == "state":
        return JobState(raw)
    if name == "failure_reason":
        return FailureReason(raw)
    if name == "failure_detail":
        return Text.from_json(raw)
    return raw


def row_to_job(row: Row, *, decode_datetime: Callable[[Any], datetime]) -> Job:
    keys = set(row.keys())
    return Job(
        **{name: decode_field(name, row[name], decode_datetime=decode_datetime) for name in JOB_FIELDS if name in keys}
    )


def encode_updates(fields: Mapping[str, Any], encode: Callable[[str, Any], Any]) -> dict[str, Any]:
    """Validated ``**fields`` of update_job/transition, encoded by the adapter's ``encode``."""
    known = set(JOB_FIELDS)
    for name in fields:
        if name not in known:
            raise TypeError(f"unknown Job field {name!r}")
        if name in PROTECTED_FIELDS:
            raise ValueError(f"Job.{name} is managed by the store and cannot be set directly")
    return {name: encode(name, value) for name, value in fields.items()}


def check_job_columns(columns: Iterable[str]) -> None:
    """Fail fast when a Job field has no column (a field added without a migration)."""
    present = set(columns)
    missing = [name for name in JOB_FIELDS if name not in present]
    if missing:
        raise RuntimeError(f"jobs table lacks columns for Job fields {missing}: add a migration")


# -- transitions ------------------------------------------------------------------------------------


def transition_sources(
    expected: JobState | Iterable[JobState], new: JobState, settlement: Settlement | None
) -> frozenset[JobState]:
    """The ``expected`` states as a set, after checking the move and the settlement are allowed."""
    sources = frozenset({expected} if isinstance(expected, JobState) else expected)
    if not sources:
        raise InvalidTransitionError(f"no expected state given for a move to {new}")
    refused = sorted(str(s) for s in sources if new not in TRANSITIONS[s])
    if refused:
        raise InvalidTransitionError(f"{', '.join(refused)} -> {new} is not an allowed transition")
    if settlement is not None and new is not JobState.SUCCEEDED:
        raise ValueError("a settlement applies only to a move to SUCCEEDED")
    return sources


def transition_updates(
    updates: dict[str, Any], new: JobState, settlement: Settlement | None, *, now: Any
) -> dict[str, Any]:
    """Complete the encoded ``updates`` of a move to ``new``: timestamps default to ``now`` (encoded)."""
    updates.setdefault("state_changed_at", now)
    if new.terminal:
        updates.setdefault("finished_at", now)
    if settlement is not None and settlement.points is not None:
        updates["points_cost"] = settlement.points
    updates["state"] = str(new)
    return updates


# -- refunds and settlements ------------------------------------------------------------------------


def counter_key(debit: UsageDebit) -> CounterKey:
    return (debit.scope, debit.scope_id, debit.window)


def refund_deltas(debits: Iterable[UsageDebit]) -> list[Delta]:
    """Give every debit back (counters clamp at zero in SQL)."""
    return [(d, -d.images, -d.points) for d in debits]


def final_charge(job: Job, new: JobState, settlement: Settlement | None) -> Settlement | None:
    """What ``job``, entering the terminal state ``new``, is charged; None: nothing, refund every debit.

    LiblibAI's bill decides, never the way the job ended: an explicit settlement (a delivered job's images
    and points); else the job's ``points_cost`` when LiblibAI billed it (each debit keeps its images: they
    were rendered, delivered or not); else nothing, unless the job succeeded (its reservation stands).
    """
    if settlement is not None:
        return settlement
    if job.points_cost:
        return Settlement(images=None, points=job.points_cost)
    if new is JobState.SUCCEEDED:
        return Settlement(images=None, points=None)
    return None


def settlement_deltas(debits: Iterable[UsageDebit], settlement: Settlement) -> list[Delta]:
    """Move every debit from what was reserved to what the job really cost."""
    reserved = tuple(debits)
    settled = settled_debits(reserved, settlement)
    return [(d, s.images - d.images, s.points - d.points) for d, s in zip(reserved, settled, strict=True)]


def settled_debits(debits: Iterable[UsageDebit], settlement: Settlement) -> list[UsageDebit]:
    """Each debit at the settlement's images and points (None: as the debit reserved)."""
    images, points = settlement.images, settlement.points
    return [
        dataclasses.replace(
            d, images=d.images if images is None else images, points=d.points if points is None else points
        )
        for d in debits
    ]


async def with_usage_totals(
    result: EnqueueResult, get_usage: Callable[[str, int, str], Awaitable[tuple[int, int]]]
) -> EnqueueResult:
    """For a refused debit, add that counter's totals before this request (read after the rollback)."""
    if result.outcome is EnqueueOutcome.QUOTA_EXCEEDED and result.failed_debit is not None:
        debit = result.failed_debit
        images, points = await get_usage(debit.scope, debit.scope_id, debit.window)
        result = dataclasses.replace(result, used_images=images, used_points=points)
    return result


# -- other rows -------------------------------------------------------------------------------------


def audit_entry(row: Row, *, decode_datetime: Callable[[Any], datetime]) -> AuditEntry:
    return AuditEntry(
        guild_id=int(row["guild_id"]),
        actor_id=int(row["actor_id"]),
        action=str(row["action"]),
        detail=str(row["detail"]),
        created_at=decode_datetime(row["created_at"]),
        id=int(row["id"]),
    )


def prompt_log_entry(row: Row, *, decode_datetime: Callable[[Any], datetime]) -> PromptLogEntry:
    """A prompt_log row joined with its job's ``job_state``, ``points_cost``, ``points_reserved``, ``refunded``
    and ``result_images`` (how many images the job's result holds; None: no result)."""
    state = row["job_state"]
    points: int | None = None
    images: int | None = None
    if state is not None:
        points = int(row["points_cost"]) if row["points_cost"] is not None else int(row["points_reserved"])
        images = int(row["result_images"]) if row["result_images"] is not None else None
        if row["refunded"]:
            images, points = 0, 0
    return PromptLogEntry(
        guild_id=row["guild_id"],
        channel_id=int(row["channel_id"]),
        user_id=int(row["user_id"]),
        job_id=str(row["job_id"]),
        mode=str(row["mode"]),
        prompt=str(row["prompt"]),
        created_at=decode_datetime(row["created_at"]),
        negative_prompt=row["negative_prompt"],
        id=int(row["id"]),
        job_state=state,
        images=images,
        points=points,
    )


def style_values(style: Style) -> tuple[Any, ...]:
    """A server style's columns, guild_id to strength (``updated_at`` is the store's)."""
    if style.guild_id is None:
        raise ValueError("only a server's style is stored (bot-wide ones live in the settings)")
    return (
        style.guild_id,
        style.name,
        style.description,
        style.prefix,
        style.suffix,
        style.negative,
        style.mode,
        style.aspect,
        style.lora,
        style.strength,
    )


def style(row: Row) -> Style:
    strength = row["strength"]
    return Style(
        name=str(row["name"]),
        description=str(row["description"]),
        prefix=str(row["prefix"]),
        suffix=str(row["suffix"]),
        negative=row["negative"],
        mode=row["mode"],
        aspect=row["aspect"],
        lora=row["lora"],
        strength=float(strength) if strength is not None else None,
        guild_id=int(row["guild_id"]),
    )


def preferences(row: Row) -> Preferences:
    count = row["image_count"]
    return Preferences(
        mode=row["mode"],
        aspect=row["aspect"],
        count=int(count) if count is not None else None,
        style=row["style"],
        language=row["language"],
    )
