"""Undoing a movie's removal from a watch list: the entry comes back from the user's own stream."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from commands.authorization import SYSTEM_ROLE
from commands.base import HandlerDeps
from commands.errors import PermissionDeniedError
from commands.handlers import CommandBus
from commands.user import (
    AddMovieToWatchList,
    RegisterUser,
    RemoveMovieFromWatchList,
    RestoreWatchListEntry,
    UpdateWatchListEntry,
    replay,
)
from commands.user_handlers import USER_HANDLERS
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.user import MovieAddedToWatchList, WatchListEntryUpdated
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)


async def _setup() -> tuple[CommandBus, InMemoryEventStore, UUID, UUID]:
    store = InMemoryEventStore()
    bus = CommandBus(HandlerDeps(event_store=store), USER_HANDLERS)
    movie = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="x")], expected_version=0, metadata=SYSTEM
    )
    register = RegisterUser(email=f"{uuid4().hex}@example.jp", password=SecretStr("correct horse battery"))
    await bus.dispatch(register)
    return bus, store, register.user_id, movie


async def _events(store: InMemoryEventStore, stream: UUID) -> list[DomainEvent]:
    return [r.event for r in await store.read_stream(stream)]


async def test_the_removed_entry_comes_back_with_its_notes_tags_and_progress() -> None:
    bus, store, user, movie = await _setup()
    add = AddMovieToWatchList(user_id=user, movie_id=movie, priority=2, notes="続き", tags=("雨",))
    await bus.dispatch(add, SYSTEM)
    await bus.dispatch(UpdateWatchListEntry(user_id=user, movie_id=movie, watched_scenes_count=3), SYSTEM)
    before = replay(await _events(store, user))
    assert before is not None
    await bus.dispatch(RemoveMovieFromWatchList(user_id=user, movie_id=movie), SYSTEM)

    await bus.dispatch(RestoreWatchListEntry(user_id=user, movie_id=movie), SYSTEM)

    after = replay(await _events(store, user))
    assert after is not None
    assert after.watch_list[movie] == before.watch_list[movie]
    assert [type(e) for e in (await _events(store, user))[-2:]] == [
        MovieAddedToWatchList,
        WatchListEntryUpdated,
    ]


async def test_restoring_an_entry_that_is_back_already_appends_nothing() -> None:
    bus, store, user, movie = await _setup()
    await bus.dispatch(AddMovieToWatchList(user_id=user, movie_id=movie), SYSTEM)
    await bus.dispatch(RemoveMovieFromWatchList(user_id=user, movie_id=movie), SYSTEM)
    await bus.dispatch(RestoreWatchListEntry(user_id=user, movie_id=movie), SYSTEM)
    count = len(await _events(store, user))

    await bus.dispatch(RestoreWatchListEntry(user_id=user, movie_id=movie), SYSTEM)

    assert len(await _events(store, user)) == count


async def test_restoring_a_movie_never_removed_appends_nothing() -> None:
    bus, store, user, movie = await _setup()
    count = len(await _events(store, user))
    await bus.dispatch(RestoreWatchListEntry(user_id=user, movie_id=movie), SYSTEM)
    assert len(await _events(store, user)) == count


async def test_another_user_may_not_restore_an_entry() -> None:
    bus, _, user, movie = await _setup()
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(
            RestoreWatchListEntry(user_id=user, movie_id=movie),
            EventMetadata(user_id=uuid4(), user_role="viewer"),
        )
