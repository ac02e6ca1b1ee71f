"""The event store on PostgreSQL: ``saga_events`` with optimistic concurrency in one round trip."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

import asyncpg

from commands.errors import ConcurrencyConflictError, UniqueKeyTakenError
from commands.ports import AppendResult, ConditionNotMetError, StreamCondition, UniqueClaim, check_append
from events.base import DomainEvent, EventMetadata, RecordedEvent
from events.registry import EventRegistry
from infra import pii

_APPEND = """
SELECT status, stream_id, stream_version, positions FROM append_events(
    $1, $2, $3, $4, $5, $6::uuid[], $7::text[], $8::smallint[], $9::text[]::jsonb[], $10::timestamptz[],
    $11, $12, $13, $14, $15::inet, $16, $17, $18::text[], $19::text[], $20::text[], $21::text[],
    $22::uuid[], $23::boolean[], $24::integer[], $25::text[], $26::boolean[])
"""

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
    """Appends to and reads from ``saga_events``."""

    def __init__(self, pool: asyncpg.Pool, registry: EventRegistry, *, saga_type: str = "command") -> None:
        self._pool = pool
        self._registry = registry
        self._keys = pii.PersonalDataKeys(pool)
        self._saga_type = saga_type

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
        """Append ``events`` if the stream is at ``expected_version`` (see the port)."""
        check_append(events, expected_version)
        first = events[0]
        payloads = await self._stored_payloads(events)
        req_of, req_types, req_sets = _flattened(conditions)
        try:
            row = await self._pool.fetchrow(
                _APPEND,
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
        except asyncpg.UniqueViolationError as exc:
            if exc.constraint_name == "unique_claims_pkey":
                raise await self._taken(first.stream_id, claims) from None
            if exc.constraint_name == "processed_commands_pkey" and command_id is not None:
                previous = await self.find_command(command_id)
                if previous is not None:
                    return previous
            if exc.constraint_name != "saga_events_stream_version_key":
                raise
            actual = await self._pool.fetchval(
                "SELECT coalesce(max(stream_version), 0) FROM saga_events WHERE stream_id = $1",
                first.stream_id,
            )
            raise ConcurrencyConflictError(first.stream_id, expected_version, actual) from None
        if row is None:  # pragma: no cover  the function always returns one row
            raise RuntimeError("append_events returned nothing")
        if row["status"] == "conflict":
            raise ConcurrencyConflictError(first.stream_id, expected_version, row["stream_version"])
        if row["status"] == "unmet":
            raise ConditionNotMetError(conditions[row["stream_version"] - 1])
        return AppendResult(
            stream_id=row["stream_id"],
            stream_version=row["stream_version"],
            positions=tuple(row["positions"]),
            duplicate=row["status"] == "duplicate",
        )

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
