"""FastStream subscribers: the projectors (one consumer per topic, fanned out) and the command entry point.

A projector process reads each topic once, however many of its projections consume it
(``scenes.events`` feeds four): each batch is fetched, opened and decoded once, then applied by
every projection of the topic at once, each in its own database and transaction. The topic's
consumer group is named after the set of projections it feeds (:func:`projector_group`), and
its offset is committed only once all of them committed the batch. Each projection keeps its
stream checkpoints, dead letters and ``projection_offsets`` rows as before, so a redelivered
batch is a no-op for the projections that had already applied it.

Each topic's batches go through a :class:`~infra.prompt_batch.BatchPipeline`: the next batch
is opened and decoded (Python) while the projections apply the current one (PostgreSQL), and
the offsets are committed by the pipeline once a batch is applied everywhere. Batches of a
topic are still applied one after the other, in the order read.

Until session 5 each projection had a consumer group of its own (``<ns>.projector.<name>``).
Those groups are no longer read: a process starting with this layout creates the new groups,
which start from the beginning of their topics, and every projection skips what its checkpoints
say it already applied.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
from faststream.kafka.message import FAKE_CONSUMER
from faststream.message import StreamMessage
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_delay, wait_exponential

from commands.base import Command
from commands.errors import DomainError
from commands.handlers import CommandBus
from events.base import EventMetadata
from events.registry import EventRegistry
from infra.cloudevents import MalformedEventMessageError, decode_event
from infra.db import TRANSIENT_PG_ERRORS
from infra.pii import PersonalDataKeys, open_values
from infra.prompt_batch import BatchPipeline, DrainOnRevoke, prompt
from infra.settings import Settings
from infra.topics import SCENE_COMMANDS, SCENE_COMMANDS_DLQ, dlq_of
from projections.runner import DECODE_SLICE, Delivery, ProjectionRunner

log = structlog.get_logger(__name__)


class CommandMessageError(ValueError):
    """A record on a command topic is not a command we can run; names the field and why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def to_delivery(
    record: ConsumerRecord[Any, Any], registry: EventRegistry, *, opened: bytes | None = None
) -> Delivery:
    """Decode one consumer record; an undecodable one becomes a delivery with its error.

    ``opened`` is the record's value with its personal fields opened (:func:`opened_values`):
    decoded instead of the value, never kept, so a dead letter holds only the sealed value.
    """
    raw = record.headers
    # aiokafka gives a tuple of (name, value) pairs: kept as it is, not copied pair by pair.
    headers = raw if type(raw) is tuple else tuple((k, v) for k, v in (raw or ()))
    value = record.value or b""
    try:
        recorded = decode_event(headers, value if opened is None else opened, registry)
    except MalformedEventMessageError as exc:
        return Delivery(record.topic, record.partition, record.offset, headers, value, None, str(exc))
    return Delivery(record.topic, record.partition, record.offset, headers, value, recorded)


def _raw_values(msg: StreamMessage[Any]) -> Any:  # noqa: ANN401  FastStream's decoded body type
    # The projector decodes the raw records itself: FastStream's own JSON decoding of every
    # value was a tenth of a projector's time, for a body nobody read.
    return msg.body


async def _records_message(
    records: tuple[ConsumerRecord[Any, Any], ...],
    original: Any,  # noqa: ARG001, ANN401  FastStream's own parser, not called
) -> KafkaMessage:
    """FastStream's batch message for the projector's handler, without what nobody reads.

    FastStream's batch parser decodes every record's headers into a dict of text and copies
    every value into a list (about 5 % of a projector's Python time): the projector reads the
    records (``raw_message``) and nothing else. Acks are the pipeline's (``AckPolicy.MANUAL``).
    """
    first, last = records[0], records[-1]
    return KafkaMessage(
        raw_message=records,
        body=records,
        message_id=f"{first.offset}-{last.offset}-{first.timestamp}",
        consumer=FAKE_CONSUMER,
    )


def parse_command_message(
    value: bytes, command_types: Mapping[str, type[Command]]
) -> tuple[Command, EventMetadata]:
    """Parse ``{"type": "CreateScene", "data": {...}, "metadata": {...}}`` into a command."""
    try:
        body = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CommandMessageError("body", f"not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise CommandMessageError("body", "must be a JSON object")
    name = body.get("type")
    cls = command_types.get(name) if isinstance(name, str) else None
    if cls is None:
        raise CommandMessageError("type", f"unknown command {name!r}; one of {sorted(command_types)}")
    try:
        cmd = cls.model_validate(body.get("data") or {})
        metadata = EventMetadata.model_validate(body.get("metadata") or {})
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "data"
        raise CommandMessageError(field, first["msg"]) from None
    return cmd, metadata


async def opened_values(
    keys: PersonalDataKeys | None,
    records: Sequence[ConsumerRecord[Any, Any]],
    registry: EventRegistry,
) -> list[bytes | None]:
    """Return each record's value with its personal fields opened (one key look-up per batch).

    Without ``keys`` nothing is opened: a record with sealed fields then fails to decode.
    """
    if keys is None:
        return [None] * len(records)
    pairs = [(tuple(r.headers or ()), r.value or b"") for r in records]
    return list(await open_values(keys, pairs, registry))


def projector_group(settings: Settings, topic: str, projections: Iterable[str]) -> str:
    """Return the consumer group of a projector process's consumer of ``topic`` (bare name).

    The group names the set of projections the consumer feeds: two processes running different
    sets must never share a group, or the topic's partitions would be split between them and
    each set would miss the other's share. A process running a new set (a projection added)
    starts a new group, from the start of the topic: the projections that already applied
    those records find them in their stream checkpoints and skip them.
    """
    names = sorted(set(projections))
    if not names or any(not n or "+" in n or "." in n for n in names):
        raise ValueError(f"projection names must be non-empty, without '+' or '.': {names}")
    return f"{settings.namespace or 'sceneledger'}.projector.{topic}.{'+'.join(names)}"


def group_projections(settings: Settings, topic: str, group: str) -> frozenset[str] | None:
    """Return the projections a group named by :func:`projector_group` feeds from ``topic``, else ``None``."""
    prefix = f"{settings.namespace or 'sceneledger'}.projector.{topic}."
    if not group.startswith(prefix):
        return None
    names = group.removeprefix(prefix).split("+")
    if any(not n or "." in n for n in names):
        return None
    return frozenset(names)


def _records(msg: KafkaMessage) -> Sequence[ConsumerRecord[Any, Any]]:
    raw = msg.raw_message
    return raw if isinstance(raw, tuple) else (raw,)


def _transient_retry() -> AsyncRetrying:
    return AsyncRetrying(
        retry=retry_if_exception_type(TRANSIENT_PG_ERRORS),
        wait=wait_exponential(multiplier=0.1, max=5),
        stop=stop_after_delay(60),
        reraise=True,
    )


class DelayedSettle:
    """Settles a projection's deferred work once its backlog pauses, or at the latest ``max_wait``.

    A batch with more records known to wait behind it (a full batch, or one the consumer's
    last fetch showed more records after: ``infra.prompt_batch.records_waiting``) is part of
    a backlog, so the projector defers (``settle=False``) and calls :meth:`deferred`; the
    first batch with nothing known to wait settles in its own transaction. A backlog that
    ends on a deferred batch has no such batch: this settles it ``quiet`` seconds after the
    last deferred batch, and a backlog that never pauses is settled every ``max_wait``
    seconds, which bounds how far behind the deferred figures get.
    A failed settle loses nothing: the marks stay for the next batch or settle.
    """

    def __init__(self, runner: ProjectionRunner, *, quiet: float = 1.0, max_wait: float = 10.0) -> None:
        self._runner = runner
        self._quiet = quiet
        self._max_wait = max_wait
        self._first = self._last = 0.0
        self._task: asyncio.Task[None] | None = None

    def deferred(self) -> None:
        """Note a deferred batch; start the timer if none runs."""
        now = time.monotonic()
        self._last = now
        if self._task is None or self._task.done():
            self._first = now
            self._task = asyncio.create_task(
                self._settle_later(), name=f"settle-{self._runner.projection.name}"
            )
            self._task.add_done_callback(self._report)

    async def _settle_later(self) -> None:
        while True:
            now = time.monotonic()
            due = min(self._last + self._quiet, self._first + self._max_wait)
            if now >= due:
                break
            await asyncio.sleep(due - now)
        async for attempt in _transient_retry():
            with attempt:
                await self._runner.settle()

    def _report(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error(
                "projection.settle_failed",
                projection=self._runner.projection.name,
                error=repr(task.exception()),
            )


@dataclass(frozen=True, slots=True)
class ProjectorTarget:
    """A projection a projector process runs: its runner, the topics it reads, its settle timer."""

    runner: ProjectionRunner
    topics: tuple[str, ...]
    later: DelayedSettle | None
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)
    """Held while a batch is applied. A projection reading several topics has one consumer
    per topic; its batches still run one at a time, as when one consumer read all its topics:
    derived figures recomputed in two overlapping transactions would each miss the other's
    uncommitted rows (e.g. an actor's figures, from a filmography entry and a cast event)."""


def register_projectors(
    broker: KafkaBroker,
    settings: Settings,
    projections: Sequence[tuple[ProjectionRunner, Sequence[str]]],
    registry: EventRegistry,
    *,
    keys: PersonalDataKeys | None = None,
) -> dict[str, str]:
    """Subscribe one consumer per topic, each batch fanned out to every projection of that topic.

    ``projections``: each runner with the (bare) topics its projection reads. A batch is read,
    its personal fields opened (``keys``, the event store's personal data keys) and decoded
    once, then handed to every projection of the topic at once (each in its own database and
    transaction, with its own stream checkpoints, so per-stream order and idempotency hold per
    projection). The Kafka offset is committed only after every projection committed the batch:
    a transient failure is retried per projection; one that persists fails the batch, which is
    then redelivered, and the projections that had committed it find every event a duplicate.
    The next batch is read and decoded while one is applied (:class:`BatchPipeline`); when a
    batch fails, the one read after it is dropped and both are read again.
    Returns each topic's consumer group (:func:`projector_group`).
    """
    names = [runner.projection.name for runner, _ in projections]
    if len(set(names)) != len(names):
        raise ValueError(f"a projector process runs each projection once: {sorted(names)}")
    targets = [
        ProjectorTarget(
            runner,
            tuple(topics),
            DelayedSettle(runner) if runner.projection.deferral is not None else None,
        )
        for runner, topics in projections
    ]
    by_topic: dict[str, list[ProjectorTarget]] = {}
    for target in targets:
        for topic in target.topics:
            by_topic.setdefault(topic, []).append(target)
    trusted = registry.trusted()  # records of our own topics were validated when appended
    groups = {}
    for topic, readers in by_topic.items():
        groups[topic] = group = projector_group(settings, topic, (t.runner.projection.name for t in readers))
        _subscribe_topic(broker, settings, topic, group, readers, registry, trusted, keys)
    return groups


def _subscribe_topic(
    broker: KafkaBroker,
    settings: Settings,
    topic: str,
    group: str,
    targets: Sequence[ProjectorTarget],
    registry: EventRegistry,
    trusted: EventRegistry,
    keys: PersonalDataKeys | None,
) -> None:
    async def decode(
        records: Sequence[ConsumerRecord[Any, Any]], waiting: bool
    ) -> tuple[list[Delivery], bool]:
        opened = await opened_values(keys, records, registry)
        deliveries: list[Delivery] = []
        for start in range(0, len(records), DECODE_SLICE):
            if start:
                # The batch before is being applied in this same event loop: between slices its
                # transactions get their replies handled and send their next statement, instead
                # of waiting for the whole batch to be decoded (PostgreSQL is the critical path).
                await asyncio.sleep(0)
            end = start + DECODE_SLICE
            deliveries += [
                to_delivery(r, trusted, opened=o)
                for r, o in zip(records[start:end], opened[start:end], strict=True)
            ]
        # A backlog (see DelayedSettle): records known to wait behind this batch, or a full batch.
        # A poll is often short of the maximum in a backlog too (each partition's fetch is
        # capped in bytes): counted by fullness alone, 44 of the 108 batches of a 200,100-event
        # backlog recomputed every touched movie's statistics, 6.7 s of its server time.
        return deliveries, waiting or len(records) >= settings.projector_batch_size

    async def apply(batch: tuple[list[Delivery], bool]) -> None:
        deliveries, backlog = batch
        await project_batch(broker, targets, deliveries, backlog=backlog)

    # Decoded while the batch before is applied; offsets committed by the pipeline (see prompt_batch).
    pipeline = BatchPipeline(decode, apply, name=group)
    # Prompt: FastStream's own batch subscriber sleeps after an empty poll (see prompt_batch).
    subscriber = prompt(
        broker.subscriber(
            settings.topic(topic),
            group_id=group,
            batch=True,
            max_records=settings.projector_batch_size,
            parser=_records_message,
            decoder=_raw_values,
            ack_policy=AckPolicy.MANUAL,
            auto_offset_reset="earliest",
            listener=DrainOnRevoke(pipeline),
        ),
        pipeline,
    )

    @subscriber
    async def project(body: Any, msg: KafkaMessage) -> None:  # noqa: ARG001, ANN401  raw records used
        consumer = subscriber.consumer
        if consumer is None:  # handlers only run while the subscriber's consumer is up
            raise RuntimeError(f"{group}: a batch arrived without a consumer")
        await pipeline.handle(consumer, _records(msg))


async def project_batch(
    broker: KafkaBroker, targets: Sequence[ProjectorTarget], deliveries: Sequence[Delivery], *, backlog: bool
) -> None:
    """Apply one batch to every projection of its topic at once; raise if any of them failed.

    Each projection runs in its own database, so their transactions overlap. A failure is
    raised only once every projection is done with the batch: the redelivery that follows must
    never run beside a projection still applying it.
    """
    results = await asyncio.gather(
        *(_project(broker, t, deliveries, backlog=backlog) for t in targets), return_exceptions=True
    )
    failed = [(t, r) for t, r in zip(targets, results, strict=True) if isinstance(r, BaseException)]
    for target, exc in failed:
        log.error("projection.batch_failed", projection=target.runner.projection.name, error=repr(exc))
    if failed:
        raise failed[0][1]


async def _project(
    broker: KafkaBroker, target: ProjectorTarget, deliveries: Sequence[Delivery], *, backlog: bool
) -> None:
    """Apply one batch to one projection (transient errors retried), then publish its dead letters."""
    runner, later = target.runner, target.later
    defer = backlog and later is not None
    async with target.turn:
        async for attempt in _transient_retry():
            with attempt:
                outcome = await runner.handle_batch(deliveries, settle=not defer)
    if defer and later is not None:
        later.deferred()
    for d in outcome.dead_lettered:
        await broker.publish(
            d.value,
            topic=dlq_of(d.topic),
            key=d.recorded.event.stream_id.bytes if d.recorded else None,
            headers={
                **{k: v.decode(errors="replace") for k, v in d.headers},
                "x-projection": runner.projection.name,
                "x-origin": f"{d.topic}/{d.partition}/{d.offset}",
            },
        )


def register_command_consumer(
    broker: KafkaBroker,
    settings: Settings,
    bus: CommandBus,
    command_types: Sequence[type[Command]],
) -> None:
    """Subscribe the command bus to ``scenes.commands``; bad commands go to its dead-letter topic.

    Only ``command_types`` are accepted there: the topic is for scene producers, and a
    rejected record is copied to the dead-letter topic as it came, so commands that carry
    secrets (a password) must never be routed over it.
    """
    accepted = {cls.__name__: cls for cls in command_types}

    async def run_command(body: Any, msg: KafkaMessage) -> None:  # noqa: ARG001, ANN401  raw bytes used
        record = _records(msg)[0]
        value: bytes = record.value or b""
        try:
            cmd, metadata = parse_command_message(value, accepted)
            async for attempt in _transient_retry():
                with attempt:
                    result = await bus.dispatch(cmd, metadata)
        except (CommandMessageError, DomainError) as exc:
            field, reason = exc.field, exc.reason
            log.warning("command.rejected", field=field, reason=reason, offset=record.offset)
            await broker.publish(
                value,
                topic=settings.topic(SCENE_COMMANDS_DLQ),
                key=record.key,
                headers={
                    "x-error-field": field,
                    "x-error-reason": reason,
                    "x-error-type": type(exc).__name__,
                    "x-origin": f"{record.topic}/{record.partition}/{record.offset}",
                },
            )
            return
        log.info(
            "command.accepted",
            command=type(cmd).__name__,
            stream_id=str(result.stream_id),
            version=result.stream_version,
            duplicate=result.duplicate,
        )

    broker.subscriber(
        settings.topic(SCENE_COMMANDS),
        group_id=f"{settings.namespace or 'sceneledger'}.commands",
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )(run_command)
