"""PostgreSQL event store: ``saga_events``, optimistic concurrency, concurrent appends group-committed."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple
from uuid import UUID

import asyncpg

from commands.errors import ConcurrencyConflictError, UniqueKeyTakenError
from commands.ports import AppendResult, ConditionNotMetError, StreamCondition, UniqueClaim, check_append
from events.base import DomainEvent, EventMetadata, RecordedEvent
from events.registry import EventRegistry, trusted_validate
from infra import pii

_APPEND = """
SELECT status, stream_id, stream_version, positions FROM append_events(
    $1, $2, $3, $4, $5, $6::uuid[], $7::text[], $8::smallint[], $9::text[]::jsonb[], $10::timestamptz[],
    $11, $12, $13, $14, $15::inet, $16, $17, $18::text[], $19::text[], $20::text[], $21::text[],
    $22::uuid[], $23::boolean[], $24::integer[], $25::text[], $26::boolean[])
"""

_APPEND_BATCH = """
SELECT status, stream_id, stream_version, positions, constraint_name
FROM append_events_batch($1::append_request[])
"""

MAX_BATCH = 64
"""Most appends per batch: ``append_events_batch`` refuses more (see migration 0008)."""

_MAPPED_CONSTRAINTS = frozenset(
    {"unique_claims_pkey", "processed_commands_pkey", "saga_events_stream_version_key"}
)

_Request = tuple[Any, ...]
"""``append_events``' arguments in order; also one ``append_request`` of a batch."""


class _Outcome(NamedTuple):
    """One append's answer: a row of ``append_events`` or of ``append_events_batch``."""

    status: str
    stream_id: UUID
    stream_version: int
    positions: Sequence[int]
    constraint_name: str | None


_ALONE = _Outcome("alone", UUID(int=0), 0, (), None)
"""Answer that sends a caller back to append on its own (the batch could not take it)."""


class _Pending(NamedTuple):
    request: _Request
    future: asyncio.Future[_Outcome]


def _fail(batch: Sequence[_Pending], exc: Exception) -> None:
    for p in batch:
        if not p.future.done():
            p.future.set_exception(exc)


_READ_STREAM = """
SELECT position, id, stream_id, stream_version, event_type, schema_version, event_data,
       occurred_at, correlation_id, causation_id, user_id, user_role, host(client_addr) AS client_addr
FROM saga_events WHERE stream_id = $1 ORDER BY stream_version
"""


_METADATA_COLUMNS = ("correlation_id", "causation_id", "user_id", "user_role", "client_addr")


def recorded_from_row(row: asyncpg.Record | dict[str, Any], registry: EventRegistry) -> RecordedEvent:
    """Turn a ``saga_events`` row into a typed, upcast event."""
    event = registry.load(
        event_type=row["event_type"],
        schema_version=row["schema_version"],
        payload=row["event_data"],
        event_id=row["id"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        occurred_at=row["occurred_at"],
    )
    return registry.recorded(event, row["position"], {field: row[field] for field in _METADATA_COLUMNS})


def _flattened(conditions: Sequence[StreamCondition]) -> tuple[list[int], list[str], list[bool]]:
    """Return the conditions' event types as parallel arrays: PostgreSQL arrays cannot be ragged.

    Each type comes with its condition's number (1-based) and whether it sets the condition.
    """
    numbers: list[int] = []
    types: list[str] = []
    sets: list[bool] = []
    for number, condition in enumerate(conditions, start=1):
        for event_type in condition.set_by:
            numbers.append(number)
            types.append(event_type)
            sets.append(True)
        for event_type in condition.cleared_by:
            numbers.append(number)
            types.append(event_type)
            sets.append(False)
    return numbers, types, sets


class PostgresEventStore:
    """Appends to and reads from ``saga_events``.

    Appends that overlap in time are committed together (group commit): one round trip and
    one transaction for up to ``max_batch`` of them, each with the outcome it would have
    alone. ``max_in_flight`` bounds the appends and batches at the server at once.
    """

    def __init__(
        self,
        pool: asyncpg.Pool,
        registry: EventRegistry,
        *,
        saga_type: str = "command",
        max_batch: int = MAX_BATCH,
        max_in_flight: int = 2,
    ) -> None:
        if not 1 <= max_batch <= MAX_BATCH or max_in_flight < 1:
            raise ValueError(f"max_batch must be 1..{MAX_BATCH} and max_in_flight at least 1")
        self._pool = pool
        self._registry = registry
        self._keys = pii.PersonalDataKeys(pool)
        self._saga_type = saga_type
        self._max_batch = max_batch
        self._max_in_flight = max_in_flight
        self._queue: list[_Pending] = []
        self._flushes = 0  # appends and batches at the server
        self._in_flight = 0  # requests in them
        self._starter: asyncio.Task[None] | None = None  # a flusher yet to take its batch
        self._flushers: set[asyncio.Task[None]] = set()
        self._appended: list[Callable[[], None]] = []

    def on_appended(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` (synchronously, so it must not block) after each append that committed.

        The relay of the same process listens, so that an event appended here goes out at
        once instead of at its next poll of the log.
        """
        self._appended.append(listener)

    async def append(
        self,
        events: Sequence[DomainEvent],
        *,
        expected_version: int,
        metadata: EventMetadata,
        command_id: UUID | None = None,
        claims: Sequence[UniqueClaim] = (),
        releases: Sequence[UniqueClaim] = (),
        conditions: Sequence[StreamCondition] = (),
    ) -> AppendResult:
        """Append ``events`` if the stream is at ``expected_version`` (see the port).

        Concurrent calls are committed together (see :class:`PostgresEventStore`). A caller
        cancelled while it waits only drops its answer: the append has happened or has not
        (not yet sent: it is skipped), exactly once either way; ``find_command`` tells which.
        """
        check_append(events, expected_version)
        first = events[0]
        payloads = await self._stored_payloads(events)
        req_of, req_types, req_sets = _flattened(conditions)
        request: _Request = (
            first.stream_id,
            expected_version,
            command_id,
            first.stream_type,
            first.partition_key(),
            [e.event_id for e in events],
            [e.event_type for e in events],
            [e.schema_version for e in events],
            payloads,
            [e.occurred_at for e in events],
            metadata.correlation_id,
            metadata.causation_id,
            metadata.user_id,
            metadata.user_role,
            metadata.client_addr,
            metadata.correlation_id,
            self._saga_type,
            [c.scope for c in claims],
            [c.key for c in claims],
            [r.scope for r in releases],
            [r.key for r in releases],
            [c.stream_id for c in conditions],
            [c.expected for c in conditions],
            req_of,
            req_types,
            req_sets,
        )
        outcome = await self._submit(request)
        if outcome.status == "alone" or (
            outcome.status == "unique_violation" and outcome.constraint_name not in _MAPPED_CONSTRAINTS
        ):
            # Alone, an unexpected unique violation (an event id used twice) raises as it is.
            outcome = await self._append_alone(request)
        if outcome.status == "unique_violation":
            return await self._unique_violation(request, outcome.constraint_name, claims)
        if outcome.status == "conflict":
            raise ConcurrencyConflictError(first.stream_id, expected_version, outcome.stream_version)
        if outcome.status == "unmet":
            raise ConditionNotMetError(conditions[outcome.stream_version - 1])
        if outcome.status == "ok":
            for listener in self._appended:
                listener()
        # The server's own answer: typed by asyncpg, nothing of it is external input.
        return trusted_validate(
            AppendResult,
            {
                "stream_id": outcome.stream_id,
                "stream_version": outcome.stream_version,
                "positions": tuple(outcome.positions),
                "duplicate": outcome.status == "duplicate",
            },
        )

    # Group commit. The first caller of an idle store appends alone, on its own task: the lone
    # path costs what it did before batching. Callers that arrive while appends are at the
    # server queue up, and a flusher task sends up to ``max_batch`` of them in one call of
    # ``append_events_batch``: one round trip, one transaction, one WAL flush. A flusher starts
    # one event-loop turn later, so the callers woken by the previous answer have queued by then.
    #
    # Pipelining: with two flushes at the server at most, callers settle into two groups that
    # alternate: one group's commands are decided on the client's core while the other's batch
    # is written on the server's. So a flusher that finds nothing else in flight sends half of
    # the queue and starts another for the rest, and a second flush starts only with at least
    # half as many requests as the one in flight (one caller sent alone beside a batch of
    # fifteen would keep that lopsided split forever, at a round trip per command).

    async def _submit(self, request: _Request) -> _Outcome:
        if not self._flushes and not self._queue:
            self._flushes = 1
            self._in_flight = 1
            try:
                return await self._append_alone(request)
            finally:
                self._flushes -= 1
                self._in_flight -= 1
                self._schedule()
        future: asyncio.Future[_Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(request, future))
        self._schedule()
        return await future

    def _schedule(self) -> None:
        if self._starter is not None or not self._queue or self._flushes >= self._max_in_flight:
            return
        if self._flushes and len(self._queue) * 2 < self._in_flight:
            return
        self._flushes += 1
        self._starter = task = asyncio.create_task(self._flush_queued())
        self._flushers.add(task)
        task.add_done_callback(self._flusher_done)

    def _flusher_done(self, task: asyncio.Task[None]) -> None:
        self._flushers.discard(task)
        if self._starter is task:  # cancelled before its first step (loop shutdown)
            self._starter = None
            self._flushes -= 1

    async def _flush_queued(self) -> None:
        batch: list[_Pending] = []
        try:
            self._starter = None
            queue = self._queue
            size = len(queue)
            if self._flushes == 1 and self._max_in_flight > 1:
                size = (size + 1) // 2
            taken = queue[: min(size, self._max_batch)]
            del queue[: len(taken)]
            # A caller cancelled before its request was sent: it is not appended at all.
            batch = [p for p in taken if not p.future.done()]
            self._in_flight += len(batch)
            self._schedule()
            if batch:
                await self._flush(batch)
        finally:
            self._in_flight -= len(batch)
            self._flushes -= 1
            self._schedule()

    async def _flush(self, batch: list[_Pending]) -> None:
        try:
            if len(batch) == 1:
                outcomes = [await self._append_alone(batch[0].request)]
            else:
                rows = await self._pool.fetch(_APPEND_BATCH, [p.request for p in batch])
                outcomes = [_Outcome(*r) for r in rows]
        except (asyncpg.PostgresError, asyncpg.DataError) as exc:
            if len(batch) == 1:
                _fail(batch, exc)
                return
            # The batch was refused as a whole, by the server (a deadlock between two batches,
            # a timeout) or by the client before sending (one request's value cannot be
            # encoded): nothing of it was written, so each caller appends alone and gets the
            # answer it would have had without batching.
            outcomes = [_ALONE] * len(batch)
        except asyncio.CancelledError:
            for p in batch:
                p.future.cancel()
            raise
        except Exception as exc:  # noqa: BLE001  given to every waiting caller, as if alone
            # Lost connection and the like: whether the batch committed is unknown, as it
            # would be for a lone append; each caller gets the error (a retry with the same
            # command id then answers the stored result).
            _fail(batch, exc)
            return
        for p, outcome in zip(batch, outcomes, strict=True):
            if not p.future.done():
                p.future.set_result(outcome)

    async def _append_alone(self, request: _Request) -> _Outcome:
        try:
            row = await self._pool.fetchrow(_APPEND, *request)
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name not in _MAPPED_CONSTRAINTS:
                raise
            return _Outcome("unique_violation", request[0], 0, (), exc.constraint_name)
        if row is None:  # pragma: no cover  the function always returns one row
            raise RuntimeError("append_events returned nothing")
        return _Outcome(row[0], row[1], row[2], row[3], None)

    async def _unique_violation(
        self, request: _Request, constraint: str | None, claims: Sequence[UniqueClaim]
    ) -> AppendResult:
        stream_id: UUID = request[0]
        expected_version: int = request[1]
        command_id: UUID | None = request[2]
        if constraint == "unique_claims_pkey":
            raise await self._taken(stream_id, claims)
        if constraint == "processed_commands_pkey" and command_id is not None:
            previous = await self.find_command(command_id)
            if previous is not None:
                return previous
        actual = await self._pool.fetchval(
            "SELECT coalesce(max(stream_version), 0) FROM saga_events WHERE stream_id = $1",
            stream_id,
        )
        raise ConcurrencyConflictError(stream_id, expected_version, actual)

    async def _taken(self, stream_id: UUID, claims: Sequence[UniqueClaim]) -> UniqueKeyTakenError:
        row = await self._pool.fetchrow(
            "SELECT c.scope, c.key, c.stream_id FROM unique_claims c "
            "JOIN unnest($1::text[], $2::text[]) AS n(scope, key) ON c.scope = n.scope AND c.key = n.key "
            "WHERE c.stream_id <> $3 LIMIT 1",
            [c.scope for c in claims],
            [c.key for c in claims],
            stream_id,
        )
        if row is None:  # released between the failure and this look-up
            first = claims[0]
            return UniqueKeyTakenError(first.scope, first.key, None)
        return UniqueKeyTakenError(row["scope"], row["key"], row["stream_id"])

    async def find_command(self, command_id: UUID) -> AppendResult | None:
        """Return the stored result of ``command_id``, if it was appended before."""
        row = await self._pool.fetchrow(
            "SELECT stream_id, stream_version, positions FROM processed_commands WHERE command_id = $1",
            command_id,
        )
        if row is None:
            return None
        return AppendResult(
            stream_id=row["stream_id"],
            stream_version=row["stream_version"],
            positions=tuple(row["positions"]),
            duplicate=True,
        )

    async def read_stream(self, stream_id: UUID) -> list[RecordedEvent]:
        """Return the stream's events in version order, upcast to current schemas."""
        rows = await self._opened(await self._pool.fetch(_READ_STREAM, stream_id))
        return [recorded_from_row(r, self._registry) for r in rows]

    # Personal data hook (infra.pii): personal fields are sealed on the way in and opened on
    # the way out, so the log never holds them in clear and callers never see them sealed.

    async def _stored_payloads(self, events: Sequence[DomainEvent]) -> list[str]:
        # JSON text, cast to jsonb by the server: most events carry no personal data and are
        # serialized by pydantic's core in one call, instead of a dict then json.dumps per event.
        if not any(pii.carries_personal_data(e) for e in events):
            return [e.payload_json() for e in events]
        return [json.dumps(p, ensure_ascii=False) for p in await pii.seal_events(self._keys, events)]

    async def _opened(self, rows: Sequence[asyncpg.Record]) -> list[asyncpg.Record | dict[str, Any]]:
        return await pii.open_rows(self._keys, rows, self._registry)
