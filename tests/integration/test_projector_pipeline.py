"""The pipelined projector on a real topic: offsets committed only for applied batches, redelivery a no-op."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.structs import TopicPartition
from faststream.kafka import KafkaBroker

from events.base import DomainEvent, EventMetadata
from events.scene import SceneCreated, SceneRetimed
from infra.cloudevents import event_headers
from infra.db import create_pool
from infra.services import build_registry
from infra.settings import Settings
from infra.workers import register_projectors
from projections.runner import ProjectionRunner
from tests.conftest import eventually
from tests.integration.projection_probes import ProbeProjection, RecordingRunner

pytestmark = pytest.mark.integration

PARTITIONS = 2
_HANDLED = (SceneCreated, SceneRetimed)


@pytest.fixture(name="pool")
async def fx_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.dsn_for("scene"), max_size=4)
    yield pool
    await pool.close()


@pytest.fixture(name="topic")
async def fx_topic(settings: Settings) -> str:
    """A topic of this test's own (bare name), deleted with the session's namespace."""
    bare = f"pipeline{uuid4().hex[:10]}.events"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
    await admin.start()
    try:
        await admin.create_topics([NewTopic(settings.topic(bare), PARTITIONS, 1)])
    finally:
        await admin.close()
    return bare


def _stream(scenes: int) -> list[DomainEvent]:
    """``scenes`` scenes, each created then retimed twice (per-stream order matters)."""
    events: list[DomainEvent] = []
    for _ in range(scenes):
        created = SceneCreated(
            stream_id=uuid4(),
            stream_version=1,
            movie_id=uuid4(),
            start_time_seconds=10,
            end_time_seconds=20,
            level1_classification="L",
            level2_classification="L2",
        )
        events.append(created)
        events += [
            SceneRetimed(
                stream_id=created.stream_id,
                stream_version=v,
                movie_id=created.movie_id,
                start_time_seconds=10 + v,
                end_time_seconds=30 + v,
            )
            for v in (2, 3)
        ]
    return events


async def _publish(settings: Settings, topic: str, events: Sequence[DomainEvent]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.require_kafka())
    await producer.start()
    try:
        for position, event in enumerate(events, start=1):
            headers = event_headers(
                event_id=event.event_id,
                stream_type=event.stream_type,
                event_type=event.event_type,
                schema_version=event.schema_version,
                stream_id=event.stream_id,
                stream_version=event.stream_version,
                position=position,
                occurred_at=event.occurred_at,
                metadata=EventMetadata(),
            )
            await producer.send(
                settings.topic(topic),
                json.dumps(event.payload(), ensure_ascii=False).encode(),
                key=event.stream_id.bytes,
                headers=list(headers),
            )
        await producer.flush()
    finally:
        await producer.stop()


async def _committed(settings: Settings, topic: str, group: str) -> dict[int, int | None]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.require_kafka(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(settings.topic(topic), p) for p in range(PARTITIONS)]
        return {tp.partition: await consumer.committed(tp) for tp in parts}
    finally:
        await consumer.stop()


async def _rewind_group(settings: Settings, topic: str, group: str) -> None:
    """Commit offset 0 on every partition: as if the projector crashed before committing anything."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.require_kafka(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        parts = [TopicPartition(settings.topic(topic), p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.commit(dict.fromkeys(parts, 0))
    finally:
        await consumer.stop()


async def _ends(settings: Settings, topic: str) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.require_kafka(), enable_auto_commit=False)
    await consumer.start()
    try:
        parts = [TopicPartition(settings.topic(topic), p) for p in range(PARTITIONS)]
        ends = await consumer.end_offsets(parts)
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        await consumer.stop()


async def _project(
    settings: Settings, topic: str, runner: ProjectionRunner, until: Callable[[], Awaitable[bool]]
) -> str:
    """Run a projector of ``runner`` on ``topic`` until ``until()`` holds, then stop it; return its group."""
    broker = KafkaBroker(settings.require_kafka(), graceful_timeout=15.0)
    groups = register_projectors(broker, settings, [(runner, [topic])], build_registry())
    await broker.start()
    try:
        await eventually(until, timeout=60)
    finally:
        await broker.stop()
    return groups[topic]


def _per_stream(events: Sequence[DomainEvent]) -> dict[Any, list[int]]:
    out: dict[Any, list[int]] = {}
    for e in events:
        out.setdefault(e.stream_id, []).append(e.stream_version)
    return out


async def test_a_batch_whose_apply_fails_is_read_again_and_applied_once(
    settings: Settings, pool: asyncpg.Pool, topic: str
) -> None:
    probe = ProbeProjection(handles=_HANDLED, failures=[RuntimeError("a bug, then fixed")])
    runner = RecordingRunner(pool, probe.projection())
    events = _stream(40)
    await _publish(settings, topic, events)
    ends = await _ends(settings, topic)

    async def done() -> bool:
        return len(probe.applied) >= len(events)

    group = await _project(settings, topic, runner, done)

    assert _per_stream(probe.applied) == _per_stream(events)  # each event once, in stream order
    assert runner.total("applied") == len(events)
    assert await _committed(settings, topic, group) == ends  # stopping committed the last batch


async def test_redelivery_after_a_crash_between_apply_and_commit_is_a_no_op(
    settings: Settings, pool: asyncpg.Pool, topic: str
) -> None:
    probe = ProbeProjection(handles=_HANDLED)
    runner = RecordingRunner(pool, probe.projection())
    events = _stream(30)
    await _publish(settings, topic, events)
    ends = await _ends(settings, topic)

    async def applied_all() -> bool:
        return len(probe.applied) >= len(events)

    group = await _project(settings, topic, runner, applied_all)
    assert await _committed(settings, topic, group) == ends
    await _rewind_group(settings, topic, group)  # the crash: every record is delivered again

    again = RecordingRunner(pool, probe.projection())

    async def read_all_again() -> bool:
        return again.total("duplicates") >= len(events)

    await _project(settings, topic, again, read_all_again)

    assert again.total("applied") == 0
    assert len(probe.applied) == len(events)
    assert await _committed(settings, topic, group) == ends
