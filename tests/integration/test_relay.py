"""The outbox relay loses nothing: concurrent overlapping writers, and kill -9 at any point."""

from __future__ import annotations

import asyncio
import functools
import os
import random
import signal
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import pytest

from events.base import EventMetadata
from events.scene import SceneCreated, SceneReclassified
from infra.bootstrap import build_relay, open_system
from infra.db import create_pool
from infra.publisher import InMemoryPublisher, KafkaPublisher
from infra.relay import OutboxRelay
from infra.settings import Settings, with_database
from tests.conftest import eventually
from tests.integration.conftest import header, read_topic

pytestmark = pytest.mark.integration

WRITERS = 8
STREAMS_PER_WRITER = 25
EVENTS_PER_STREAM = 4


def scene_event(stream_id: UUID, movie_id: UUID, version: int) -> SceneCreated | SceneReclassified:
    """Version ``version`` of a scene stream: created, then reclassified (also used by other relay tests)."""
    if version == 1:
        return SceneCreated(
            stream_id=stream_id,
            stream_version=1,
            movie_id=movie_id,
            start_time_seconds=1,
            end_time_seconds=2,
            level1_classification="D",
            level2_classification="D1",
        )
    return SceneReclassified(
        stream_id=stream_id,
        stream_version=version,
        movie_id=movie_id,
        level1_classification="D",
        level2_classification=f"D{version}",
    )


def _events(stream_id: UUID, movie_id: UUID) -> list[SceneCreated | SceneReclassified]:
    return [scene_event(stream_id, movie_id, v) for v in range(1, EVENTS_PER_STREAM + 1)]


async def _append_slowly(
    conn: asyncpg.Connection, event: SceneCreated | SceneReclassified, hold: float
) -> None:
    # The transaction stays open after its insert, so later positions commit first.
    async with conn.transaction():
        await conn.fetchrow(
            "SELECT * FROM append_events($1, $2, NULL, 'scene', $3, $4::uuid[], $5::text[], "
            "$6::smallint[], $7::jsonb[], $8::timestamptz[], NULL, NULL, NULL, NULL, NULL, NULL, 'test')",
            event.stream_id,
            event.stream_version - 1,
            str(event.movie_id),
            [event.event_id],
            [event.event_type],
            [1],
            [event.payload()],
            [event.occurred_at],
        )
        await asyncio.sleep(hold)


async def _all_event_ids(settings: Settings) -> dict[str, tuple[str, int]]:
    conn = await asyncpg.connect(settings.dsn_for("event_store"))
    try:
        rows = await conn.fetch("SELECT id, stream_id, stream_version FROM saga_events")
    finally:
        await conn.close()
    return {str(r["id"]): (str(r["stream_id"]), r["stream_version"]) for r in rows}


async def _assert_all_on_kafka_in_stream_order(settings: Settings) -> None:
    expected = await _all_event_ids(settings)
    records = await read_topic(
        settings.require_kafka(),
        settings.topic("scenes.events"),
        until=lambda rs: {header(r, "ce_id") for r in rs} >= set(expected),
        timeout=60,
    )
    seen_versions: dict[str, list[int]] = defaultdict(list)
    for r in sorted(records, key=lambda r: (r.partition, r.offset)):
        event_id = header(r, "ce_id") or ""
        stream_id, version = expected[event_id]
        if version not in seen_versions[stream_id]:
            seen_versions[stream_id].append(version)
    assert all(v == sorted(v) for v in seen_versions.values()), (
        "a stream's events were published out of order"
    )
    assert {header(r, "ce_id") for r in records} == set(expected)


async def test_concurrent_overlapping_writers_lose_no_event(fresh_settings: Settings) -> None:
    settings = fresh_settings.model_copy(update={"relay_poll_interval": 0.002, "relay_batch_size": 50})
    system = await open_system(settings)
    publisher = KafkaPublisher(settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = build_relay(system, publisher)
    relay_task = asyncio.create_task(relay.run(stop))
    rng = random.Random(7)

    async def writer() -> None:
        pool = await create_pool(settings.dsn_for("event_store"), max_size=1)
        try:
            async with pool.acquire() as conn:
                for _ in range(STREAMS_PER_WRITER):
                    stream_id, movie_id = uuid4(), uuid4()
                    for event in _events(stream_id, movie_id):
                        await _append_slowly(conn, event, hold=rng.uniform(0, 0.01))
        finally:
            await pool.close()

    try:
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        total = WRITERS * STREAMS_PER_WRITER * EVENTS_PER_STREAM
        await eventually(functools.partial(_published_at_least, relay, total), timeout=60)
        await _assert_all_on_kafka_in_stream_order(settings)
        assert relay.stats.published == total
    finally:
        stop.set()
        await relay_task
        await publisher.stop()
        await system.close()


async def _published_at_least(relay: OutboxRelay, total: int) -> bool:
    return relay.stats.published >= total


def _relay_process(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.require_kafka(),
        "SCENELEDGER_NAMESPACE": settings.namespace,
        "SCENELEDGER_RELAY_BATCH_SIZE": "100",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "infra.cli", "worker", "--no-projector", "--no-commands"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def _published_count(settings: Settings) -> int:
    conn = await asyncpg.connect(settings.dsn_for("event_store"))
    try:
        return int(
            await conn.fetchval("SELECT coalesce(sum(published_count), 0) FROM relay_checkpoints") or 0
        )
    finally:
        await conn.close()


async def test_relay_killed_mid_batch_loses_nothing(fresh_settings: Settings, tmp_path: Path) -> None:
    settings = fresh_settings
    system = await open_system(settings)
    try:
        for _ in range(300):
            stream_id, movie_id = uuid4(), uuid4()
            await system.event_store.append(
                _events(stream_id, movie_id)[:2],
                expected_version=0,
                metadata=EventMetadata(),
            )
    finally:
        await system.close()
    total = 600
    log = tmp_path / "relay.log"
    kills = 0
    rng = random.Random(3)
    for _ in range(3):
        before = await _published_count(settings)
        proc = _relay_process(settings, log)
        # Wait until it is publishing, then kill it at a random moment.
        await eventually(functools.partial(_moved, settings, before), timeout=60, interval=0.01)
        await asyncio.sleep(rng.uniform(0, 0.05))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if await _published_count(settings) >= total:
            break
    proc = _relay_process(settings, log)
    try:
        await eventually(lambda: _done(settings, total), timeout=60)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    assert kills >= 1
    await _assert_all_on_kafka_in_stream_order(settings)


async def _moved(settings: Settings, before: int) -> bool:
    return await _published_count(settings) > before


async def _done(settings: Settings, total: int) -> bool:
    conn = await asyncpg.connect(settings.dsn_for("event_store"))
    try:
        # The checkpoint has reached the log's last event.
        return (
            bool(
                await conn.fetchval(
                    "SELECT (SELECT max(position) FROM saga_events) = "
                    "(SELECT max(position) FROM relay_checkpoints)",
                ),
            )
            and total > 0
        )
    finally:
        await conn.close()


async def _relay_with_writer_open_in(settings: Settings, database: str) -> tuple[int, int]:
    """Publish 20 events while a transaction holding an xid stays open in ``database``."""
    system = await open_system(settings)
    publisher = InMemoryPublisher()
    stop = asyncio.Event()
    relay = build_relay(system, publisher)
    task = asyncio.create_task(relay.run(stop))
    other = await asyncpg.connect(with_database(settings.pg_dsn or "", database))
    tx = other.transaction()
    await tx.start()
    await other.fetchval("SELECT pg_current_xact_id()")  # takes an xid, like any writer
    try:
        for _ in range(20):
            await system.event_store.append(
                _events(uuid4(), uuid4())[:1], expected_version=0, metadata=EventMetadata()
            )
        await asyncio.sleep(0.5)
        while_open = relay.stats.published
        await tx.commit()
        await eventually(functools.partial(_published_at_least, relay, 20), timeout=10)
        return while_open, relay.stats.published
    finally:
        stop.set()
        await task
        await other.close()
        await system.close()


async def test_open_transaction_in_another_database_does_not_stall_the_relay(
    fresh_settings: Settings,
) -> None:
    while_open, after = await _relay_with_writer_open_in(
        fresh_settings, fresh_settings.database_name("scene")
    )
    assert (while_open, after) == (20, 20)


async def test_open_writer_in_the_event_store_holds_the_relay_back_until_it_ends(
    fresh_settings: Settings,
) -> None:
    # It could still insert an event that sorts before the ones already committed.
    while_open, after = await _relay_with_writer_open_in(
        fresh_settings, fresh_settings.database_name("event_store")
    )
    assert (while_open, after) == (0, 20)


async def test_relay_orders_transaction_ids_as_numbers_not_text(fresh_settings: Settings) -> None:
    # xids 9 and 10 sort the other way round as text ('10' < '9').
    system = await open_system(fresh_settings)
    publisher = InMemoryPublisher()
    relay = build_relay(system, publisher)
    stream_id, movie_id = uuid4(), uuid4()
    first, second = _events(stream_id, movie_id)[:2]
    try:
        for event, tx_id in ((first, "9"), (second, "10")):
            await system.event_pool.execute(
                "INSERT INTO saga_events (id, saga_id, saga_type, step_name, step_status, event_data, "
                "stream_type, stream_id, stream_version, event_type, partition_key, occurred_at, tx_id) "
                "VALUES ($1, $1, 'test', $2, 'completed', $3, 'scene', $4, $5, $2, $6, now(), "
                "$7::text::xid8)",
                event.event_id,
                event.event_type,
                event.payload(),
                stream_id,
                event.stream_version,
                str(movie_id),
                tx_id,
            )
        while await relay.run_once():
            pass
    finally:
        await system.close()
    assert [dict(m.headers)["ce_streamversion"] for m in publisher.messages] == [b"1", b"2"]
