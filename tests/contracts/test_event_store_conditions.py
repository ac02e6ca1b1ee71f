"""Conditions on other streams checked inside an append: one behaviour for every EventStore."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from commands.errors import ConcurrencyConflictError
from commands.ports import ConditionNotMetError, EventStore, StreamCondition
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered, MovieRemovalBegun, MovieRemovalCancelled, MovieRemoved
from events.scene import SceneCreated
from infra.db import create_pool
from infra.memory_event_store import InMemoryEventStore
from infra.pg_event_store import PostgresEventStore
from infra.services import build_registry
from infra.settings import Settings

pytestmark = pytest.mark.contract


def _scene(movie_id: UUID) -> SceneCreated:
    return SceneCreated(
        stream_id=uuid4(),
        stream_version=1,
        movie_id=movie_id,
        start_time_seconds=10,
        end_time_seconds=20,
        level1_classification="L",
        level2_classification="L2",
    )


def _registered(movie_id: UUID) -> StreamCondition:
    return StreamCondition(stream_id=movie_id, set_by=("MovieRegistered",), cleared_by=("MovieRemoved",))


def _not_being_removed(movie_id: UUID) -> StreamCondition:
    return StreamCondition(
        stream_id=movie_id,
        set_by=("MovieRemovalBegun",),
        cleared_by=("MovieRemovalCancelled",),
        expected=False,
    )


async def _movie(store: EventStore, *later: type[DomainEvent]) -> UUID:
    """A registered movie followed by events of the ``later`` types, in order."""
    movie = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="君の名は。")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    for version, cls in enumerate(later, start=2):
        extra = {"saga_id": uuid4()} if cls in (MovieRemovalBegun, MovieRemovalCancelled) else {}
        await store.append(
            [cls.model_validate({"stream_id": movie, "stream_version": version, **extra})],
            expected_version=version - 1,
            metadata=EventMetadata(),
        )
    return movie


async def _refused(store: EventStore, scene: SceneCreated, *conditions: StreamCondition) -> StreamCondition:
    """Append ``scene`` under ``conditions``: return the condition that refused it; nothing written."""
    with pytest.raises(ConditionNotMetError) as err:
        await store.append([scene], expected_version=0, metadata=EventMetadata(), conditions=conditions)
    assert await store.read_stream(scene.stream_id) == []
    return err.value.condition


class ConditionContract:
    """Subclasses provide the ``store`` fixture."""

    async def test_conditions_that_hold_let_the_append_through(self, store: EventStore) -> None:
        movie = await _movie(store)
        scene = _scene(movie)
        result = await store.append(
            [scene],
            expected_version=0,
            metadata=EventMetadata(),
            conditions=[_registered(movie), _not_being_removed(movie)],
        )
        assert result.stream_version == 1
        assert [r.event for r in await store.read_stream(scene.stream_id)] == [scene]

    async def test_a_missing_stream_is_not_set(self, store: EventStore) -> None:
        missing = uuid4()
        assert await _refused(store, _scene(missing), _registered(missing)) == _registered(missing)

    async def test_a_clearing_event_after_the_setting_one_unsets(self, store: EventStore) -> None:
        movie = await _movie(store, MovieRemoved)
        assert await _refused(store, _scene(movie), _registered(movie)) == _registered(movie)

    async def test_an_expected_false_condition_refuses_a_set_stream(self, store: EventStore) -> None:
        movie = await _movie(store, MovieRemovalBegun)
        refused = await _refused(store, _scene(movie), _registered(movie), _not_being_removed(movie))
        assert refused == _not_being_removed(movie)

    async def test_the_latest_relevant_event_decides(self, store: EventStore) -> None:
        movie = await _movie(store, MovieRemovalBegun, MovieRemovalCancelled)
        scene = _scene(movie)
        await store.append(
            [scene], expected_version=0, metadata=EventMetadata(), conditions=[_not_being_removed(movie)]
        )
        assert len(await store.read_stream(scene.stream_id)) == 1

    async def test_the_first_failing_condition_is_reported(self, store: EventStore) -> None:
        missing = uuid4()
        first, second = _registered(missing), _not_being_removed(missing)
        second_set = StreamCondition(stream_id=missing, set_by=("MovieRegistered",), expected=False)
        assert await _refused(store, _scene(missing), second_set, first, second) == first

    async def test_conditions_are_checked_before_the_version(self, store: EventStore) -> None:
        missing = uuid4()
        scene = _scene(uuid4())
        await store.append([scene], expected_version=0, metadata=EventMetadata())
        with pytest.raises(ConditionNotMetError):
            await store.append(
                [scene.model_copy(update={"event_id": uuid4()})],
                expected_version=0,
                metadata=EventMetadata(),
                conditions=[_registered(missing)],
            )
        with pytest.raises(ConcurrencyConflictError):
            await store.append(
                [scene.model_copy(update={"event_id": uuid4()})],
                expected_version=0,
                metadata=EventMetadata(),
            )

    async def test_an_appended_command_is_answered_before_the_conditions(self, store: EventStore) -> None:
        movie = await _movie(store)
        scene, command = _scene(movie), uuid4()
        first = await store.append([scene], expected_version=0, metadata=EventMetadata(), command_id=command)
        await store.append(
            [MovieRemoved(stream_id=movie, stream_version=2)], expected_version=1, metadata=EventMetadata()
        )
        again = await store.append(
            [scene],
            expected_version=0,
            metadata=EventMetadata(),
            command_id=command,
            conditions=[_registered(movie)],
        )
        assert (again.duplicate, again.positions) == (True, first.positions)


class TestInMemoryConditions(ConditionContract):
    @pytest.fixture(name="store")
    def fx_store(self) -> EventStore:
        return InMemoryEventStore()


@pytest.mark.integration
class TestPostgresConditions(ConditionContract):
    @pytest.fixture(name="store")
    async def fx_store(self, settings: Settings) -> AsyncIterator[EventStore]:
        pool = await create_pool(settings.dsn_for("event_store"), max_size=10)
        yield PostgresEventStore(pool, build_registry())
        await pool.close()
