"""The Kafka topics of the system, created explicitly (the broker does not auto-create)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import structlog
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from infra.services import ALL_SERVICES
from infra.services.saga import SAGAS
from infra.settings import Settings

log = structlog.get_logger(__name__)

SCENE_COMMANDS = "scenes.commands"
SCENE_COMMANDS_DLQ = "scenes.commands.dlq"


def dlq_of(topic: str) -> str:
    """Name of ``topic``'s dead-letter topic."""
    return f"{topic}.dlq"


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """A topic and its partition count."""

    name: str
    partitions: int


def topic_specs(settings: Settings) -> list[TopicSpec]:
    """Every topic the system uses, namespaced."""
    specs = []
    for spec in ALL_SERVICES:
        specs.append(TopicSpec(settings.topic(spec.topic), 3))
        specs.append(TopicSpec(settings.topic(dlq_of(spec.topic)), 1))
    specs.append(TopicSpec(settings.topic(SAGAS.topic), 3))
    specs.append(TopicSpec(settings.topic(SCENE_COMMANDS), 3))
    specs.append(TopicSpec(settings.topic(SCENE_COMMANDS_DLQ), 1))
    return specs


async def delete_namespace_topics(settings: Settings) -> list[str]:
    """Delete every topic of ``settings``' namespace (test namespaces); refuse the unnamespaced one."""
    if not settings.namespace:
        raise ValueError("refusing to delete the topics of the default (unnamespaced) system")
    prefix = settings.topic("")
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
    await admin.start()
    try:
        doomed = sorted(t for t in await admin.list_topics() if t.startswith(prefix))
        if doomed:
            await admin.delete_topics(doomed)
        return doomed
    finally:
        await admin.close()


async def ensure_topics(settings: Settings) -> None:
    """Create any missing topic."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [s for s in topic_specs(settings) if s.name not in existing]
        if missing:
            # Another process may create them at the same moment.
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(
                    [NewTopic(s.name, num_partitions=s.partitions, replication_factor=1) for s in missing],
                )
            log.info("topics.created", topics=[s.name for s in missing])
    finally:
        await admin.close()
