"""An in-memory event store with the same contract as the PostgreSQL one, for fast unit tests."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from uuid import UUID

from commands.errors import ConcurrencyConflictError, UniqueKeyTakenError
from commands.ports import AppendResult, ConditionNotMetError, StreamCondition, UniqueClaim, check_append
from events.base import DomainEvent, EventMetadata, RecordedEvent


class InMemoryEventStore:
    """Keeps every stream in a dict; positions are a global counter."""

    def __init__(self) -> None:
        self._streams: dict[UUID, list[RecordedEvent]] = {}
        self._commands: dict[UUID, AppendResult] = {}
        self._claims: dict[tuple[str, str], UUID] = {}
        self._log: list[RecordedEvent] = []
        self._lock = asyncio.Lock()

    @property
    def all_events(self) -> list[RecordedEvent]:
        """Every recorded event in position order."""
        return list(self._log)

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
        async with self._lock:
            if command_id is not None and command_id in self._commands:
                return self._commands[command_id]
            self._check(conditions)
            stream_id = events[0].stream_id
            stream = self._streams.setdefault(stream_id, [])
            current = len(stream)
            if current != expected_version:
                raise ConcurrencyConflictError(stream_id, expected_version, current)
            released = {(r.scope, r.key) for r in releases if self._claims.get((r.scope, r.key)) == stream_id}
            for claim in claims:
                owner = self._claims.get((claim.scope, claim.key))
                if owner is not None and owner != stream_id and (claim.scope, claim.key) not in released:
                    raise UniqueKeyTakenError(claim.scope, claim.key, owner)
            for key in released:
                del self._claims[key]
            for claim in claims:
                self._claims[(claim.scope, claim.key)] = stream_id
            positions = []
            for event in events:
                recorded = RecordedEvent(event=event, position=len(self._log) + 1, metadata=metadata)
                stream.append(recorded)
                self._log.append(recorded)
                positions.append(recorded.position)
            result = AppendResult(
                stream_id=stream_id,
                stream_version=current + len(events),
                positions=tuple(positions),
            )
            if command_id is not None:
                self._commands[command_id] = result.model_copy(update={"duplicate": True})
            return result

    def _check(self, conditions: Sequence[StreamCondition]) -> None:
        for condition in conditions:
            stream_types = [r.event.event_type for r in self._streams.get(condition.stream_id, ())]
            if not condition.holds(stream_types):
                raise ConditionNotMetError(condition)

    async def find_command(self, command_id: UUID) -> AppendResult | None:
        """Return the stored result of ``command_id``, if it was appended before."""
        return self._commands.get(command_id)

    async def read_stream(self, stream_id: UUID) -> list[RecordedEvent]:
        """Return the stream's events in version order."""
        return list(self._streams.get(stream_id, []))
