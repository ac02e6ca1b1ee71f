"""The local stack really runs PostgreSQL 15 and a working Kafka broker, and restarts stably.

The stack is left running at the end: other test modules share it.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra import stack

# A cold first start resolves the Kafka jars with Maven, runs initdb and formats the broker.
pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]


@pytest.fixture(scope="module")
def local_endpoints() -> stack.Endpoints:
    return stack.start_local_stack()


def test_endpoints_are_local(local_endpoints: stack.Endpoints) -> None:
    assert local_endpoints.source == "local"
    assert local_endpoints.pg_dsn.startswith("postgresql://postgres@127.0.0.1:")
    assert local_endpoints.pg_dsn.endswith("/postgres")
    assert local_endpoints.kafka_bootstrap.startswith("127.0.0.1:")


async def test_postgres_is_15_with_utf8_and_c_utf8(local_endpoints: stack.Endpoints) -> None:
    conn = await asyncpg.connect(local_endpoints.pg_dsn)
    try:
        version = await conn.fetchval("SELECT version()")
        assert version.startswith("PostgreSQL 15.")
        assert 150000 <= int(await conn.fetchval("SHOW server_version_num")) < 160000
        assert await conn.fetchval("SHOW server_encoding") == "UTF8"
        assert await conn.fetchval("SHOW lc_ctype") == "C.UTF-8"
        assert await conn.fetchval("SHOW lc_collate") == "C.UTF-8"
        assert int(await conn.fetchval("SHOW max_connections")) >= 300
    finally:
        await conn.close()


async def test_kafka_creates_topic_and_round_trips_a_message(
    local_endpoints: stack.Endpoints,
) -> None:
    bootstrap = local_endpoints.kafka_bootstrap
    topic = f"stack-test-{uuid.uuid4().hex}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=topic, num_partitions=1, replication_factor=1)])
        producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(topic, b"hello scene", key=b"scene-1")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            auto_offset_reset="earliest",
            enable_auto_commit=False,
        )
        await consumer.start()
        try:
            message = await asyncio.wait_for(consumer.getone(), timeout=30)
        finally:
            await consumer.stop()
        assert message.key == b"scene-1"
        assert message.value == b"hello scene"
    finally:
        await admin.delete_topics([topic])
        await admin.close()


def test_second_start_reuses_the_running_stack(local_endpoints: stack.Endpoints) -> None:
    before = stack.local_stack_status()
    assert stack.start_local_stack() == local_endpoints
    after = stack.local_stack_status()
    assert after["running"] is True
    assert after["pg_dsn"] == local_endpoints.pg_dsn
    assert after["kafka_bootstrap"] == local_endpoints.kafka_bootstrap
    assert after["postgres"] == before["postgres"]
    assert after["kafka"] == before["kafka"]


def test_resolve_without_start_finds_the_running_stack(
    local_endpoints: stack.Endpoints,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(stack.PG_DSN_ENV, raising=False)
    monkeypatch.delenv(stack.KAFKA_BOOTSTRAP_ENV, raising=False)
    assert stack.resolve_endpoints(start=False) == local_endpoints
