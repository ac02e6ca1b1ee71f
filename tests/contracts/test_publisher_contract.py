"""One behaviour suite for every EventPublisher implementation (in-memory and Kafka)."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from infra.publisher import EventPublisher, InMemoryPublisher, KafkaPublisher, OutboundMessage
from infra.settings import Settings
from tests.integration.conftest import read_topic

pytestmark = pytest.mark.contract


class PublisherContract:
    """Subclasses provide ``publisher`` and ``published`` (what reached the other side)."""

    topic: str = "contract"

    async def published(self, publisher: EventPublisher, count: int) -> list[OutboundMessage]:
        raise NotImplementedError

    async def test_batch_arrives_in_order_per_key_with_headers(self, publisher: EventPublisher) -> None:
        messages = [
            OutboundMessage(
                topic=self.topic,
                key=b"movie-1",
                value=f'{{"n": {i}}}'.encode(),
                headers=(("ce_id", str(i).encode()), ("content-type", b"application/json")),
            )
            for i in range(50)
        ]
        await publisher.publish_batch(messages)
        got = await self.published(publisher, 50)
        assert [m.value for m in got] == [m.value for m in messages]
        assert all(m.key == b"movie-1" for m in got)
        assert dict(got[7].headers)["ce_id"] == b"7"
        assert dict(got[7].headers)["content-type"] == b"application/json"

    async def test_empty_batch_is_fine(self, publisher: EventPublisher) -> None:
        await publisher.publish_batch([])
        assert await self.published(publisher, 0) == []


class TestInMemoryPublisher(PublisherContract):
    @pytest.fixture(name="publisher")
    def fx_publisher(self) -> EventPublisher:
        return InMemoryPublisher()

    async def published(self, publisher: EventPublisher, count: int) -> list[OutboundMessage]:
        assert isinstance(publisher, InMemoryPublisher)
        return publisher.messages[:count] if count else publisher.messages


@pytest.mark.integration
class TestKafkaPublisher(PublisherContract):
    @pytest.fixture(name="publisher")
    async def fx_publisher(self, settings: Settings) -> AsyncIterator[EventPublisher]:
        self.bootstrap = settings.require_kafka()
        self.topic = settings.topic(f"contract.{secrets.token_hex(4)}")
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, num_partitions=3, replication_factor=1)])
        finally:
            await admin.close()
        publisher = KafkaPublisher(self.bootstrap)
        await publisher.start()
        yield publisher
        await publisher.stop()

    async def published(self, publisher: EventPublisher, count: int) -> list[OutboundMessage]:  # noqa: ARG002  reads the topic back instead
        records = await read_topic(self.bootstrap, self.topic, until=lambda rs: len(rs) >= count, timeout=30)
        records.sort(key=lambda r: (r.partition, r.offset))
        return [
            OutboundMessage(
                topic=r.topic,
                key=r.key or b"",
                value=r.value or b"",
                headers=tuple((k, bytes(v)) for k, v in r.headers),
            )
            for r in records
        ]
