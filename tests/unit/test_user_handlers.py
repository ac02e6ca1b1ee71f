"""User command handlers on the in-memory event store: hashing, unique e-mail, references."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from commands.base import HandlerDeps
from commands.errors import InvalidCommandError, StreamNotFoundError, UniqueKeyTakenError
from commands.handlers import CommandBus
from commands.passwords import verify_password
from commands.user import (
    AddMovieToWatchList,
    ChangePassword,
    DeactivateUser,
    RecordLogin,
    RecordSceneInteraction,
    RegisterUser,
    UpdateWatchListEntry,
)
from commands.user_handlers import USER_HANDLERS
from events.base import EventMetadata
from events.movie import MovieRegistered, MovieRemoved
from events.scene import SceneCreated, SceneDeleted
from events.user import (
    MovieAddedToWatchList,
    SceneInteractionRecorded,
    UserPasswordChanged,
    UserRegistered,
    WatchListEntryUpdated,
)
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential
SHORT = "short"


def _bus() -> tuple[CommandBus, InMemoryEventStore]:
    store = InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), USER_HANDLERS), store


def _register(email: str | None = None, password: str = PASSWORD) -> RegisterUser:
    return RegisterUser(email=email or f"{uuid4().hex}@example.jp", password=SecretStr(password))


async def _registered(bus: CommandBus) -> UUID:
    cmd = _register()
    await bus.dispatch(cmd)
    return cmd.user_id


async def _movie(store: InMemoryEventStore, *, removed: bool = False) -> UUID:
    movie_id = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="x")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    if removed:
        await store.append(
            [MovieRemoved(stream_id=movie_id, stream_version=2)], expected_version=1, metadata=EventMetadata()
        )
    return movie_id


async def _scene(store: InMemoryEventStore, movie_id: UUID, *, deleted: bool = False) -> UUID:
    scene_id = uuid4()
    created = SceneCreated(
        stream_id=scene_id,
        stream_version=1,
        movie_id=movie_id,
        start_time_seconds=0,
        end_time_seconds=60,
        level1_classification="L",
        level2_classification="L2",
    )
    await store.append([created], expected_version=0, metadata=EventMetadata())
    if deleted:
        await store.append(
            [SceneDeleted(stream_id=scene_id, stream_version=2, movie_id=movie_id)],
            expected_version=1,
            metadata=EventMetadata(),
        )
    return scene_id


async def test_register_stores_a_hash_that_verifies_the_password() -> None:
    bus, store = _bus()
    cmd = _register()
    await bus.dispatch(cmd)
    [recorded] = store.all_events
    assert isinstance(recorded.event, UserRegistered)
    assert recorded.event.password_hash.startswith("scrypt$")
    assert verify_password(PASSWORD, recorded.event.password_hash)


async def test_register_never_stores_the_clear_password() -> None:
    bus, store = _bus()
    await bus.dispatch(_register())
    [recorded] = store.all_events
    assert PASSWORD not in recorded.model_dump_json()


async def test_second_registration_with_the_same_email_is_rejected_and_writes_nothing() -> None:
    bus, store = _bus()
    await bus.dispatch(_register("ann@example.jp"))
    second = _register("  ANN@Example.JP ")
    with pytest.raises(UniqueKeyTakenError) as err:
        await bus.dispatch(second)
    assert err.value.field == "user_email"
    assert await store.read_stream(second.user_id) == []


async def test_short_password_is_rejected_and_writes_nothing() -> None:
    bus, store = _bus()
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(_register(password=SHORT))
    assert err.value.field == "password"
    assert store.all_events == []


async def test_redelivered_registration_appends_once() -> None:
    bus, store = _bus()
    cmd = _register()
    await bus.dispatch(cmd)
    again = await bus.dispatch(cmd)
    assert again.duplicate
    assert len(store.all_events) == 1


async def test_change_password_with_the_right_current_password_stores_a_new_hash() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    cmd = ChangePassword(
        user_id=user, current_password=SecretStr(PASSWORD), new_password=SecretStr("another secret")
    )
    await bus.dispatch(cmd)
    [_, changed] = await store.read_stream(user)
    assert isinstance(changed.event, UserPasswordChanged)
    assert verify_password("another secret", changed.event.password_hash)
    assert not verify_password(PASSWORD, changed.event.password_hash)


async def test_change_password_with_a_wrong_current_password_is_rejected() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    cmd = ChangePassword(
        user_id=user, current_password=SecretStr("not the password"), new_password=SecretStr("another secret")
    )
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(cmd)
    assert err.value.field == "current_password"
    assert len(await store.read_stream(user)) == 1


async def test_change_password_to_a_short_one_names_the_new_password() -> None:
    bus, _ = _bus()
    user = await _registered(bus)
    cmd = ChangePassword(user_id=user, current_password=SecretStr(PASSWORD), new_password=SecretStr(SHORT))
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(cmd)
    assert err.value.field == "new_password"


async def test_change_password_of_an_unknown_user_is_not_found() -> None:
    bus, _ = _bus()
    cmd = ChangePassword(
        user_id=uuid4(), current_password=SecretStr(PASSWORD), new_password=SecretStr("another secret")
    )
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(cmd)


async def test_deactivated_user_cannot_log_in() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    await bus.dispatch(DeactivateUser(user_id=user))
    with pytest.raises(InvalidCommandError, match="deactivated"):
        await bus.dispatch(RecordLogin(user_id=user))
    assert len(await store.read_stream(user)) == 2


async def test_add_existing_movie_to_watch_list() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    movie = await _movie(store)
    await bus.dispatch(AddMovieToWatchList(user_id=user, movie_id=movie))
    [_, added] = await store.read_stream(user)
    assert isinstance(added.event, MovieAddedToWatchList)
    assert added.event.movie_id == movie


@pytest.mark.parametrize("removed", [False, True])
async def test_add_missing_movie_to_watch_list_is_a_missing_reference(removed: bool) -> None:
    bus, store = _bus()
    user = await _registered(bus)
    movie = await _movie(store, removed=True) if removed else uuid4()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(AddMovieToWatchList(user_id=user, movie_id=movie))
    assert err.value.field == "movie_id"
    assert err.value.referenced
    assert len(await store.read_stream(user)) == 1


async def test_last_watched_scene_is_checked_against_the_scene_stream() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    movie = await _movie(store)
    await bus.dispatch(AddMovieToWatchList(user_id=user, movie_id=movie))
    scene = await _scene(store, movie)
    await bus.dispatch(UpdateWatchListEntry(user_id=user, movie_id=movie, last_watched_scene_id=scene))
    [*_, updated] = await store.read_stream(user)
    assert isinstance(updated.event, WatchListEntryUpdated)
    assert updated.event.last_watched_scene_id == scene


async def test_last_watched_scene_of_another_movie_is_rejected() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    movie = await _movie(store)
    await bus.dispatch(AddMovieToWatchList(user_id=user, movie_id=movie))
    scene = await _scene(store, uuid4())
    with pytest.raises(InvalidCommandError) as err:
        await bus.dispatch(UpdateWatchListEntry(user_id=user, movie_id=movie, last_watched_scene_id=scene))
    assert err.value.field == "last_watched_scene_id"


async def test_last_watched_scene_that_was_deleted_is_a_missing_reference() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    movie = await _movie(store)
    await bus.dispatch(AddMovieToWatchList(user_id=user, movie_id=movie))
    scene = await _scene(store, movie, deleted=True)
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(UpdateWatchListEntry(user_id=user, movie_id=movie, last_watched_scene_id=scene))
    assert err.value.referenced


async def test_interaction_with_a_live_scene_is_recorded() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    scene = await _scene(store, uuid4())
    await bus.dispatch(RecordSceneInteraction(user_id=user, scene_id=scene, interaction_type="view"))
    [_, recorded] = await store.read_stream(user)
    assert isinstance(recorded.event, SceneInteractionRecorded)


@pytest.mark.parametrize("deleted", [False, True])
async def test_interaction_with_a_missing_scene_is_a_missing_reference(deleted: bool) -> None:
    bus, store = _bus()
    user = await _registered(bus)
    scene = await _scene(store, uuid4(), deleted=True) if deleted else uuid4()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(RecordSceneInteraction(user_id=user, scene_id=scene, interaction_type="like"))
    assert err.value.field == "scene_id"
    assert err.value.referenced
