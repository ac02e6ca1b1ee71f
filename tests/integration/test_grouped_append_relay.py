"""Streams appended together in one group-commit transaction reach the relay once each, in stream order."""

from __future__ import annotations

import asyncio
import functools
from collections import defaultdict
from uuid import UUID, uuid4

import pytest

from events.base import EventMetadata
from infra.bootstrap import build_relay, open_system
from infra.publisher import InMemoryPublisher
from infra.relay import OutboxRelay
from infra.settings import Settings
from tests.conftest import eventually
from tests.integration.test_relay import scene_event

pytestmark = pytest.mark.integration

WRITERS = 16
STREAMS_PER_WRITER = 8
VERSIONS = 4


async def _published_at_least(relay: OutboxRelay, total: int) -> bool:
    return relay.stats.published >= total


async def test_streams_committed_together_are_relayed_once_each_in_stream_order(
    fresh_settings: Settings,
) -> None:
    settings = fresh_settings.model_copy(update={"relay_poll_interval": 0.002, "relay_batch_size": 50})
    system = await open_system(settings)
    publisher = InMemoryPublisher()
    stop = asyncio.Event()
    relay = build_relay(system, publisher)
    relay_task = asyncio.create_task(relay.run(stop))

    async def writer() -> None:
        # Each writer interleaves its streams, so a batch carries versions of many streams.
        streams = [(uuid4(), uuid4()) for _ in range(STREAMS_PER_WRITER)]
        for version in range(1, VERSIONS + 1):
            for stream_id, movie_id in streams:
                await system.event_store.append(
                    [scene_event(stream_id, movie_id, version)],
                    expected_version=version - 1,
                    metadata=EventMetadata(),
                )

    try:
        await asyncio.gather(*(writer() for _ in range(WRITERS)))
        total = WRITERS * STREAMS_PER_WRITER * VERSIONS
        await eventually(functools.partial(_published_at_least, relay, total), timeout=60)
        rows = await system.event_pool.fetch(
            "SELECT id, stream_id, stream_version, tx_id::text AS tx FROM saga_events"
        )
    finally:
        stop.set()
        await relay_task
        await system.close()

    streams_per_tx: dict[str, set[UUID]] = defaultdict(set)
    for r in rows:
        streams_per_tx[r["tx"]].add(r["stream_id"])
    assert max(len(s) for s in streams_per_tx.values()) > 1, "no transaction held several streams"

    where = {str(r["id"]): (r["stream_id"], r["stream_version"]) for r in rows}
    published = [dict(m.headers)["ce_id"].decode() for m in publisher.messages]
    assert sorted(published) == sorted(where)
    versions: dict[UUID, list[int]] = defaultdict(list)
    for event_id in published:
        stream_id, version = where[event_id]
        versions[stream_id].append(version)
    assert all(v == list(range(1, VERSIONS + 1)) for v in versions.values())
