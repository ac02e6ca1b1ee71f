"""Applies delivered events to a read model with its checkpoints in the same transaction.

Each stream's last applied version is stored beside the read model, so a redelivered or
replayed event is a no-op. An event the projection cannot apply is dead-lettered with its
error, and the later events of that stream are parked behind it (per-stream order is kept)
while other streams go on. Transient database errors are raised for the caller to retry.

Batch path: a projection may give an event type a *batch* apply function as well, which writes
many events with one multi-row or pipelined statement. The version checks, dedup and parking
are decided in Python first; the events to apply are then split by :func:`schedule` into
groups of one type: consecutive events of one type, or, for the types the projection declares
``commuting``, rounds of a run of such events (per-stream order kept). Each group goes to its
type's batch function in one call (or to the one-by-one function, event by event). A batch
function must give the same read model as its one-by-one function applied to the same events
in order, including when one stream appears several times in its group, once the batch's
``after_batch`` (or its deferral's ``mark``) has run: a batch function may leave to that step
what the one-by-one function writes per event (the scenes' version touch, written there once
per scene and batch). When anything in the batch cannot be applied, the whole transaction is
redone one event at a time, in delivery order, each in a savepoint, with the one-by-one
functions: the poison event is then dead-lettered alone.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import asyncpg
import structlog

from events.base import DomainEvent, RecordedEvent

log = structlog.get_logger(__name__)

ApplyFn = Callable[[asyncpg.Connection, Any], Awaitable[None]]
BatchApplyFn = Callable[[asyncpg.Connection, Sequence[Any]], Awaitable[None]]
"""Applies consecutive events of one type (oldest first; a stream may appear more than once)."""
AfterBatchFn = Callable[[asyncpg.Connection, Sequence[DomainEvent]], Awaitable[None]]
SettleFn = Callable[[asyncpg.Connection], Awaitable[None]]

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
class Deferral:
    """How a projection's ``after_batch`` work may be put off while a backlog is worked through.

    ``after_batch`` must also do whatever ``mark`` left, so that any batch applied without
    deferring settles the earlier deferred ones.
    """

    mark: AfterBatchFn
    """Runs instead of ``after_batch``, in the batch's transaction: records what it would redo."""
    settle: SettleFn
    """Redoes everything marked (its own transaction; :meth:`ProjectionRunner.settle`)."""


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
    deferral: Deferral | None = None
    """Lets a caller working through a backlog put ``after_batch`` off (see :class:`Deferral`)."""
    batch_handlers: Mapping[type[DomainEvent], BatchApplyFn] = field(default_factory=dict)
    """Optional batch apply function of some event types (each also needs its one-by-one
    function in ``handlers``: the careful path after a poison event uses that one)."""

    commuting: frozenset[type[DomainEvent]] = frozenset()
    """Event types whose apply reads and writes only rows of the event's own stream (or
    recomputes figures from index tables), so that two such events of *different* streams give
    the same read model in either order. A batch may then apply its consecutive events of these
    types in rounds (every stream's first event, then every stream's second, ...), each round
    grouped by type, instead of in delivery order (see :func:`schedule`)."""

    def __post_init__(self) -> None:
        """Refuse a batch function without its one-by-one counterpart."""
        missing = sorted(t.__name__ for t in self.batch_handlers if t not in self.handlers)
        if missing:
            raise ValueError(f"projection {self.name}: batch handlers without a handler: {missing}")

    def handles(self, event: DomainEvent) -> bool:
        """Whether this projection has an apply function for ``event``."""
        return type(event) in self.handlers


DECODE_SLICE = 200
"""Records decoded into deliveries between two turns of the event loop (about 5 ms of Python at
20-25 us each), by the live projector and by a rebuild: the batch before, being applied in the
same loop meanwhile, gets its statements' replies handled and sends its next ones."""

_CHECKPOINT_COLUMNS = ("projection", "stream_id", "stream_version", "position")

_COPY_MIN_ROWS = 64
"""New streams' checkpoints a live batch writes by COPY from (see ``_insert_new_checkpoints``)."""


class _PoisonError(Exception):
    """Internal: an apply failed for a reason retrying will not fix."""


@dataclass(slots=True)
class _BatchState:
    """What one transaction of :meth:`ProjectionRunner._run` has decided so far."""

    versions: dict[UUID, int]
    parked: dict[UUID, int]
    careful: bool
    touched: dict[UUID, tuple[int, int]] = field(default_factory=dict)
    outcome: BatchOutcome = field(default_factory=BatchOutcome)
    group: list[DomainEvent] = field(default_factory=list)
    """Events to apply, in delivery order, not written yet (fast path)."""
    fresh: bool = False
    """A ``fresh`` batch (see :meth:`ProjectionRunner.handle_batch`): a stream missing from
    ``versions`` is at the version before its first event in the batch."""
    new_streams: set[UUID] = field(default_factory=set)
    """Streams known to have had no checkpoint row when the batch began: absent from the
    checkpoints read, or a ``fresh`` batch's streams starting at 1 (fast path only)."""


class ProjectionRunner:
    """Runs batches of deliveries through one projection."""

    def __init__(self, pool: asyncpg.Pool, projection: Projection) -> None:
        self._pool = pool
        self.projection = projection
        self._dead_lettered = False
        """Whether this runner has written a dead letter (a ``fresh`` batch then reads them)."""

    async def handle_batch(
        self, deliveries: Sequence[Delivery], *, settle: bool = True, fresh: bool = False
    ) -> BatchOutcome:
        """Apply a batch in one transaction; fall back to one savepoint per event on a poison event.

        ``settle=False`` (a batch of a backlog, more to come): the projection's ``after_batch``
        work is only marked, if it has a :class:`Deferral`; :meth:`settle`, or the next batch
        handled with ``settle=True``, does it.

        ``fresh=True``: the caller vouches that the read model held no checkpoint and no dead
        letter when this runner's first batch began, that only this runner's own batches have
        written it since, and that each stream's events come in gap-free version order across
        those batches (a rebuild reading the log from its start into a new schema). Every
        stream's checkpoint is then the version before its first event in the batch, and no
        stream is parked unless this runner dead-lettered something: the per-batch read of the
        checkpoints is skipped (written as usual, in the batch's transaction).
        """
        try:
            return await self._run(deliveries, careful=False, settle=settle, fresh=fresh)
        except _PoisonError:
            return await self._run(deliveries, careful=True, settle=settle, fresh=fresh)

    async def settle(self) -> None:
        """Do the ``after_batch`` work the deferred batches left, in a transaction of its own."""
        deferral = self.projection.deferral
        if deferral is None:
            return
        async with self._pool.acquire() as conn, conn.transaction():
            await deferral.settle(conn)

    async def _run(
        self, deliveries: Sequence[Delivery], *, careful: bool, settle: bool, fresh: bool
    ) -> BatchOutcome:
        name = self.projection.name
        async with self._pool.acquire() as conn, conn.transaction():
            versions: dict[UUID, int] = {}
            parked: dict[UUID, int] = {}
            if fresh and not self._dead_lettered:
                # What the read below would return (see handle_batch), without the round trip
                # and its array of stream ids: 3-4 % of a rebuild's client and server time.
                # The fast path (_queue) takes each stream's checkpoint from its first event as
                # it goes; the careful one (_one) needs them all first.
                state = _BatchState(versions=versions, parked=parked, careful=careful, fresh=True)
                if careful:
                    for d in deliveries:
                        if d.recorded is not None:
                            event = d.recorded.event
                            if event.stream_id not in versions:
                                versions[event.stream_id] = event.stream_version - 1
                    state.new_streams = {sid for sid, v in versions.items() if v == 0}
                return await self._write(conn, deliveries, state, settle=settle)
            stream_ids = list({d.recorded.event.stream_id for d in deliveries if d.recorded})
            # One round trip for both: the stream checkpoints and the parked streams. One index
            # probe per stream (LATERAL ... LIMIT 1): with ``stream_id = ANY(...)`` a plan made
            # while the table was small (a new shadow, a new projector) filtered every row of
            # the projection instead, a cost growing with the table (70 ms a batch at 20k rows).
            for r in await conn.fetch(
                "SELECT false AS dead, u.s AS stream_id, v.n FROM unnest($2::uuid[]) AS u(s) "
                "CROSS JOIN LATERAL (SELECT stream_version AS n FROM projection_stream_versions "
                "WHERE projection = $1 AND stream_id = u.s LIMIT 1) v "
                "UNION ALL "
                "SELECT * FROM (SELECT DISTINCT ON (stream_id) true, stream_id, id FROM "
                "projection_dead_letters WHERE projection = $1 AND resolved_at IS NULL "
                "AND stream_id = ANY($2::uuid[]) ORDER BY stream_id, id) p",
                name,
                stream_ids,
            ):
                (parked if r["dead"] else versions)[r["stream_id"]] = r["n"]
            state = _BatchState(versions=versions, parked=parked, careful=careful)
            return await self._write(conn, deliveries, state, settle=settle)

    async def _write(
        self, conn: asyncpg.Connection, deliveries: Sequence[Delivery], state: _BatchState, *, settle: bool
    ) -> BatchOutcome:
        """Apply ``deliveries`` from the checkpoints of ``state``, then write checkpoints and offsets."""
        name = self.projection.name
        if state.careful:
            for d in deliveries:
                await self._one(conn, d, state)
        else:
            await self._queue(conn, deliveries, state)
        await self._flush(conn, state)
        outcome, touched = state.outcome, state.touched
        if outcome.applied_events:
            await self._after_batch(conn, outcome.applied_events, settle=settle)
        if state.new_streams:
            await self._insert_new_checkpoints(conn, state)
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

    async def _insert_new_checkpoints(self, conn: asyncpg.Connection, state: _BatchState) -> None:
        """Write the checkpoints of streams that had none by binary COPY; take them off ``touched``.

        COPY is the cheapest way in for the client (no parameter arrays to build and encode) and
        the server (no upsert): 3 against 8.6 us a row. On a ``fresh`` shadow nothing else
        writes. A live projector's rows were absent from the checkpoints read at the start of
        the batch, but another process may have written one since (two members of a group
        during a rebalance): the COPY then runs in a savepoint and, on that conflict, the rows
        go to the upsert with the others. A few rows are left to the upsert anyway: the
        savepoint's round trips would cost a small batch more than it saves.
        """
        touched = state.touched
        new = [sid for sid in touched if sid in state.new_streams]
        if not new or (not state.fresh and len(new) < _COPY_MIN_ROWS):
            return
        records = [(self.projection.name, sid, *touched[sid]) for sid in new]
        # Live: a savepoint, to undo just the COPY. A fresh shadow has no other writer.
        savepoint = contextlib.nullcontext() if state.fresh else conn.transaction()
        try:
            async with savepoint:
                await conn.copy_records_to_table(
                    "projection_stream_versions", records=records, columns=_CHECKPOINT_COLUMNS
                )
        except asyncpg.UniqueViolationError:
            if state.fresh:
                raise
            log.info("projection.checkpoint_copy_conflict", projection=self.projection.name, rows=len(new))
            return
        for sid in new:
            del touched[sid]

    async def _after_batch(
        self, conn: asyncpg.Connection, events: Sequence[DomainEvent], *, settle: bool
    ) -> None:
        projection = self.projection
        if not settle and projection.deferral is not None:
            await projection.deferral.mark(conn, events)
        elif projection.after_batch is not None:
            await projection.after_batch(conn, events)

    async def _queue(
        self, conn: asyncpg.Connection, deliveries: Sequence[Delivery], state: _BatchState
    ) -> None:
        """:meth:`_one` for each delivery, the common case inline: a stream's next event, not parked.

        Almost every event of a live projection is that case; everything else (duplicates, parked
        streams, gaps, undecodable records) goes through :meth:`_one` as before, in delivery order.
        """
        versions, parked, touched, outcome = state.versions, state.parked, state.touched, state.outcome
        handlers, group, applied_events = self.projection.handlers, state.group, outcome.applied_events
        fresh, new_streams = state.fresh, state.new_streams
        for d in deliveries:
            recorded = d.recorded
            if recorded is not None:
                event = recorded.event
                sid, version = event.stream_id, event.stream_version
                last = versions.get(sid)
                if last is None:
                    # No checkpoint row: none read, or (fresh) the version before the stream's
                    # first event in the batch, nothing being parked.
                    last = version - 1 if fresh else 0
                    if last == 0:
                        new_streams.add(sid)
                # ``not parked or``: hashing a UUID is Python code, and almost no batch parks any.
                if version == last + 1 and (not parked or sid not in parked):
                    versions[sid] = version
                    touched[sid] = (version, recorded.position)
                    outcome.applied += 1
                    if type(event) in handlers:
                        group.append(event)
                        applied_events.append(event)
                    continue
            await self._one(conn, d, state)

    async def _one(self, conn: asyncpg.Connection, d: Delivery, state: _BatchState) -> None:
        outcome, versions, parked, touched = state.outcome, state.versions, state.parked, state.touched
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
            error = await self._apply(conn, event, state)
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

    async def _apply(self, conn: asyncpg.Connection, event: DomainEvent, state: _BatchState) -> str | None:
        """Queue ``event`` (fast path: written by :meth:`_flush`) or apply it now in a savepoint."""
        if not state.careful:
            state.group.append(event)
            return None
        try:
            async with conn.transaction():  # a savepoint: undo just this event
                await self.projection.handlers[type(event)](conn, event)
        except POISON_ERRORS as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    async def _flush(self, conn: asyncpg.Connection, state: _BatchState) -> None:
        """Write the queued events group by group (any failure: the batch is redone carefully)."""
        queued, state.group = state.group, []
        projection = self.projection
        try:
            for group in schedule(queued, set(projection.batch_handlers), projection.commuting):
                batch = projection.batch_handlers.get(type(group[0]))
                if batch is not None:
                    await batch(conn, group)
                    continue
                apply = projection.handlers[type(group[0])]
                for event in group:
                    await apply(conn, event)
        except POISON_ERRORS as exc:
            raise _PoisonError from exc

    async def _dead_letter(
        self,
        conn: asyncpg.Connection,
        d: Delivery,
        error: str,
        parked_behind: int | None,
        *,
        resolved: bool = False,
    ) -> int:
        self._dead_lettered = True  # even if this transaction is rolled back: only a read more
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
        seen = last.get
        for d in deliveries:
            key = (d.topic, d.partition)
            known = seen(key)
            if known is None or d.offset > known.offset:
                last[key] = d
        if not last:
            return
        rows = list(last.values())
        await conn.execute(
            "INSERT INTO projection_offsets (projection, topic, partition, next_offset, "
            "last_position, last_event_at) "
            "SELECT $1, u.t, u.p, u.o, u.l, u.a "
            "FROM unnest($2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::timestamptz[]) "
            "AS u(t, p, o, l, a) "
            "ON CONFLICT (projection, topic, partition) DO UPDATE SET "
            "next_offset = GREATEST(projection_offsets.next_offset, EXCLUDED.next_offset), "
            "last_position = GREATEST(projection_offsets.last_position, EXCLUDED.last_position), "
            "last_event_at = EXCLUDED.last_event_at, updated_at = now()",
            self.projection.name,
            [d.topic for d in rows],
            [d.partition for d in rows],
            [d.offset + 1 for d in rows],
            [d.recorded.position if d.recorded else 0 for d in rows],
            [d.recorded.event.occurred_at if d.recorded else None for d in rows],
        )


def schedule(
    events: Sequence[DomainEvent],
    batched: AbstractSet[type[DomainEvent]],
    commuting: AbstractSet[type[DomainEvent]],
) -> list[list[DomainEvent]]:
    """Split events (in delivery order) into groups of one type, to be applied group after group.

    A maximal run of consecutive events of ``commuting`` types is regrouped in rounds: round
    *r* holds each stream's *r*-th event of the run, so a stream's events keep their order and
    only events of different streams (which commute) change places; a round is grouped by
    type. Any other event keeps its place; consecutive events of one ``batched`` type form a
    group.
    """
    out: list[list[DomainEvent]] = []
    i, n = 0, len(events)
    while i < n:
        kind = type(events[i])
        j = i + 1
        if kind in commuting:
            while j < n and type(events[j]) in commuting:
                j += 1
            rounds: list[dict[type[DomainEvent], list[DomainEvent]]] = []
            seen: dict[UUID, int] = {}
            for e in events[i:j]:
                r = seen.get(e.stream_id, 0)
                seen[e.stream_id] = r + 1
                if r == len(rounds):
                    rounds.append({})
                rounds[r].setdefault(type(e), []).append(e)
            out += [group for by_type in rounds for group in by_type.values()]
        else:
            if kind in batched:
                while j < n and type(events[j]) is kind:
                    j += 1
            out.append(list(events[i:j]))
        i = j
    return out
