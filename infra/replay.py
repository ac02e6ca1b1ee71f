"""Rebuild a service's read models from ``saga_events`` into a shadow schema, verify, swap atomically.

Protocol (blue/green, per service database, since the swap replaces the whole ``public`` schema
every projection of that service is rebuilt together):

1. **Shadow.** ``public_shadow_<id>`` is created and migrated in one transaction (the migrations
   recorded as applied in ``public.schema_migrations``, run with ``search_path`` set to the
   shadow, so tables, functions, triggers and seed rows such as ``genres`` land there; extensions
   stay where they are). The live schema keeps serving meanwhile.
2. **Build.** The log is read gap-safely, exactly like the outbox relay: in ``(tx_id, position)``
   order below the oldest running transaction, in batches of thousands, restricted to the stream
   types the service's projections consume. Each batch goes through the projections' own
   :class:`ProjectionRunner` on a pool whose ``search_path`` is the shadow, so the per-stream
   checkpoints (``projection_stream_versions``) and a ``replay_progress`` row (the log cursor) live
   in the shadow. A rebuild stopped anywhere is resumed by running it again: the cursor says where
   to read from and the stream checkpoints make a re-applied batch a no-op. A reading that
   starts on a new shadow (no cursor, checkpoint or dead letter) knows every checkpoint without
   reading it (the version before a stream's first event in the batch: the log is read gap-free
   from its start, and the advisory lock below makes it the only writer), so its runners skip
   that read and insert new streams' checkpoints by COPY, still in each batch's transaction; a
   resumed or caught-up shadow reads them as before. Services rebuilt together (``replay
   --all``) share one reading of the log: each row is read and decoded once and handed to every
   shadow consuming its stream type; each shadow keeps its own cursor.
3. **Catch up under a lock, then swap, in one transaction.** ``public.projection_stream_versions``
   is locked ``ACCESS EXCLUSIVE``: every live projector transaction starts by reading it, so the
   live projectors of this database finish their batch in flight and then wait. The shadow reads
   the log to its head, and then every stream the live side has applied further than the shadow
   (the relay may publish an event the shadow's horizon had not reached yet) gets its missing
   events applied from the log, so the shadow is at or ahead of the live schema on every stream.
   The live Kafka offsets are copied into the shadow, extensions living in ``public`` move to the
   shadow (``btree_gist``: the old schema can then be dropped without taking the exclusion
   constraints with it), ``public`` is renamed ``public_old_<id>`` and the shadow ``public``.
   After the commit the waiting projector resolves its tables again (PostgreSQL re-looks a name
   up after waiting for a lock, and a schema rename invalidates cached plans) and continues from
   its committed Kafka offset on the new schema: events the shadow already applied are skipped by
   the stream checkpoints, later ones apply. Readers do not touch the locked table, so they
   never wait for it, and see either the old or the new schema.
4. The old schema is dropped afterwards unless asked to keep it.

One builder per shadow schema at a time (a session advisory lock named after it). The shadow's
dead letters are those the rebuild itself produced (the live ones describe the old schema).

``verify`` runs steps 1-2 (and the per-stream catch-up of step 3) into a scratch schema, compares
every read-model table with the live one (row count and an order-independent md5 of the rows,
holding the live projectors for the comparison) and drops the scratch schema. Where the rebuild
is ahead of a lagging live projector the report says so (``ahead_streams``): verify is exact on a
caught-up system.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

import asyncpg
import structlog

from events.base import EventMetadata, RecordedEvent
from events.registry import EventRegistry
from infra.db import create_pool
from infra.migrate import (
    MIGRATIONS_DIR,
    SHARED_PROJECTION_MIGRATIONS,
    MigrationChecksumError,
    load_migrations,
)
from infra.pii import SEALED, SHRED, PersonalDataKeys, open_rows
from infra.relay import LOG_HORIZON_SQL  # the same horizon as the relay: both must read alike
from infra.services import ALL_SERVICES, ServiceSpec, topic_by_stream_type
from infra.settings import SERVICE_DATABASES, Settings
from projections.runner import DECODE_SLICE, Delivery, ProjectionRunner

log = structlog.get_logger(__name__)

BOOKKEEPING_TABLES: frozenset[str] = frozenset(
    {
        "replay_deferred_indexes",
        "projection_stream_versions",
        "projection_offsets",
        "projection_dead_letters",
        "schema_migrations",
        "replay_progress",
    },
)
"""Tables that describe how a read model was built, not what it says: not compared by verify."""

UNSTABLE_COLUMNS: Mapping[str, frozenset[str]] = {
    # gen_random_uuid() by default and written by projections.movies without an id of its own.
    "movie_genres": frozenset({"id"}),
}
"""Columns verify leaves out of the comparison because a rebuild cannot reproduce them."""

REPLAY_TOPIC = "replay"
"""Synthetic topic of deliveries read from the log (partition 0, offset = log position)."""

_AHEAD = 1
"""Batches read and decoded ahead of the batch the slowest target applies (each one batch of memory).

The reading goes on as soon as every target has *taken* its batch off its queue, so the next
batch is read and decoded while that one is applied. It used to wait for a target to
*finish* applying: reading, decoding and applying took turns, and no database had work while
the Python process decoded (a rebuild of the scene database alone on the 203,200-event log
spent 3.45 s of its 9.7 s of log with no batch being applied; now 0.36 s of 6.0 s).
``replay --projection scenes``, alternated runs: 13.8-14.0 -> 10.0-11.8 s at 203,200 events,
57.8 and 62.2 -> 52.7 and 46.1 s at 1,016,000. ``replay --all`` did not change (its Python
process is busy throughout: nothing idle for the overlap to fill). Peak memory did not move."""

REBUILD_BATCH_SIZE = 10_000
"""Log rows a rebuild reads, decodes and applies per transaction. At 5,000 the 203,200-event
bench rebuild took 11.5-12.0 s; at 10,000, 10.8-11.3 s (four alternated pairs, faster in each),
for 40 MB more peak memory (140 -> 180 MB; 20,000 rows: 256 MB and no faster)."""

_TAIL_WORKERS = 2
"""Connections a build's last steps (restoring the deferred indexes, ANALYZE) use at once, per
service database. On one connection they ran one after another on one core (a GIN build uses no
parallel workers): 4-5.5 s of server time in the scene database of a 206,448-event rebuild
(index builds about 2.8 s, ANALYZE 1.7-2.8 s), while the other services had long finished."""

_SCHEMA_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

_FETCH = f"""
SELECT position, tx_id::text AS tx_text, id, stream_id, stream_version, event_type, schema_version,
       event_data::text AS event_text, occurred_at, correlation_id, causation_id, user_id,
       user_role, host(client_addr) AS client_addr
FROM saga_events
WHERE (tx_id, position) > ($1::text::xid8, $2)
  AND tx_id < ({LOG_HORIZON_SQL})
  AND stream_type = ANY($3::text[])
ORDER BY saga_events.tx_id, saga_events.position
LIMIT $4
"""

_FETCH_STREAMS = """
SELECT s.position, s.id, s.stream_id, s.stream_version, s.event_type, s.schema_version,
       s.event_data::text AS event_text,
       s.occurred_at, s.correlation_id, s.causation_id, s.user_id, s.user_role,
       host(s.client_addr) AS client_addr
FROM saga_events s
JOIN unnest($1::uuid[], $2::int[]) AS f(stream_id, after_version)
  ON s.stream_id = f.stream_id AND s.stream_version > f.after_version
ORDER BY s.position
"""

_CURSOR = """
SELECT tx_id::text AS tx_id, position,
       tx_id = '0'::xid8 AND position = 0 AND events = 0
       AND NOT EXISTS (SELECT 1 FROM projection_stream_versions)
       AND NOT EXISTS (SELECT 1 FROM projection_dead_letters) AS fresh
FROM replay_progress
"""

_PROGRESS_TABLE = """
CREATE TABLE replay_progress (
    id BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (id),
    tx_id XID8 NOT NULL DEFAULT '0'::xid8,
    position BIGINT NOT NULL DEFAULT 0,
    events BIGINT NOT NULL DEFAULT 0,
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
INSERT INTO replay_progress DEFAULT VALUES;
"""

READ_ONLY_BTREE_INDEXES: tuple[str, ...] = (
    "idx_scenes_classification",
    "idx_scenes_movie_start_covering",
    "idx_scenes_movie_time",
    "idx_scene_actors_actor",
    "idx_scene_actors_role",
    "idx_scene_dialogues_actor",
    "idx_scene_dialogues_memorable",
    "idx_scene_dialogues_page_order",
    "idx_scene_dialogues_page_order_long",
    "idx_scene_actors_scene",
    "idx_movie_scene_index_movie",
)
"""B-tree indexes of the bulk tables that no apply function's statement reads during a build:
deferred like the GIN and GiST ones. They serve the read API, the figures' recomputes (which a
build runs after restoring them), an operator's ``replay --movie`` (the movies' index by movie),
or repeat a unique index's leading column (a scene's cast by ``scene_id``: its deletes use
``UNIQUE (scene_id, actor_id)``). Not here: indexes an apply or a cascade looks rows up by
(``scene_id`` of lines, ``parent_scene_id``, the actors' index by actor: the one-by-one functions
recount an actor's scenes, and a build applies some events, e.g. a cast removal, one by one),
nor any backing a constraint."""

DEFERRED_FOREIGN_KEYS: tuple[str, ...] = ("scene_actors_scene_id_fkey", "scene_dialogues_scene_id_fkey")
"""Foreign keys a new shadow reads the log without and gets back, validated, with the deferred
indexes (a violation fails the build there). Their per-row checks were a third of the cast and
line inserts' server time; the scenes projection does not rely on them (scene_service 0019: it
rejects a child of a missing scene with the same error, and deletes a scene's cast and lines
itself)."""

# Run in a new shadow (search_path = the shadow): its GIN and GiST indexes that back no
# constraint, and the b-trees above, serve reads only (search, overlaps), never an apply, and
# cost far more to keep up row by row than to build once. They are dropped here and created
# again from their recorded definitions after the log is read, before the figures are settled
# (``_restore_indexes``).
_DEFER_INDEXES = f"""
CREATE TABLE replay_deferred_indexes (name TEXT PRIMARY KEY, definition TEXT NOT NULL);
INSERT INTO replay_deferred_indexes
SELECT c.relname, pg_get_indexdef(c.oid)
FROM pg_index i
JOIN pg_class c ON c.oid = i.indexrelid
JOIN pg_am a ON a.oid = c.relam
WHERE c.relnamespace = current_schema()::regnamespace
  AND (a.amname IN ('gin', 'gist')
       OR c.relname IN ({", ".join(f"'{n}'" for n in READ_ONLY_BTREE_INDEXES)}))
  AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid);
DO $$
DECLARE n TEXT;
BEGIN
    FOR n IN SELECT name FROM replay_deferred_indexes LOOP
        EXECUTE format('DROP INDEX %I', n);
    END LOOP;
END $$;
INSERT INTO replay_deferred_indexes
SELECT k.conname,
       format('ALTER TABLE %I ADD CONSTRAINT %I %s', c.relname, k.conname, pg_get_constraintdef(k.oid))
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
WHERE c.relnamespace = current_schema()::regnamespace
  AND k.contype = 'f'
  AND k.conname IN ({", ".join(f"'{n}'" for n in DEFERRED_FOREIGN_KEYS)});
DO $$
DECLARE r RECORD;
BEGIN
    FOR r IN SELECT c.relname, k.conname FROM pg_constraint k
             JOIN pg_class c ON c.oid = k.conrelid
             JOIN replay_deferred_indexes d ON d.name = k.conname
             WHERE c.relnamespace = current_schema()::regnamespace AND k.contype = 'f' LOOP
        EXECUTE format('ALTER TABLE %I DROP CONSTRAINT %I', r.relname, r.conname);
    END LOOP;
END $$;
"""

_DEFERRED_LONGEST_FIRST = r"""
SELECT name, definition
FROM replay_deferred_indexes,
     LATERAL (SELECT coalesce((regexp_match(definition, ' ON (\S+) USING '))[1],
                              (regexp_match(definition, '^ALTER TABLE (\S+) '))[1]) AS tab) t
ORDER BY coalesce(pg_relation_size(to_regclass(t.tab)), 0)
         * CASE WHEN definition ~ ' USING gin ' THEN 8
                WHEN definition ~ ' USING gist ' THEN 4
                ELSE 1 END DESC,
         name
"""
"""The deferred indexes and constraints, the longest to build first (its table's size, a GIN build
weighing 8 b-tree builds and a GiST one 4, as measured at 1M events: 3.9 s for the lines' GIN
against 0.2-0.5 s for their b-trees): the longest build first, so that the workers end close
together (in name order the lines' GIN build started after six others). At 1M events the scene
database's restore took 6.25 s against 6.5 s before; its builds are about 11.8 s of CPU on two
workers, so little more is to be had from the order."""

# Streams the live schema has applied further than the shadow, per projection.
_BEHIND = """
SELECT l.projection, l.stream_id, coalesce(s.stream_version, 0) AS shadow_version
FROM public.projection_stream_versions l
LEFT JOIN {shadow}.projection_stream_versions s USING (projection, stream_id)
WHERE l.stream_version > coalesce(s.stream_version, 0)
"""


class ProgressSink(Protocol):
    """Receives progress of a rebuild (a progress bar, log lines, or nothing)."""

    def start(self, label: str, total: int, done: int) -> None:
        """Begin a rebuild of ``label``: ``total`` events in the log, ``done`` already applied."""

    def advance(self, events: int) -> None:
        """``events`` more events were read and applied."""

    def finish(self) -> None:
        """End the rebuild's reading."""


class PendingMigrationsError(RuntimeError):
    """The live database is behind this code's migrations: a shadow built now would lack tables."""


class RebuildInProgressError(RuntimeError):
    """Another process is building the same shadow schema right now."""


class _NoProgress:
    def start(self, label: str, total: int, done: int) -> None:
        pass

    def advance(self, events: int) -> None:
        pass

    def finish(self) -> None:
        pass


@dataclass(frozen=True, slots=True)
class TableDiff:
    """A read-model table whose rebuilt content differs from the live one."""

    table: str
    live_rows: int
    rebuilt_rows: int
    only_live: tuple[str, ...] = ()
    """Up to a few rows (as text) present live but not in the rebuild."""
    only_rebuilt: tuple[str, ...] = ()

    def describe(self) -> str:
        """One paragraph for a terminal."""
        lines = [f"{self.table}: live {self.live_rows} rows, rebuilt {self.rebuilt_rows} rows"]
        lines += [f"  - live only:    {row}" for row in self.only_live]
        lines += [f"  + rebuilt only: {row}" for row in self.only_rebuilt]
        return "\n".join(lines)


@dataclass(slots=True)
class RebuildReport:
    """What one rebuild or verification of a service did."""

    service: str
    schema: str
    events: int = 0
    """Events read from the log in this run (a resumed run counts only its own)."""
    resumed_from: int = 0
    """Log position the run started after (0 for a fresh shadow)."""
    caught_up_streams: int = 0
    """Streams the live side was ahead on at the swap, brought level from the log."""
    swapped: bool = False
    old_schema: str | None = None
    ahead_streams: int = 0
    """Streams the rebuild applied further than the live projectors (verify: live lag)."""
    differences: list[TableDiff] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    """Wall-clock seconds of each step this service went through, in order (see ``STEPS``)."""


STEPS: tuple[str, ...] = ("shadow", "log", "indexes", "statistics", "settle", "swap")
"""A rebuild's steps as :attr:`RebuildReport.seconds` names them: creating (or finding) the
shadow; reading and applying the log, which every service of one run shares, so each shows the
same figure; restoring the deferred indexes; ANALYZE; settling the deferred figures; and
catching up, swapping and dropping the old schema."""

T = TypeVar("T")


async def _timed(report: RebuildReport, step: str, aw: Awaitable[T]) -> T:
    """Await ``aw``, adding its wall-clock seconds to ``report.seconds[step]`` (failed or not)."""
    started = time.perf_counter()
    try:
        return await aw
    finally:
        report.seconds[step] = report.seconds.get(step, 0.0) + time.perf_counter() - started


def services_for(projection: str | None) -> tuple[ServiceSpec, ...]:
    """Return the services to rebuild: the one owning ``projection``, or all when it is ``None``."""
    if projection is None:
        return tuple(s for s in ALL_SERVICES if s.projections)
    for spec in ALL_SERVICES:
        if any(p.projection.name == projection for p in spec.projections):
            return (spec,)
    known = sorted(p.projection.name for s in ALL_SERVICES for p in s.projections)
    raise KeyError(f"no projection {projection!r}; one of {known}")


def _check_schema(name: str) -> str:
    # Identifiers cannot be bound as parameters: only names of this shape are ever interpolated.
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"invalid schema name {name!r}")
    return name


def _stream_type(d: Delivery) -> str | None:
    return d.recorded.event.stream_type if d.recorded else None


_METADATA_COLUMNS = ("correlation_id", "causation_id", "user_id", "user_role", "client_addr")
_MARKERS = (f'"{SEALED}"', f'"{SHRED}"')
"""How a payload with personal data (``infra.pii``) shows in its JSON text: only such rows are opened."""


def recorded_from_log(
    row: asyncpg.Record | Mapping[str, Any],
    payload: dict[str, Any] | None,
    registry: EventRegistry,
    metadata: dict[tuple[Any, ...], EventMetadata],
) -> RecordedEvent:
    """``infra.pg_event_store.recorded_from_row`` of a log row whose ``event_data`` is ``payload``.

    ``payload`` is the caller's to give away (:meth:`EventRegistry.load_owned` writes into it);
    ``None``: the row's ``event_text`` is decoded (:meth:`EventRegistry.load_json`).

    ``metadata`` maps the row's metadata columns to their :class:`EventMetadata`, filled as
    rows are decoded: the events of one command share theirs (a frozen model: one instance
    serves them all), so it is validated once instead of per row.
    """
    if payload is None:
        event = registry.load_json(
            event_type=row["event_type"],
            schema_version=row["schema_version"],
            text=row["event_text"],
            event_id=row["id"],
            stream_id=row["stream_id"],
            stream_version=row["stream_version"],
            occurred_at=row["occurred_at"],
        )
    else:
        event = registry.load_owned(
            event_type=row["event_type"],
            schema_version=row["schema_version"],
            payload=payload,
            event_id=row["id"],
            stream_id=row["stream_id"],
            stream_version=row["stream_version"],
            occurred_at=row["occurred_at"],
        )
    key = (row["correlation_id"], row["causation_id"], row["user_id"], row["user_role"], row["client_addr"])
    meta = metadata.get(key)
    if meta is None:
        meta = metadata[key] = registry.metadata(dict(zip(_METADATA_COLUMNS, key, strict=True)))
    return registry.recorded(event, row["position"], meta)


async def _deliveries(
    events: asyncpg.Pool,
    rows: Sequence[asyncpg.Record],
    registry: EventRegistry,
) -> list[Delivery]:
    """Deliveries of log rows (with ``event_text``), personal fields opened with the keys there still are.

    Decoded :data:`DECODE_SLICE` rows between two turns of the event loop, as the live
    projector does: the targets applying the batch before in this loop get their statements'
    replies handled and send their next ones meanwhile, instead of waiting for the whole batch
    (its decoding was one 100-130 ms stretch of Python per 5,000 rows, and the rebuild of the
    scene database, its critical path, waited for it).
    """
    # The stored JSON is fetched once, as the server prints it: validated from that text in one
    # call (parsing included), and kept as the delivery's value, only for a dead letter
    # (serialising the decoded dict again was a tenth of a rebuild's time, and fetching the
    # jsonb decoded as well doubled the transfer). Only rows with personal data are parsed
    # apart, to be opened first.
    opened: dict[int, dict[str, Any]] = {}
    sealed = [i for i, r in enumerate(rows) if _MARKERS[0] in (t := r["event_text"]) or _MARKERS[1] in t]
    if sealed:
        rows_opened = await open_rows(
            PersonalDataKeys(events),
            # open_rows reads rows by column name: a dict with the parsed payload serves as one.
            [{**dict(rows[i].items()), "event_data": json.loads(rows[i]["event_text"])} for i in sealed],
            registry,
        )
        opened = {i: row["event_data"] for i, row in zip(sealed, rows_opened, strict=True)}
    metadata: dict[tuple[Any, ...], EventMetadata] = {}  # one batch's: at most a batch of entries
    deliveries: list[Delivery] = []
    for start in range(0, len(rows), DECODE_SLICE):
        if start:
            await asyncio.sleep(0)
        deliveries += [
            Delivery(
                topic=REPLAY_TOPIC,
                partition=0,
                offset=row["position"],
                headers=(),
                value=row["event_text"].encode(),
                recorded=recorded_from_log(row, opened.get(i), registry, metadata),
            )
            for i, row in enumerate(rows[start : start + DECODE_SLICE], start)
        ]
    return deliveries


async def _analyze(target: _Target) -> None:
    """Gather planner statistics of every table of a shadow just built.

    The settles recompute figures over whole tables with correlated subqueries; planned on a
    new schema's empty-table estimates, the movie stats recompute of a 203,200-event rebuild
    took 15.5 s instead of under 1 s (autovacuum had analyzed the tables in time only when
    the build left enough dead rows behind to wake it).
    """
    # Largest first, shared out over _TAIL_WORKERS connections (see there).
    tables: list[str] = [
        r["tablename"]
        for r in await target.pool.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 "
            "ORDER BY pg_table_size(format('%I.%I', schemaname, tablename)::regclass) DESC, tablename",
            _check_schema(target.schema),
        )
    ]

    async def worker() -> None:
        async with target.pool.acquire() as conn:
            while tables:
                # Table names are identifiers of our migrations: the schema name pattern fits them.
                await conn.execute(f'ANALYZE "{target.schema}"."{_check_schema(tables.pop(0))}"')

    await _all(*(worker() for _ in range(_TAIL_WORKERS)))


async def _all(*aws: Awaitable[object]) -> None:
    """Await every one of ``aws`` to its end, then raise the first error there was.

    Unlike a bare ``gather``, nothing is left running (on a pool about to be closed) when one
    of them fails.
    """
    for outcome in await asyncio.gather(*aws, return_exceptions=True):
        if isinstance(outcome, BaseException):
            raise outcome


def _after(
    rows: Sequence[asyncpg.Record],
    typed: Sequence[tuple[str | None, Delivery]],
    cursor: tuple[int, int],
    stream_types: frozenset[str],
) -> list[tuple[str | None, Delivery]]:
    """Return the deliveries of ``stream_types`` among ``rows`` after ``cursor`` (tx_id, position)."""
    if cursor < (int(rows[0]["tx_text"]), rows[0]["position"]):  # the usual case: the whole batch
        return [td for td in typed if td[0] in stream_types]
    return [
        td
        for r, td in zip(rows, typed, strict=True)
        if (int(r["tx_text"]), r["position"]) > cursor and td[0] in stream_types
    ]


@dataclass(slots=True)
class _Target:
    """One schema being built from the log: its service, its pool (``search_path`` = the schema)."""

    spec: ServiceSpec
    schema: str
    pool: asyncpg.Pool
    runners: list[tuple[ProjectionRunner, frozenset[str]]]
    stream_types: frozenset[str]
    fresh: bool = False
    """Nothing applied to the schema yet when this reading began (no cursor, checkpoint or dead
    letter): its runners are handed their batches as ``fresh`` (see ProjectionRunner.handle_batch)."""


_Batch = list[tuple[str | None, Delivery]]
"""Deliveries of a batch with the stream type of each."""


class _LogReading:
    """One reading of the log into several targets (see :meth:`ReplayEngine._read_log`)."""

    def __init__(
        self,
        targets: Sequence[_Target],
        events: asyncpg.Pool,
        registry: EventRegistry,
        progress: ProgressSink,
        cursors: list[tuple[int, int]],
        *,
        batch_size: int,
        settle: bool,
    ) -> None:
        self._targets = targets
        self._events = events
        self._registry = registry
        self._progress = progress
        self._cursors = cursors
        self._batch_size = batch_size
        self._settle = settle
        self._stream_types = sorted(frozenset[str]().union(*(t.stream_types for t in targets)))
        self._read = [0] * len(targets)
        self._queues: list[asyncio.Queue[tuple[_Batch, tuple[int, int]] | None]] = [
            asyncio.Queue() for _ in targets
        ]
        self._taken = asyncio.Event()
        """Set when a target takes a batch off its queue (or stops): the reading may go on."""
        self._errors: list[BaseException] = []

    async def run(self) -> list[int]:
        """Read to the head of the log; return the events applied to each target."""
        tasks = [
            asyncio.ensure_future(self._produce()),
            *(asyncio.ensure_future(self._consume(i)) for i in range(len(self._targets))),
        ]
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            for task in tasks:
                task.cancel()
            # Only cleanup (an outer cancellation): the error to raise is the first recorded.
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.gather(*tasks, return_exceptions=True)
        if self._errors:
            raise self._errors[0]
        return self._read

    async def _fetch(self, after: tuple[int, int]) -> tuple[list[asyncpg.Record], _Batch]:
        rows = await self._events.fetch(_FETCH, str(after[0]), after[1], self._stream_types, self._batch_size)
        # Each delivery's stream type, looked up once for all the filters below.
        deliveries = await _deliveries(self._events, rows, self._registry)
        return rows, [(_stream_type(d), d) for d in deliveries]

    async def _produce(self) -> None:
        queued = list(self._cursors)  # where each target's queued batches end
        after = min(self._cursors)
        try:
            while not self._errors:
                # Memory: at most _AHEAD decoded batches wait for the slowest target.
                while not self._errors and any(q.qsize() >= _AHEAD for q in self._queues):
                    self._taken.clear()
                    await self._taken.wait()
                rows, typed = await self._fetch(after)
                if not rows:
                    return
                after = (int(rows[-1]["tx_text"]), rows[-1]["position"])
                for i, target in enumerate(self._targets):
                    if queued[i] < after:  # else resumed past this whole batch
                        mine = _after(rows, typed, queued[i], target.stream_types)
                        self._queues[i].put_nowait((mine, after))
                        queued[i] = after
        except BaseException as exc:
            self._errors.append(exc)
            raise
        finally:
            for q in self._queues:
                q.put_nowait(None)

    async def _consume(self, i: int) -> None:
        while (item := await self._queues[i].get()) is not None:
            self._taken.set()  # room in the queue: the next batch is read while this one is applied
            mine, end = item
            if not self._errors:  # else only drained: the reading must never wait on this queue
                try:
                    await self._apply(i, mine, end)
                    self._progress.advance(len(mine))
                except Exception as exc:  # noqa: BLE001  any: recorded, raised by run() once all are over
                    self._errors.append(exc)
                    self._taken.set()  # the reading, if waiting, stops

    async def _apply(self, i: int, mine: _Batch, end: tuple[int, int]) -> None:
        target = self._targets[i]
        await _all(
            *(
                runner.handle_batch(batch, settle=self._settle, fresh=target.fresh)
                for runner, consumed in target.runners
                if (batch := [d for t, d in mine if t in consumed])
            ),
        )
        # After the batch commits: a crash in between re-applies the batch as duplicates.
        await target.pool.execute(
            "UPDATE replay_progress SET tx_id = $1::text::xid8, position = $2, "
            "events = events + $3, updated_at = now()",
            str(end[0]),
            end[1],
            len(mine),
        )
        self._cursors[i] = end
        self._read[i] += len(mine)


class ReplayEngine:
    """Rebuilds, verifies and swaps the read models of services (see the module docstring)."""

    def __init__(
        self,
        settings: Settings,
        registry: EventRegistry,
        *,
        batch_size: int = REBUILD_BATCH_SIZE,
        progress: ProgressSink | None = None,
    ) -> None:
        self._settings = settings
        # The log's events were validated when appended: decode them as trusted (same result).
        self._registry = registry.trusted()
        self._batch_size = batch_size
        self._progress: ProgressSink = progress or _NoProgress()

    # -- public operations -------------------------------------------------------------------

    async def rebuild(
        self, spec: ServiceSpec, *, rebuild_id: str = "rebuild", keep_old: bool = False
    ) -> RebuildReport:
        """Build (or resume) ``public_shadow_<rebuild_id>`` and swap it in as ``public``."""
        (report,) = await self.rebuild_many([spec], rebuild_id=rebuild_id, keep_old=keep_old)
        return report

    async def rebuild_many(
        self, specs: Sequence[ServiceSpec], *, rebuild_id: str = "rebuild", keep_old: bool = False
    ) -> list[RebuildReport]:
        """:meth:`rebuild` several services from one reading of the log.

        Each log row is read and decoded once and handed to every service consuming its
        stream type, the services applying each batch concurrently, each in its own shadow
        with its own cursor (see :meth:`_read_log`); then each settles its deferred figures,
        restores its indexes and swaps, concurrently, each in its own database. An error while
        the log is read (any service's) stops every service before its swap, once the batch in
        flight is over: the others' batches stay committed, and running the command again
        resumes every shadow from its own cursor. An error in one service's swap leaves the
        others' swaps done; it is raised once they are.
        """
        shadow = _check_schema(f"public_shadow_{rebuild_id}")
        jobs = [(spec, shadow) for spec in specs]
        olds = [_check_schema(f"public_old_{secrets.token_hex(4)}") for _ in specs]
        async with contextlib.AsyncExitStack() as held:
            for spec in specs:
                await held.enter_async_context(self._exclusive(spec, shadow))
            reports = await self._build_many(jobs)
            await _all(
                *(
                    _timed(report, "swap", self._finish(spec, shadow, old, report, keep_old=keep_old))
                    for spec, old, report in zip(specs, olds, reports, strict=True)
                ),
            )
        return reports

    async def build_only(self, spec: ServiceSpec, schema: str) -> RebuildReport:
        """Build (or resume) ``schema`` without swapping it in: the first half of :meth:`rebuild`."""
        async with self._exclusive(spec, _check_schema(schema)):
            (report,) = await self._build_many([(spec, schema)])
            return report

    async def verify(self, spec: ServiceSpec) -> RebuildReport:
        """Rebuild into a scratch schema, compare every read-model table with ``public``, drop it."""
        scratch = _check_schema(f"public_verify_{secrets.token_hex(4)}")
        try:
            (report,) = await self._build_many([(spec, scratch)])
            conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
            try:
                async with conn.transaction():
                    await self._lock_live(conn)
                    report.caught_up_streams = await self._catch_up(spec, scratch, conn)
                    report.ahead_streams = await self._ahead(conn, scratch)
                    report.differences = await compare_schemas(conn, "public", scratch)
            finally:
                await conn.close()
        finally:
            await self.drop_schema(spec, scratch)
        return report

    async def create_schema(self, spec: ServiceSpec, schema: str) -> None:
        """Create ``schema`` in ``spec``'s database with the live schema's migrations (kept if it exists)."""
        await self._create_shadow(spec, _check_schema(schema))

    async def drop_schema(self, spec: ServiceSpec, schema: str) -> None:
        """Drop a shadow or scratch schema of ``spec``'s database, if it exists."""
        conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
        try:
            await conn.execute(f'DROP SCHEMA IF EXISTS "{_check_schema(schema)}" CASCADE')
        finally:
            await conn.close()

    @contextlib.asynccontextmanager
    async def _exclusive(self, spec: ServiceSpec, schema: str) -> AsyncIterator[None]:
        """Hold a session advisory lock named after ``schema``: one builder per shadow at a time."""
        conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
        try:
            # A killed builder's lock goes with its connection; give the server a moment to notice.
            await conn.execute("SET lock_timeout = '5s'")
            try:
                await conn.execute("SELECT pg_advisory_lock(hashtext($1))", f"sceneledger.replay:{schema}")
            except asyncpg.LockNotAvailableError:
                raise RebuildInProgressError(f"another rebuild is writing {schema} in {spec.name}") from None
            yield
        finally:
            await conn.close()

    # -- building ----------------------------------------------------------------------------

    async def _build_many(self, jobs: Sequence[tuple[ServiceSpec, str]]) -> list[RebuildReport]:
        """Build (or resume) each ``(service, schema)`` from one reading of the log."""
        reports = [RebuildReport(service=spec.name, schema=schema) for spec, schema in jobs]
        async with contextlib.AsyncExitStack() as opened:
            events = await create_pool(self._settings.dsn_for("event_store"), max_size=2)
            opened.push_async_callback(events.close)
            per_type: dict[str, int] = {}

            async def count_log() -> None:
                # Only for the progress total; a scan of the whole log (0.45 s at 1M events),
                # so it runs while the shadows are created rather than after.
                for r in await events.fetch(
                    "SELECT stream_type, count(*) AS n FROM saga_events GROUP BY stream_type",
                ):
                    per_type[r["stream_type"]] = int(r["n"])

            # One database each, and the log's count beside them.
            await _all(
                count_log(),
                *(
                    _timed(report, "shadow", self._create_shadow(spec, schema))
                    for (spec, schema), report in zip(jobs, reports, strict=True)
                ),
            )
            targets: list[_Target] = []
            for spec, schema in jobs:
                targets.append(target := await self._open_target(spec, schema))
                opened.push_async_callback(target.pool.close)
            total = done = 0
            for target, report in zip(targets, reports, strict=True):
                progress = await target.pool.fetchrow("SELECT position, events FROM replay_progress")
                if progress is None:  # pragma: no cover  created with its single row
                    raise RuntimeError("replay_progress row missing")
                report.resumed_from = int(progress["position"])
                done += int(progress["events"])
                total += sum(per_type.get(st, 0) for st in target.stream_types)
            self._progress.start(", ".join(f"{spec.name} → {schema}" for spec, schema in jobs), total, done)
            started = time.perf_counter()
            try:
                counts = await self._read_log(targets, events, settle=False)
            finally:
                self._progress.finish()
            for report in reports:
                report.seconds["log"] = time.perf_counter() - started
            by_target = list(zip(targets, reports, strict=True))
            # The settles' recomputes read through the deferred b-trees and the fresh statistics.
            await _all(*(_timed(r, "indexes", self._restore_indexes(t.spec, t.schema)) for t, r in by_target))
            await _all(*(_timed(r, "statistics", _analyze(t)) for t, r in by_target))
            await _all(*(_timed(r, "settle", self._settle(t)) for t, r in by_target))
            for report, count in zip(reports, counts, strict=True):
                report.events = count
        return reports

    @staticmethod
    async def _settle(target: _Target) -> None:
        """Settle what the build's batches only marked, every projection of the target at once."""
        await _all(*(runner.settle() for runner, _ in target.runners))

    async def _open_target(self, spec: ServiceSpec, schema: str) -> _Target:
        """Open a pool on ``schema`` (which must exist) and the runners of ``spec`` on it."""
        pool = await self._shadow_pool(spec, schema)
        return _Target(
            spec=spec,
            schema=schema,
            pool=pool,
            runners=self._runners(spec, pool),
            stream_types=frozenset(self._stream_types(spec)),
        )

    async def _finish(
        self, spec: ServiceSpec, shadow: str, old: str, report: RebuildReport, *, keep_old: bool
    ) -> None:
        """Restore the deferred indexes of a built shadow, swap it in, drop the old schema unless kept."""
        await self._restore_indexes(spec, shadow)
        await self._swap(spec, shadow, old, report)
        if not keep_old:
            conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
            try:
                await conn.execute(f'DROP SCHEMA "{old}" CASCADE')
            finally:
                await conn.close()
        log.info("replay.swapped", service=spec.name, events=report.events, old_schema=old, kept=keep_old)

    def _stream_types(self, spec: ServiceSpec) -> list[str]:
        topics = {t for p in spec.projections for t in p.topics}
        return sorted(st for st, topic in topic_by_stream_type().items() if topic in topics)

    def _runners(
        self, spec: ServiceSpec, pool: asyncpg.Pool
    ) -> list[tuple[ProjectionRunner, frozenset[str]]]:
        by_type = topic_by_stream_type()
        return [
            (
                ProjectionRunner(pool, p.projection),
                frozenset(st for st, topic in by_type.items() if topic in p.topics),
            )
            for p in spec.projections
        ]

    async def _shadow_pool(self, spec: ServiceSpec, schema: str) -> asyncpg.Pool:
        # Asynchronous commit: a crash can only lose the last transactions, never reorder them,
        # so the stream checkpoints and the cursor still say what the shadow holds, and a rerun
        # re-applies the rest. Each batch's commits no longer wait for a WAL flush (the swap's
        # transaction, on a connection of its own, still does).
        return await create_pool(
            self._settings.dsn_for(spec.name),
            max_size=len(spec.projections) + 1,
            server_settings={"search_path": schema, "synchronous_commit": "off"},
        )

    async def _create_shadow(self, spec: ServiceSpec, schema: str) -> None:
        """Create and migrate ``schema`` in one transaction, unless it already exists (resume)."""
        conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
        try:
            applied = {
                r["version"]: r["checksum"]
                for r in await conn.fetch("SELECT version, checksum FROM public.schema_migrations")
            }
            exists = await conn.fetchval("SELECT 1 FROM pg_namespace WHERE nspname = $1", schema)
            if exists:
                shadow = await conn.fetch(f'SELECT version, checksum FROM "{schema}".schema_migrations')
                if {(r["version"], r["checksum"]) for r in shadow} == set(applied.items()):
                    log.info("replay.resume", service=spec.name, schema=schema)
                    return
                # Left by a run of other code: its tables are not the ones this code writes.
                log.warning("replay.shadow_outdated", service=spec.name, schema=schema)
                await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
            folder = MIGRATIONS_DIR / SERVICE_DATABASES[spec.name]
            migrations = [*load_migrations(SHARED_PROJECTION_MIGRATIONS), *load_migrations(folder)]
            async with conn.transaction():
                await conn.execute(f'CREATE SCHEMA "{schema}"')
                await conn.execute(f'SET LOCAL search_path = "{schema}"')
                await conn.execute(
                    "CREATE TABLE schema_migrations (LIKE public.schema_migrations INCLUDING ALL)",
                )
                pending = [m.version for m in migrations if m.version not in applied]
                if pending:
                    # This code's projections write the schema of every migration it has.
                    raise PendingMigrationsError(
                        f"{spec.name}: the live database lacks migrations {', '.join(pending)} "
                        f"of {folder.name}; run `sceneledger migrate` first",
                    )
                for migration in migrations:
                    if applied[migration.version] != migration.checksum:
                        raise MigrationChecksumError(
                            f"{folder.name} migration {migration.version} differs from the applied one",
                        )
                    await conn.execute(migration.sql)
                await conn.execute("INSERT INTO schema_migrations SELECT * FROM public.schema_migrations")
                await conn.execute(_PROGRESS_TABLE)
                await conn.execute(_DEFER_INDEXES)
            log.info("replay.shadow_created", service=spec.name, schema=schema)
        finally:
            await conn.close()

    async def _restore_indexes(self, spec: ServiceSpec, schema: str) -> None:
        """Create the indexes the build deferred (see ``_DEFER_INDEXES``); a no-op once done."""
        pool = await asyncpg.create_pool(
            self._settings.dsn_for(spec.name),
            min_size=0,
            max_size=_TAIL_WORKERS,
            server_settings={"search_path": schema},
        )
        try:
            if not await pool.fetchval("SELECT to_regclass('replay_deferred_indexes') IS NOT NULL"):
                return  # a shadow from before indexes were deferred: it has them all
            rows = list(await pool.fetch(_DEFERRED_LONGEST_FIRST))

            async def worker() -> None:
                async with pool.acquire() as conn:
                    while rows:
                        row = rows.pop(0)
                        async with conn.transaction():
                            await conn.execute(row["definition"])
                            await conn.execute(
                                "DELETE FROM replay_deferred_indexes WHERE name = $1", row["name"]
                            )

            await _all(*(worker() for _ in range(_TAIL_WORKERS)))
            log.info("replay.indexes_restored", service=spec.name, schema=schema)
        finally:
            await pool.close()

    async def _read_log(
        self, targets: Sequence[_Target], events: asyncpg.Pool, *, settle: bool = True
    ) -> list[int]:
        """Apply the log from each target's cursor to the current head; return events applied to each.

        The log is read once, from the smallest cursor, restricted to the stream types some
        target consumes, and each batch is decoded once. A target gets the rows of its own
        stream types after its own cursor (``(tx_id, position)`` order, as ``_FETCH`` reads),
        so shadows left at different cursors (an interrupted run, a service swapped since)
        each go on from theirs. Each target applies its batches in order, on its own, up to
        ``_AHEAD`` batches behind the reading: the reading and decoding (Python) and the other
        targets go on while one database is busy, instead of every batch waiting for the
        slowest target. Each target's cursor is committed after its own batch has been.
        ``settle=False``: the runners only mark the figures their batches leave to recompute
        (:meth:`ProjectionRunner.settle` does them). An error (the reading's or a target's)
        stops the reading and every target once the batch it is applying is over (committed
        batches stay, and a rerun goes on from each cursor); then the error is raised.
        """
        if not targets:
            return []
        cursors: list[tuple[int, int]] = []
        for target in targets:
            row = await target.pool.fetchrow(_CURSOR)
            if row is None:  # pragma: no cover  created with its single row
                raise RuntimeError("replay_progress row missing")
            cursors.append((int(row["tx_id"]), int(row["position"])))
            # The log is read gap-free from its start, and this reading is the schema's only
            # writer (``_exclusive``): each stream's checkpoint is where the earlier batches of
            # this reading left it. A resumed or caught-up schema reads its checkpoints instead.
            target.fresh = bool(row["fresh"])
        reading = _LogReading(
            targets,
            events,
            self._registry,
            self._progress,
            cursors,
            batch_size=self._batch_size,
            settle=settle,
        )
        return await reading.run()

    # -- swapping ----------------------------------------------------------------------------

    async def _lock_live(self, conn: asyncpg.Connection) -> None:
        await conn.execute("SET LOCAL lock_timeout = '60s'")
        await conn.execute("LOCK TABLE public.projection_stream_versions IN ACCESS EXCLUSIVE MODE")

    async def _catch_up(self, spec: ServiceSpec, schema: str, conn: asyncpg.Connection) -> int:
        """With live projectors held: read the log to its head, then level streams live is ahead on."""
        target = await self._open_target(spec, schema)
        events = await create_pool(self._settings.dsn_for("event_store"), max_size=2)
        try:
            await self._read_log([target], events)
            behind = await conn.fetch(_BEHIND.format(shadow=f'"{schema}"'))
            for runner, _ in target.runners:
                streams = [r for r in behind if r["projection"] == runner.projection.name]
                if not streams:
                    continue
                rows = await events.fetch(
                    _FETCH_STREAMS,
                    [r["stream_id"] for r in streams],
                    [r["shadow_version"] for r in streams],
                )
                await runner.handle_batch(await _deliveries(events, rows, self._registry))
            return len({r["stream_id"] for r in behind})
        finally:
            await events.close()
            await target.pool.close()

    async def _ahead(self, conn: asyncpg.Connection, schema: str) -> int:
        return int(
            await conn.fetchval(
                f'SELECT count(*) FROM "{schema}".projection_stream_versions s '
                "LEFT JOIN public.projection_stream_versions l USING (projection, stream_id) "
                "WHERE s.stream_version > coalesce(l.stream_version, 0)",
            ),
        )

    async def _swap(self, spec: ServiceSpec, shadow: str, old: str, report: RebuildReport) -> None:
        conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
        try:
            async with conn.transaction():
                await self._lock_live(conn)
                report.caught_up_streams = await self._catch_up(spec, shadow, conn)
                # The live Kafka offsets are where the live consumers go on from after the swap.
                await conn.execute(f'DELETE FROM "{shadow}".projection_offsets')
                await conn.execute(
                    f'INSERT INTO "{shadow}".projection_offsets SELECT * FROM public.projection_offsets',
                )
                await _make_public(conn, shadow, old)
            report.swapped = True
            report.old_schema = old
        finally:
            await conn.close()

    async def replace_with_empty(self, spec: ServiceSpec) -> None:
        """Swap an empty, freshly migrated schema in as ``public`` (seed rows included); drop the old one.

        For a rebuild from the Kafka topics (``replay --from-topic``): the projectors, stopped by
        the caller, then fill it from their consumer groups' offsets.
        """
        fresh = _check_schema(f"public_empty_{secrets.token_hex(4)}")
        old = _check_schema(f"public_old_{secrets.token_hex(4)}")
        await self._create_shadow(spec, fresh)
        await self._restore_indexes(spec, fresh)
        conn = await asyncpg.connect(self._settings.dsn_for(spec.name))
        try:
            async with conn.transaction():
                await self._lock_live(conn)
                await _make_public(conn, fresh, old)
            await conn.execute(f'DROP SCHEMA "{old}" CASCADE')
        finally:
            await conn.close()


async def _make_public(conn: asyncpg.Connection, shadow: str, old: str) -> None:
    """Rename ``public`` to ``old`` and ``shadow`` to ``public``, inside the caller's transaction."""
    await conn.execute(f'DROP TABLE "{shadow}".replay_progress')
    await conn.execute(f'DROP TABLE IF EXISTS "{shadow}".replay_deferred_indexes')
    for ext in await conn.fetch(
        "SELECT extname FROM pg_extension WHERE extnamespace = 'public'::regnamespace",
    ):
        await conn.execute(f'ALTER EXTENSION "{ext["extname"]}" SET SCHEMA "{shadow}"')
    await conn.execute(f'ALTER SCHEMA public RENAME TO "{old}"')
    await conn.execute(f'ALTER SCHEMA "{shadow}" RENAME TO public')
    # What a fresh database's public schema has (PostgreSQL 15).
    await conn.execute("ALTER SCHEMA public OWNER TO pg_database_owner")
    await conn.execute("GRANT USAGE ON SCHEMA public TO PUBLIC")


async def compare_schemas(
    conn: asyncpg.Connection,
    live: str,
    rebuilt: str,
    *,
    ignore: Mapping[str, frozenset[str]] = UNSTABLE_COLUMNS,
) -> list[TableDiff]:
    """Compare every read-model table of ``rebuilt`` with the same table of ``live``.

    Rows are compared as JSON objects without the ``ignore`` columns of their table, by count
    and by an md5 of the sorted row hashes (no primary key needed); a few differing rows of
    each side are returned as samples.
    """
    tables = [
        r["tablename"]
        for r in await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
            _check_schema(rebuilt),
        )
        if r["tablename"] not in BOOKKEEPING_TABLES
    ]
    diffs: list[TableDiff] = []
    for table in tables:
        a, b = f'"{_check_schema(live)}"."{table}"', f'"{rebuilt}"."{table}"'
        skip = sorted(ignore.get(table, frozenset()))
        row = "(to_jsonb(t) - $1::text[])::text"
        summary = (
            "SELECT count(*) AS n, md5(coalesce(string_agg(h, '' ORDER BY h), '')) AS sum "
            f"FROM (SELECT md5({row}) AS h FROM {{}} t) x"
        )
        left = await conn.fetchrow(summary.format(a), skip)
        right = await conn.fetchrow(summary.format(b), skip)
        if left is None or right is None:  # pragma: no cover  an aggregate always returns a row
            raise RuntimeError(f"no summary of {table}")
        if left["n"] == right["n"] and left["sum"] == right["sum"]:
            continue
        sample = f"SELECT {row} AS r FROM {{}} t EXCEPT ALL SELECT {row} FROM {{}} t LIMIT 5"
        diffs.append(
            TableDiff(
                table=table,
                live_rows=left["n"],
                rebuilt_rows=right["n"],
                only_live=tuple(r["r"] for r in await conn.fetch(sample.format(a, b), skip)),
                only_rebuilt=tuple(r["r"] for r in await conn.fetch(sample.format(b, a), skip)),
            ),
        )
    return diffs
