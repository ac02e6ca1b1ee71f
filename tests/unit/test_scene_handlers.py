"""Scene and parallel group handlers on the in-memory event store: references, nesting across streams."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

import pytest

from commands.authorization import SYSTEM_ROLE
from commands.base import Command, HandlerDeps
from commands.errors import (
    ConcurrencyConflictError,
    InvalidCommandError,
    PermissionDeniedError,
    StreamNotFoundError,
    UniqueKeyTakenError,
)
from commands.handlers import CommandBus
from commands.parallel import AddSceneToParallelGroup, CreateParallelGroup
from commands.parallel_handlers import PARALLEL_GROUP_HANDLERS
from commands.ports import AppendResult, StreamCondition, UniqueClaim
from commands.scene import (
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    EditSceneDetails,
    ReclassifyScene,
    RemoveDialogue,
    RemoveSceneActor,
    RetimeScene,
    ReviseDialogue,
)
from commands.scene_handlers import SCENE_HANDLERS
from events.actor import ActorRegistered, ActorRemoved
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered, MovieRemovalBegun, MovieRemoved
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
from tests.acting import AS_SYSTEM

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
        conditions: Sequence[StreamCondition] = (),
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
            conditions=conditions,
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
    await bus.dispatch(cmd, AS_SYSTEM)
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
    await bus.dispatch(cmd, AS_SYSTEM)
    return cmd


# --- the movie must exist ---


async def test_scene_of_an_unregistered_movie_is_rejected_and_nothing_is_written() -> None:
    bus, store = _bus()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(CreateScene(movie_id=uuid4(), start="1", end="2", classification="L2"), AS_SYSTEM)
    assert (err.value.field, err.value.referenced) == ("movie_id", True)
    assert store.all_events == []


async def test_scene_of_a_removed_movie_is_rejected() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    await _append(store, MovieRemoved(stream_id=movie, stream_version=2))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(CreateScene(movie_id=movie, start="1", end="2", classification="L2"), AS_SYSTEM)
    assert err.value.field == "movie_id"


async def test_bad_input_is_reported_before_the_unknown_movie() -> None:
    bus, _ = _bus()
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(
            CreateScene(movie_id=uuid4(), start="0175", end="+5", classification="L2"), AS_SYSTEM
        )
    assert err.value.field == "start"


async def test_retried_create_answers_as_before_even_after_the_movie_left() -> None:
    bus, store = _bus()
    cmd = await _scene(bus, await _movie(store))
    await _append(store, MovieRemoved(stream_id=cmd.movie_id, stream_version=2))
    again = await bus.dispatch(cmd, AS_SYSTEM)
    assert again.duplicate
    assert again.stream_id == cmd.scene_id


# --- actors and speakers must exist ---


async def test_unknown_actor_cannot_be_cast() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=uuid4()), AS_SYSTEM)
    assert (err.value.field, err.value.referenced) == ("actor_id", True)
    assert await _types(store, scene.scene_id) == [SceneCreated]


async def test_removed_actor_cannot_be_cast() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    actor = await _actor(store)
    await _append(store, ActorRemoved(stream_id=actor, stream_version=2))
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=actor), AS_SYSTEM)


async def test_registered_actor_is_cast() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    result = await bus.dispatch(
        AddSceneActor(scene_id=scene.scene_id, actor_id=await _actor(store)), AS_SYSTEM
    )
    assert result.stream_version == 2
    assert await _types(store, scene.scene_id) == [SceneCreated, SceneActorAdded]


async def test_dialogue_of_an_unknown_speaker_is_rejected() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            AddDialogue(scene_id=scene.scene_id, actor_id=uuid4(), dialogue_text="…"), AS_SYSTEM
        )
    assert err.value.field == "actor_id"


async def test_revision_to_an_unknown_speaker_is_rejected() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    line = AddDialogue(scene_id=scene.scene_id, actor_id=await _actor(store), dialogue_text="…")
    await bus.dispatch(line, AS_SYSTEM)
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(
            ReviseDialogue(scene_id=scene.scene_id, dialogue_id=line.dialogue_id, actor_id=uuid4()), AS_SYSTEM
        )


async def test_a_dialogue_id_names_one_line_in_one_scene() -> None:
    bus, store = _bus()
    movie, speaker = await _movie(store), await _actor(store)
    first, second = await _scene(bus, movie), await _scene(bus, movie, "2000", "2100")
    line = AddDialogue(scene_id=first.scene_id, actor_id=speaker, dialogue_text="…")
    await bus.dispatch(line, AS_SYSTEM)
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(
            AddDialogue(
                scene_id=second.scene_id, dialogue_id=line.dialogue_id, actor_id=speaker, dialogue_text="…"
            ),
            AS_SYSTEM,
        )
    assert await _types(store, first.scene_id) == [SceneCreated, DialogueAdded]
    assert await _types(store, second.scene_id) == [SceneCreated]


async def test_deleting_a_scene_removes_its_cast_in_the_same_append() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    await bus.dispatch(AddSceneActor(scene_id=scene.scene_id, actor_id=await _actor(store)), AS_SYSTEM)
    result = await bus.dispatch(DeleteScene(scene_id=scene.scene_id), AS_SYSTEM)
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
        await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1015", end="1100"), AS_SYSTEM)
    assert err.value.field == "start"


async def test_child_retime_outside_its_parent_is_rejected_and_both_streams_stay() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(RetimeScene(scene_id=child.scene_id, start="1050", end="1110"), AS_SYSTEM)
    assert err.value.field == "end"
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached]
    assert await _types(store, child.scene_id) == [SceneCreated]


async def test_child_retime_inside_its_parent_is_recorded_on_both_streams() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    await bus.dispatch(RetimeScene(scene_id=child.scene_id, start="1030", end="1040"), AS_SYSTEM)
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached, NestedSceneMoved]
    # The parent now guards the new range: it may shrink to 10:30-10:40 but not below.
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1031", end="1100"), AS_SYSTEM)
    await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1030", end="1040"), AS_SYSTEM)


async def test_parent_with_a_child_cannot_be_deleted_until_the_child_is() -> None:
    bus, store = _bus()
    parent = await _scene(bus, await _movie(store))
    child = await _nested(bus, parent)
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(DeleteScene(scene_id=parent.scene_id), AS_SYSTEM)
    await bus.dispatch(DeleteScene(scene_id=child.scene_id), AS_SYSTEM)
    assert (await _types(store, parent.scene_id))[-1] is NestedSceneDetached
    await bus.dispatch(DeleteScene(scene_id=parent.scene_id), AS_SYSTEM)
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
            ),
            AS_SYSTEM,
        )
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached, NestedSceneDetached]
    await bus.dispatch(DeleteScene(scene_id=parent.scene_id), AS_SYSTEM)


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
        await bus.dispatch(cmd, AS_SYSTEM)
    await bus.dispatch(cmd, AS_SYSTEM)
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
        await bus.dispatch(delete, AS_SYSTEM)
    assert (await _types(store, parent.scene_id))[-1] is NestedSceneAttached  # the safe side: still blocks
    again = await bus.dispatch(delete, AS_SYSTEM)
    assert again.duplicate
    assert (await _types(store, parent.scene_id))[-1] is NestedSceneDetached


# --- parallel groups ---


async def test_parallel_group_of_an_unknown_movie_is_rejected() -> None:
    bus, store = _bus()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            CreateParallelGroup(movie_id=uuid4(), start="1000", end="1100", relation_type="split_screen"),
            AS_SYSTEM,
        )
    assert err.value.field == "movie_id"
    assert store.all_events == []


async def test_scene_joins_a_parallel_group_of_its_movie() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    scene = await _scene(bus, movie)
    group = CreateParallelGroup(movie_id=movie, start="1030", end="1130", relation_type="split_screen")
    await bus.dispatch(group, AS_SYSTEM)
    await bus.dispatch(
        AddSceneToParallelGroup(group_id=group.group_id, scene_id=scene.scene_id, display_position="left"),
        AS_SYSTEM,
    )
    assert await _types(store, group.group_id) == [ParallelGroupCreated, SceneAddedToParallelGroup]
    [created, _] = [r.event for r in await store.read_stream(group.group_id)]
    assert created.partition_key() == str(movie)
    assert created.stream_type == "parallel_group"


async def test_deleted_scene_cannot_join_a_parallel_group() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    scene = await _scene(bus, movie)
    await bus.dispatch(DeleteScene(scene_id=scene.scene_id), AS_SYSTEM)
    group = CreateParallelGroup(movie_id=movie, start="1000", end="1100", relation_type="parallel_narrative")
    await bus.dispatch(group, AS_SYSTEM)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            AddSceneToParallelGroup(group_id=group.group_id, scene_id=scene.scene_id), AS_SYSTEM
        )
    assert (err.value.field, err.value.referenced) == ("scene_id", True)


# --- authorization in the handlers: judged on the scene's own stream, for every entry point ----


def _acting(role: str | None, user: UUID | None = None) -> EventMetadata:
    return EventMetadata(user_id=user or (uuid4() if role else None), user_role=role)


def _changes(scene: UUID, actor: UUID) -> list[Command]:
    """One command of each kind that changes an existing scene, in an order that applies them all."""
    line = uuid4()
    return [
        RetimeScene(scene_id=scene, start="1000", end="1050"),
        ReclassifyScene(scene_id=scene, classification="A1"),
        EditSceneDetails(scene_id=scene, description="書き換え"),
        AddSceneActor(scene_id=scene, actor_id=actor),
        RemoveSceneActor(scene_id=scene, actor_id=actor),
        AddDialogue(scene_id=scene, dialogue_id=line, actor_id=actor, dialogue_text="はい"),
        ReviseDialogue(scene_id=scene, dialogue_id=line, dialogue_text="いいえ"),
        RemoveDialogue(scene_id=scene, dialogue_id=line),
        DeleteScene(scene_id=scene),
    ]


async def _owned_scene(bus: CommandBus, store: InMemoryEventStore, owner: UUID) -> tuple[CreateScene, UUID]:
    """A scene a contributor created, with an actor in its cast and a line (so every change applies)."""
    actor = await _actor(store)
    cmd = CreateScene(movie_id=await _movie(store), start="1000", end="1100", classification="R1")
    me = _acting("contributor", owner)
    await bus.dispatch(cmd, me)
    return cmd, actor


@pytest.mark.parametrize("role", ["viewer", None])
async def test_a_viewer_or_a_command_without_a_role_cannot_create_a_scene(role: str | None) -> None:
    bus, store = _bus()
    cmd = CreateScene(movie_id=await _movie(store), start="1", end="2", classification="L2")
    with pytest.raises(PermissionDeniedError) as err:
        await bus.dispatch(cmd, _acting(role))
    assert err.value.field == "role"
    assert await _types(store, cmd.scene_id) == []


async def test_a_contributor_creates_a_scene_in_their_own_name() -> None:
    bus, store = _bus()
    user = uuid4()
    cmd = CreateScene(movie_id=await _movie(store), start="1", end="2", classification="L2")
    await bus.dispatch(cmd, _acting("contributor", user))
    [created] = [r.event for r in await store.read_stream(cmd.scene_id)]
    assert isinstance(created, SceneCreated)
    assert created.created_by == user


@pytest.mark.parametrize("index", range(9))
async def test_a_contributor_cannot_change_someone_elses_scene(index: int) -> None:
    bus, store = _bus()
    owner = uuid4()
    scene, actor = await _owned_scene(bus, store, owner)
    before = await _types(store, scene.scene_id)
    with pytest.raises(PermissionDeniedError) as err:
        await bus.dispatch(_changes(scene.scene_id, actor)[index], _acting("contributor"))
    assert err.value.field == "scene_id"
    assert await _types(store, scene.scene_id) == before


@pytest.mark.parametrize("role", ["professional", "viewer"])
async def test_only_writers_who_created_it_change_a_scene(role: str) -> None:
    bus, store = _bus()
    scene, _ = await _owned_scene(bus, store, uuid4())
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(ReclassifyScene(scene_id=scene.scene_id, classification="A1"), _acting(role))


async def test_the_creator_makes_every_change_to_their_scene() -> None:
    bus, store = _bus()
    owner = uuid4()
    scene, actor = await _owned_scene(bus, store, owner)
    for cmd in _changes(scene.scene_id, actor):
        await bus.dispatch(cmd, _acting("contributor", owner))
    assert (await _types(store, scene.scene_id))[-1] is SceneDeleted


@pytest.mark.parametrize("role", ["admin", SYSTEM_ROLE])
async def test_an_admin_and_the_system_make_every_change_to_anyones_scene(role: str) -> None:
    bus, store = _bus()
    scene, actor = await _owned_scene(bus, store, uuid4())
    for cmd in _changes(scene.scene_id, actor):
        await bus.dispatch(cmd, _acting(role))
    assert (await _types(store, scene.scene_id))[-1] is SceneDeleted


async def test_a_scene_the_system_created_is_changed_by_admins_not_by_contributors() -> None:
    bus, store = _bus()
    scene = await _scene(bus, await _movie(store))
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(
            ReclassifyScene(scene_id=scene.scene_id, classification="A1"), _acting("contributor")
        )
    await bus.dispatch(ReclassifyScene(scene_id=scene.scene_id, classification="A1"), _acting("admin"))


async def test_a_change_to_an_unknown_scene_is_not_found_for_a_writer_and_forbidden_for_a_viewer() -> None:
    bus, _ = _bus()
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(ReclassifyScene(scene_id=uuid4(), classification="A1"), _acting("contributor"))
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(ReclassifyScene(scene_id=uuid4(), classification="A1"), _acting("viewer"))


async def test_nesting_inside_someone_elses_scene_is_forbidden_and_writes_nothing() -> None:
    bus, store = _bus()
    parent, _ = await _owned_scene(bus, store, uuid4())
    child = CreateScene(
        movie_id=parent.movie_id,
        start="1010",
        end="1020",
        classification="R1",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(child, _acting("contributor"))
    assert await _types(store, parent.scene_id) == [SceneCreated]
    assert await _types(store, child.scene_id) == []


async def test_the_parents_creator_nests_a_scene_inside_it() -> None:
    bus, store = _bus()
    owner = uuid4()
    parent, _ = await _owned_scene(bus, store, owner)
    child = CreateScene(
        movie_id=parent.movie_id,
        start="1010",
        end="1020",
        classification="R1",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    await bus.dispatch(child, _acting("contributor", owner))
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached]


async def test_a_forbidden_retime_of_a_nested_scene_leaves_its_parent_alone() -> None:
    bus, store = _bus()
    owner = uuid4()
    parent, _ = await _owned_scene(bus, store, owner)
    child = CreateScene(
        movie_id=parent.movie_id,
        start="1010",
        end="1020",
        classification="R1",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    await bus.dispatch(child, _acting("contributor", owner))
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(
            RetimeScene(scene_id=child.scene_id, start="1030", end="1040"), _acting("contributor")
        )
    assert await _types(store, parent.scene_id) == [SceneCreated, NestedSceneAttached]


@pytest.mark.parametrize("role", ["viewer", None])
async def test_a_viewer_or_a_command_without_a_role_cannot_create_a_parallel_group(role: str | None) -> None:
    bus, store = _bus()
    movie = await _movie(store)
    group = CreateParallelGroup(movie_id=movie, start="1000", end="1100", relation_type="split_screen")
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(group, EventMetadata(user_role=role))
    assert await _types(store, group.group_id) == []


async def test_a_viewer_cannot_add_a_scene_to_a_parallel_group() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    group = CreateParallelGroup(movie_id=movie, start="1000", end="1100", relation_type="split_screen")
    await bus.dispatch(group, AS_SYSTEM)
    scene = CreateScene(movie_id=movie, start="1010", end="1050", classification="A1")
    await bus.dispatch(scene, AS_SYSTEM)
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(
            AddSceneToParallelGroup(group_id=group.group_id, scene_id=scene.scene_id), _acting("viewer")
        )
    assert await _types(store, group.group_id) == [ParallelGroupCreated]


async def test_a_scene_for_a_movie_being_removed_is_refused_naming_the_movie() -> None:
    bus, store = _bus()
    movie = await _movie(store)
    await _append(store, MovieRemovalBegun(stream_id=movie, stream_version=2, saga_id=uuid4()))
    scene = CreateScene(movie_id=movie, start="1010", end="1050", classification="A1")
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(scene, AS_SYSTEM)
    assert err.value.field == "movie_id"
    assert "being removed" in err.value.reason
    assert await _types(store, scene.scene_id) == []
