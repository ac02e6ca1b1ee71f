"""FastStream subscribers: the scene projector and the Kafka command entry point. Thin by design."""

from __future__ import annotations

import asyncio
import json
import time
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
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
from infra.settings import Settings
from infra.topics import SCENE_COMMANDS, SCENE_COMMANDS_DLQ, dlq_of
from projections.runner import Delivery, ProjectionRunner

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
    headers = tuple((k, v) for k, v in (record.headers or ()))
    value = record.value or b""
    try:
        recorded = decode_event(headers, value if opened is None else opened, registry)
    except MalformedEventMessageError as exc:
        return Delivery(record.topic, record.partition, record.offset, headers, value, None, str(exc))
    return Delivery(record.topic, record.partition, record.offset, headers, value, recorded)


class DecodedRecords:
    """Deliveries of the records this process's projectors decoded lately, shared between them.

    Several projections consume one topic (``scenes.events``: scenes, actors, users), each in
    its own consumer group, so each record used to be decoded once per projection. Decoding is
    a pure function of the record's headers and the bytes decoded (the value with its personal
    fields opened), and a record's headers never change, so a delivery is reused only for the
    same record (topic, partition, offset) *and* the same bytes: a record opened differently
    (a key shredded in between) is decoded again. The oldest entries go first beyond
    ``capacity``; a miss only costs a decoding.
    """

    def __init__(self, registry: EventRegistry, capacity: int) -> None:
        self.registry = registry
        self.capacity = capacity
        self.topics: set[str] = set()
        """The topics whose records are kept (the capacity follows their number)."""
        self._entries: dict[tuple[str, int, int], tuple[bytes, Delivery]] = {}

    def delivery(self, record: ConsumerRecord[Any, Any], opened: bytes | None) -> Delivery:
        """Return ``record``'s delivery (see :func:`to_delivery`), decoded at most once."""
        key = (record.topic, record.partition, record.offset)
        decoded = (record.value or b"") if opened is None else opened
        hit = self._entries.get(key)
        if hit is not None and hit[0] == decoded:
            return hit[1]
        delivery = to_delivery(record, self.registry, opened=opened)
        entries = self._entries
        entries[key] = (decoded, delivery)
        while len(entries) > self.capacity:
            del entries[next(iter(entries))]
        return delivery


_DECODED: weakref.WeakKeyDictionary[KafkaBroker, DecodedRecords] = weakref.WeakKeyDictionary()
"""The decoded records shared by the projectors subscribed on one broker."""


def _decoded_records(
    broker: KafkaBroker, registry: EventRegistry, topics: Sequence[str], batch_size: int
) -> DecodedRecords:
    """Return ``broker``'s shared decoded records, with room for two batches of every topic read.

    The projections of one topic read it at about the same pace, so one decodes what the
    others then find here.
    """
    decoded = _DECODED.get(broker)
    if decoded is None:
        # Records of our own topics were validated when appended: decode them as trusted.
        decoded = _DECODED[broker] = DecodedRecords(registry.trusted(), 0)
    decoded.topics.update(topics)
    decoded.capacity = max(decoded.capacity, 2 * batch_size * len(decoded.topics))
    return decoded


def _raw_values(msg: StreamMessage[Any]) -> Any:  # noqa: ANN401  FastStream's decoded body type
    # The projector decodes the raw records itself: FastStream's own JSON decoding of every
    # value was a tenth of a projector's time, for a body nobody read.
    return msg.body


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


def projector_group(settings: Settings, projection: str) -> str:
    """Return the Kafka consumer group id of ``projection``'s projector."""
    return f"{settings.namespace or 'sceneledger'}.projector.{projection}"


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

    A full batch means more records are waiting, so the projector defers (``settle=False``)
    and calls :meth:`deferred`; the first batch that is not full settles in its own
    transaction. A backlog that ends on a full batch has no such batch: this settles it
    ``quiet`` seconds after the last deferred batch, and a backlog that never pauses is
    settled every ``max_wait`` seconds, which bounds how far behind the deferred figures get.
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


def register_projector(
    broker: KafkaBroker,
    settings: Settings,
    runner: ProjectionRunner,
    registry: EventRegistry,
    *,
    topics: Sequence[str],
    keys: PersonalDataKeys | None = None,
) -> None:
    """Subscribe ``runner`` to its event topics: batches, offsets committed only after the DB commit.

    ``keys`` (the event store's personal data keys) opens sealed personal fields before decoding.
    The projectors of one broker share their decoded records (:class:`DecodedRecords`).
    """
    decoded = _decoded_records(broker, registry, topics, settings.projector_batch_size)
    later = DelayedSettle(runner) if runner.projection.deferral is not None else None

    async def project(body: Any, msg: KafkaMessage) -> None:  # noqa: ARG001, ANN401  raw records used
        records = _records(msg)
        opened = await opened_values(keys, records, registry)
        deliveries = [decoded.delivery(r, o) for r, o in zip(records, opened, strict=True)]
        # A full batch: a backlog, more records are waiting (see DelayedSettle).
        backlog = later is not None and len(records) >= settings.projector_batch_size
        async for attempt in _transient_retry():
            with attempt:
                outcome = await runner.handle_batch(deliveries, settle=not backlog)
        if backlog and later is not None:
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

    broker.subscriber(
        *(settings.topic(t) for t in topics),
        group_id=projector_group(settings, runner.projection.name),
        batch=True,
        max_records=settings.projector_batch_size,
        decoder=_raw_values,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
    )(project)


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
