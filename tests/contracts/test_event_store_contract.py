"""One behaviour suite for every EventStore implementation (in-memory and PostgreSQL)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest

from commands.errors import ConcurrencyConflictError, UniqueKeyTakenError
from commands.ports import EventStore, UniqueClaim
from events.base import EventMetadata
from events.scene import SceneCreated, SceneDeleted, SceneReclassified
from infra.db import create_pool
from infra.memory_event_store import InMemoryEventStore
from infra.pg_event_store import PostgresEventStore
from infra.services import build_registry
from infra.settings import Settings

pytestmark = pytest.mark.contract


def created(stream_id: UUID, movie_id: UUID | None = None) -> SceneCreated:
    return SceneCreated(
        stream_id=stream_id,
        stream_version=1,
        movie_id=movie_id or uuid4(),
        start_time_seconds=10,
        end_time_seconds=20,
        level1_classification="L",
        level2_classification="L2",
        level3_classification="L2-3",
        tags=("雨", "night"),
        description="君が好きだ",
    )


def reclassified(stream_id: UUID, movie_id: UUID, version: int) -> SceneReclassified:
    return SceneReclassified(
        stream_id=stream_id,
        stream_version=version,
        movie_id=movie_id,
        level1_classification="A",
        level2_classification="A1",
    )


class EventStoreContract:
    """Behaviour every event store must have. Subclasses provide the ``store`` fixture."""

    async def test_appended_events_read_back_equal(self, store: EventStore) -> None:
        sid = uuid4()
        event = created(sid)
        meta = EventMetadata(
            correlation_id=uuid4(), user_id=uuid4(), user_role="admin", client_addr="10.1.2.3"
        )
        await store.append([event], expected_version=0, metadata=meta)
        [recorded] = await store.read_stream(sid)
        assert recorded.event == event
        assert recorded.metadata == meta

    async def test_positions_increase(self, store: EventStore) -> None:
        a = await store.append([created(uuid4())], expected_version=0, metadata=EventMetadata())
        b = await store.append([created(uuid4())], expected_version=0, metadata=EventMetadata())
        assert b.positions[0] > a.positions[0]

    async def test_several_events_keep_their_order(self, store: EventStore) -> None:
        sid, movie = uuid4(), uuid4()
        events = [
            created(sid, movie),
            reclassified(sid, movie, 2),
            SceneDeleted(stream_id=sid, stream_version=3, movie_id=movie),
        ]
        result = await store.append(events, expected_version=0, metadata=EventMetadata())
        assert result.stream_version == 3
        assert [r.event for r in await store.read_stream(sid)] == events
        assert list(result.positions) == sorted(result.positions)

    async def test_stale_expected_version_is_rejected_and_nothing_written(self, store: EventStore) -> None:
        sid, movie = uuid4(), uuid4()
        await store.append([created(sid, movie)], expected_version=0, metadata=EventMetadata())
        await store.append([reclassified(sid, movie, 2)], expected_version=1, metadata=EventMetadata())
        with pytest.raises(ConcurrencyConflictError) as err:
            await store.append([reclassified(sid, movie, 2)], expected_version=1, metadata=EventMetadata())
        assert err.value.actual == 2
        assert len(await store.read_stream(sid)) == 2

    async def test_expected_version_ahead_of_stream_is_rejected(self, store: EventStore) -> None:
        sid, movie = uuid4(), uuid4()
        await store.append([created(sid, movie)], expected_version=0, metadata=EventMetadata())
        with pytest.raises(ConcurrencyConflictError):
            await store.append([reclassified(sid, movie, 4)], expected_version=3, metadata=EventMetadata())
        assert len(await store.read_stream(sid)) == 1

    async def test_creating_an_existing_stream_conflicts(self, store: EventStore) -> None:
        sid = uuid4()
        await store.append([created(sid)], expected_version=0, metadata=EventMetadata())
        with pytest.raises(ConcurrencyConflictError):
            await store.append([created(sid)], expected_version=0, metadata=EventMetadata())

    async def test_concurrent_appends_at_same_version_one_wins(self, store: EventStore) -> None:
        sid, movie = uuid4(), uuid4()
        await store.append([created(sid, movie)], expected_version=0, metadata=EventMetadata())
        results = await asyncio.gather(
            *(
                store.append([reclassified(sid, movie, 2)], expected_version=1, metadata=EventMetadata())
                for _ in range(8)
            ),
            return_exceptions=True,
        )
        assert sum(not isinstance(r, BaseException) for r in results) == 1
        assert all(isinstance(r, ConcurrencyConflictError) for r in results if isinstance(r, BaseException))
        assert len(await store.read_stream(sid)) == 2

    async def test_repeated_command_id_is_a_no_op(self, store: EventStore) -> None:
        sid, command_id = uuid4(), uuid4()
        first = await store.append(
            [created(sid)], expected_version=0, metadata=EventMetadata(), command_id=command_id
        )
        again = await store.append(
            [created(uuid4())], expected_version=0, metadata=EventMetadata(), command_id=command_id
        )
        assert again.duplicate
        assert (again.stream_id, again.positions) == (sid, first.positions)
        found = await store.find_command(command_id)
        assert found is not None
        assert found.stream_id == sid

    async def test_repeated_command_id_is_a_no_op_even_at_a_stale_version(self, store: EventStore) -> None:
        # A redelivered create is appended again at version 0 without reading the stream first.
        sid, command_id = uuid4(), uuid4()
        first = await store.append(
            [created(sid)], expected_version=0, metadata=EventMetadata(), command_id=command_id
        )
        again = await store.append(
            [created(sid)], expected_version=0, metadata=EventMetadata(), command_id=command_id
        )
        assert again.duplicate
        assert (again.stream_version, again.positions) == (1, first.positions)
        assert len(await store.read_stream(sid)) == 1

    async def test_unknown_command_is_not_found(self, store: EventStore) -> None:
        assert await store.find_command(uuid4()) is None

    async def test_missing_stream_reads_empty(self, store: EventStore) -> None:
        assert await store.read_stream(uuid4()) == []

    async def test_versions_must_follow_expected(self, store: EventStore) -> None:
        sid, movie = uuid4(), uuid4()
        with pytest.raises(ValueError, match="do not follow"):
            await store.append([reclassified(sid, movie, 3)], expected_version=0, metadata=EventMetadata())

    async def test_unique_claim_held_by_another_stream_rejects_and_writes_nothing(
        self, store: EventStore
    ) -> None:
        key = UniqueClaim(scope="email", key=f"{uuid4()}@example.com")
        first = uuid4()
        await store.append([created(first)], expected_version=0, metadata=EventMetadata(), claims=[key])
        second = uuid4()
        with pytest.raises(UniqueKeyTakenError) as err:
            await store.append([created(second)], expected_version=0, metadata=EventMetadata(), claims=[key])
        assert (err.value.field, err.value.owner) == ("email", first)
        assert await store.read_stream(second) == []

    async def test_released_claim_can_be_taken_by_another_stream(self, store: EventStore) -> None:
        key = UniqueClaim(scope="email", key=f"{uuid4()}@example.com")
        first, movie = uuid4(), uuid4()
        await store.append(
            [created(first, movie)], expected_version=0, metadata=EventMetadata(), claims=[key]
        )
        await store.append(
            [reclassified(first, movie, 2)], expected_version=1, metadata=EventMetadata(), releases=[key]
        )
        second = uuid4()
        await store.append([created(second)], expected_version=0, metadata=EventMetadata(), claims=[key])
        assert len(await store.read_stream(second)) == 1

    async def test_a_stream_may_claim_its_own_key_again(self, store: EventStore) -> None:
        key = UniqueClaim(scope="actor", key=str(uuid4()))
        sid, movie = uuid4(), uuid4()
        await store.append([created(sid, movie)], expected_version=0, metadata=EventMetadata(), claims=[key])
        await store.append(
            [reclassified(sid, movie, 2)], expected_version=1, metadata=EventMetadata(), claims=[key]
        )
        assert len(await store.read_stream(sid)) == 2

    async def test_release_of_a_key_held_by_another_stream_does_nothing(self, store: EventStore) -> None:
        key = UniqueClaim(scope="actor", key=str(uuid4()))
        owner = uuid4()
        await store.append([created(owner)], expected_version=0, metadata=EventMetadata(), claims=[key])
        await store.append([created(uuid4())], expected_version=0, metadata=EventMetadata(), releases=[key])
        with pytest.raises(UniqueKeyTakenError):
            await store.append([created(uuid4())], expected_version=0, metadata=EventMetadata(), claims=[key])


class TestInMemoryEventStore(EventStoreContract):
    @pytest.fixture(name="store")
    def fx_store(self) -> EventStore:
        return InMemoryEventStore()


@pytest.mark.integration
class TestPostgresEventStore(EventStoreContract):
    @pytest.fixture(name="store")
    async def fx_store(self, settings: Settings) -> AsyncIterator[EventStore]:
        pool = await create_pool(settings.dsn_for("event_store"), max_size=10)
        yield PostgresEventStore(pool, build_registry())
        await pool.close()
