"""The event envelope every domain event shares, and the metadata that travels with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError


def utc_now() -> datetime:
    """Return the current time, tz-aware in UTC."""
    return datetime.now(UTC)


NUL_REASON = "must not contain the NUL character (U+0000)"

_MAY_HOLD_TEXT = (str, list, tuple, set, frozenset, dict)


def _has_nul(value: Any) -> bool:  # noqa: ANN401  any JSON-like value
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, list | tuple | set | frozenset):
        return any(_has_nul(v) for v in value)
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return False


def _nul_error(model: type[BaseModel], field: str, value: Any) -> ValidationError:  # noqa: ANN401  the input
    """Return the error a per-field ``ValueError`` would give: type ``value_error``, at ``field``."""
    return ValidationError.from_exception_data(
        model.__name__,
        [
            InitErrorDetails(
                type=PydanticCustomError("value_error", "Value error, {error}", {"error": NUL_REASON}),
                loc=(field,),
                input=value,
            )
        ],
    )


class Message(BaseModel):
    """Base of every message: immutable and strict about unknown fields."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:  # noqa: ANN401  the raw input of any message
        # PostgreSQL text and JSONB cannot hold U+0000: refuse it here, naming the field,
        # rather than fail at the database after validation. One call per message walking
        # its input, not one validator call per field: this runs for every message built.
        # An already built model (a nested field given as an instance) was checked then.
        if not isinstance(data, dict):
            return data
        fields = cls.__pydantic_fields__
        for key, value in data.items():
            kind = value.__class__
            if kind is str:
                if "\x00" not in value:
                    continue
            elif not (issubclass(kind, _MAY_HOLD_TEXT) and _has_nul(value)):
                continue
            if key in fields:  # an unknown field is reported as such by extra="forbid"
                raise _nul_error(cls, key, value)
        return data


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

    def payload_json(self) -> str:
        """Return :meth:`payload` as JSON text, serialized in one call into pydantic's core."""
        return self.__pydantic_serializer__.to_json(self, exclude=set(self.ENVELOPE_FIELDS)).decode()

    def partition_key(self) -> str:
        """Return the Kafka message key: events of one key keep their order."""
        return str(self.stream_id)


class RecordedEvent(Message):
    """An event as read back from the log: the event plus where and how it was stored."""

    event: DomainEvent
    position: int
    metadata: EventMetadata
