"""CloudEvents binary-mode Kafka headers: how a logged event travels and is read back."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

from events.base import EventMetadata, RecordedEvent
from events.registry import EventRegistry

SPEC_VERSION = "1.0"
TYPE_PREFIX = "sceneledger."
CONTENT_TYPE = "application/json"


class MalformedEventMessageError(ValueError):
    """A record on an events topic lacks the headers needed to rebuild its event."""


def event_headers(
    *,
    event_id: UUID,
    stream_type: str,
    event_type: str,
    schema_version: int,
    stream_id: UUID,
    stream_version: int,
    position: int,
    occurred_at: datetime,
    metadata: EventMetadata,
) -> tuple[tuple[str, bytes], ...]:
    """Return the binary-mode headers of one event (data goes in the record value)."""
    attrs: dict[str, Any] = {
        "ce_specversion": SPEC_VERSION,
        "ce_id": event_id,
        "ce_source": f"/sceneledger/{stream_type}",
        "ce_type": f"{TYPE_PREFIX}{stream_type}.{event_type}",
        "ce_time": occurred_at.isoformat(),
        "ce_subject": stream_id,
        "ce_schemaversion": schema_version,
        "ce_streamversion": stream_version,
        "ce_position": position,
        "ce_correlationid": metadata.correlation_id,
        "ce_causationid": metadata.causation_id,
        "ce_userid": metadata.user_id,
        "ce_userrole": metadata.user_role,
        "ce_clientaddr": metadata.client_addr,
        "content-type": CONTENT_TYPE,
    }
    return tuple((k, str(v).encode()) for k, v in attrs.items() if v is not None)


_METADATA_HEADERS = (
    ("correlation_id", "ce_correlationid"),
    ("causation_id", "ce_causationid"),
    ("user_id", "ce_userid"),
    ("user_role", "ce_userrole"),
    ("client_addr", "ce_clientaddr"),
)


def _text(headers: Mapping[str, bytes], name: str) -> str:
    try:
        return headers[name].decode()
    except KeyError:
        raise MalformedEventMessageError(f"header {name} is missing") from None


def decode_event(
    headers: Iterable[tuple[str, bytes]],
    value: bytes,
    registry: EventRegistry,
) -> RecordedEvent:
    """Rebuild the typed (upcast) event of a record written by :func:`event_headers`.

    With a trusted registry (:meth:`EventRegistry.trusted`: records of our own topics, validated
    when appended) the input checks are skipped; the result is the same.
    """
    h = dict(headers)
    ce_type = _text(h, "ce_type")
    event_type = ce_type.rsplit(".", 1)[-1]
    try:
        # Validated from the record's JSON text in one call (parsing included) when the registry
        # is trusted and the version current; else parsed and loaded as before (same result).
        event = registry.load_json(
            event_type=event_type,
            schema_version=int(_text(h, "ce_schemaversion")),
            text=value,
            event_id=_text(h, "ce_id"),
            stream_id=_text(h, "ce_subject"),
            stream_version=int(_text(h, "ce_streamversion")),
            occurred_at=_text(h, "ce_time"),
        )
    except (ValueError, TypeError, LookupError) as exc:
        raise MalformedEventMessageError(str(exc)) from exc
    metadata = {field: h[name].decode() if name in h else None for field, name in _METADATA_HEADERS}
    position = int(_text(h, "ce_position"))
    return registry.recorded(event, position, metadata)
