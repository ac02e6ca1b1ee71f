"""`replay --from-topic`: replay a service's projections from their Kafka topics by resetting consumer groups.

Which offsets count: a projector resumes from its Kafka consumer group's committed offsets
(FastStream commits them only after the read model's transaction commits). The
``projection_offsets`` table is the database's copy, written in that same transaction, for
status, lag and blue/green swaps. A reset therefore writes both: the group's offsets, and
``projection_offsets`` to the same values.

Two modes, both stop-the-world: every consumer group concerned must have no active member
(its projectors stopped), else nothing is changed. The check is the broker's own: a commit
from outside a group is refused while the group has members, so each group's current offsets
are first committed again (a no-op) before anything is changed.

* ``--to-offset earliest`` rebuilds the service's read models from the topics: the service's
  ``public`` schema is replaced by an empty, freshly migrated one (checkpoints, offsets and
  dead letters go with it, so every re-delivered event is applied, none deduplicated) and every
  projection's group of that service is set to the start of its topics. A swap is per service
  database, hence all its projections are reset together. Refused when a topic no longer holds
  its whole history (retention deleted its start): that replay would miss events; rebuild from
  the log (``replay --projection``) instead.
* ``--to-offset <ISO time>`` re-delivers, to one projection, the records from that time on,
  keeping its read model and stream checkpoints: events it has already applied are
  deduplicated, the ones it lacks are applied (for instance after its database was restored
  from a backup taken at that time). Dropping the checkpoints without the rows would re-apply
  events on top of their own effects, so this mode does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    CommitFailedError,
    IllegalGenerationError,
    RebalanceInProgressError,
    UnknownMemberIdError,
)

from events.registry import EventRegistry
from infra.db import create_pool
from infra.replay import ReplayEngine
from infra.services import ServiceSpec
from infra.services.base import ProjectionSpec
from infra.settings import Settings
from infra.workers import projector_group

log = structlog.get_logger(__name__)


class GroupActiveError(RuntimeError):
    """A consumer group to reset still has active members (a projector is running)."""


class TopicHistoryError(RuntimeError):
    """A topic no longer holds its first records: a replay from it would miss events."""


@dataclass(slots=True)
class ResetReport:
    """What a reset did: the new committed offset of each group and partition."""

    service: str
    mode: str
    offsets: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per consumer group: ``"topic/partition"`` -> the offset consumption resumes from."""


async def _refuse_if_active(consumer: AIOKafkaConsumer, group: str, partitions: list[TopicPartition]) -> None:
    """Refuse unless ``group`` is idle: commit its current offsets again from outside it.

    The broker refuses such a commit while the group has members; otherwise it changes nothing.
    """
    current = {tp: await consumer.committed(tp) for tp in partitions}
    beginning = await consumer.beginning_offsets(partitions)
    try:
        await consumer.commit({tp: o if o is not None else beginning[tp] for tp, o in current.items()})
    except (CommitFailedError, UnknownMemberIdError, IllegalGenerationError, RebalanceInProgressError):
        raise GroupActiveError(
            f"consumer group {group} has active members: stop the projectors "
            "(`sceneledger worker`, `sceneledger up`) first",
        ) from None


async def partitions_of(settings: Settings, topics: Sequence[str]) -> list[TopicPartition]:
    """Every partition of ``topics`` (full topic names), from the cluster's metadata."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    return sorted(TopicPartition(d["topic"], p["partition"]) for d in described for p in d["partitions"])


async def _targets(
    consumer: AIOKafkaConsumer, partitions: list[TopicPartition], to: datetime | None
) -> dict[TopicPartition, int]:
    if to is None:
        beginning = await consumer.beginning_offsets(partitions)
        lost = {f"{tp.topic}/{tp.partition}": o for tp, o in beginning.items() if o > 0}
        if lost:
            raise TopicHistoryError(
                f"the topics no longer hold their first records (first offsets {lost}); a replay "
                "from them would miss events: rebuild from the log with `replay --projection NAME`",
            )
        return dict(beginning)
    found = await consumer.offsets_for_times({tp: int(to.timestamp() * 1000) for tp in partitions})
    ends = await consumer.end_offsets(partitions)
    return {tp: (hit.offset if hit is not None else ends[tp]) for tp, hit in found.items()}


async def reset_from_topic(
    settings: Settings,
    registry: EventRegistry,
    spec: ServiceSpec,
    projection: str,
    *,
    to: datetime | None = None,
) -> ResetReport:
    """Reset consumer groups so the projections replay from their topics (see the module docstring)."""
    chosen: list[ProjectionSpec] = [
        p for p in spec.projections if to is None or p.projection.name == projection
    ]
    report = ResetReport(service=spec.name, mode="earliest" if to is None else to.isoformat())
    plans: list[tuple[ProjectionSpec, AIOKafkaConsumer, dict[TopicPartition, int]]] = []
    try:
        for p in chosen:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.require_kafka(),
                group_id=projector_group(settings, p.projection.name),
                enable_auto_commit=False,
            )
            await consumer.start()
            partitions = await partitions_of(settings, [settings.topic(t) for t in p.topics])
            consumer.assign(partitions)  # assigned, not subscribed: the group is not joined
            plans.append((p, consumer, {}))
            await _refuse_if_active(consumer, projector_group(settings, p.projection.name), partitions)
            plans[-1] = (p, consumer, await _targets(consumer, partitions, to))
        if to is None:
            await ReplayEngine(settings, registry).replace_with_empty(spec)
        else:
            await _record_offsets(settings, spec, plans)
        for p, consumer, targets in plans:
            if targets:
                await consumer.commit(targets)
            report.offsets[projector_group(settings, p.projection.name)] = {
                f"{tp.topic}/{tp.partition}": o for tp, o in targets.items()
            }
    finally:
        for _, consumer, _ in plans:
            await consumer.stop()
    log.info("replay.from_topic", service=spec.name, mode=report.mode, offsets=report.offsets)
    return report


async def _record_offsets(
    settings: Settings,
    spec: ServiceSpec,
    plans: Sequence[tuple[ProjectionSpec, AIOKafkaConsumer, dict[TopicPartition, int]]],
) -> None:
    """Write the reset offsets into ``projection_offsets`` too, so status and lag agree with Kafka."""
    pool = await create_pool(settings.dsn_for(spec.name), max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for p, _, targets in plans:
                for tp, offset in targets.items():
                    await conn.execute(
                        "UPDATE projection_offsets SET next_offset = $4, updated_at = now() "
                        "WHERE projection = $1 AND topic = $2 AND partition = $3",
                        p.projection.name,
                        tp.topic,
                        tp.partition,
                        offset,
                    )
    finally:
        await pool.close()
