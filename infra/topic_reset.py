"""`replay --from-topic`: replay a service's projections from their Kafka topics by resetting consumer groups.

Which offsets count: a projector process reads each topic with one consumer group, shared by
all the projections of that topic it runs (``infra.workers.projector_group`` names the group
after the topic and that set of projections). The group's committed offset is where it resumes;
it is committed only after every projection committed the batch. The ``projection_offsets``
table holds each projection's own copy, written in its read model's transaction, for status,
lag and blue/green swaps. A reset therefore writes both: the groups' offsets, and
``projection_offsets`` to the same values.

The groups reset are the existing ones (the broker lists them) that read a topic of the
projections concerned and feed at least one of them. A reset group re-delivers to all its
projections: those not concerned find every re-delivered event in their stream checkpoints and
skip it. A shared group is therefore never moved forward (that would skip records for the
others): a target later than its committed offset leaves that partition where it is.

Two modes, both stop-the-world: every consumer group concerned must have no active member
(its projectors stopped), else nothing is changed. The check is the broker's own: a commit
from outside a group is refused while the group has members, so each group's current offsets
are first committed again (a no-op) before anything is changed.

* ``--to-offset earliest`` rebuilds the service's read models from the topics: the service's
  ``public`` schema is replaced by an empty, freshly migrated one (checkpoints, offsets and
  dead letters go with it, so every re-delivered event is applied, none deduplicated) and every
  group feeding a projection of that service is set to the start of its topic. A swap is per
  service database, hence all its projections are reset together. Refused when a topic no
  longer holds its whole history (retention deleted its start): that replay would miss events;
  rebuild from the log (``replay --projection``) instead.
* ``--to-offset <ISO time>`` re-delivers, to one projection, the records from that time on,
  keeping its read model and stream checkpoints: events it has already applied are
  deduplicated, the ones it lacks are applied (for instance after its database was restored
  from a backup taken at that time). Dropping the checkpoints without the rows would re-apply
  events on top of their own effects, so this mode does not.
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
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
from infra.workers import group_projections

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


async def _refuse_if_active(
    consumer: AIOKafkaConsumer, group: str, partitions: list[TopicPartition]
) -> dict[TopicPartition, int]:
    """Refuse unless ``group`` is idle: commit its current offsets again from outside it.

    The broker refuses such a commit while the group has members; otherwise it changes nothing.
    Returns the offsets the group resumes from (the start of a partition it never committed).
    """
    committed = {tp: await consumer.committed(tp) for tp in partitions}
    beginning = await consumer.beginning_offsets(partitions)
    current = {tp: o if o is not None else beginning[tp] for tp, o in committed.items()}
    try:
        await consumer.commit(current)
    except (CommitFailedError, UnknownMemberIdError, IllegalGenerationError, RebalanceInProgressError):
        raise GroupActiveError(
            f"consumer group {group} has active members: stop the projectors "
            "(`sceneledger worker`, `sceneledger up`) first",
        ) from None
    return current


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


@dataclass(slots=True)
class _Group:
    """One projector consumer group to reset: the topic it reads and the projections it feeds."""

    topic: str
    group_id: str
    projections: frozenset[str]
    consumer: AIOKafkaConsumer | None = None
    targets: dict[TopicPartition, int] = field(default_factory=dict)


async def _groups_of(
    settings: Settings, topics: Sequence[str], projections: AbstractSet[str]
) -> list[_Group]:
    """Return the existing projector groups of ``topics`` that feed any of ``projections``.

    A group that never committed does not exist yet: its projector starts from the start of
    its topic anyway, so there is nothing to reset.
    """
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.require_kafka())
    await admin.start()
    try:
        listed = sorted(str(g[0]) for g in await admin.list_consumer_groups())
    finally:
        await admin.close()
    groups = []
    for topic in topics:
        for group in listed:
            fed = group_projections(settings, topic, group)
            if fed is not None and fed & projections:
                groups.append(_Group(topic, group, fed))
    return groups


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
    names = {p.projection.name for p in chosen}
    report = ResetReport(service=spec.name, mode="earliest" if to is None else to.isoformat())
    groups = await _groups_of(settings, sorted({t for p in chosen for t in p.topics}), names)
    try:
        for g in groups:
            g.consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.require_kafka(), group_id=g.group_id, enable_auto_commit=False
            )
            await g.consumer.start()
            partitions = await partitions_of(settings, [settings.topic(g.topic)])
            g.consumer.assign(partitions)  # assigned, not subscribed: the group is not joined
            current = await _refuse_if_active(g.consumer, g.group_id, partitions)
            targets = await _targets(g.consumer, partitions, to)
            # A group shared with other projections never moves forward: they would miss the
            # records in between. (Going back only redelivers what they have applied.)
            g.targets = {tp: min(o, current[tp]) for tp, o in targets.items()}
        if to is None:
            await ReplayEngine(settings, registry).replace_with_empty(spec)
        else:
            await _record_offsets(settings, spec, projection, groups)
        for g in groups:
            if g.consumer is not None and g.targets:
                await g.consumer.commit(g.targets)
            report.offsets[g.group_id] = {f"{tp.topic}/{tp.partition}": o for tp, o in g.targets.items()}
    finally:
        for g in groups:
            if g.consumer is not None:
                await g.consumer.stop()
    log.info("replay.from_topic", service=spec.name, mode=report.mode, offsets=report.offsets)
    return report


async def _record_offsets(
    settings: Settings, spec: ServiceSpec, projection: str, groups: Sequence[_Group]
) -> None:
    """Write the reset offsets into ``projection_offsets`` too, so status and lag agree with Kafka."""
    resume: dict[TopicPartition, int] = {}
    for g in groups:
        if projection in g.projections:
            for tp, offset in g.targets.items():
                resume[tp] = min(offset, resume.get(tp, offset))
    pool = await create_pool(settings.dsn_for(spec.name), max_size=1)
    try:
        async with pool.acquire() as conn, conn.transaction():
            for tp, offset in resume.items():
                await conn.execute(
                    "UPDATE projection_offsets SET next_offset = $4, updated_at = now() "
                    "WHERE projection = $1 AND topic = $2 AND partition = $3",
                    projection,
                    tp.topic,
                    tp.partition,
                    offset,
                )
    finally:
        await pool.close()
