"""The event envelope every domain event shares, and the metadata that travels with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator


def utc_now() -> datetime:
    """Return the current time, tz-aware in UTC."""
    return datetime.now(UTC)


def _has_nul(value: Any) -> bool:  # noqa: ANN401  any JSON-like value
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


class Message(BaseModel):
    """Base of every message: immutable and strict about unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:  # noqa: ANN401  every field passes through here
        # PostgreSQL text and JSONB cannot hold U+0000: refuse it here, naming the field,
        # rather than fail at the database after validation.
        if _has_nul(value):
            raise ValueError("must not contain the NUL character (U+0000)")
        return value


class EventMetadata(Message):
    """Who and what caused an event: carried in the log and on Kafka, never part of the payload."""

    correlation_id: UUID | None = None
    causation_id: UUID | None = None
    user_id: UUID | None = None
    user_role: str | None = None
    client_addr: str | None = None


class DomainEvent(Message):
    """A past-tense fact about one stream. Subclasses add the payload fields.

    ``event_type`` and ``schema_version`` identify the stored shape; older shapes are
    upcast on read (see :mod:`events.registry`).
    """

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    stream_type: ClassVar[str]

    event_id: UUID = Field(default_factory=uuid4)
    stream_id: UUID
    stream_version: int = Field(ge=1)
    occurred_at: AwareDatetime = Field(default_factory=utc_now)

    ENVELOPE_FIELDS: ClassVar[frozenset[str]] = frozenset(
        {"event_id", "stream_id", "stream_version", "occurred_at"},
    )

    def payload(self) -> dict[str, Any]:
        """Return the payload as JSON-ready data (the envelope fields excluded)."""
        return self.model_dump(mode="json", exclude=set(self.ENVELOPE_FIELDS))

    def partition_key(self) -> str:
        """Return the Kafka message key: events of one key keep their order."""
        return str(self.stream_id)


class RecordedEvent(Message):
    """An event as read back from the log: the event plus where and how it was stored."""

    event: DomainEvent
    position: int
    metadata: EventMetadata
