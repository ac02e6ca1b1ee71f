"""Applies delivered events to a read model with its checkpoints in the same transaction.

Each stream's last applied version is stored beside the read model, so a redelivered or
replayed event is a no-op. An event the projection cannot apply is dead-lettered with its
error, and the later events of that stream are parked behind it (per-stream order is kept)
while other streams go on. Transient database errors are raised for the caller to retry.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg
import structlog

from events.base import DomainEvent, RecordedEvent

log = structlog.get_logger(__name__)

ApplyFn = Callable[[asyncpg.Connection, Any], Awaitable[None]]
AfterBatchFn = Callable[[asyncpg.Connection, Sequence[DomainEvent]], Awaitable[None]]

# Errors that say "this event cannot be applied", as opposed to "the database is away".
POISON_ERRORS: tuple[type[BaseException], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    asyncpg.SyntaxOrAccessError,
    ValueError,
    TypeError,
    KeyError,
)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One broker record: its event (``None`` if it could not be decoded) and its coordinates."""

    topic: str
    partition: int
    offset: int
    headers: tuple[tuple[str, bytes], ...]
    value: bytes
    recorded: RecordedEvent | None
    decode_error: str | None = None


@dataclass(slots=True)
class BatchOutcome:
    """What one batch did."""

    applied: int = 0
    duplicates: int = 0
    applied_events: list[DomainEvent] = field(default_factory=list)
    dead_lettered: list[Delivery] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Projection:
    """A named read model: the apply function of each event type it handles."""

    name: str
    handlers: dict[type[DomainEvent], ApplyFn]
    on_poison: Literal["pause", "skip"] = "pause"
    """What an event the projection cannot apply does to its stream: ``pause`` parks the
    stream's later events behind it (order kept, an operator retries or skips); ``skip``
    records it as a resolved dead letter and lets the stream go on."""
    after_batch: AfterBatchFn | None = None
    """Runs once per batch, in its transaction, with the events applied: for figures derived
    from many rows (recomputed once per touched key instead of once per event)."""

    def handles(self, event: DomainEvent) -> bool:
        """Whether this projection has an apply function for ``event``."""
        return type(event) in self.handlers


class _PoisonError(Exception):
    """Internal: an apply failed for a reason retrying will not fix."""


class ProjectionRunner:
    """Runs batches of deliveries through one projection."""

    def __init__(self, pool: asyncpg.Pool, projection: Projection) -> None:
        self._pool = pool
        self.projection = projection

    async def handle_batch(self, deliveries: Sequence[Delivery]) -> BatchOutcome:
        """Apply a batch in one transaction; fall back to one savepoint per event on a poison event."""
        try:
            return await self._run(deliveries, careful=False)
        except _PoisonError:
            return await self._run(deliveries, careful=True)

    async def _run(self, deliveries: Sequence[Delivery], *, careful: bool) -> BatchOutcome:
        name = self.projection.name
        outcome = BatchOutcome()
        stream_ids = list({d.recorded.event.stream_id for d in deliveries if d.recorded})
        async with self._pool.acquire() as conn, conn.transaction():
            versions: dict[UUID, int] = {
                r["stream_id"]: r["stream_version"]
                for r in await conn.fetch(
                    "SELECT stream_id, stream_version FROM projection_stream_versions "
                    "WHERE projection = $1 AND stream_id = ANY($2::uuid[])",
                    name,
                    stream_ids,
                )
            }
            parked: dict[UUID, int] = {
                r["stream_id"]: r["id"]
                for r in await conn.fetch(
                    "SELECT DISTINCT ON (stream_id) stream_id, id FROM projection_dead_letters "
                    "WHERE projection = $1 AND resolved_at IS NULL AND stream_id = ANY($2::uuid[]) "
                    "ORDER BY stream_id, id",
                    name,
                    stream_ids,
                )
            }
            touched: dict[UUID, tuple[int, int]] = {}
            for d in deliveries:
                await self._one(conn, d, versions, parked, touched, outcome, careful=careful)
            if self.projection.after_batch is not None and outcome.applied_events:
                await self.projection.after_batch(conn, outcome.applied_events)
            if touched:
                await conn.execute(
                    "INSERT INTO projection_stream_versions "
                    "(projection, stream_id, stream_version, position) "
                    "SELECT $1, u.s, u.v, u.p FROM unnest($2::uuid[], $3::int[], $4::bigint[]) "
                    "AS u(s, v, p) "
                    "ON CONFLICT (projection, stream_id) DO UPDATE "
                    "SET stream_version = EXCLUDED.stream_version, position = EXCLUDED.position",
                    name,
                    list(touched),
                    [v for v, _ in touched.values()],
                    [p for _, p in touched.values()],
                )
            await self._save_offsets(conn, deliveries)
        return outcome

    async def _one(
        self,
        conn: asyncpg.Connection,
        d: Delivery,
        versions: dict[UUID, int],
        parked: dict[UUID, int],
        touched: dict[UUID, tuple[int, int]],
        outcome: BatchOutcome,
        *,
        careful: bool,
    ) -> None:
        if d.recorded is None:
            await self._dead_letter(conn, d, d.decode_error or "undecodable record", None)
            outcome.dead_lettered.append(d)
            return
        event = d.recorded.event
        sid, version = event.stream_id, event.stream_version
        last = versions.get(sid, 0)
        if version <= last:
            outcome.duplicates += 1
            return
        if sid in parked:
            await self._dead_letter(conn, d, f"parked behind dead letter {parked[sid]}", parked[sid])
            outcome.dead_lettered.append(d)
            return
        error: str | None = None
        if version != last + 1:
            error = f"gap in stream {sid}: expected version {last + 1}, got {version}"
        elif self.projection.handles(event):
            error = await self._apply(conn, event, careful=careful)
        if error is not None:
            skip = self.projection.on_poison == "skip"
            dead_id = await self._dead_letter(conn, d, error, None, resolved=skip)
            outcome.dead_lettered.append(d)
            log.warning(
                "projection.dead_letter",
                projection=self.projection.name,
                stream_id=str(sid),
                version=version,
                error=error,
                policy=self.projection.on_poison,
            )
            if not skip:
                parked[sid] = dead_id
                return
            # Skip: the event stays on record as a (resolved) dead letter; the stream goes on.
            versions[sid] = version
            touched[sid] = (version, d.recorded.position)
            return
        versions[sid] = version
        touched[sid] = (version, d.recorded.position)
        outcome.applied += 1
        if self.projection.handles(event):
            outcome.applied_events.append(event)

    async def _apply(self, conn: asyncpg.Connection, event: DomainEvent, *, careful: bool) -> str | None:
        apply = self.projection.handlers[type(event)]
        if not careful:
            try:
                await apply(conn, event)
            except POISON_ERRORS as exc:
                raise _PoisonError from exc
            return None
        try:
            async with conn.transaction():  # a savepoint: undo just this event
                await apply(conn, event)
        except POISON_ERRORS as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def _dead_letter(
        self,
        conn: asyncpg.Connection,
        d: Delivery,
        error: str,
        parked_behind: int | None,
        *,
        resolved: bool = False,
    ) -> int:
        event = d.recorded.event if d.recorded else None
        row_id = await conn.fetchval(
            "INSERT INTO projection_dead_letters (projection, stream_id, stream_version, position, "
            'event_id, event_type, topic, partition, "offset", headers, value, error, parked_behind, '
            "resolved_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "
            "CASE WHEN $14 THEN now() END) "
            "ON CONFLICT DO NOTHING RETURNING id",
            self.projection.name,
            event.stream_id if event else None,
            event.stream_version if event else None,
            d.recorded.position if d.recorded else None,
            event.event_id if event else None,
            event.event_type if event else None,
            d.topic,
            d.partition,
            d.offset,
            json.dumps({k: v.decode(errors="replace") for k, v in d.headers}),
            d.value,
            error,
            parked_behind,
            resolved,
        )
        if row_id is None:  # already dead-lettered by an earlier delivery of this record
            row_id = await conn.fetchval(
                "SELECT id FROM projection_dead_letters WHERE projection = $1 "
                'AND ((event_id = $2) OR (topic = $3 AND partition = $4 AND "offset" = $5))',
                self.projection.name,
                event.event_id if event else None,
                d.topic,
                d.partition,
                d.offset,
            )
        return int(row_id)

    async def _save_offsets(self, conn: asyncpg.Connection, deliveries: Sequence[Delivery]) -> None:
        last: dict[tuple[str, int], Delivery] = {}
        for d in deliveries:
            key = (d.topic, d.partition)
            if key not in last or d.offset > last[key].offset:
                last[key] = d
        for (topic, partition), d in last.items():
            await conn.execute(
                "INSERT INTO projection_offsets (projection, topic, partition, next_offset, "
                "last_position, last_event_at) VALUES ($1, $2, $3, $4, $5, $6) "
                "ON CONFLICT (projection, topic, partition) DO UPDATE SET "
                "next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset), "
                "last_position = GREATEST(projection_offsets.last_position, EXCLUDED.last_position), "
                "last_event_at = EXCLUDED.last_event_at, updated_at = now()",
                self.projection.name,
                topic,
                partition,
                d.offset + 1,
                d.recorded.position if d.recorded else 0,
                d.recorded.event.occurred_at if d.recorded else None,
            )
