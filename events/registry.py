"""Maps stored event types to their classes and upcasts old schema versions on read."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from functools import cache
from typing import Any, TypeVar, cast
from uuid import UUID

from pydantic import BaseModel, ValidationError
from pydantic_core import SchemaValidator

from events.base import DomainEvent, EventMetadata, RecordedEvent

M = TypeVar("M", bound=BaseModel)

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventTypeError(LookupError):
    """A stored event names a type this code does not know."""


class UnsupportedSchemaVersionError(LookupError):
    """A stored event has a schema version with no upcaster path to the current one."""


INPUT_CHECKS: frozenset[str] = frozenset({"_no_nul"})
"""Names of the ``Message`` before-validators that only refuse bad *input* (a NUL character):
left out of :func:`trusted_validate`, since what our own log holds passed them when appended."""


def _is_input_check(node: Mapping[str, Any]) -> bool:
    if node.get("type") != "function-before":
        return False
    function = node["function"]["function"]
    return getattr(getattr(function, "__func__", function), "__name__", None) in INPUT_CHECKS


def _without_input_checks(node: Any) -> Any:  # noqa: ANN401  a pydantic-core schema node
    """Copy a core schema, each input-check validator replaced by the schema it wraps."""
    if isinstance(node, dict):
        if _is_input_check(node):
            return _without_input_checks(node["schema"])
        return {key: _without_input_checks(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_without_input_checks(item) for item in node]
    return node


@cache
def trusted_validator(cls: type[BaseModel]) -> SchemaValidator | None:
    """Return a validator of ``cls``'s fields without the input checks (:data:`INPUT_CHECKS`).

    Every type conversion (UUIDs, tz-aware datetimes, tuples, nested models, defaults) and every
    other constraint stays exactly as in ``cls.model_validate``: only the walk over the input
    looking for NUL characters is gone. It validates the model's *fields* (pydantic-core would
    reuse the class's own compiled validator for the model itself, checks included); the model
    is then built from them (:func:`trusted_validate`). ``None`` for a shape this does not cover.
    """
    return _fields_validator(cls, frozenset())


def _fields_validator(cls: type[BaseModel], without: frozenset[str]) -> SchemaValidator | None:
    """:func:`trusted_validator` of ``cls``'s fields other than ``without``."""
    schema = cls.__pydantic_core_schema__
    wrapper: dict[str, Any] | None = None
    if schema["type"] == "definitions":  # models referring to shared definitions
        wrapper, schema = dict(schema), schema["schema"]
    if schema["type"] != "model" or cls.__pydantic_post_init__ or cls.__private_attributes__:
        return None
    fields = _without_input_checks(schema["schema"])
    if fields["type"] != "model-fields":
        return None
    if without:
        fields = {**fields, "fields": {k: v for k, v in fields["fields"].items() if k not in without}}
    if wrapper is not None:
        fields = {**wrapper, "schema": fields, "definitions": _without_input_checks(wrapper["definitions"])}
    return SchemaValidator(fields, schema.get("config"))


_ENVELOPE_ORDER = ("event_id", "stream_id", "stream_version", "occurred_at")


@cache
def _envelope_validator() -> SchemaValidator:
    """Return a trusted validator of the envelope's fields (:class:`DomainEvent`'s own)."""
    validator = _fields_validator(DomainEvent, frozenset())
    if validator is None:  # pragma: no cover  DomainEvent is a plain model
        raise TypeError("DomainEvent has no fields validator")
    return validator


@cache
def payload_validator(cls: type[DomainEvent]) -> SchemaValidator | None:
    """Return a trusted validator of ``cls``'s *payload* fields (the envelope's left out), for JSON text.

    What :meth:`EventRegistry.load_json` validates a stored payload's JSON text with, in one
    call (parsing included), the envelope's values being set beside the result. ``None`` when
    ``cls`` does not declare the envelope as :class:`DomainEvent` does, first and unchanged (its
    fields would then come out in another order, or be checked otherwise).
    """
    base = DomainEvent.model_fields
    if tuple(cls.model_fields)[: len(_ENVELOPE_ORDER)] != _ENVELOPE_ORDER or any(
        repr(cls.model_fields[name]) != repr(base[name]) for name in _ENVELOPE_ORDER
    ):
        return None
    return _fields_validator(cls, frozenset(_ENVELOPE_ORDER))


def trusted_validate(cls: type[M], data: Mapping[str, Any]) -> M:
    """``cls.model_validate(data)`` for data our own log or topics hold (see :func:`trusted_validator`)."""
    validator = trusted_validator(cls)
    if validator is None:
        return cls.model_validate(data)
    values, extra, fields_set = validator.validate_python(data)
    return _built(cls, values, extra, fields_set)


# BaseModel's own slots, set through their descriptors: a third cheaper than object.__setattr__
# by name, for two models per event read back (hundreds of thousands a rebuild).
_SET_EXTRA = BaseModel.__dict__["__pydantic_extra__"].__set__
_SET_FIELDS_SET = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_SET_PRIVATE = BaseModel.__dict__["__pydantic_private__"].__set__


def _built(cls: type[M], values: dict[str, Any], extra: dict[str, Any] | None, fields_set: set[str]) -> M:
    # What pydantic's own model validator does with the validated fields (``model_construct``
    # would redo defaults and aliases, at the cost of the whole saving).
    model = cls.__new__(cls)
    object.__setattr__(model, "__dict__", values)
    _SET_EXTRA(model, extra)
    _SET_FIELDS_SET(model, fields_set)
    _SET_PRIVATE(model, None)  # no private attributes (checked above)
    return model


_RECORDED_FIELDS = frozenset(RecordedEvent.model_fields)


def _set_envelope(
    data: dict[str, Any],
    event_id: UUID | str,
    stream_id: UUID | str,
    stream_version: int,
    occurred_at: object,
) -> None:
    """Set a stored event's envelope (its columns in the log) over its payload's keys."""
    data["event_id"] = event_id
    data["stream_id"] = stream_id
    data["stream_version"] = stream_version
    data["occurred_at"] = occurred_at


class EventRegistry:
    """Event classes by type name, and upcasters from each old version to the next.

    A *trusted* registry (:meth:`trusted`) decodes with :func:`trusted_validate`: for events
    read back from our own log or topics, which were validated when they were appended.
    """

    def __init__(
        self,
        classes: Iterable[type[DomainEvent]],
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
        *,
        trusted: bool = False,
    ) -> None:
        self._classes = {cls.event_type: cls for cls in classes}
        self._upcasters = dict(upcasters or {})
        self.is_trusted = trusted
        self._direct: dict[str, tuple[type[DomainEvent], SchemaValidator] | None] = {}
        """Per event type: its class and trusted validator, when :meth:`load_owned` may use them."""
        self._json: dict[str, tuple[type[DomainEvent], SchemaValidator] | None] = {}
        """Per event type: its class and payload validator, when :meth:`load_json` may use them."""

    def classes(self) -> tuple[type[DomainEvent], ...]:
        """Return every registered event class."""
        return tuple(self._classes.values())

    def trusted(self) -> EventRegistry:
        """Return this registry decoding without the input checks (see :func:`trusted_validator`)."""
        return EventRegistry(self._classes.values(), self._upcasters, trusted=True)

    def __contains__(self, event_type: str) -> bool:
        return event_type in self._classes

    def event_class(self, event_type: str) -> type[DomainEvent]:
        """Return the class of ``event_type`` or raise :class:`UnknownEventTypeError`."""
        try:
            return self._classes[event_type]
        except KeyError:
            raise UnknownEventTypeError(f"unknown event type {event_type!r}") from None

    def upcast(self, event_type: str, schema_version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Bring ``payload`` from ``schema_version`` up to the class's current version."""
        current = self.event_class(event_type).schema_version
        if schema_version > current:
            raise UnsupportedSchemaVersionError(
                f"{event_type} v{schema_version} is newer than this code (v{current})",
            )
        version = schema_version
        while version < current:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnsupportedSchemaVersionError(
                    f"no upcaster for {event_type} v{version} -> v{version + 1}",
                )
            payload = step(payload)
            version += 1
        return payload

    def _fast_path(
        self,
        cache: dict[str, tuple[type[DomainEvent], SchemaValidator] | None],
        make: Callable[[type[DomainEvent]], SchemaValidator | None],
        event_type: str,
        schema_version: int,
    ) -> tuple[type[DomainEvent], SchemaValidator] | None:
        """Return the class and trusted validator (``make``, cached) that decode ``event_type`` directly.

        ``None`` for an untrusted registry, an unknown type, a shape ``make`` does not cover, or
        an old ``schema_version`` (upcast first): the caller then takes :meth:`load`'s path.
        """
        if event_type not in cache:
            cls = self._classes.get(event_type)
            validator = make(cls) if cls is not None and self.is_trusted else None
            cache[event_type] = (cls, validator) if cls is not None and validator is not None else None
        direct = cache[event_type]
        return direct if direct is not None and direct[0].schema_version == schema_version else None

    def load(
        self,
        *,
        event_type: str,
        schema_version: int,
        payload: Mapping[str, Any],
        event_id: UUID | str,
        stream_id: UUID | str,
        stream_version: int,
        occurred_at: Any,  # noqa: ANN401  datetime or ISO string, validated by pydantic
    ) -> DomainEvent:
        """Rebuild a typed event from its stored parts, upcasting old versions first."""
        cls = self.event_class(event_type)
        # One copy (the caller's payload is left as it was), the envelope's keys set over it.
        data = self.upcast(event_type, schema_version, dict(payload))
        _set_envelope(data, event_id, stream_id, stream_version, occurred_at)
        if self.is_trusted:
            return trusted_validate(cls, data)
        return cls.model_validate(data)

    def load_owned(
        self,
        *,
        event_type: str,
        schema_version: int,
        payload: dict[str, Any],
        event_id: UUID | str,
        stream_id: UUID | str,
        stream_version: int,
        occurred_at: Any,  # noqa: ANN401  datetime or ISO string, validated by pydantic
    ) -> DomainEvent:
        """:meth:`load` of a payload the caller gives away: the envelope's keys are set into it.

        A trusted registry decodes an event of its class's current version straight from it,
        without :meth:`load`'s copy and lookups (a log's rows, hundreds of thousands a rebuild).
        """
        direct = self._fast_path(self._direct, trusted_validator, event_type, schema_version)
        if direct is None:
            return self.load(
                event_type=event_type,
                schema_version=schema_version,
                payload=payload,
                event_id=event_id,
                stream_id=stream_id,
                stream_version=stream_version,
                occurred_at=occurred_at,
            )
        cls, validator = direct
        _set_envelope(payload, event_id, stream_id, stream_version, occurred_at)
        values, extra, fields_set = validator.validate_python(payload)
        return _built(cls, values, extra, fields_set)

    def load_json(
        self,
        *,
        event_type: str,
        schema_version: int,
        text: str | bytes,
        event_id: UUID | str,
        stream_id: UUID | str,
        stream_version: int,
        occurred_at: Any,  # noqa: ANN401  datetime or ISO string, validated by pydantic
    ) -> DomainEvent:
        """:meth:`load` of a payload given as its stored JSON ``text``.

        A trusted registry validates the text of an event of its class's current version in
        one call, parsing included (:func:`payload_validator`), and sets the envelope beside the
        payload's values, in the class's field order. The envelope is validated apart, unless
        its values are already what validating them gives back unchanged (UUIDs, an int of at
        least 1, an aware datetime: what the log's columns hold). Anything else (an old
        version, a text or an envelope that does not validate) is parsed and loaded as
        :meth:`load_owned` does: same event, or same error.
        """
        direct = self._fast_path(self._json, payload_validator, event_type, schema_version)
        if direct is not None:
            envelope: dict[str, Any] = {
                "event_id": event_id,
                "stream_id": stream_id,
                "stream_version": stream_version,
                "occurred_at": occurred_at,
            }
            try:
                if not (
                    type(stream_version) is int
                    and stream_version >= 1
                    and isinstance(event_id, UUID)
                    and isinstance(stream_id, UUID)
                    and type(occurred_at) is datetime
                    and (occurred_at.tzinfo is UTC or occurred_at.utcoffset() is not None)
                ):
                    envelope = _envelope_validator().validate_python(envelope)[0]
                values, extra, fields_set = direct[1].validate_json(text)
            except ValidationError:
                pass  # the careful path below gives the error as load would
            else:
                envelope.update(values)
                fields_set.update(_ENVELOPE_ORDER)
                return _built(direct[0], envelope, extra, fields_set)
        return self.load_owned(
            event_type=event_type,
            schema_version=schema_version,
            payload=json.loads(text),
            event_id=event_id,
            stream_id=stream_id,
            stream_version=stream_version,
            occurred_at=occurred_at,
        )

    def metadata(self, values: Mapping[str, Any]) -> EventMetadata:
        """Validate an event's stored metadata (trusted like :meth:`load`)."""
        if self.is_trusted:
            return trusted_validate(EventMetadata, values)
        return EventMetadata.model_validate(values)

    def recorded(
        self, event: DomainEvent, position: int, metadata: Mapping[str, Any] | EventMetadata
    ) -> RecordedEvent:
        """Wrap a loaded event with its log position and metadata (trusted like :meth:`load`).

        ``metadata`` may be one :meth:`metadata` returned already (kept as it is).
        """
        if type(metadata) is not EventMetadata:
            metadata = self.metadata(cast("Mapping[str, Any]", metadata))
        if self.is_trusted:
            meta = metadata
            values = {"event": event, "position": position, "metadata": meta}
            if type(position) is int and isinstance(event, DomainEvent):
                # What validating these values gives (a model instance is kept as it is, an int
                # stays that int), without a validator call per record.
                return _built(RecordedEvent, values, None, set(_RECORDED_FIELDS))
            return trusted_validate(RecordedEvent, values)
        return RecordedEvent(event=event, position=position, metadata=metadata)
