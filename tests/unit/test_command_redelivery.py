"""A redelivered command answers as its first run did, and a new command pays no look-up for it."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

import pytest

from commands.actor import AddFilmographyEntry, RegisterActor
from commands.actor_handlers import ACTOR_HANDLERS
from commands.base import HandlerDeps
from commands.errors import ConcurrencyConflictError, StreamNotFoundError
from commands.handlers import CommandBus
from commands.movie import RegisterMovie, RemoveMovie
from commands.movie_handlers import MOVIE_HANDLERS
from commands.ports import AppendResult
from commands.scene import CreateScene, DeleteScene, ReclassifyScene
from commands.scene_handlers import SCENE_HANDLERS
from events.base import RecordedEvent
from infra.memory_event_store import InMemoryEventStore
from tests.acting import AS_SYSTEM

pytestmark = pytest.mark.unit


class CountingStore(InMemoryEventStore):
    """Counts the command-id look-ups and the stream reads a command makes."""

    def __init__(self) -> None:
        super().__init__()
        self.lookups: list[UUID] = []
        self.reads: list[UUID] = []

    async def find_command(self, command_id: UUID) -> AppendResult | None:
        """Count, then look up."""
        self.lookups.append(command_id)
        return await super().find_command(command_id)

    async def read_stream(self, stream_id: UUID) -> list[RecordedEvent]:
        """Count, then read."""
        self.reads.append(stream_id)
        return await super().read_stream(stream_id)


def _bus(store: InMemoryEventStore) -> CommandBus:
    return CommandBus(HandlerDeps(event_store=store), {**SCENE_HANDLERS, **MOVIE_HANDLERS, **ACTOR_HANDLERS})


async def _movie(bus: CommandBus) -> UUID:
    cmd = RegisterMovie(title="猫の映画")
    await bus.dispatch(cmd, AS_SYSTEM)
    return cmd.movie_id


async def _scene(bus: CommandBus, movie_id: UUID) -> UUID:
    cmd = CreateScene(movie_id=movie_id, start="10", end="+20", classification="R1")
    await bus.dispatch(cmd, AS_SYSTEM)
    return cmd.scene_id


def _versions(store: InMemoryEventStore, stream_id: UUID) -> Sequence[int]:
    return [r.event.stream_version for r in store.all_events if r.event.stream_id == stream_id]


async def test_a_new_command_is_not_looked_up_before_its_append() -> None:
    store = CountingStore()
    bus = _bus(store)
    scene = await _scene(bus, await _movie(bus))
    store.lookups.clear()
    await bus.dispatch(ReclassifyScene(scene_id=scene, classification="A2"), AS_SYSTEM)
    assert store.lookups == []


async def test_a_command_creating_its_stream_does_not_read_that_stream() -> None:
    store = CountingStore()
    bus = _bus(store)
    cmd = RegisterMovie(title="好きな映画")
    await bus.dispatch(cmd, AS_SYSTEM)
    assert cmd.movie_id not in store.reads
    assert _versions(store, cmd.movie_id) == [1]


async def test_creating_an_existing_stream_is_still_a_conflict() -> None:
    store = CountingStore()
    bus = _bus(store)
    movie = await _movie(bus)
    with pytest.raises(ConcurrencyConflictError):
        await bus.dispatch(RegisterMovie(movie_id=movie, title="別の映画"), AS_SYSTEM)
    assert _versions(store, movie) == [1]


async def test_redelivery_after_success_returns_the_original_result() -> None:
    store = CountingStore()
    bus = _bus(store)
    cmd = RegisterMovie(title="君が好きだ")
    first = await bus.dispatch(cmd, AS_SYSTEM)
    again = await bus.dispatch(cmd, AS_SYSTEM)
    assert again.duplicate
    assert (again.stream_id, again.stream_version, again.positions) == (
        first.stream_id,
        first.stream_version,
        first.positions,
    )
    assert _versions(store, cmd.movie_id) == [1]


async def test_redelivery_when_the_state_moved_on_returns_the_original_result() -> None:
    store = CountingStore()
    bus = _bus(store)
    scene = await _scene(bus, await _movie(bus))
    cmd = ReclassifyScene(scene_id=scene, classification="A2", expected_version=1)
    first = await bus.dispatch(cmd, AS_SYSTEM)
    await bus.dispatch(ReclassifyScene(scene_id=scene, classification="C3"), AS_SYSTEM)
    again = await bus.dispatch(cmd, AS_SYSTEM)  # expected version 1 is stale now
    assert again.duplicate
    assert (again.stream_version, again.positions) == (first.stream_version, first.positions)
    assert _versions(store, scene) == [1, 2, 3]


async def test_redelivery_rejected_by_the_aggregate_returns_the_original_result() -> None:
    store = CountingStore()
    bus = _bus(store)
    scene = await _scene(bus, await _movie(bus))
    cmd = DeleteScene(scene_id=scene)
    first = await bus.dispatch(cmd, AS_SYSTEM)
    again = await bus.dispatch(cmd, AS_SYSTEM)  # the scene is gone: a new delete would be rejected
    assert again.duplicate
    assert again.stream_version == first.stream_version
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(DeleteScene(scene_id=scene), AS_SYSTEM)


async def test_redelivery_whose_referenced_entity_has_gone_returns_the_original_result() -> None:
    store = CountingStore()
    bus = _bus(store)
    movie = await _movie(bus)
    actor = RegisterActor(name="猫山 太郎")
    await bus.dispatch(actor, AS_SYSTEM)
    cmd = AddFilmographyEntry(actor_id=actor.actor_id, movie_id=movie)
    first = await bus.dispatch(cmd, AS_SYSTEM)
    await bus.dispatch(RemoveMovie(movie_id=movie), AS_SYSTEM)
    again = await bus.dispatch(cmd, AS_SYSTEM)
    assert again.duplicate
    assert again.positions == first.positions


async def test_a_rejected_new_command_is_still_rejected() -> None:
    store = CountingStore()
    bus = _bus(store)
    movie = await _movie(bus)
    await bus.dispatch(RemoveMovie(movie_id=movie), AS_SYSTEM)
    actor = RegisterActor(name="犬川 花子")
    await bus.dispatch(actor, AS_SYSTEM)
    cmd = AddFilmographyEntry(actor_id=actor.actor_id, movie_id=movie)
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(cmd, AS_SYSTEM)
    assert store.lookups.count(cmd.command_id) == 1  # looked up on rejection, once
