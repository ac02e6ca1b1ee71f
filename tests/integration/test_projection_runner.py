"""The projection runner on the real Scene database: idempotence, dead letters, parking."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from uuid import UUID, uuid4

import asyncpg
import pytest

from events.base import DomainEvent, EventMetadata, RecordedEvent
from events.scene import SceneCreated, SceneRetimed
from infra.db import create_pool
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from projections.runner import Delivery, Projection, ProjectionRunner

pytestmark = pytest.mark.integration

_offsets = iter(range(10_000_000))


@pytest.fixture(name="pool")
async def fx_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.dsn_for("scene"), max_size=4)
    yield pool
    await pool.close()


def delivery(event: DomainEvent, position: int = 1) -> Delivery:
    """A broker delivery of ``event`` (also used by the other runner tests)."""
    return Delivery(
        topic="test.scenes.events",
        partition=0,
        offset=next(_offsets),
        headers=(("ce_id", str(event.event_id).encode()),),
        value=json.dumps(event.payload()).encode(),
        recorded=RecordedEvent(event=event, position=position, metadata=EventMetadata()),
    )


def _created(scene_id: UUID, level2: str = "L2") -> SceneCreated:
    return SceneCreated(
        stream_id=scene_id,
        stream_version=1,
        movie_id=uuid4(),
        start_time_seconds=10,
        end_time_seconds=20,
        level1_classification="L",
        level2_classification=level2,
    )


def _retimed(created: SceneCreated, version: int = 2) -> SceneRetimed:
    return SceneRetimed(
        stream_id=created.stream_id,
        stream_version=version,
        movie_id=created.movie_id,
        start_time_seconds=30,
        end_time_seconds=40,
    )


async def _row(pool: asyncpg.Pool, scene_id: UUID) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT * FROM scenes WHERE id = $1", scene_id)


async def test_batch_applies_in_order(pool: asyncpg.Pool) -> None:
    created = _created(uuid4())
    outcome = await ProjectionRunner(pool, SCENES_PROJECTION).handle_batch(
        [delivery(created), delivery(_retimed(created))],
    )
    assert outcome.applied == 2
    row = await _row(pool, created.stream_id)
    assert row is not None
    assert (row["start_time_seconds"], row["version"]) == (30, 2)


async def test_same_batch_twice_changes_nothing(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    created = _created(uuid4())
    batch = [delivery(created), delivery(_retimed(created))]
    await runner.handle_batch(batch)
    before = await _row(pool, created.stream_id)
    again = await runner.handle_batch(batch)
    assert (again.applied, again.duplicates) == (0, 2)
    assert await _row(pool, created.stream_id) == before


async def test_poison_event_is_dead_lettered_and_other_streams_go_on(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    poison = _created(uuid4(), level2="X9")  # breaks the read model's classification CHECK
    healthy = _created(uuid4())
    outcome = await runner.handle_batch([delivery(poison), delivery(healthy)])
    assert outcome.applied == 1
    assert [d.recorded.event.stream_id for d in outcome.dead_lettered if d.recorded] == [poison.stream_id]
    assert await _row(pool, healthy.stream_id) is not None
    error = await pool.fetchval(
        "SELECT error FROM projection_dead_letters WHERE stream_id = $1 AND resolved_at IS NULL",
        poison.stream_id,
    )
    assert "CheckViolation" in error


async def test_later_events_of_a_dead_lettered_stream_are_parked_in_order(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    poison = _created(uuid4(), level2="X9")
    await runner.handle_batch([delivery(poison)])
    outcome = await runner.handle_batch([delivery(_retimed(poison))])
    assert outcome.applied == 0
    rows = await pool.fetch(
        "SELECT stream_version, parked_behind FROM projection_dead_letters WHERE stream_id = $1 ORDER BY id",
        poison.stream_id,
    )
    assert [r["stream_version"] for r in rows] == [1, 2]
    assert rows[0]["parked_behind"] is None
    assert rows[1]["parked_behind"] is not None
    assert await _row(pool, poison.stream_id) is None


async def test_gap_in_a_stream_is_dead_lettered_not_applied(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    created = _created(uuid4())
    await runner.handle_batch([delivery(created)])
    outcome = await runner.handle_batch([delivery(_retimed(created, version=3))])
    assert outcome.applied == 0
    assert len(outcome.dead_lettered) == 1
    row = await _row(pool, created.stream_id)
    assert row is not None
    assert row["version"] == 1


async def test_undecodable_record_is_dead_lettered(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    broken = Delivery("test.scenes.events", 0, next(_offsets), (), b"\x00", None, "header ce_type is missing")
    outcome = await runner.handle_batch([broken])
    assert outcome.dead_lettered == [broken]
    count = await pool.fetchval(
        'SELECT count(*) FROM projection_dead_letters WHERE topic = $1 AND "offset" = $2',
        broken.topic,
        broken.offset,
    )
    assert count == 1


async def test_after_batch_sees_only_the_events_applied_in_that_batch(pool: asyncpg.Pool) -> None:
    seen: list[list[UUID]] = []

    async def record(_: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
        seen.append([e.event_id for e in events])

    projection = Projection(name="after_batch_probe", handlers=SCENES_PROJECTION.handlers, after_batch=record)
    runner = ProjectionRunner(pool, projection)
    created, poison = _created(uuid4()), _created(uuid4(), level2="X9")
    retimed = _retimed(created)
    batch = [delivery(created), delivery(poison), delivery(retimed)]
    await runner.handle_batch(batch)
    await runner.handle_batch(batch)  # all duplicates now: nothing applied, no call
    assert seen == [[created.event_id, retimed.event_id]]


async def test_skip_policy_records_the_poison_event_and_lets_its_stream_go_on(pool: asyncpg.Pool) -> None:
    projection = Projection(name="skip_probe", handlers=SCENES_PROJECTION.handlers, on_poison="skip")
    runner = ProjectionRunner(pool, projection)
    poison = _created(uuid4(), level2="X9")
    later = _retimed(poison)  # applies to a scene row that is not there: a no-op update, not an error
    outcome = await runner.handle_batch([delivery(poison), delivery(later)])
    assert outcome.applied == 1
    row = await pool.fetchrow(
        "SELECT resolved_at, parked_behind FROM projection_dead_letters WHERE projection = 'skip_probe' "
        "AND stream_id = $1",
        poison.stream_id,
    )
    assert row is not None
    assert row["resolved_at"] is not None
    version = await pool.fetchval(
        "SELECT stream_version FROM projection_stream_versions "
        "WHERE projection = 'skip_probe' AND stream_id = $1",
        poison.stream_id,
    )
    assert version == 2


async def test_consecutive_events_of_a_batch_type_go_to_its_batch_function_together(
    pool: asyncpg.Pool,
) -> None:
    calls: list[list[UUID]] = []
    real = SCENES_PROJECTION.batch_handlers[SceneCreated]

    async def record(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
        calls.append([e.stream_id for e in events])
        await real(conn, events)

    projection = Projection(
        name="batch_probe",
        handlers=SCENES_PROJECTION.handlers,
        batch_handlers={SceneCreated: record},
    )
    first, second, third = _created(uuid4()), _created(uuid4()), _created(uuid4())
    outcome = await ProjectionRunner(pool, projection).handle_batch(
        [delivery(first), delivery(second), delivery(_retimed(first)), delivery(third)],
    )
    assert outcome.applied == 4
    assert calls == [[first.stream_id, second.stream_id], [third.stream_id]]
    row = await _row(pool, first.stream_id)
    assert row is not None
    assert row["start_time_seconds"] == 30  # the retime came after its group was written


async def test_a_poison_event_inside_a_batch_group_is_dead_lettered_alone(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    before, poison, after = _created(uuid4()), _created(uuid4(), level2="X9"), _created(uuid4())
    outcome = await runner.handle_batch([delivery(before), delivery(poison), delivery(after)])
    assert outcome.applied == 2
    assert [d.recorded.event.stream_id for d in outcome.dead_lettered if d.recorded] == [poison.stream_id]
    assert await _row(pool, before.stream_id) is not None
    assert await _row(pool, after.stream_id) is not None


async def _checkpoints(
    pool: asyncpg.Pool, projection: str, streams: Sequence[UUID]
) -> dict[UUID, tuple[int, int]]:
    rows = await pool.fetch(
        "SELECT stream_id, stream_version, position FROM projection_stream_versions "
        "WHERE projection = $1 AND stream_id = ANY($2::uuid[])",
        projection,
        list(streams),
    )
    return {r["stream_id"]: (r["stream_version"], r["position"]) for r in rows}


def _bookkeeping_only(name: str) -> Projection:
    """A projection that handles nothing: a batch writes only its checkpoints and offsets."""
    return Projection(name=name, handlers={})


async def test_a_live_batch_of_many_new_streams_writes_each_checkpoint_once(pool: asyncpg.Pool) -> None:
    name = f"copy_{uuid4().hex[:10]}"
    runner = ProjectionRunner(pool, _bookkeeping_only(name))
    events = [_created(uuid4()) for _ in range(100)]  # above the COPY threshold
    batch = [delivery(e, position=1000 + i) for i, e in enumerate(events)]
    outcome = await runner.handle_batch(batch)
    assert outcome.applied == 100
    expected = {e.stream_id: (1, 1000 + i) for i, e in enumerate(events)}
    assert await _checkpoints(pool, name, list(expected)) == expected
    again = await runner.handle_batch(batch)
    assert (again.applied, again.duplicates) == (0, 100)


async def test_new_streams_mixed_with_known_ones_get_every_checkpoint(pool: asyncpg.Pool) -> None:
    name = f"copy_{uuid4().hex[:10]}"
    runner = ProjectionRunner(pool, _bookkeeping_only(name))
    known = [_created(uuid4()) for _ in range(70)]
    await runner.handle_batch([delivery(e, position=1) for e in known])
    fresh = [_created(uuid4()) for _ in range(70)]
    batch = [delivery(_retimed(e), position=2) for e in known] + [delivery(e, position=3) for e in fresh]
    outcome = await runner.handle_batch(batch)
    assert outcome.applied == 140
    found = await _checkpoints(pool, name, [e.stream_id for e in known + fresh])
    assert found == {**{e.stream_id: (2, 2) for e in known}, **{e.stream_id: (1, 3) for e in fresh}}


async def test_a_checkpoint_written_by_another_process_mid_batch_is_upserted_not_lost(
    pool: asyncpg.Pool,
) -> None:
    name = f"copy_{uuid4().hex[:10]}"
    events = [_created(uuid4()) for _ in range(80)]
    raced = events[40].stream_id

    async def other_process_writes_one(conn: asyncpg.Connection, event: SceneCreated) -> None:  # noqa: ARG001
        # Between this batch's read of the checkpoints and its write: another member of the
        # group (a rebalance) committed the same stream's checkpoint on its own connection.
        if event.stream_id == raced:
            await pool.execute(
                "INSERT INTO projection_stream_versions (projection, stream_id, stream_version, position) "
                "VALUES ($1, $2, 1, 7)",
                name,
                raced,
            )

    runner = ProjectionRunner(pool, Projection(name=name, handlers={SceneCreated: other_process_writes_one}))
    outcome = await runner.handle_batch([delivery(e, position=500) for e in events])
    assert outcome.applied == 80
    found = await _checkpoints(pool, name, [e.stream_id for e in events])
    assert found == {e.stream_id: (1, 500) for e in events}  # the raced row upserted to this batch's
