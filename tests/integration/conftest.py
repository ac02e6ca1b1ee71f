"""Integration fixtures: a running relay + projector + command consumer on the session namespace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord

from infra.bootstrap import System, build_broker, build_relay, open_system, run_saga_runner
from infra.publisher import KafkaPublisher
from infra.settings import Settings
from tests.conftest import _drop_namespace, make_namespace


@pytest.fixture(name="system", scope="module")
async def fx_system(settings: Settings) -> AsyncIterator[System]:
    """Pools and engines on the session namespace, for tests that read the read models or write rows
    straight into them (no relay or projector); a module defining its own ``system`` overrides it."""
    system = await open_system(settings)
    yield system
    await system.close()


@pytest.fixture(name="quiet", scope="module")
async def fx_quiet(endpoints: tuple[str, str]) -> AsyncIterator[Settings]:
    """A namespace of the module's own, where no projector of the session runs.

    For tests that watch what one batch left behind: on the session's namespace, a live
    projector's batch settles every figure marked stale (movies, actors), whichever batch
    marked it, and once did so between a test's deferred batch and its reading of the marks.
    """
    settings = await make_namespace(endpoints)
    yield settings
    await _drop_namespace(settings)


@pytest.fixture(name="db", scope="module")
def fx_db(system: System) -> asyncpg.Pool:
    """The Scene service database of the module's ``system``, for tests that write rows straight in."""
    return system.scene_pool


@pytest.fixture(name="live", scope="session")
async def fx_live(settings: Settings) -> AsyncIterator[System]:
    """The session namespace with its relay, projectors, command consumer and saga runner running."""
    system = await open_system(settings)
    publisher = KafkaPublisher(settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    sagas = run_saga_runner(system, stop)
    broker = build_broker(system)
    await broker.start()
    yield system
    stop.set()
    await relay
    await sagas
    await broker.stop()
    await publisher.stop()
    await system.close()


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
    timeout: float = 30.0,  # noqa: ASYNC109  a polling deadline, not a cancellation scope
) -> list[ConsumerRecord[bytes, bytes]]:
    """Read ``topic`` from the beginning of every partition until ``until(records)`` holds."""
    # No group: every partition is assigned, and with no committed offsets reading starts at the beginning.
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        records: list[ConsumerRecord[bytes, bytes]] = []
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not until(records):
            if loop.time() > deadline:
                pytest.fail(f"{topic}: condition not met within {timeout}s ({len(records)} records read)")
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


def header(record: ConsumerRecord[bytes, bytes], name: str) -> str | None:
    """A record header as text."""
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode()
    return None
