"""Messages the command path builds from validated data, without the NUL walk, equal validated ones."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from commands.base import CommandResult, HandlerDeps, built
from commands.handlers import CommandBus
from commands.scene import CreateScene, create_scene, validate_create
from commands.scene_handlers import SCENE_HANDLERS
from events.base import NUL_REASON, DomainEvent
from events.movie import MovieRegistered
from events.scene import SceneCreated
from infra.memory_event_store import InMemoryEventStore
from tests.acting import AS_SYSTEM

pytestmark = pytest.mark.unit

_ENVELOPE_DEFAULTS = {"event_id", "occurred_at"}
"""Fields an event draws afresh each time it is built (a new id, the current time)."""

_HOUR = st.integers(0, 22)  # with a duration under an hour, the scene ends within the day
_MINUTE = st.integers(0, 59)
_START = st.tuples(_HOUR, _MINUTE, _MINUTE).map(lambda t: f"{t[0]:02d}{t[1]:02d}{t[2]:02d}")
_END = st.tuples(_MINUTE, st.integers(1, 59)).map(lambda t: f"+{t[0]}{t[1]:02d}")
_CLASSIFICATION = st.tuples(st.sampled_from("ARCSDLO"), st.integers(0, 9), st.none() | st.integers(0, 9)).map(
    lambda t: f"{t[0]}{t[1]}" + ("" if t[2] is None else f"-{t[2]}")
)
_TEXT = st.text(alphabet=st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=12)
_TAGS = st.lists(_TEXT.filter(lambda t: 0 < len(t.strip()) <= 50), max_size=4).map(tuple)
_COMMANDS = st.builds(
    CreateScene,
    movie_id=st.uuids(),
    start=_START,
    end=_END,
    classification=_CLASSIFICATION,
    scene_number=st.none() | st.integers(1, 10_000),
    tags=_TAGS,
    description=st.none() | _TEXT,
    emotional_tags=_TAGS,
)


def _without_fresh_values(event: DomainEvent) -> dict[str, Any]:
    return event.model_dump(exclude=_ENVELOPE_DEFAULTS)


def _scene_fields() -> dict[str, Any]:
    return {
        "event_id": uuid4(),
        "stream_id": uuid4(),
        "stream_version": 1,
        "occurred_at": datetime(2026, 11, 27, 5, 30, tzinfo=UTC),
        "movie_id": uuid4(),
        "start_time_seconds": 10,
        "end_time_seconds": 20,
        "input_format": {"start": "HHMMSS", "end": "+S"},
        "level1_classification": "L",
        "level2_classification": "L2",
        "tags": ["雨", "night"],  # a list, as a caller might pass: converted to a tuple either way
        "description": "君が好きだ",
    }


@settings(max_examples=100)
@given(_COMMANDS, st.none() | st.uuids())
def test_a_created_scene_equals_the_validated_event_with_the_same_values(
    cmd: CreateScene, user: UUID | None
) -> None:
    [event] = create_scene(cmd, existing=None, parent=None, created_by=user)
    validated = SceneCreated.model_validate(event.model_dump())
    assert event == validated
    assert event.payload_json() == validated.payload_json()


@settings(max_examples=100)
@given(_COMMANDS)
def test_passing_the_handlers_checked_input_gives_the_same_event(cmd: CreateScene) -> None:
    [again] = create_scene(cmd, existing=None, parent=None, created_by=None)
    [reused] = create_scene(cmd, existing=None, parent=None, created_by=None, checked=validate_create(cmd))
    assert _without_fresh_values(reused) == _without_fresh_values(again)


def test_built_converts_and_defaults_like_the_constructor() -> None:
    fields = _scene_fields()
    made = built(SceneCreated, **fields)
    assert made == SceneCreated(**fields)
    assert made.tags == ("雨", "night")
    assert made.model_fields_set == SceneCreated(**fields).model_fields_set


def test_built_keeps_the_field_constraints() -> None:
    with pytest.raises(ValidationError, match="end_time_seconds"):
        built(SceneCreated, **{**_scene_fields(), "end_time_seconds": 86_401})


def test_built_keeps_refusing_unknown_fields() -> None:
    with pytest.raises(ValidationError, match="colour"):
        built(SceneCreated, **{**_scene_fields(), "colour": "red"})


def test_a_command_carrying_nul_is_still_refused_naming_its_field() -> None:
    with pytest.raises(ValidationError) as caught:
        CreateScene(movie_id=uuid4(), start="0100", end="+5", classification="L2", tags=("ok", "b\x00d"))
    [error] = caught.value.errors()
    assert error["loc"] == ("tags",)
    assert NUL_REASON in error["msg"]


async def test_the_bus_answers_a_result_equal_to_a_validated_one() -> None:
    store = InMemoryEventStore()
    movie_id = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="君の名は。")],
        expected_version=0,
        metadata=AS_SYSTEM,
    )
    bus = CommandBus(HandlerDeps(event_store=store), SCENE_HANDLERS)
    cmd = CreateScene(movie_id=movie_id, start="0100", end="+5", classification="L2", tags=("night",))
    result = await bus.dispatch(cmd, AS_SYSTEM)
    assert result == CommandResult.model_validate(result.model_dump())
    assert (result.command_id, result.stream_id, result.stream_version) == (cmd.command_id, cmd.scene_id, 1)


async def test_the_created_scenes_metadata_is_stamped_with_the_command() -> None:
    store = InMemoryEventStore()
    movie_id = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="x")],
        expected_version=0,
        metadata=AS_SYSTEM,
    )
    bus = CommandBus(HandlerDeps(event_store=store), SCENE_HANDLERS)
    cmd = CreateScene(movie_id=movie_id, start="0100", end="+5", classification="L2")
    await bus.dispatch(cmd, AS_SYSTEM)
    [recorded] = await store.read_stream(cmd.scene_id)
    assert (recorded.metadata.correlation_id, recorded.metadata.causation_id) == (
        cmd.command_id,
        cmd.command_id,
    )
    assert recorded.metadata.user_role == AS_SYSTEM.user_role
