"""Operations: projection status and health, dead letters, checks, backup/restore, housekeeping."""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from events.base import DomainEvent
from events.registry import EventRegistry
from infra.cloudevents import MalformedEventMessageError, decode_event
from infra.db import create_pool
from infra.migrate import ensure_database
from infra.pii import PersonalDataKeys, open_values
from infra.services import ALL_SERVICES, ServiceSpec, build_registry
from infra.settings import Settings
from projections.runner import POISON_ERRORS, Delivery, Projection, ProjectionRunner

Connect = Callable[[str], AbstractAsyncContextManager[asyncpg.Connection]]
"""Opens a connection to a database by key: ``event_store`` or a service name (``scene``, ...)."""

DeadLetterPolicy = Literal["pause", "skip"]
"""``pause``: a dead letter parks its stream until retried or skipped (what the runner does).
``skip``: the housekeeping sweep skips it (see :func:`apply_skip_policy`) so the stream goes on.
A projection declared with ``Projection(on_poison="skip")`` does that itself as it runs; the sweep
remains for open dead letters recorded under the pause policy."""

DEFAULT_STALL_AFTER = timedelta(seconds=60)
DEFAULT_COMMAND_RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class OpsContext:
    """Where operations read and write: connections by database key, the services, the registry."""

    connect: Connect
    services: tuple[ServiceSpec, ...] = ALL_SERVICES
    registry: EventRegistry = field(default_factory=build_registry)
    topic_name: Callable[[str], str] = str
    """The (namespaced) Kafka name of a topic: ``Settings.topic``."""


def pool_connect(event_pool: asyncpg.Pool, pools: Mapping[str, asyncpg.Pool]) -> Connect:
    """Return a :data:`Connect` over asyncpg pools (the event store's and each service's)."""

    def connect(key: str) -> AbstractAsyncContextManager[asyncpg.Connection]:
        pool = event_pool if key == "event_store" else pools[key]
        acquired: AbstractAsyncContextManager[asyncpg.Connection] = pool.acquire()
        return acquired

    return connect


def engine_connect(engines: Mapping[str, AsyncEngine]) -> Connect:
    """Return a :data:`Connect` over SQLAlchemy engines (asyncpg driver), keyed like :data:`Connect`."""

    @asynccontextmanager
    async def connect(key: str) -> AsyncIterator[asyncpg.Connection]:
        async with engines[key].connect() as conn:
            raw = await conn.get_raw_connection()
            yield raw.driver_connection

    return connect


@asynccontextmanager
async def open_ops(
    settings: Settings, services: tuple[ServiceSpec, ...] = ALL_SERVICES
) -> AsyncIterator[OpsContext]:
    """Open small pools on the event store and every service database for one operation."""
    event_pool = await create_pool(settings.dsn_for("event_store"), max_size=2)
    pools: dict[str, asyncpg.Pool] = {}
    try:
        for spec in services:
            pools[spec.name] = await create_pool(settings.dsn_for(spec.name), max_size=2)
        yield OpsContext(
            connect=pool_connect(event_pool, pools), services=services, topic_name=settings.topic
        )
    finally:
        for pool in pools.values():
            await pool.close()
        await event_pool.close()


def _projections(ctx: OpsContext) -> list[tuple[ServiceSpec, Projection, tuple[str, ...]]]:
    """Every projection with its service and the stream types of the topics it consumes."""
    stream_types = {spec.topic: spec.stream_types for spec in ALL_SERVICES}
    return [
        (spec, p.projection, tuple(st for topic in p.topics for st in stream_types.get(topic, ())))
        for spec in ctx.services
        for p in spec.projections
    ]


# --- status and health ---


@dataclass(frozen=True, slots=True)
class PartitionStatus:
    """A projection's consumer progress on one topic partition."""

    topic: str
    partition: int
    next_offset: int
    """0 (with no commit time) when the projection never committed on this partition."""
    last_position: int
    last_event_at: datetime | None
    updated_at: datetime | None
    end_offset: int | None = None
    """The partition's end (next offset to be written), when Kafka was asked."""
    lag_records: int | None = None
    """Records of the partition not consumed yet (``end_offset - next_offset``), when known."""


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """Where one projection stands against the log."""

    service: str
    projection: str
    head_position: int
    """Newest log position of the stream types this projection consumes (0: none yet)."""
    projected_position: int
    """Newest log position it applied."""
    lag_events: int
    """Log events of its stream types not yet applied (open dead letters excluded: counted apart)."""
    lag_seconds: float
    """Age of the oldest of those events (its ``occurred_at``); 0 when caught up."""
    last_checkpoint_at: datetime | None
    """When its consumer last committed a batch (any partition)."""
    open_dead_letters: int
    last_error: str | None
    stalled: bool
    partitions: tuple[PartitionStatus, ...]


_LAG = """
SELECT (SELECT max(position) FROM saga_events WHERE stream_type = ANY($1::text[])) AS head,
       count(*) AS lag,
       min(e.occurred_at) AS oldest
FROM saga_events e
LEFT JOIN unnest($2::uuid[], $3::int[]) AS p(stream_id, version) ON p.stream_id = e.stream_id
WHERE e.stream_type = ANY($1::text[])
  AND e.stream_version > coalesce(p.version, 0)
  AND NOT (e.id = ANY($4::uuid[]))
"""


async def projection_status(
    ctx: OpsContext,
    *,
    stall_after: timedelta = DEFAULT_STALL_AFTER,
    now: datetime | None = None,
    end_offsets: Mapping[tuple[str, int], int] | None = None,
) -> list[ProjectionStatus]:
    """Return every projection's position, the log head, its lag and whether it is stalled.

    Stalled: events have waited longer than ``stall_after`` and the consumer has not
    committed for that long either (the head moved, the checkpoint did not). A projector
    that is merely behind but committing is lagging, not stalled. With ``end_offsets``
    (:func:`kafka_end_offsets`, by namespaced topic and partition) each partition also
    reports its Kafka lag, including partitions the projection never committed on.
    """
    at = now or datetime.now(UTC)
    result = []
    for spec, projection, stream_types in _projections(ctx):
        async with ctx.connect(spec.name) as conn:
            versions = await conn.fetch(
                "SELECT stream_id, stream_version, position FROM projection_stream_versions "
                "WHERE projection = $1",
                projection.name,
            )
            offsets = await conn.fetch(
                "SELECT topic, partition, next_offset, last_position, last_event_at, updated_at "
                "FROM projection_offsets WHERE projection = $1 ORDER BY topic, partition",
                projection.name,
            )
            open_letters = await conn.fetch(
                "SELECT event_id, error FROM projection_dead_letters "
                "WHERE projection = $1 AND resolved_at IS NULL ORDER BY id DESC",
                projection.name,
            )
        async with ctx.connect("event_store") as conn:
            row = await conn.fetchrow(
                _LAG,
                list(stream_types),
                [r["stream_id"] for r in versions],
                [r["stream_version"] for r in versions],
                [r["event_id"] for r in open_letters if r["event_id"] is not None],
            )
        lag = int(row["lag"])
        lag_seconds = max((at - row["oldest"]).total_seconds(), 0.0) if lag else 0.0
        checkpoint_at = max((r["updated_at"] for r in offsets), default=None)
        quiet_for = (at - checkpoint_at).total_seconds() if checkpoint_at else float("inf")
        limit = stall_after.total_seconds()
        result.append(
            ProjectionStatus(
                service=spec.name,
                projection=projection.name,
                head_position=int(row["head"] or 0),
                projected_position=max((int(r["position"]) for r in versions), default=0),
                lag_events=lag,
                lag_seconds=lag_seconds,
                last_checkpoint_at=checkpoint_at,
                open_dead_letters=len(open_letters),
                last_error=open_letters[0]["error"] if open_letters else None,
                stalled=lag > 0 and lag_seconds > limit and quiet_for > limit,
                partitions=_partitions(ctx, spec, projection, offsets, end_offsets or {}),
            ),
        )
    return result


def _partitions(
    ctx: OpsContext,
    spec: ServiceSpec,
    projection: Projection,
    offsets: Sequence[asyncpg.Record],
    end_offsets: Mapping[tuple[str, int], int],
) -> tuple[PartitionStatus, ...]:
    topics = {ctx.topic_name(t) for p in spec.projections if p.projection is projection for t in p.topics}
    committed = {(r["topic"], r["partition"]): PartitionStatus(**dict(r)) for r in offsets}
    for key in end_offsets:
        if key[0] in topics and key not in committed:
            committed[key] = PartitionStatus(key[0], key[1], 0, 0, None, None)
    result = []
    for key in sorted(committed):
        end = end_offsets.get(key)
        lag = None if end is None else max(end - committed[key].next_offset, 0)
        result.append(replace(committed[key], end_offset=end, lag_records=lag))
    return tuple(result)


async def kafka_end_offsets(bootstrap: str, topics: Sequence[str]) -> dict[tuple[str, int], int]:
    """Return the end offset of every partition of ``topics`` (read without joining a group)."""
    # Subscribing in the constructor makes start() fetch these topics' partition metadata.
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for topic in topics for p in consumer.partitions_for_topic(topic) or ()
        ]
        ends = await consumer.end_offsets(partitions) if partitions else {}
    finally:
        await consumer.stop()
    return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}


@dataclass(frozen=True, slots=True)
class HealthReport:
    """``ok``; ``degraded`` (open dead letters); ``unhealthy`` (a stalled projection or a database down)."""

    status: Literal["ok", "degraded", "unhealthy"]
    problems: tuple[str, ...]
    projections: tuple[ProjectionStatus, ...]


async def health(ctx: OpsContext, *, stall_after: timedelta = DEFAULT_STALL_AFTER) -> HealthReport:
    """Return the readiness of the system: databases answer and no projection is stalled."""
    try:
        statuses = await projection_status(ctx, stall_after=stall_after)
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        return HealthReport("unhealthy", (f"database unavailable: {type(exc).__name__}: {exc}",), ())
    problems = [
        f"{s.projection}: stalled, {s.lag_events} events waiting for {s.lag_seconds:.0f}s"
        for s in statuses
        if s.stalled
    ]
    dead = [
        f"{s.projection}: {s.open_dead_letters} open dead letters" for s in statuses if s.open_dead_letters
    ]
    status: Literal["ok", "degraded", "unhealthy"] = "unhealthy" if problems else "degraded" if dead else "ok"
    return HealthReport(status, (*problems, *dead), tuple(statuses))


# --- dead letters ---


class DeadLetterError(LookupError):
    """A dead letter named by an operator cannot be acted on; says why."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One row of a service's ``projection_dead_letters``; ``ref`` is ``service:id``."""

    ref: str
    projection: str
    stream_id: UUID | None
    stream_version: int | None
    event_type: str | None
    error: str
    parked_behind: int | None
    resolved_at: datetime | None
    created_at: datetime


def parse_ref(ref: str) -> tuple[str, int]:
    """Split ``scene:12`` into its service and row id."""
    service, _, row_id = ref.partition(":")
    if not service or not row_id.isdigit():
        raise DeadLetterError(f"dead letter reference {ref!r}: expected SERVICE:ID, e.g. scene:12")
    return service, int(row_id)


async def list_dead_letters(
    ctx: OpsContext, *, include_resolved: bool = False, projection: str | None = None
) -> list[DeadLetter]:
    """Return dead letters of every service (open ones only unless ``include_resolved``)."""
    found = []
    for spec in ctx.services:
        async with ctx.connect(spec.name) as conn:
            rows = await conn.fetch(
                "SELECT id, projection, stream_id, stream_version, event_type, error, parked_behind, "
                "resolved_at, created_at FROM projection_dead_letters "
                "WHERE ($1 OR resolved_at IS NULL) AND ($2::text IS NULL OR projection = $2) ORDER BY id",
                include_resolved,
                projection,
            )
        found += [
            DeadLetter(ref=f"{spec.name}:{r['id']}", **{k: v for k, v in dict(r).items() if k != "id"})
            for r in rows
        ]
    return found


@dataclass(frozen=True, slots=True)
class ReleaseOutcome:
    """What a retry or skip did: events applied, and the dead letters still open afterwards."""

    applied: int
    skipped: int
    still_open: tuple[str, ...]


class ConnectionAsPool:
    """Lets a runner work inside our transaction: its own transactions become savepoints."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @asynccontextmanager
    async def acquire(self) -> AsyncIterator[asyncpg.Connection]:
        """Lend the one connection."""
        yield self._conn


class _ProbeRollbackError(Exception):
    """Raised to undo a probe apply."""


def _headers(row: asyncpg.Record) -> tuple[tuple[str, bytes], ...]:
    stored = row["headers"]
    texts: dict[str, str] = json.loads(stored) if isinstance(stored, str) else stored
    return tuple((k, v.encode()) for k, v in texts.items())


def _delivery(row: asyncpg.Record, registry: EventRegistry, opened: bytes | None = None) -> Delivery:
    """Decode a dead letter's record; ``opened`` is its value with personal fields opened (never kept)."""
    headers = _headers(row)
    value = bytes(row["value"])
    try:
        # Upcasts old schema versions, like any delivery.
        recorded = decode_event(headers, value if opened is None else opened, registry)
    except MalformedEventMessageError as exc:
        return Delivery(row["topic"], row["partition"], row["offset"], headers, value, None, str(exc))
    return Delivery(row["topic"], row["partition"], row["offset"], headers, value, recorded)


async def _deliveries(ctx: OpsContext, rows: Sequence[asyncpg.Record]) -> list[Delivery]:
    """Decode dead letters; sealed personal fields are opened with the event store's keys.

    A dead letter keeps the value as it came from Kafka (sealed); only the decoded event, used
    for the apply, sees clear values, exactly as the live projector does.
    """
    records = [(_headers(r), bytes(r["value"])) for r in rows]
    async with ctx.connect("event_store") as es:
        opened = await open_values(PersonalDataKeys(es), records, ctx.registry)
    return [_delivery(r, ctx.registry, o) for r, o in zip(rows, opened, strict=True)]


async def _apply_and_undo(conn: asyncpg.Connection, projection: Projection, event: DomainEvent) -> None:
    async with conn.transaction():  # a savepoint, rolled back by the raise
        await projection.handlers[type(event)](conn, event)
        raise _ProbeRollbackError


async def _failure_reason(conn: asyncpg.Connection, projection: Projection, d: Delivery) -> str:
    """Why ``d`` still cannot be applied: its decode error, or its apply's error (undone)."""
    if d.recorded is None:
        return d.decode_error or "undecodable record"
    event = d.recorded.event
    if projection.handles(event):
        try:
            await _apply_and_undo(conn, projection, event)
        except POISON_ERRORS as exc:
            return f"{type(exc).__name__}: {exc}"
        except _ProbeRollbackError:
            pass  # it applies on its own: the batch failed on a stream gap instead
    return "still cannot be applied (stream gap or earlier failure)"


async def release_dead_letter(ctx: OpsContext, ref: str, *, skip: bool) -> ReleaseOutcome:
    """Retry (``skip=False``) or skip a dead letter and release the events parked behind it.

    Only the head of a stream's dead letters (one not parked behind another) can be named.
    Retry re-applies the head and then its parked events, in stream order, through the
    projection's runner (decoded and upcast like any delivery). Skip marks the head resolved
    without applying it (the stream's projected version moves past it) and re-applies the
    parked ones. Both run in one transaction: every applied event's dead letter is resolved;
    the first event that fails again becomes the stream's new head (its error refreshed) with
    the later ones parked behind it, so per-stream order is kept.
    """
    service_name, row_id = parse_ref(ref)
    spec = next((s for s in ctx.services if s.name == service_name), None)
    if spec is None:
        raise DeadLetterError(f"{ref}: no service {service_name!r}")
    async with ctx.connect(spec.name) as conn, conn.transaction():
        head = await conn.fetchrow("SELECT * FROM projection_dead_letters WHERE id = $1 FOR UPDATE", row_id)
        if head is None:
            raise DeadLetterError(f"{ref}: no such dead letter")
        if head["resolved_at"] is not None:
            raise DeadLetterError(f"{ref}: already resolved at {head['resolved_at'].isoformat()}")
        if head["parked_behind"] is not None:
            raise DeadLetterError(
                f"{ref}: parked behind {spec.name}:{head['parked_behind']}; release that one"
            )
        projection = next(
            (p.projection for p in spec.projections if p.projection.name == head["projection"]), None
        )
        if projection is None:
            raise DeadLetterError(f"{ref}: projection {head['projection']!r} is not part of {spec.name}")
        parked = await conn.fetch(
            "SELECT * FROM projection_dead_letters WHERE parked_behind = $1 AND resolved_at IS NULL "
            "ORDER BY stream_version, id FOR UPDATE",
            row_id,
        )
        group = [head, *parked]
        await conn.execute(
            "UPDATE projection_dead_letters SET resolved_at = now() WHERE id = ANY($1::bigint[])",
            [r["id"] for r in group],
        )
        if skip and head["stream_id"] is not None:
            await conn.execute(
                "INSERT INTO projection_stream_versions (projection, stream_id, stream_version, position) "
                "VALUES ($1, $2, $3, $4) ON CONFLICT (projection, stream_id) DO UPDATE SET "
                "stream_version = GREATEST(projection_stream_versions.stream_version, "
                "EXCLUDED.stream_version), "
                "position = GREATEST(projection_stream_versions.position, EXCLUDED.position)",
                projection.name,
                head["stream_id"],
                head["stream_version"],
                head["position"] or 0,
            )
        to_apply = parked if skip else group
        by_coords = {(r["topic"], r["partition"], r["offset"]): int(r["id"]) for r in to_apply}
        deliveries = await _deliveries(ctx, to_apply)
        outcome = await ProjectionRunner(ConnectionAsPool(conn), projection).handle_batch(deliveries)
        failed = [by_coords[(d.topic, d.partition, d.offset)] for d in outcome.dead_lettered]
        if failed:
            reason = await _failure_reason(conn, projection, outcome.dead_lettered[0])
            await conn.execute(
                "UPDATE projection_dead_letters SET resolved_at = NULL, parked_behind = NULL, error = $2 "
                "WHERE id = $1",
                failed[0],
                reason,
            )
            await conn.execute(
                "UPDATE projection_dead_letters SET resolved_at = NULL, parked_behind = $1 "
                "WHERE id = ANY($2::bigint[])",
                failed[0],
                failed[1:],
            )
    return ReleaseOutcome(
        applied=outcome.applied,
        skipped=1 if skip else 0,
        still_open=tuple(f"{spec.name}:{i}" for i in failed),
    )


async def apply_skip_policy(ctx: OpsContext, policies: Mapping[str, DeadLetterPolicy]) -> list[str]:
    """Skip every open head dead letter of the projections whose policy is ``skip``; return their refs.

    The runner always parks (``pause``); for a ``skip`` projection this sweep, run by
    housekeeping, lets the stream go on past its dead letters (which stay listed, resolved).
    """
    skipped = []
    for spec in ctx.services:
        for p in spec.projections:
            if policies.get(p.projection.name, "pause") != "skip":
                continue
            while True:
                async with ctx.connect(spec.name) as conn:
                    row_id = await conn.fetchval(
                        "SELECT min(id) FROM projection_dead_letters WHERE projection = $1 "
                        "AND resolved_at IS NULL AND parked_behind IS NULL",
                        p.projection.name,
                    )
                if row_id is None:
                    break
                ref = f"{spec.name}:{row_id}"
                await release_dead_letter(ctx, ref, skip=True)
                skipped.append(ref)
    return skipped


# --- checks ---


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One consistency check or data-quality test of the design."""

    name: str
    status: str
    details: str | None


async def run_checks(ctx: OpsContext, *, movie_id: UUID | None = None) -> list[CheckResult]:
    """Run the design's consistency checks and data-quality tests against the scene read model."""
    async with ctx.connect("scene") as conn:
        consistency = await conn.fetch("SELECT * FROM check_data_consistency($1)", movie_id)
        quality = await conn.fetch("SELECT * FROM run_data_quality_tests($1)", movie_id)
    return [
        *(CheckResult(f"consistency.{r['check_name']}", r["status"], r["details"]) for r in consistency),
        *(CheckResult(f"quality.{r['test_name']}", r["status"], r["details"]) for r in quality),
    ]


# --- housekeeping ---


async def purge_processed_commands(
    ctx: OpsContext, *, retention: timedelta = DEFAULT_COMMAND_RETENTION
) -> int:
    """Delete command ids older than ``retention``; return how many.

    Trade-off: a command redelivered after its id was purged is no longer recognised as a
    duplicate and runs again (usually rejected by the aggregate's own rules, e.g. "already
    exists", but an edit would apply twice). Keep the retention above the longest
    redelivery window of any producer. The outbox needs no purge: the log is the outbox and
    the relay only keeps one checkpoint row per relay.
    """
    async with ctx.connect("event_store") as conn:
        status = await conn.execute(
            "DELETE FROM processed_commands WHERE processed_at < now() - $1::interval", retention
        )
    return int(status.split()[-1])


# --- backup and restore ---


class BackupError(RuntimeError):
    """pg_dump or pg_restore failed; carries its output."""


def _pg_tool(name: str) -> str:
    from infra.stack import find_pg_bindir  # noqa: PLC0415  the stack module is only needed here

    return str(find_pg_bindir() / name)


def _run_tool(command: Sequence[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603  fixed tool, our arguments
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed ({done.returncode}): {done.stderr.strip()}")


def backup_event_store(settings: Settings, path: Path) -> None:
    """Write a ``pg_dump -Fc`` of the event store database (the log, claims, command ids) to ``path``."""
    _run_tool(
        [
            _pg_tool("pg_dump"),
            "-Fc",
            "--no-owner",
            f"--dbname={settings.dsn_for('event_store')}",
            "-f",
            str(path),
        ]
    )


async def restore_event_store(
    settings: Settings, path: Path, *, force: bool = False, keep_relay_checkpoints: bool = False
) -> None:
    """Restore a backup into the settings' event store database (created if missing).

    Refuses a database that already holds events unless ``force``. Relay checkpoints are
    dropped by default so the relay republishes the whole log and the projectors rebuild
    the read models (they ignore events they already applied).
    """
    dsn = settings.dsn_for("event_store")
    await ensure_database(dsn)
    conn = await asyncpg.connect(dsn)
    try:
        has_log = await conn.fetchval("SELECT to_regclass('saga_events') IS NOT NULL")
        if has_log and not force and await conn.fetchval("SELECT EXISTS (SELECT 1 FROM saga_events)"):
            raise BackupError("the event store already holds events; restore with force to replace them")
    finally:
        await conn.close()
    _run_tool(
        [
            _pg_tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            f"--dbname={dsn}",
            str(path),
        ],
    )
    if not keep_relay_checkpoints:
        conn = await asyncpg.connect(dsn)
        try:
            with contextlib.suppress(asyncpg.UndefinedTableError):
                await conn.execute("DELETE FROM relay_checkpoints")
        finally:
            await conn.close()


def as_json(value: Any) -> Any:  # noqa: ANN401  any of this module's dataclasses, nested
    """Return a JSON-ready copy of an ops result (dataclasses, datetimes, UUIDs)."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: as_json(getattr(value, k)) for k in value.__dataclass_fields__}
    if isinstance(value, list | tuple):
        return [as_json(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, float) and value == float("inf"):
        return None
    return value
