"""Named domain errors: every rejection says which field and why, and nothing is written."""

from __future__ import annotations

from uuid import UUID


class DomainError(Exception):
    """A command was rejected by a business rule."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class InvalidCommandError(DomainError):
    """The command's input breaks a rule (bad time, bad classification, ...)."""


class StreamNotFoundError(DomainError):
    """The command names an entity that does not exist (or was deleted).

    ``referenced`` tells a missing entity the command refers to (a 422 over HTTP) from a
    missing entity the command acts on (a 404).
    """

    def __init__(self, field: str, entity: str, entity_id: UUID, *, referenced: bool = False) -> None:
        super().__init__(field, f"{entity} {entity_id} does not exist")
        self.entity_id = entity_id
        self.referenced = referenced


class PermissionDeniedError(DomainError):
    """The acting user may not do this (e.g. revise someone else's review)."""


class UniqueKeyTakenError(DomainError):
    """A value that must be unique is already used by another entity."""

    def __init__(self, scope: str, key: str, owner: UUID | None) -> None:
        super().__init__(scope, f"{key!r} is already taken" + (f" (by {owner})" if owner else ""))
        self.key = key
        self.owner = owner


class ConcurrencyConflictError(DomainError):
    """The stream moved on since the caller read it: the expected version is stale."""

    def __init__(self, stream_id: UUID, expected: int, actual: int) -> None:
        super().__init__(
            "expected_version",
            f"stream {stream_id} is at version {actual}, not {expected}",
        )
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual
