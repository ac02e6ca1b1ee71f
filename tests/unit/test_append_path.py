"""The command append path's fast paths give the same answers as the slow ones they replace."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.base import HandlerDeps
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.handlers import CommandBus
from commands.ports import StreamCondition
from commands.scene import AddSceneActor, CreateScene
from commands.scene_handlers import SCENE_HANDLERS
from events.actor import ActorRegistered, ActorRemoved
from events.base import DomainEvent, EventMetadata, RecordedEvent
from events.movie import (
    MovieProductionInfoRecorded,
    MovieRegistered,
    MovieRemovalBegun,
    MovieRemovalCancelled,
)
from events.saga import CommandSpec, PlannedStep, SagaStarted
from events.scene import SceneCreated
from infra.memory_event_store import InMemoryEventStore
from tests.acting import AS_SYSTEM

pytestmark = pytest.mark.unit

_SAMPLES: list[DomainEvent] = [
    SceneCreated(
        stream_id=uuid4(),
        stream_version=1,
        movie_id=uuid4(),
        start_time_seconds=10,
        end_time_seconds=20,
        input_format={"start": "HHMMSS", "end": "+S"},
        level1_classification="L",
        level2_classification="L2",
        level3_classification="L2-3",
        tags=("雨", "night"),
        description='君が好きだ "quoted" \\ back\nslash',
        created_by=uuid4(),
    ),
    MovieRegistered(
        stream_id=uuid4(), stream_version=1, title="君の名は。", release_date=date(2016, 8, 26), budget_jpy=0
    ),
    MovieProductionInfoRecorded(
        stream_id=uuid4(),
        stream_version=3,
        production_companies=("東宝", "CoMix Wave"),
        filming_start_date=date(2015, 1, 1),
        notes="🎬",
    ),
    SagaStarted(
        stream_id=uuid4(),
        stream_version=1,
        occurred_at=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
        saga_type="movie-removal",
        steps=(
            PlannedStep(
                name="begin",
                action=CommandSpec(command="BeginMovieRemoval", data={"n": 1.5, "x": [None, True, "é"]}),
                initial_backoff_seconds=0.1,
            ),
        ),
        input={"movie_id": str(uuid4()), "ratio": 1e-7},
    ),
]


@pytest.mark.parametrize("event", _SAMPLES, ids=lambda e: type(e).__name__)
def test_the_json_payload_is_the_payload(event: DomainEvent) -> None:
    assert json.loads(event.payload_json()) == event.payload()


def test_a_nul_character_in_a_nested_dict_is_refused_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        SagaStarted(
            stream_id=uuid4(),
            stream_version=1,
            saga_type="s",
            steps=(PlannedStep(name="n", action=CommandSpec(command="C")),),
            input={"a": ["ok", {"b\x00": 1}]},
        )
    [error] = err.value.errors()
    assert (error["loc"], error["type"]) == (("input",), "value_error")
    assert "NUL" in error["msg"]


def test_a_nul_character_in_a_nested_model_given_as_data_names_the_outer_field() -> None:
    with pytest.raises(ValidationError) as err:
        PlannedStep.model_validate({"name": "n", "action": {"command": "C\x00"}})
    assert err.value.errors()[0]["loc"] == ("action",)


def test_an_unknown_field_holding_a_nul_is_reported_as_unknown() -> None:
    with pytest.raises(ValidationError) as err:
        EventMetadata.model_validate({"nope": "\x00"})
    assert err.value.errors()[0]["type"] == "extra_forbidden"


def test_several_bad_fields_report_a_nul_one() -> None:
    with pytest.raises(ValidationError) as err:
        CreateScene.model_validate(
            {"movie_id": uuid4(), "start": "1", "end": "2", "classification": "L2", "description": "\x00"}
        )
    assert err.value.errors()[0]["loc"] == ("description",)


@pytest.mark.parametrize(
    ("types", "expected", "holds"),
    [
        ((), True, False),
        (("MovieRegistered",), True, True),
        (("MovieRegistered", "MovieRemoved"), True, False),
        (("MovieRegistered", "MovieRemoved", "Other"), True, False),
        (("MovieRegistered",), False, False),
        ((), False, True),
    ],
)
def test_a_condition_follows_the_latest_relevant_event(
    types: tuple[str, ...], expected: bool, holds: bool
) -> None:
    condition = StreamCondition(
        stream_id=uuid4(), set_by=("MovieRegistered",), cleared_by=("MovieRemoved",), expected=expected
    )
    assert condition.holds(types) is holds


class ReadCountingStore(InMemoryEventStore):
    """Counts stream reads: a check done inside the append reads nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0

    async def read_stream(self, stream_id: UUID) -> list[RecordedEvent]:
        """Count, then read."""
        self.reads += 1
        return await super().read_stream(stream_id)


async def _given(store: InMemoryEventStore, *events: DomainEvent) -> None:
    for event in events:
        await store.append([event], expected_version=event.stream_version - 1, metadata=EventMetadata())


def _scene_bus(store: InMemoryEventStore) -> CommandBus:
    return CommandBus(HandlerDeps(event_store=store), SCENE_HANDLERS)


async def test_creating_a_scene_of_an_open_movie_reads_no_stream() -> None:
    store = ReadCountingStore()
    movie = uuid4()
    await _given(store, MovieRegistered(stream_id=movie, stream_version=1, title="t"))
    bus = _scene_bus(store)
    await bus.dispatch(CreateScene(movie_id=movie, start="1", end="2", classification="L2"), AS_SYSTEM)
    assert store.reads == 0


async def test_a_movie_reopened_after_a_cancelled_removal_takes_scenes() -> None:
    store = InMemoryEventStore()
    movie, saga = uuid4(), uuid4()
    await _given(
        store,
        MovieRegistered(stream_id=movie, stream_version=1, title="t"),
        MovieRemovalBegun(stream_id=movie, stream_version=2, saga_id=saga),
        MovieRemovalCancelled(stream_id=movie, stream_version=3, saga_id=saga),
    )
    bus = _scene_bus(store)
    result = await bus.dispatch(
        CreateScene(movie_id=movie, start="1", end="2", classification="L2"), AS_SYSTEM
    )
    assert result.stream_version == 1


async def test_a_scene_of_a_movie_being_removed_names_the_saga() -> None:
    store = InMemoryEventStore()
    movie, saga = uuid4(), uuid4()
    await _given(
        store,
        MovieRegistered(stream_id=movie, stream_version=1, title="t"),
        MovieRemovalBegun(stream_id=movie, stream_version=2, saga_id=saga),
    )
    bus = _scene_bus(store)
    cmd = CreateScene(movie_id=movie, start="1", end="2", classification="L2")
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(cmd, AS_SYSTEM)
    assert err.value.field == "movie_id"
    assert str(saga) in err.value.reason
    assert await store.read_stream(cmd.scene_id) == []


async def test_casting_a_removed_actor_is_refused_as_before() -> None:
    store = InMemoryEventStore()
    movie, actor = uuid4(), uuid4()
    await _given(
        store,
        MovieRegistered(stream_id=movie, stream_version=1, title="t"),
        ActorRegistered(stream_id=actor, stream_version=1, name="山田"),
        ActorRemoved(stream_id=actor, stream_version=2),
    )
    bus = _scene_bus(store)
    scene = CreateScene(movie_id=movie, start="1", end="2", classification="L2")
    await bus.dispatch(scene, AS_SYSTEM)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=actor), AS_SYSTEM)
    assert (err.value.field, err.value.referenced) == ("actor_id", True)
    assert len(await store.read_stream(scene.scene_id)) == 1
