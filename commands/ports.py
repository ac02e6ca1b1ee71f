"""Ports the command side depends on; adapters in ``infra`` implement them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol
from uuid import UUID

from events.base import DomainEvent, EventMetadata, Message, RecordedEvent

NO_STREAM = 0
"""Expected version of a stream that must not exist yet."""


class AppendResult(Message):
    """Where an append landed; ``duplicate`` when the command id had been processed before."""

    stream_id: UUID
    stream_version: int
    positions: tuple[int, ...]
    duplicate: bool = False


class UniqueClaim(Message):
    """A value that must be unique within a scope (an email among users, an actor's name + birth date).

    Claimed atomically with the append that introduces the value, released by the one that
    drops it; a claim held by another stream rejects the append.
    """

    scope: str
    key: str


class EventStore(Protocol):
    """The event log: append with optimistic concurrency, read a stream back in order."""

    async def append(
        self,
        events: Sequence[DomainEvent],
        *,
        expected_version: int,
        metadata: EventMetadata,
        command_id: UUID | None = None,
        claims: Sequence[UniqueClaim] = (),
        releases: Sequence[UniqueClaim] = (),
    ) -> AppendResult:
        """Append ``events`` (one stream, consecutive versions) if the stream is at ``expected_version``.

        Raises :class:`commands.errors.ConcurrencyConflictError` when it is not, and
        :class:`commands.errors.UniqueKeyTakenError` when a claim is held by another stream;
        writes nothing then. When ``command_id`` was already appended, writes nothing and
        returns that earlier result with ``duplicate=True``.
        """
        ...

    async def find_command(self, command_id: UUID) -> AppendResult | None:
        """Return the result of an already appended command, or ``None`` if it is new."""
        ...

    async def read_stream(self, stream_id: UUID) -> list[RecordedEvent]:
        """Return the stream's events in version order (empty when the stream does not exist)."""
        ...


def check_append(events: Sequence[DomainEvent], expected_version: int) -> None:
    """Reject a malformed append: empty, several streams, or versions not following on."""
    if not events:
        raise ValueError("nothing to append")
    if len({e.stream_id for e in events}) != 1:
        raise ValueError("one append writes to one stream")
    versions = [e.stream_version for e in events]
    if versions != list(range(expected_version + 1, expected_version + 1 + len(events))):
        raise ValueError(f"versions {versions} do not follow expected version {expected_version}")
