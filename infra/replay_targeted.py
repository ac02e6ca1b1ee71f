"""Targeted replays into the live read models: one movie's rows, or the log from a position on.

Both work in place (no shadow schema, no swap) and hold the service's live projectors while
they write (``ACCESS EXCLUSIVE`` on ``projection_stream_versions``, which every projector
transaction reads first), so a live projector never applies an event at the same time.

* ``replay --movie ID`` (:func:`replay_movie`): in one transaction, delete the rows of one movie
  in every projection that keeps rows per movie (:data:`MOVIE_SCOPES`) and apply again, in log
  order, every event of that movie's streams *up to where the live projection has got* (its
  stream checkpoints), so the rows end exactly as a live projector left them and events not
  applied yet are left to it. A movie's streams: the movie's own, its scenes' and parallel
  groups' (their events carry the movie id), and, for the ``movies`` projection, the reviews
  that rate it. Stream checkpoints are not changed.
* ``replay --from-position N`` (:func:`replay_from_position`): apply every event at log
  position >= N that the live read models have not applied yet (the stream checkpoints turn the
  others into no-ops), through the projections' own runner, batch by batch. It never drops
  anything; it catches a projection up (say after its consumer skipped records). It refuses
  when a stream has events below N that the live models lack: applying the later ones would
  leave a gap, so the error names the position to start from instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
import structlog

from events.base import DomainEvent
from events.registry import EventRegistry
from infra.db import create_pool
from infra.ops import ConnectionAsPool
from infra.relay import LOG_HORIZON_SQL
from infra.replay import _deliveries
from infra.services import ServiceSpec, topic_by_stream_type
from infra.services.base import ProjectionSpec
from infra.settings import Settings
from projections.runner import POISON_ERRORS, Delivery, Projection, ProjectionRunner

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class MovieScope:
    """Where one projection keeps a movie's rows, and which log streams they come from."""

    deletes: tuple[str, ...]
    """Statements (``$1`` = the movie id) removing the movie's rows; cascades take the rest."""
    stream_types: tuple[str, ...]
    """Stream types whose events about the movie the projection applies."""


IN_PLACE_BATCH_SIZE = 5000
"""Log rows a targeted replay applies per transaction: it writes the live read models, where a
batch's transaction holds its row locks against the live projectors until it commits."""

MOVIE_SCOPES: dict[str, MovieScope] = {
    "scenes": MovieScope(
        deletes=(
            "DELETE FROM parallel_scene_groups WHERE movie_id = $1",
            "DELETE FROM scenes WHERE movie_id = $1",
            "DELETE FROM movie_scene_stats WHERE movie_id = $1",
        ),
        stream_types=("scene", "parallel_group"),
    ),
    "scene_caches": MovieScope(
        deletes=("DELETE FROM external_movies_cache WHERE id = $1",),
        stream_types=("movie",),
    ),
    "movies": MovieScope(
        deletes=(
            "DELETE FROM movies WHERE id = $1",
            "DELETE FROM movie_scene_index WHERE movie_id = $1",
            "DELETE FROM movie_review_ratings WHERE movie_id = $1",
        ),
        stream_types=("movie", "scene", "review"),
    ),
}
"""Projections that keep rows per movie. The ``actors`` projection is not here: a movie's rows
there (filmography, character roles) come from actor streams whose replay would also rewind
the actor rows' versions, so ``--movie`` leaves it alone (a full ``replay`` rebuilds it)."""

_EVENT_COLUMNS = """
position, tx_id::text AS tx_text, id, stream_id, stream_version, event_type, schema_version,
event_data::text AS event_text, occurred_at, correlation_id, causation_id, user_id, user_role,
host(client_addr) AS client_addr
"""

# A movie's events: its own stream, and the streams whose events name it.
_MOVIE_EVENTS = f"""
SELECT {_EVENT_COLUMNS}
FROM saga_events
WHERE stream_type = ANY($2::text[])
  AND (stream_id = $1 OR event_data->>'movie_id' = $1::text)
ORDER BY position
"""

_FROM_POSITION = f"""
SELECT {_EVENT_COLUMNS}
FROM saga_events
WHERE (tx_id, position) > ($1::text::xid8, $2)
  AND tx_id < ({LOG_HORIZON_SQL})
  AND position >= $5
  AND stream_type = ANY($3::text[])
ORDER BY saga_events.tx_id, saga_events.position
LIMIT $4
"""

# Per stream with events at or after the position: the first such version.
_FIRST_AFTER = """
SELECT stream_id, min(stream_version) AS first_version, min(position) AS first_position
FROM saga_events
WHERE position >= $1 AND stream_type = ANY($2::text[])
GROUP BY stream_id
"""


class ReplayRefusedError(RuntimeError):
    """The requested replay would leave wrong read models; the message says why and what to do."""


@dataclass(slots=True)
class TargetedReport:
    """What a targeted replay did in one service database."""

    service: str
    applied: dict[str, int] = field(default_factory=dict)
    """Events applied per projection."""
    deleted: dict[str, int] = field(default_factory=dict)
    """Rows deleted per projection before the movie's events were applied again (``--movie``)."""
    skipped: list[str] = field(default_factory=list)
    """Projections of the service the replay does not cover, with the reason."""


def _stream_types(topics: Sequence[str]) -> list[str]:
    return sorted(st for st, topic in topic_by_stream_type().items() if topic in topics)


@asynccontextmanager
async def _held(conn: asyncpg.Connection) -> AsyncIterator[None]:
    """Open a transaction in which the service's live projectors wait (see the module docstring)."""
    async with conn.transaction():
        await conn.execute("SET LOCAL lock_timeout = '60s'")
        await conn.execute("LOCK TABLE projection_stream_versions IN ACCESS EXCLUSIVE MODE")
        yield


async def movie_in_log(settings: Settings, movie_id: UUID) -> bool:
    """Whether the event log holds a stream of the movie ``movie_id``."""
    conn = await asyncpg.connect(settings.dsn_for("event_store"))
    try:
        return bool(
            await conn.fetchval(
                "SELECT EXISTS (SELECT 1 FROM saga_events WHERE stream_id = $1 AND stream_type = 'movie')",
                movie_id,
            ),
        )
    finally:
        await conn.close()


def _chosen(spec: ServiceSpec, projection: str | None) -> list[ProjectionSpec]:
    return [p for p in spec.projections if projection is None or p.projection.name == projection]


async def replay_movie(
    settings: Settings,
    registry: EventRegistry,
    spec: ServiceSpec,
    movie_id: UUID,
    *,
    projection: str | None = None,
) -> TargetedReport:
    """Rebuild one movie's rows in ``spec``'s live read models (or only ``projection``'s)."""
    report = TargetedReport(service=spec.name)
    chosen = _chosen(spec, projection)
    covered = [p for p in chosen if p.projection.name in MOVIE_SCOPES]
    report.skipped = [
        f"{p.projection.name}: keeps no rows per movie that --movie can rebuild"
        for p in chosen
        if p.projection.name not in MOVIE_SCOPES
    ]
    if not covered:
        return report
    events = await create_pool(settings.dsn_for("event_store"), max_size=2)
    # A pool for its connection setup (JSON codecs), as the projectors have.
    live = await create_pool(settings.dsn_for(spec.name), max_size=1)
    try:
        conn = await live.acquire()
        async with _held(conn):
            for p in covered:
                scope = MOVIE_SCOPES[p.projection.name]
                rows = await events.fetch(_MOVIE_EVENTS, movie_id, list(scope.stream_types))
                deliveries = await _deliveries(events, rows, registry)
                deleted = 0
                for statement in scope.deletes:
                    deleted += int((await conn.execute(statement, movie_id)).split()[-1])
                report.deleted[p.projection.name] = deleted
                report.applied[p.projection.name] = await _reapply(conn, p.projection, deliveries)
    finally:
        live.terminate()  # its one connection is still checked out; nothing is left open on it
        await events.close()
    log.info("replay.movie", service=spec.name, movie_id=str(movie_id), applied=report.applied)
    return report


async def _reapply(conn: asyncpg.Connection, projection: Projection, deliveries: Sequence[Delivery]) -> int:
    """Apply again, in order, the events the live projection has applied (its checkpoints say which)."""
    events = [d.recorded.event for d in deliveries if d.recorded and projection.handles(d.recorded.event)]
    streams = list({e.stream_id for e in events})
    applied_to = {
        r["stream_id"]: r["stream_version"]
        for r in await conn.fetch(
            "SELECT stream_id, stream_version FROM projection_stream_versions "
            "WHERE projection = $1 AND stream_id = ANY($2::uuid[])",
            projection.name,
            streams,
        )
    }
    # A dead-lettered event the checkpoint has passed was either retried (applied) or skipped:
    # it is tried in a savepoint, and left out again if it still cannot be applied.
    dead = {
        r["event_id"]
        for r in await conn.fetch(
            "SELECT event_id FROM projection_dead_letters WHERE projection = $1 "
            "AND stream_id = ANY($2::uuid[]) AND event_id IS NOT NULL",
            projection.name,
            streams,
        )
    }
    done: list[DomainEvent] = []
    for e in events:
        if e.stream_version > applied_to.get(e.stream_id, 0):
            continue  # not applied live yet: the live projector will
        try:
            if e.event_id in dead:
                async with conn.transaction():
                    await projection.handlers[type(e)](conn, e)
            else:
                await projection.handlers[type(e)](conn, e)
        except POISON_ERRORS as exc:
            if e.event_id in dead:
                continue
            raise ReplayRefusedError(
                f"{projection.name}: {e.event_type} {e.stream_id} v{e.stream_version} cannot be "
                f"applied again ({type(exc).__name__}: {exc}); nothing was changed",
            ) from exc
        done.append(e)
    if projection.after_batch is not None and done:
        await projection.after_batch(conn, done)
    return len(done)


async def replay_from_position(
    settings: Settings,
    registry: EventRegistry,
    spec: ServiceSpec,
    position: int,
    *,
    projection: str | None = None,
    batch_size: int = IN_PLACE_BATCH_SIZE,
) -> TargetedReport:
    """Apply to ``spec``'s live read models (or ``projection``'s) the events at >= ``position`` they lack."""
    report = TargetedReport(service=spec.name)
    chosen = _chosen(spec, projection)
    events = await create_pool(settings.dsn_for("event_store"), max_size=2)
    # A pool for its connection setup (JSON codecs), as the projectors have.
    live = await create_pool(settings.dsn_for(spec.name), max_size=1)
    try:
        conn = await live.acquire()
        await _refuse_gaps(conn, events, chosen, position)
        for p in chosen:
            runner = ProjectionRunner(ConnectionAsPool(conn), p.projection)
            stream_types = _stream_types(p.topics)
            tx_id, after, applied = "0", 0, 0
            while True:
                rows = await events.fetch(_FROM_POSITION, tx_id, after, stream_types, batch_size, position)
                if not rows:
                    break
                tx_id, after = rows[-1]["tx_text"], rows[-1]["position"]
                async with _held(conn):
                    outcome = await runner.handle_batch(await _deliveries(events, rows, registry))
                applied += outcome.applied
            report.applied[p.projection.name] = applied
    finally:
        live.terminate()  # its one connection is still checked out; nothing is left open on it
        await events.close()
    log.info("replay.from_position", service=spec.name, position=position, applied=report.applied)
    return report


async def _refuse_gaps(
    conn: asyncpg.Connection, events: asyncpg.Pool, chosen: Sequence[ProjectionSpec], position: int
) -> None:
    """Refuse when some stream has events below ``position`` that a live projection has not applied."""
    for p in chosen:
        first = await events.fetch(_FIRST_AFTER, position, _stream_types(p.topics))
        if not first:
            continue
        missing = await conn.fetchrow(
            "SELECT count(*) AS streams, min(f.first_position) AS lowest "
            "FROM unnest($2::uuid[], $3::int[], $4::bigint[]) AS f(stream_id, first_version, first_position) "
            "LEFT JOIN projection_stream_versions v ON v.projection = $1 AND v.stream_id = f.stream_id "
            "WHERE coalesce(v.stream_version, 0) < f.first_version - 1",
            p.projection.name,
            [r["stream_id"] for r in first],
            [r["first_version"] for r in first],
            [r["first_position"] for r in first],
        )
        if missing is not None and missing["streams"]:
            raise ReplayRefusedError(
                f"{p.projection.name}: {missing['streams']} streams have events before position "
                f"{position} that the live read model has not applied; replaying from {position} "
                "would leave gaps. Start from an earlier position (the streams' missing events come "
                "first) or rebuild it with `replay --projection NAME`",
            )
