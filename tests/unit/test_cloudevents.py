from __future__ import annotations

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from events.base import EventMetadata
from events.scene import SceneRetimed
from infra.cloudevents import MalformedEventMessageError, decode_event, event_headers
from infra.services import build_registry

pytestmark = pytest.mark.unit


def _encoded() -> tuple[SceneRetimed, EventMetadata, tuple[tuple[str, bytes], ...], bytes]:
    event = SceneRetimed(
        stream_id=uuid4(),
        stream_version=4,
        movie_id=uuid4(),
        start_time_seconds=1,
        end_time_seconds=2,
        input_format={"startInput": "1", "endInput": "+1"},
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )
    meta = EventMetadata(correlation_id=uuid4(), causation_id=uuid4(), user_id=uuid4(), user_role="admin")
    headers = event_headers(
        event_id=event.event_id,
        stream_type="scene",
        event_type=event.event_type,
        schema_version=1,
        stream_id=event.stream_id,
        stream_version=4,
        position=77,
        occurred_at=event.occurred_at,
        metadata=meta,
    )
    return event, meta, headers, json.dumps(event.payload()).encode()


def test_binary_mode_headers_carry_the_required_attributes() -> None:
    event, _, headers, _ = _encoded()
    h = dict(headers)
    assert h["ce_specversion"] == b"1.0"
    assert h["ce_id"] == str(event.event_id).encode()
    assert h["ce_type"] == b"sceneledger.scene.SceneRetimed"
    assert h["ce_source"] == b"/sceneledger/scene"
    assert h["ce_subject"] == str(event.stream_id).encode()
    assert h["ce_time"] == b"2026-01-02T03:04:05+00:00"
    assert h["content-type"] == b"application/json"


def test_headers_and_value_decode_to_the_same_event() -> None:
    event, meta, headers, value = _encoded()
    recorded = decode_event(headers, value, build_registry())
    assert recorded.event == event
    assert recorded.metadata == meta
    assert recorded.position == 77


def test_missing_header_is_a_malformed_message() -> None:
    _, _, headers, value = _encoded()
    without_subject = tuple((k, v) for k, v in headers if k != "ce_subject")
    with pytest.raises(MalformedEventMessageError, match="ce_subject"):
        decode_event(without_subject, value, build_registry())


def test_unknown_event_type_is_a_malformed_message() -> None:
    _, _, headers, value = _encoded()
    renamed = tuple((k, b"sceneledger.scene.Nope" if k == "ce_type" else v) for k, v in headers)
    with pytest.raises(MalformedEventMessageError, match="unknown event type"):
        decode_event(renamed, value, build_registry())


def test_payload_that_breaks_the_schema_is_a_malformed_message() -> None:
    _, _, headers, _ = _encoded()
    with pytest.raises(MalformedEventMessageError):
        decode_event(headers, b'{"start_time_seconds": "soon"}', build_registry())
