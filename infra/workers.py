"""FastStream subscribers: the scene projector and the Kafka command entry point. Thin by design."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from aiokafka.structs import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker, KafkaMessage
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
    """

    async def project(body: list[Any], msg: KafkaMessage) -> None:  # noqa: ARG001  raw records used
        records = _records(msg)
        opened = await opened_values(keys, records, registry)
        deliveries = [to_delivery(r, registry, opened=o) for r, o in zip(records, opened, strict=True)]
        async for attempt in _transient_retry():
            with attempt:
                outcome = await runner.handle_batch(deliveries)
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
