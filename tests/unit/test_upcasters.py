"""SceneDetailsEdited v1 -> v2: old events come back with normalised tags, through every reader."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest

from events.base import EventMetadata
from events.registry import UnsupportedSchemaVersionError
from events.scene import SceneDetailsEdited, upcast_scene_details_edited_v1
from infra.cloudevents import decode_event, event_headers
from infra.services import build_registry

pytestmark = pytest.mark.unit


def _v1_payload() -> dict[str, Any]:
    return {
        "movie_id": str(uuid4()),
        "description": "雨の夜",
        "tags": [" rain", "rain", "", "night ", "night"],
        "emotional_tags": ["sad", "sad", "  "],
    }


def test_scene_details_edited_is_at_schema_version_2() -> None:
    assert SceneDetailsEdited.schema_version == 2


def test_upcaster_strips_drops_blanks_and_dedupes_keeping_first_seen_order() -> None:
    out = upcast_scene_details_edited_v1(_v1_payload())
    assert out["tags"] == ["rain", "night"]
    assert out["emotional_tags"] == ["sad"]
    assert out["description"] == "雨の夜"


def test_upcaster_accepts_a_v1_payload_without_tags() -> None:
    out = upcast_scene_details_edited_v1({"movie_id": str(uuid4()), "description": None})
    assert (out["tags"], out["emotional_tags"]) == ([], [])


def test_registry_loads_a_v1_event_through_the_upcaster() -> None:
    event = build_registry().load(
        event_type="SceneDetailsEdited",
        schema_version=1,
        payload=_v1_payload(),
        event_id=uuid4(),
        stream_id=uuid4(),
        stream_version=2,
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert isinstance(event, SceneDetailsEdited)
    assert event.tags == ("rain", "night")
    assert event.emotional_tags == ("sad",)


def test_registry_leaves_a_v2_event_as_stored() -> None:
    payload = {**_v1_payload(), "tags": ["b", "a"]}
    event = build_registry().load(
        event_type="SceneDetailsEdited",
        schema_version=2,
        payload=payload,
        event_id=uuid4(),
        stream_id=uuid4(),
        stream_version=2,
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
    )
    assert isinstance(event, SceneDetailsEdited)
    assert event.tags == ("b", "a")
    # Not upcast: v2 events are normalised by the command side, not by the reader.
    assert event.emotional_tags == ("sad", "sad", "  ")


def test_a_v1_kafka_record_decodes_upcast() -> None:
    stream_id = uuid4()
    headers = event_headers(
        event_id=uuid4(),
        stream_type="scene",
        event_type="SceneDetailsEdited",
        schema_version=1,
        stream_id=stream_id,
        stream_version=3,
        position=9,
        occurred_at=datetime(2025, 1, 1, tzinfo=UTC),
        metadata=EventMetadata(),
    )
    recorded = decode_event(headers, json.dumps(_v1_payload()).encode(), build_registry())
    assert isinstance(recorded.event, SceneDetailsEdited)
    assert recorded.event.tags == ("rain", "night")


def test_a_version_newer_than_the_code_is_refused() -> None:
    with pytest.raises(UnsupportedSchemaVersionError):
        build_registry().upcast("SceneDetailsEdited", 3, _v1_payload())
