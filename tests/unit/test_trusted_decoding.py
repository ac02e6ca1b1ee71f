"""Trusted decoding (events read back from our own log and topics) gives exactly what validation gives."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka.structs import ConsumerRecord
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from events.base import DomainEvent, EventMetadata
from events.registry import EventRegistry, payload_validator
from events.saga import CommandSpec, PlannedStep
from events.scene import SceneCreated
from infra.cloudevents import decode_event, event_headers
from infra.services import build_registry
from infra.workers import to_delivery

pytestmark = pytest.mark.unit

REGISTRY = build_registry()
TRUSTED = REGISTRY.trusted()
CLASSES = sorted(REGISTRY.classes(), key=lambda c: c.event_type)

_TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00"), max_size=8)
_JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | _TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
_JSON_OBJECTS = st.dictionaries(_TEXT, _JSON, max_size=3)
_COMMANDS = st.builds(CommandSpec, data=_JSON_OBJECTS)
_OVERRIDES: dict[str, st.SearchStrategy[Any]] = {
    # JsonValue fields: hypothesis cannot infer them from the annotation.
    "input": _JSON_OBJECTS,
    "steps": st.lists(
        st.builds(PlannedStep, action=_COMMANDS, compensation=st.lists(_COMMANDS, max_size=2).map(tuple)),
        min_size=1,
        max_size=3,
    ).map(tuple),
}


@st.composite
def _events(draw: st.DrawFn, cls: type[DomainEvent]) -> DomainEvent:
    overrides = {name: s for name, s in _OVERRIDES.items() if name in cls.model_fields}
    try:
        return draw(
            st.builds(
                cls,
                stream_version=st.integers(1, 10**6),
                occurred_at=st.datetimes(timezones=st.just(UTC)),
                **overrides,
            )
        )
    except ValidationError:
        reject()


def _shape(value: Any) -> Any:
    """The value with the exact type of every part spelled out (``==`` alone equates 1 and 1.0)."""
    if isinstance(value, BaseModel):
        return (type(value), sorted(value.model_fields_set), {k: _shape(v) for k, v in value})
    if isinstance(value, list | tuple):
        return (type(value), [_shape(v) for v in value])
    if isinstance(value, dict):
        return (type(value), {k: _shape(v) for k, v in value.items()})
    if isinstance(value, datetime):
        return (type(value), value, value.utcoffset())
    return (type(value), value)


def _stored(event: DomainEvent) -> dict[str, Any]:
    """What ``registry.load`` gets for ``event`` read back from the log (JSON payload, text ids)."""
    return {
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "payload": json.loads(json.dumps(event.payload())),
        "event_id": str(event.event_id),
        "stream_id": str(event.stream_id),
        "stream_version": event.stream_version,
        "occurred_at": event.occurred_at.isoformat(),
    }


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.event_type)
@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(data=st.data())
def test_trusted_load_gives_exactly_what_validation_gives(
    cls: type[DomainEvent], data: st.DataObject
) -> None:
    stored = _stored(data.draw(_events(cls)))
    validated, trusted = REGISTRY.load(**stored), TRUSTED.load(**stored)
    assert trusted == validated
    assert _shape(trusted) == _shape(validated)


def _scene() -> SceneCreated:
    return SceneCreated(
        stream_id=uuid4(),
        stream_version=1,
        movie_id=uuid4(),
        start_time_seconds=5,
        end_time_seconds=9,
        level1_classification="L",
        level2_classification="L1",
        tags=("夜", "rain"),
        description="ベンチ",
    )


def _record(event: DomainEvent, meta: EventMetadata, offset: int = 7) -> ConsumerRecord[bytes, bytes]:
    headers = event_headers(
        event_id=event.event_id,
        stream_type=event.stream_type,
        event_type=event.event_type,
        schema_version=event.schema_version,
        stream_id=event.stream_id,
        stream_version=event.stream_version,
        position=42,
        occurred_at=event.occurred_at,
        metadata=meta,
    )
    value = json.dumps(event.payload(), ensure_ascii=False).encode()
    return ConsumerRecord("t", 0, offset, 0, 0, None, value, None, 0, len(value), list(headers))


@pytest.mark.parametrize(
    "meta",
    [
        EventMetadata(),
        EventMetadata(correlation_id=uuid4(), user_id=uuid4(), user_role="admin", client_addr="::1"),
    ],
)
def test_trusted_record_decoding_gives_exactly_what_validation_gives(meta: EventMetadata) -> None:
    record = _record(_scene(), meta)
    validated = decode_event(record.headers, record.value, REGISTRY)
    trusted = decode_event(record.headers, record.value, TRUSTED)
    assert trusted == validated
    assert _shape(trusted) == _shape(validated)


def test_trusted_decoding_skips_only_the_input_checks() -> None:
    # Proves the NUL check is really left out (a renamed check would silently stay in), and
    # that every other constraint is still enforced.
    stored = _stored(_scene())
    stored["payload"]["description"] = "a\x00b"
    with pytest.raises(ValidationError, match="NUL"):
        REGISTRY.load(**stored)
    assert TRUSTED.load(**stored).description == "a\x00b"  # type: ignore[attr-defined]
    with pytest.raises(ValidationError, match="stream_version"):
        TRUSTED.load(**{**stored, "stream_version": 0})


def test_a_record_is_decoded_from_its_opened_value_and_keeps_its_sealed_one() -> None:
    event = _scene()
    record = _record(event, EventMetadata())
    opened = json.dumps({**event.payload(), "description": "別"}, ensure_ascii=False).encode()
    delivery = to_delivery(record, TRUSTED, opened=opened)
    assert delivery.recorded is not None
    assert delivery.recorded.event.description == "別"  # type: ignore[attr-defined]
    assert delivery.value == record.value  # the sealed value is what a dead letter keeps


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.event_type)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(data=st.data())
def test_loading_an_owned_payload_gives_exactly_what_load_gives(
    cls: type[DomainEvent], data: st.DataObject
) -> None:
    stored = _stored(data.draw(_events(cls)))
    for registry in (REGISTRY, TRUSTED):
        loaded = registry.load(**stored)
        owned = registry.load_owned(**{**stored, "payload": dict(stored["payload"])})
        assert owned == loaded
        assert _shape(owned) == _shape(loaded)


def test_loading_an_owned_payload_of_an_old_version_upcasts_it() -> None:
    calls: list[int] = []

    def upcast(payload: dict[str, Any]) -> dict[str, Any]:
        calls.append(1)
        return {**payload, "description": "upcast"}

    old = EventRegistry(REGISTRY.classes(), {(SceneCreated.event_type, 0): upcast}, trusted=True)
    stored = {**_stored(_scene()), "schema_version": 0}
    event = old.load_owned(**{**stored, "payload": dict(stored["payload"])})
    assert isinstance(event, SceneCreated)
    assert event.description == "upcast"
    assert calls == [1]


def test_recorded_keeps_the_metadata_model_it_is_given() -> None:
    meta = TRUSTED.metadata({"correlation_id": str(uuid4()), "user_role": "admin"})
    event = TRUSTED.load(**_stored(_scene()))
    for registry in (REGISTRY, TRUSTED):
        shared = registry.recorded(event, 3, meta)
        assert shared.metadata is meta
        assert shared == registry.recorded(event, 3, meta.model_dump())


def _utf8(value: Any) -> bool:
    """Whether every text in ``value`` (keys included) can be written as UTF-8."""
    if isinstance(value, str):
        try:
            value.encode()
        except UnicodeEncodeError:
            return False
        return True
    if isinstance(value, dict):
        return all(_utf8(k) and _utf8(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_utf8(v) for v in value)
    return True


def _typed(stored: dict[str, Any]) -> dict[str, Any]:
    """``stored`` with the envelope as the log's columns give it (UUIDs, an aware datetime)."""
    return {
        **stored,
        "event_id": UUID(stored["event_id"]),
        "stream_id": UUID(stored["stream_id"]),
        "occurred_at": datetime.fromisoformat(stored["occurred_at"]),
    }


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.event_type)
@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow]
)
@given(data=st.data())
def test_loading_a_payload_from_its_json_text_gives_exactly_what_load_gives(
    cls: type[DomainEvent], data: st.DataObject
) -> None:
    event = data.draw(_events(cls))
    if not _utf8(event.model_dump()):
        reject()  # what the log can hold: UTF-8 text (a lone surrogate is read apart by JSON parsers)
    text = event.payload_json()
    for stored in (_stored(event), _typed(_stored(event))):
        for registry in (REGISTRY, TRUSTED):
            loaded = registry.load(**stored)
            from_text = registry.load_json(**{k: v for k, v in stored.items() if k != "payload"}, text=text)
            assert from_text == loaded == event
            assert _shape(from_text) == _shape(loaded)
            assert list(from_text.__dict__) == list(loaded.__dict__)  # the same field order


def test_every_event_class_has_a_payload_validator() -> None:
    # Else load_json quietly takes the slow path for it.
    assert [c.event_type for c in CLASSES if payload_validator(c) is None] == []


def test_loading_a_json_text_of_an_old_version_upcasts_it() -> None:
    old = EventRegistry(
        REGISTRY.classes(),
        {(SceneCreated.event_type, 0): lambda p: {**p, "description": "upcast"}},
        trusted=True,
    )
    stored = _typed({**_stored(_scene()), "schema_version": 0})
    event = old.load_json(
        **{k: v for k, v in stored.items() if k != "payload"}, text=json.dumps(stored["payload"])
    )
    assert isinstance(event, SceneCreated)
    assert event.description == "upcast"


def test_a_json_text_that_does_not_validate_fails_as_load_does() -> None:
    stored = _typed(_stored(_scene()))
    payload = {**stored["payload"], "start_time_seconds": "soon"}
    with pytest.raises(ValidationError) as expected:
        TRUSTED.load(**{**stored, "payload": payload})
    with pytest.raises(ValidationError) as got:
        TRUSTED.load_json(**{k: v for k, v in stored.items() if k != "payload"}, text=json.dumps(payload))
    assert got.value.errors() == expected.value.errors()


def test_a_json_text_with_an_envelope_key_is_loaded_as_load_does() -> None:
    # The envelope's columns win over a payload key of the same name, as in load.
    stored = _typed(_stored(_scene()))
    text = json.dumps({**stored["payload"], "stream_version": 99})
    event = TRUSTED.load_json(**{k: v for k, v in stored.items() if k != "payload"}, text=text)
    assert event.stream_version == stored["stream_version"]
    assert event == TRUSTED.load(**stored)
