from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from commands.base import HandlerDeps
from commands.errors import ConcurrencyConflictError, InvalidCommandError, StreamNotFoundError
from commands.handlers import CommandBus
from commands.scene import CreateScene, DeleteScene, ReclassifyScene, RetimeScene
from commands.scene_handlers import SCENE_HANDLERS
from events.base import EventMetadata
from events.movie import MovieRegistered
from events.scene import SceneCreated, SceneReclassified
from infra.memory_event_store import InMemoryEventStore
from tests.acting import AS_SYSTEM

pytestmark = pytest.mark.unit


def _bus() -> tuple[CommandBus, InMemoryEventStore]:
    store = InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), SCENE_HANDLERS), store


async def _movie(store: InMemoryEventStore) -> UUID:
    """A registered movie: scenes may only be created for one."""
    movie = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="映画")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return movie


def _create(movie_id: UUID) -> CreateScene:
    return CreateScene(movie_id=movie_id, start="5", end="+10", classification="R1")


def _scene_events(store: InMemoryEventStore) -> list[object]:
    return [r for r in store.all_events if not isinstance(r.event, MovieRegistered)]


async def test_create_appends_one_event_with_metadata() -> None:
    bus, store = _bus()
    user = uuid4()
    cmd = _create(await _movie(store))
    result = await bus.dispatch(cmd, EventMetadata(user_id=user, user_role="contributor"))
    [recorded] = [r for r in store.all_events if r.event.stream_id == cmd.scene_id]
    assert isinstance(recorded.event, SceneCreated)
    assert recorded.event.created_by == user
    assert recorded.metadata.causation_id == cmd.command_id
    assert recorded.metadata.correlation_id == cmd.command_id
    assert result.stream_version == 1


async def test_same_command_twice_appends_once() -> None:
    bus, store = _bus()
    cmd = _create(await _movie(store))
    await bus.dispatch(cmd, AS_SYSTEM)
    again = await bus.dispatch(cmd, AS_SYSTEM)
    assert again.duplicate
    assert len(_scene_events(store)) == 1


async def test_stale_expected_version_is_rejected_and_writes_nothing() -> None:
    bus, store = _bus()
    created = await bus.dispatch(_create(await _movie(store)), AS_SYSTEM)
    await bus.dispatch(ReclassifyScene(scene_id=created.stream_id, classification="A1"), AS_SYSTEM)
    with pytest.raises(ConcurrencyConflictError) as err:
        await bus.dispatch(
            ReclassifyScene(scene_id=created.stream_id, classification="C1", expected_version=1), AS_SYSTEM
        )
    assert (err.value.expected, err.value.actual) == (1, 2)
    assert [type(r.event) for r in await store.read_stream(created.stream_id)] == [
        SceneCreated,
        SceneReclassified,
    ]


async def test_invalid_command_writes_nothing() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(CreateScene(movie_id=movie, start="99", end="100", classification="L2"), AS_SYSTEM)
    assert _scene_events(store) == []


async def test_command_on_unknown_scene_is_not_found() -> None:
    bus, _ = _bus()
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(RetimeScene(scene_id=uuid4(), start="1", end="2"), AS_SYSTEM)


async def test_delete_then_retime_is_not_found() -> None:
    bus, store = _bus()
    created = await bus.dispatch(_create(await _movie(store)), AS_SYSTEM)
    await bus.dispatch(DeleteScene(scene_id=created.stream_id), AS_SYSTEM)
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(RetimeScene(scene_id=created.stream_id, start="1", end="2"), AS_SYSTEM)


async def test_nested_scene_checks_parent_through_the_store() -> None:
    bus, store = _bus()
    parent = _create(await _movie(store))
    await bus.dispatch(parent, AS_SYSTEM)
    child = CreateScene(
        movie_id=parent.movie_id,
        start="7",
        end="9",
        classification="R1-2",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    result = await bus.dispatch(child, AS_SYSTEM)
    assert result.stream_id == child.scene_id
