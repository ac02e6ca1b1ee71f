"""Maps stored event types to their classes and upcasts old schema versions on read."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any
from uuid import UUID

from events.base import DomainEvent

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownEventTypeError(LookupError):
    """A stored event names a type this code does not know."""


class UnsupportedSchemaVersionError(LookupError):
    """A stored event has a schema version with no upcaster path to the current one."""


class EventRegistry:
    """Event classes by type name, and upcasters from each old version to the next."""

    def __init__(
        self,
        classes: Iterable[type[DomainEvent]],
        upcasters: Mapping[tuple[str, int], Upcaster] | None = None,
    ) -> None:
        self._classes = {cls.event_type: cls for cls in classes}
        self._upcasters = dict(upcasters or {})

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
        data = self.upcast(event_type, schema_version, dict(payload))
        return cls.model_validate(
            {
                **data,
                "event_id": event_id,
                "stream_id": stream_id,
                "stream_version": stream_version,
                "occurred_at": occurred_at,
            },
        )
