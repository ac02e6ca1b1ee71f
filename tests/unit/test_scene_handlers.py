"""Scene and parallel group handlers on the in-memory event store: references, nesting across streams."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

import pytest

from commands.base import HandlerDeps
from commands.errors import (
    ConcurrencyConflictError,
    InvalidCommandError,
    StreamNotFoundError,
    UniqueKeyTakenError,
)
from commands.handlers import CommandBus
from commands.parallel import AddSceneToParallelGroup, CreateParallelGroup
from commands.parallel_handlers import PARALLEL_GROUP_HANDLERS
from commands.ports import AppendResult, UniqueClaim
from commands.scene import (
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    RetimeScene,
    ReviseDialogue,
)
from commands.scene_handlers import SCENE_HANDLERS
from events.actor import ActorRegistered, ActorRemoved
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered, MovieRemoved
from events.scene import (
    DialogueAdded,
    NestedSceneAttached,
    NestedSceneDetached,
    NestedSceneMoved,
    ParallelGroupCreated,
    SceneActorAdded,
    SceneActorRemoved,
    SceneAddedToParallelGroup,
    SceneCreated,
    SceneDeleted,
)
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit


class FailingStore(InMemoryEventStore):
    """Fails the next append to one stream with the given error, once."""

    def __init__(self) -> None:
        super().__init__()
        self.fail_next: dict[UUID, Exception] = {}

    async def append(
        self,
        events: Sequence[DomainEvent],
        *,
        expected_version: int,
        metadata: EventMetadata,
        command_id: UUID | None = None,
        claims: Sequence[UniqueClaim] = (),
        releases: Sequence[UniqueClaim] = (),
    ) -> AppendResult:
        error = self.fail_next.pop(events[0].stream_id, None)
        if error is not None:
            raise error
        return await super().append(
            events,
            expected_version=expected_version,
            metadata=metadata,
            command_id=command_id,
            claims=claims,
            releases=releases,
        )


def _bus(store: InMemoryEventStore | None = None) -> tuple[CommandBus, InMemoryEventStore]:
    store = store or InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), {**SCENE_HANDLERS, **PARALLEL_GROUP_HANDLERS}), store


async def _append(store: InMemoryEventStore, *events: DomainEvent) -> None:
    await store.append(events, expected_version=events[0].stream_version - 1, metadata=EventMetadata())


async def _movie(store: InMemoryEventStore) -> UUID:
    movie = uuid4()
    await _append(store, MovieRegistered(stream_id=movie, stream_version=1, title="君の名は。"))
    return movie


async def _actor(store: InMemoryEventStore) -> UUID:
    actor = uuid4()
    await _append(store, ActorRegistered(stream_id=actor, stream_version=1, name="神木隆之介"))
    return actor


async def _types(store: InMemoryEventStore, stream: UUID) -> list[type[DomainEvent]]:
    return [type(r.event) for r in await store.read_stream(stream)]


async def _scene(bus: CommandBus, movie: UUID, start: str = "1000", end: str = "1100") -> CreateScene:
    cmd = CreateScene(movie_id=movie, start=start, end=end, classification="R1")
    await bus.dispatch(cmd)
    return cmd


async def _nested(
    bus: CommandBus, parent: CreateScene, start: str = "1010", end: str = "1020"
) -> CreateScene:
    cmd = CreateScene(
        movie_id=parent.movie_id,
        start=start,
        end=end,
        classification="R1-2",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    await bus.dispatch(cmd)
    return cmd


# --- the movie must exist ---


async def test_scene_of_an_unregistered_movie_is_rejected_and_nothing_is_written() -> None:
    bus, store = _bus()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(CreateScene(movie_id=uuid4(), start="1", end="2", classification="L2"))
    assert (err.value.field, err.value.referenced) == ("movie_id", True)
    assert store.all_events == []


async def test_scene_of_a_removed_movie_is_rejected() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    await _append(store, MovieRemoved(stream_id=movie, stream_version=2))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(CreateScene(movie_id=movie, start="1", end="2", classification="L2"))
    assert err.value.field == "movie_id"


async def test_bad_input_is_reported_before_the_unknown_movie() -> None:
    bus, _ = _bus()
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(CreateScene(movie_id=uuid4(), start="0175", end="+5", classification="L2"))
    assert err.value.field == "start"


async def test_retried_create_answers_as_before_even_after_the_movie_left() -> None:
    bus, store = _bus()
    cmd = await _scene(bus, await _movie(store))
    await _append(store, MovieRemoved(stream_id=cmd.movie_id, stream_version=2))
    again = await bus.dispatch(cmd)
    assert again.duplicate
    assert again.stream_id == cmd.scene_id


# --- actors and speakers must exist ---


async def test_unknown_actor_cannot_be_cast() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=uuid4()))
    assert (err.value.field, err.value.referenced) == ("actor_id", True)
    assert await _types(store, scene.scene_id) == [SceneCreated]


async def test_removed_actor_cannot_be_cast() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    actor = await _actor(store)
    await _append(store, ActorRemoved(stream_id=actor, stream_version=2))
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=actor))


async def test_registered_actor_is_cast() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    result = await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=await _actor(store)))
    assert result.stream_version == 2
    assert await _types(store, scene.scene_id) == [SceneCreated, SceneActorAdded]


async def test_dialogue_of_an_unknown_speaker_is_rejected() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddDialogue(scene_id=scene.scene_id, actor_id=uuid4(), dialogue_text="…"))
    assert err.value.field == "actor_id"


async def test_revision_to_an_unknown_speaker_is_rejected() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    line = AddDialogue(scene_id=scene.scene_id, actor_id=await _actor(store), dialogue_text="…")
    await bus.dispatch(line)
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(
            ReviseDialogue(scene_id=scene.scene_id, dialogue_id=line.dialogue_id, actor_id=uuid4())
        )


async def test_a_dialogue_id_names_one_line_in_one_scene() -> None:
    bus, store = _bus()
    movie, speaker = await _movie(store), await _actor(store)
    first, second = await _scene(bus, movie), await _scene(bus, movie, "2000", "2100")
    line = AddDialogue(scene_id=first.scene_id, actor_id=speaker, dialogue_text="…")
    await bus.dispatch(line)
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(
            AddDialogue(
                scene_id=second.scene_id, dialogue_id=line.dialogue_id, actor_id=speaker, dialogue_text="…"
            )
        )
    assert await _types(store, first.scene_id) == [SceneCreated, DialogueAdded]
    assert await _types(store, second.scene_id) == [SceneCreated]


async def test_deleting_a_scene_removes_its_cast_in_the_same_append() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=await _actor(store)))
    result = await bus.dispatch(DeleteScene(scene_id=scene.scene_id))
    assert len(result.positions) == 2
    assert await _types(store, scene.scene_id) == [
        SceneCreated,
        SceneActorAdded,
        SceneActorRemoved,
        SceneDeleted,
    ]


# --- nested scenes across the parent's and the child's streams ---


async def test_nested_scene_is_attached_to_its_parent_first() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached]
    assert await _types(store, child.scene_id) == [SceneCreated]
    [attached] = [r.event for r in await store.read_stream(parent.scene_id)][1:]
    assert isinstance(attached, NestedSceneAttached)
    assert (attached.child_scene_id, attached.start_time_seconds, attached.end_time_seconds) == (
        child.scene_id,
        610,
        620,
    )


async def test_nested_scene_outside_its_parent_writes_nothing_anywhere() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    with pytest.raises(InvalidCommandError, match="inside its parent"):
        await _nested(bus, parent, "1050", "1110")
    assert len(store.all_events) == 2  # the movie and the parent


async def test_parent_retime_that_would_exclude_a_child_is_rejected() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    await _nested(bus, parent, "1010", "1020")
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1015", end="1100"))
    assert err.value.field == "start"


async def test_child_retime_outside_its_parent_is_rejected_and_both_streams_stay() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(RetimeScene(scene_id=child.scene_id, start="1050", end="1110"))
    assert err.value.field == "end"
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached]
    assert await _types(store, child.scene_id) == [SceneCreated]


async def test_child_retime_inside_its_parent_is_recorded_on_both_streams() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    await bus.dispatch(RetimeScene(scene_id=child.scene_id, start="1030", end="1040"))
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached, NestedSceneMoved]
    # The parent now guards the new range: it may shrink to 10:30-10:40 but not below.
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1031", end="1100"))
    await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1030", end="1040"))


async def test_parent_with_a_child_cannot_be_deleted_until_the_child_is() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(DeleteScene(scene_id=parent.scene_id))
    await bus.dispatch(DeleteScene(scene_id=child.scene_id))
    assert (await _types(store, parent.scene_id))[-1] is NestedSceneDetached
    await bus.dispatch(DeleteScene(scene_id=parent.scene_id))
    assert (await _types(store, parent.scene_id))[-1] is SceneDeleted


async def test_rejected_child_append_is_undone_on_the_parent() -> None:
    store = FailingStore()
    bus, _ = _bus(store)
    parent = await _scene(bus, await _movie(store))
    child_id = uuid4()
    store.fail_next[child_id] = ConcurrencyConflictError(child_id, 0, 1)
    with pytest.raises(ConcurrencyConflictError):
        await bus.dispatch(
            CreateScene(
                scene_id=child_id,
                movie_id=parent.movie_id,
                start="1010",
                end="1020",
                classification="R1",
                scene_type="nested",
                parent_scene_id=parent.scene_id,
            )
        )
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached, NestedSceneDetached]
    await bus.dispatch(DeleteScene(scene_id=parent.scene_id))


async def test_retry_after_a_crash_between_the_two_appends_completes_the_pair() -> None:
    store = FailingStore()
    bus, _ = _bus(store)
    parent = await _scene(bus, await _movie(store))
    cmd = CreateScene(
        movie_id=parent.movie_id,
        start="1010",
        end="1020",
        classification="R1",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    store.fail_next[cmd.scene_id] = ConnectionResetError("database went away")
    with pytest.raises(ConnectionResetError):
        await bus.dispatch(cmd)
    await bus.dispatch(cmd)
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached]
    assert await _types(store, cmd.scene_id) == [SceneCreated]


async def test_retried_delete_completes_an_interrupted_detach() -> None:
    store = FailingStore()
    bus, _ = _bus(store)
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    delete = DeleteScene(scene_id=child.scene_id)
    store.fail_next[parent.scene_id] = ConnectionResetError("database went away")
    with pytest.raises(ConnectionResetError):
        await bus.dispatch(delete)
    assert (await _types(store, parent.scene_id))[-1] is NestedSceneAttached  # the safe side: still blocks
    again = await bus.dispatch(delete)
    assert again.duplicate
    assert (await _types(store, parent.scene_id))[-1] is NestedSceneDetached


# --- parallel groups ---


async def test_parallel_group_of_an_unknown_movie_is_rejected() -> None:
    bus, store = _bus()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            CreateParallelGroup(movie_id=uuid4(), start="1000", end="1100", relation_type="split_screen")
        )
    assert err.value.field == "movie_id"
    assert store.all_events == []


async def test_scene_joins_a_parallel_group_of_its_movie() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    scene = await _scene(bus, movie)
    group = CreateParallelGroup(movie_id=movie, start="1030", end="1130", relation_type="split_screen")
    await bus.dispatch(group)
    await bus.dispatch(
        AddSceneToParallelGroup(group_id=group.group_id, scene_id=scene.scene_id, display_position="left")
    )
    assert await _types(store, group.group_id) == [ParallelGroupCreated, SceneAddedToParallelGroup]
    [created, _] = [r.event for r in await store.read_stream(group.group_id)]
    assert created.partition_key() == str(movie)
    assert created.stream_type == "parallel_group"


async def test_deleted_scene_cannot_join_a_parallel_group() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    scene = await _scene(bus, movie)
    await bus.dispatch(DeleteScene(scene_id=scene.scene_id))
    group = CreateParallelGroup(movie_id=movie, start="1000", end="1100", relation_type="parallel_narrative")
    await bus.dispatch(group)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddSceneToParallelGroup(group_id=group.group_id, scene_id=scene.scene_id))
    assert (err.value.field, err.value.referenced) == ("scene_id", True)
