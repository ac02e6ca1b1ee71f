"""Ports the command side depends on; adapters in ``infra`` implement them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
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


@dataclass(frozen=True, slots=True)
class StreamCondition:
    """A fact about another stream that an append depends on, checked in the append's transaction.

    The stream is *set* when the latest of its events whose type is in ``set_by`` or
    ``cleared_by`` is one of ``set_by`` (no such event: not set); the condition holds when that
    equals ``expected``. Example: a movie is open for new scenes when it is set by
    ``MovieRegistered`` and not cleared by ``MovieRemoved``, and not set by ``MovieRemovalBegun``
    (cleared by ``MovieRemovalCancelled``). A dataclass, not a message: built by the code, per
    command, on the hot path.
    """

    stream_id: UUID
    set_by: tuple[str, ...]
    cleared_by: tuple[str, ...] = ()
    expected: bool = True

    def holds(self, event_types: Sequence[str]) -> bool:
        """Whether the condition holds for a stream whose events have ``event_types``, in order."""
        for event_type in reversed(event_types):
            if event_type in self.set_by:
                return self.expected
            if event_type in self.cleared_by:
                return not self.expected
        return not self.expected


class ConditionNotMetError(Exception):
    """An append was refused because one of its :class:`StreamCondition` did not hold.

    Not a domain error: the caller turns it into the command's own error by checking the
    stream the condition is about (see :class:`commands.base.Reference`). Nothing was written.
    """

    def __init__(self, condition: StreamCondition) -> None:
        super().__init__(f"condition on stream {condition.stream_id} does not hold: {condition}")
        self.condition = condition


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
        conditions: Sequence[StreamCondition] = (),
    ) -> AppendResult:
        """Append ``events`` (one stream, consecutive versions) if the stream is at ``expected_version``.

        Raises :class:`commands.errors.ConcurrencyConflictError` when it is not,
        :class:`commands.errors.UniqueKeyTakenError` when a claim is held by another stream and
        :class:`ConditionNotMetError` (the first one, in order) when a condition on another
        stream does not hold; writes nothing then. When ``command_id`` was already appended,
        writes nothing and returns that earlier result with ``duplicate=True`` (before any
        other check); conditions are checked before the version.
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
