"""Runs the benchmarks on the local stack, each in a namespace of its own, and returns the figures."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from uuid import UUID, uuid4

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from sqlalchemy.ext.asyncio import AsyncConnection

from bench.replay import bench_replay
from bench.report import Figure, median, percentile
from bench.search import SearchSizes, bench_search, scratch_scene_database
from commands.authorization import SYSTEM_ROLE
from commands.scene import CreateScene
from events.base import EventMetadata
from events.movie import MovieRegistered
from events.scene import SceneCreated
from infra.auth import ANONYMOUS
from infra.bootstrap import System, build_relay, create_read_engine, open_system, prepare
from infra.db import create_pool
from infra.migrate import drop_databases
from infra.publisher import KafkaPublisher
from infra.settings import SERVICE_DATABASES, Settings
from infra.topics import delete_namespace_topics
from read_models.overlaps import (
    MOVIE_TIMELINE_SQL,
    TIMELINES_SQL,
    OverlapPair,
    OverlapQueries,
    PairDensity,
    PairRow,
    TimelineReader,
    movie_pair_rows,
    page_pair_rows,
    pair_key,
    read_timelines,
)
from read_models.rls import acting

log = structlog.get_logger(__name__)

AS_SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)
"""Benchmark commands are given by the system itself (allowed every command)."""


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each benchmark does."""

    append_seconds: float
    latency_samples: int
    projection_events: int
    replay_events: int
    """Size of the replay's log: the target is stated for a million events (1M in under 35 s)."""
    overlap_movies: int
    overlap_scenes_per_movie: int
    search: SearchSizes

    @classmethod
    def choose(cls, *, quick: bool) -> Sizes:
        """Small enough for `--quick` (under 3 minutes in all), or the full run."""
        if quick:
            return cls(
                append_seconds=5,
                latency_samples=200,
                projection_events=20_000,
                replay_events=20_000,
                overlap_movies=100,
                overlap_scenes_per_movie=100,
                search=SearchSizes(scenes=30_000, lines=30_000, runs=10),
            )
        return cls(
            append_seconds=20,
            latency_samples=1000,
            projection_events=200_000,
            replay_events=1_000_000,
            overlap_movies=100,
            overlap_scenes_per_movie=100,
            search=SearchSizes(scenes=1_000_000, lines=1_000_000, runs=50),
        )


@asynccontextmanager
async def namespace(base: Settings, **overrides: object) -> AsyncIterator[Settings]:
    """Yield a throw-away namespace (its own databases and topics), dropped afterwards."""
    settings = base.model_copy(update={"namespace": f"bench{secrets.token_hex(3)}", **overrides})
    await prepare(settings)
    try:
        yield settings
    finally:
        await asyncio.gather(
            drop_databases(settings.pg_dsn or "", [settings.database_name(s) for s in SERVICE_DATABASES]),
            _drop_topics(settings),
        )


async def _drop_topics(settings: Settings) -> None:
    """Delete the namespace's topics: left behind, thousands of them ran the broker out of heap."""
    try:
        await delete_namespace_topics(settings)
    except KafkaError as exc:  # the figures are measured; a failed clean-up must not lose them
        log.warning("bench.topics_not_deleted", namespace=settings.namespace, error=str(exc))


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.require_kafka(),
        "SCENELEDGER_NAMESPACE": settings.namespace,
        "SCENELEDGER_LOG_LEVEL": "WARNING",
        **extra,
    }


def _worker(settings: Settings, *flags: str, **extra: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603  our own CLI with fixed flags
        [sys.executable, "-m", "infra.cli", "--log-level", "WARNING", "worker", *flags],
        env=_env(settings, **extra),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _movies(system: System, count: int) -> list[UUID]:
    ids = [uuid4() for _ in range(count)]
    for movie_id in ids:
        await system.event_store.append(
            [MovieRegistered(stream_id=movie_id, stream_version=1, title=f"Bench {movie_id.hex[:6]}")],
            expected_version=0,
            metadata=EventMetadata(),
        )
    return ids


def _create(movie_id: UUID, rng: random.Random) -> CreateScene:
    start = rng.randrange(0, 7000)
    hours, rest = divmod(start, 3600)
    return CreateScene(
        movie_id=movie_id,
        start=f"{hours:02d}{rest // 60:02d}{rest % 60:02d}",
        end=f"+{rng.randrange(5, 59)}",
        classification=f"{rng.choice('ARCSDLO')}{rng.randrange(1, 6)}",
        tags=("bench",),
    )


async def bench_append(base: Settings, sizes: Sizes) -> list[Figure]:
    """Measure commands appended by 16 producers, against a plain INSERT per command."""
    producers = 16
    async with namespace(base) as settings:
        system = await open_system(settings)
        try:
            movies = await _movies(system, 50)
            latencies: list[float] = []

            async def producer(seed: int, deadline: float) -> None:
                rng = random.Random(seed)
                while time.perf_counter() < deadline:
                    cmd = _create(rng.choice(movies), rng)
                    t0 = time.perf_counter()
                    await system.bus.dispatch(cmd, AS_SYSTEM)
                    latencies.append(time.perf_counter() - t0)

            t_start = time.perf_counter()
            await asyncio.gather(*(producer(i, t_start + sizes.append_seconds) for i in range(producers)))
            ours = len(latencies) / (time.perf_counter() - t_start)

            await system.event_pool.execute(
                "CREATE TABLE bench_plain_commands (id UUID PRIMARY KEY, body JSONB NOT NULL, "
                "created_at TIMESTAMPTZ NOT NULL DEFAULT now())"
            )
            plain: list[float] = []

            async def plain_producer(seed: int, deadline: float) -> None:
                rng = random.Random(seed)
                while time.perf_counter() < deadline:
                    cmd = _create(rng.choice(movies), rng)
                    t0 = time.perf_counter()
                    await system.event_pool.execute(
                        "INSERT INTO bench_plain_commands (id, body) VALUES ($1, $2)",
                        cmd.scene_id,
                        cmd.model_dump(mode="json"),
                    )
                    plain.append(time.perf_counter() - t0)

            t_start = time.perf_counter()
            await asyncio.gather(
                *(plain_producer(i, t_start + sizes.append_seconds) for i in range(producers))
            )
            baseline = len(plain) / (time.perf_counter() - t_start)
        finally:
            await system.close()
    p99 = percentile(latencies, 99) * 1000
    return [
        Figure(
            "commands appended/s, 16 producers",
            f"{ours:,.0f}/s",
            ">= 3,000/s",
            ours >= 3000,
            f"p50 {percentile(latencies, 50) * 1000:.1f} ms",
        ),
        Figure("command latency p99, 16 producers", f"{p99:.1f} ms", "<= 25 ms", p99 <= 25),
        Figure(
            "baseline: plain INSERT per command",
            f"{baseline:,.0f}/s",
            "",
            None,
            f"ours = {ours / baseline:.2f}x of it",
        ),
    ]


async def _wait(check: Callable[[], object], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():  # type: ignore[misc]
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark condition not reached")
        await asyncio.sleep(0.05)


async def _relay_delays(system: System, movies: list[UUID], rng: random.Random, samples: int) -> list[float]:
    """Return, for ``samples`` commands, the time from their commit to their event on Kafka."""
    consumer = AIOKafkaConsumer(
        system.settings.topic("scenes.events"),
        bootstrap_servers=system.settings.require_kafka(),
        auto_offset_reset="latest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: dict[str, float] = {}

    async def consume(stop: asyncio.Event) -> None:
        while not stop.is_set():
            for records in (await consumer.getmany(timeout_ms=50)).values():
                now = time.perf_counter()
                for r in records:
                    ce_id = dict(r.headers).get("ce_id")
                    if ce_id:
                        seen.setdefault(ce_id.decode(), now)

    try:
        await asyncio.sleep(1)  # partitions assigned at their end offsets
        stop = asyncio.Event()
        reader = asyncio.create_task(consume(stop))
        committed: dict[str, float] = {}
        for _ in range(samples):
            cmd = _create(rng.choice(movies), rng)
            await system.bus.dispatch(cmd, AS_SYSTEM)
            done = time.perf_counter()
            [recorded] = await system.event_store.read_stream(cmd.scene_id)
            committed[str(recorded.event.event_id)] = done
            await asyncio.sleep(0.005)
        await _wait(lambda: _all_seen(seen, committed), 60)
        stop.set()
        await reader
    finally:
        await consumer.stop()
    return [seen[k] - committed[k] for k in committed]


async def _end_to_end(
    system: System, movies: list[UUID], rng: random.Random, samples: int, *, pause: float = 0.0
) -> list[float]:
    """Return, for ``samples`` commands, the time from dispatch to the scene in the read model.

    With ``pause``, each command comes after a random quiet spell of up to ``pause`` seconds.
    """
    delays: list[float] = []
    for _ in range(samples):
        if pause:
            await asyncio.sleep(rng.uniform(0, pause))
        cmd = _create(rng.choice(movies), rng)
        t0 = time.perf_counter()
        await system.bus.dispatch(cmd, AS_SYSTEM)
        while not await system.scene_pool.fetchval("SELECT 1 FROM scenes WHERE id = $1", cmd.scene_id):
            await asyncio.sleep(0.001)
        delays.append(time.perf_counter() - t0)
    return delays


async def bench_latency(base: Settings, sizes: Sizes) -> list[Figure]:
    """Measure committed -> on Kafka (relay) and accepted -> visible in the read model (end to end).

    The commands are dispatched in the process that runs the relay, as in ``sceneledger up``
    (the API's commands) and in a worker consuming ``scenes.commands``; the projectors run in a
    worker process of their own, so that this process's polling does not slow them.
    """
    async with namespace(base) as settings:
        system = await open_system(settings)
        publisher = KafkaPublisher(settings.require_kafka())
        await publisher.start()
        stop_relay = asyncio.Event()
        relay = asyncio.create_task(build_relay(system, publisher).run(stop_relay))
        worker = _worker(settings, "--no-relay", "--no-commands")
        try:
            movies = await _movies(system, 10)
            rng = random.Random(1)
            # Warm-up: the worker is up and has joined its consumer group once a scene is projected.
            warm = _create(movies[0], rng)
            await system.bus.dispatch(warm, AS_SYSTEM)
            await _wait(lambda: system.scenes.get(warm.scene_id), 90)
            relay_s = await _relay_delays(system, movies, rng, sizes.latency_samples)
            e2e = await _end_to_end(system, movies, rng, sizes.latency_samples)
            apart = await _end_to_end(system, movies, rng, sizes.latency_samples // 4, pause=0.5)
        finally:
            _stop(worker)
            stop_relay.set()
            await relay
            await publisher.stop()
            await system.close()
    r99, e50, e99 = percentile(relay_s, 99) * 1000, percentile(e2e, 50) * 1000, percentile(e2e, 99) * 1000
    a50, a99 = percentile(apart, 50) * 1000, percentile(apart, 99) * 1000
    return [
        Figure(
            "relay: committed -> on Kafka, p99",
            f"{r99:.1f} ms",
            "<= 50 ms",
            r99 <= 50,
            f"p50 {percentile(relay_s, 50) * 1000:.1f} ms, {len(relay_s)} events, consumer-side receipt",
        ),
        Figure("end to end: accepted -> in read model, p50", f"{e50:.1f} ms", "<= 25 ms", e50 <= 25),
        Figure(
            "end to end: accepted -> in read model, p99",
            f"{e99:.1f} ms",
            "<= 150 ms",
            e99 <= 150,
            f"{len(e2e)} sequential commands, 1 ms polling",
        ),
        Figure(
            "end to end, commands 0-0.5 s apart, p50 / p99",
            f"{a50:.1f} / {a99:.1f} ms",
            "<= 25 / 150 ms",
            a50 <= 25 and a99 <= 150,
            f"{len(apart)} commands, each after a random pause of 0-0.5 s",
        ),
    ]


async def _all_seen(seen: dict[str, float], committed: dict[str, float]) -> bool:
    return all(k in seen for k in committed)


async def _fill_log(system: System, count: int) -> None:
    movies = await _movies(system, 100)
    rng = random.Random(2)
    queue = list(range(count))

    async def writer() -> None:
        while queue:
            queue.pop()
            movie = rng.choice(movies)
            start = rng.randrange(0, 7000)
            await system.event_store.append(
                [
                    SceneCreated(
                        stream_id=uuid4(),
                        stream_version=1,
                        movie_id=movie,
                        start_time_seconds=start,
                        end_time_seconds=start + rng.randrange(5, 120),
                        level1_classification="D",
                        level2_classification="D1",
                        tags=("bench",),
                        description="ベンチマーク",
                    )
                ],
                expected_version=0,
                metadata=EventMetadata(),
            )

    await asyncio.gather(*(writer() for _ in range(16)))


async def bench_projection(base: Settings, sizes: Sizes) -> list[Figure]:
    """Measure one projector process draining a backlog: events/s and its peak memory."""
    n = sizes.projection_events
    async with namespace(base) as settings:
        system = await open_system(settings)
        try:
            await _fill_log(system, n)
            total = int(await system.event_pool.fetchval("SELECT count(*) FROM saga_events"))
            scene_events = int(
                await system.event_pool.fetchval(
                    "SELECT count(*) FROM saga_events WHERE stream_type = 'scene'"
                )
            )
            relay = _worker(settings, "--no-projector", "--no-commands")
            try:
                await _wait(lambda: _relayed(system, total), 600)
            finally:
                _stop(relay)
            projector = _worker(settings, "--no-relay", "--no-commands")
            try:
                first: tuple[float, int] | None = None
                deadline = time.monotonic() + 900
                while True:
                    # The scenes projection's committed offsets: records of a new namespace's topic,
                    # counted from 0, one per scene event. Counting its checkpoint rows instead
                    # scanned the growing table ten times a second, taking CPU from the projector
                    # being measured (1.6-3.4 s of server time per run on two cores).
                    done = int(
                        await system.scene_pool.fetchval(
                            "SELECT coalesce(sum(next_offset), 0) FROM projection_offsets "
                            "WHERE projection = 'scenes'"
                        )
                    )
                    now = time.perf_counter()
                    if first is None and done > 0:
                        first = (now, done)
                    if done >= scene_events:
                        break
                    if time.monotonic() > deadline:
                        raise TimeoutError("projector did not finish")
                    await asyncio.sleep(0.1)
                peak = _peak_rss_mb(projector.pid)
            finally:
                _stop(projector)
        finally:
            await system.close()
    assert first is not None  # noqa: S101  the loop only exits after progress
    rate = (scene_events - first[1]) / max(now - first[0], 1e-9)
    return [
        Figure(
            "live projection, one projector process",
            f"{rate:,.0f} events/s",
            ">= 5,000 events/s",
            rate >= 5000,
            f"{total:,} events drained from Kafka, rate over its {scene_events:,} scene events",
        ),
        Figure(
            "peak memory of that projector process",
            f"{peak:.0f} MB",
            "<= 300 MB",
            peak <= 300,
            "VmHWM while draining; for replay see the replay figures",
        ),
    ]


async def _relayed(system: System, total: int) -> bool:
    count = await system.event_pool.fetchval(
        "SELECT coalesce(sum(published_count), 0) FROM relay_checkpoints"
    )
    return int(count) >= total


OVERLAP_GIST = """
SELECT s1.id AS a, s2.id AS b FROM scenes s1
JOIN scenes s2 ON s1.movie_id = s2.movie_id AND s1.id < s2.id
 AND int4range(s1.start_time_seconds, s1.end_time_seconds)
     && int4range(s2.start_time_seconds, s2.end_time_seconds)
{where}
"""
"""The design's GiST self-join (パフォーマンス最適化), the baseline the API's queries are compared with."""

_T = TypeVar("_T")

OVERLAP_PAGE = 1000
"""Pairs per page when walking ``/overlaps`` to the end: the largest page the API serves."""


async def _timed(run: Callable[[], Awaitable[_T]], *, runs: int = 7) -> tuple[float, _T]:
    """Return the median wall time (ms) of ``runs`` calls of ``run`` after a warm-up, and its last result."""
    times = []
    result = await run()
    for _ in range(runs):
        t0 = time.perf_counter()
        result = await run()
        times.append(time.perf_counter() - t0)
    return median(times) * 1000, result


def _pair_set(rows: Iterable[tuple[UUID, UUID]]) -> set[tuple[UUID, UUID]]:
    """Pairs as (smaller id, larger id), whatever order or shape a query returns them in."""
    return {(min(a, b), max(a, b)) for a, b in rows}


async def _seed_overlapping_scenes(pool: asyncpg.Pool, sizes: Sizes) -> None:
    """Load 20-150 s scenes every ~60 s (many real overlaps: the design's generator makes none)."""
    await pool.execute(
        "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification, "
        "level2_classification) "
        "SELECT m.id, s.start, s.start + 20 + (random() * 130)::int, 'A', 'A1' "
        "FROM (SELECT gen_random_uuid() AS id FROM generate_series(1, $1)) m, "
        "LATERAL (SELECT (n - 1) * 60 + (random() * 20)::int AS start "
        "         FROM generate_series(1, $2) n WHERE m.id IS NOT NULL) s",
        sizes.overlap_movies,
        sizes.overlap_scenes_per_movie,
    )
    # Public movies, so that the viewer sees every scene; then what autovacuum does on a live
    # read model: statistics, and the visibility map that index-only scans rely on.
    await pool.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) "
        "SELECT DISTINCT movie_id, 'bench', TRUE FROM scenes"
    )
    await pool.execute("VACUUM ANALYZE scenes, external_movies_cache")


async def _rows(conn: AsyncConnection, sql: str, *params: object) -> Sequence[Any]:
    """Run ``sql`` (``$n`` parameters) as the read model runs its timeline statements; return its rows.

    That is on the connection's driver, in the transaction ``acting`` began: the baseline pays
    no more per statement than ours.
    """
    driver = (await conn.get_raw_connection()).driver_connection
    if driver is None or not driver.is_in_transaction():
        raise RuntimeError("the baseline runs in the transaction acting() began")
    rows: Sequence[Any] = await driver.fetch(sql, *params)
    return rows


class _StatementLog:
    """Wraps the read model's timeline reads and keeps each statement with its parameters (for EXPLAIN)."""

    def __init__(self) -> None:
        self.statements: list[tuple[str, tuple[object, ...]]] = []

    async def read(
        self, conn: AsyncConnection, start: tuple[UUID, int, UUID], movies: int
    ) -> Sequence[Sequence[Any]]:
        """Read like ``read_timelines``, keeping the statement."""
        self.statements.append((TIMELINES_SQL, (*start, movies)))
        return await read_timelines(conn, start, movies)


async def _walk_pages(
    conn: AsyncConnection, density: PairDensity, read: TimelineReader = read_timelines
) -> list[PairRow]:
    """Read every page of the API's all-pairs read, the rows each page's statements and sweep give.

    ``density`` plays the API process's estimate (``OverlapQueries`` keeps one for its pages).
    """
    rows: list[PairRow] = []
    after = None
    while True:
        page = await page_pair_rows(conn, OVERLAP_PAGE, after, density, read=read)
        rows.extend(page[:OVERLAP_PAGE])
        if len(page) <= OVERLAP_PAGE:
            return rows
        after = pair_key(page[OVERLAP_PAGE - 1])


async def _server_ms(conn: AsyncConnection, statements: Sequence[tuple[str, tuple[object, ...]]]) -> float:
    """Return the server's share: the EXPLAIN ANALYZE execution times of ``statements``, summed.

    The statements take positional parameters (``$n``), as the read model runs them.
    """
    total = 0.0
    for sql, params in statements:
        plan = await conn.exec_driver_sql(f"EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {sql}", params)
        # The engine's dialect decodes json: the plan arrives as a list of one document.
        total += float(plan.scalar_one()[0]["Execution Time"])
    return total


async def _walk_read_function(queries: OverlapQueries) -> list[OverlapPair]:
    """Walk every page of ``OverlapQueries.all_pairs`` as an anonymous caller, like an API client."""
    pairs: list[OverlapPair] = []
    after = None
    while True:
        page = await queries.all_pairs(limit=OVERLAP_PAGE, after=after, identity=ANONYMOUS)
        pairs.extend(page.items)
        if page.next is None:
            return pairs
        after = page.next


async def bench_overlaps(base: Settings, sizes: Sizes) -> list[Figure]:
    """Time the read API's overlap queries against the design's GiST self-join on overlapping scenes.

    Both run the same way: through the API's engine, in a transaction acting as an anonymous
    caller (the viewer role, under row-level security), timed from execute to pair rows in
    Python: for ours, the read model's timeline statements (which it runs on the connection's
    driver, in the same transaction) and the sweep that makes the pairs (``movie_pair_rows``,
    ``page_pair_rows``); for the GiST self-join, its rows through SQLAlchemy. The server's
    share (EXPLAIN ANALYZE of the statements ours ran) and the read functions as a whole (their
    own transaction and role switch, pydantic views) are measured too, for the note.
    """
    async with scratch_scene_database(base, "overlaps") as dsn:
        pool = await create_pool(dsn, max_size=1)
        engine = create_read_engine(dsn, pool_size=1)
        try:
            await _seed_overlapping_scenes(pool, sizes)
            movie = await pool.fetchval("SELECT movie_id FROM scenes LIMIT 1")
            scenes = int(await pool.fetchval("SELECT count(*) FROM scenes"))
            async with acting(engine, ANONYMOUS, isolation="REPEATABLE READ") as conn:
                ours_one, one_rows = await _timed(lambda: movie_pair_rows(conn, movie), runs=25)
                density = PairDensity()
                ours_all, all_rows = await _timed(lambda: _walk_pages(conn, density))
                walked = _StatementLog()
                await _walk_pages(conn, density, walked.read)
                server_one, _ = await _timed(
                    lambda: _server_ms(conn, [(MOVIE_TIMELINE_SQL, (movie,))]), runs=25
                )
                server_all, _ = await _timed(lambda: _server_ms(conn, walked.statements), runs=3)
                gist_where = "WHERE s1.movie_id = $1"
                gist_one, gist_one_rows = await _timed(
                    lambda: _rows(conn, OVERLAP_GIST.format(where=gist_where), movie), runs=25
                )
                gist_all, gist_rows = await _timed(lambda: _rows(conn, OVERLAP_GIST.format(where="")), runs=3)
            queries = OverlapQueries(engine)
            fn_one, _ = await _timed(lambda: queries.movie_pairs(movie, identity=ANONYMOUS), runs=25)
            fn_all, api_pairs = await _timed(lambda: _walk_read_function(queries))
        finally:
            await engine.dispose()
            await pool.close()
    pairs = _pair_set((r[1], r[4]) for r in all_rows)
    same_one = _pair_set((r[1], r[4]) for r in one_rows) == _pair_set(gist_one_rows)
    same_all = (
        pairs == _pair_set(gist_rows) == _pair_set((p.first_scene_id, p.second_scene_id) for p in api_pairs)
    )
    timed = "its statements as the viewer role (RLS), execute to pair rows in Python (sweep included)"
    per_movie = sizes.overlap_scenes_per_movie
    pages = len(all_rows) // OVERLAP_PAGE + 1
    return [
        Figure(
            f"overlap pairs, one movie of {per_movie} scenes",
            f"{ours_one:.2f} ms",
            "<= 1 ms",
            ours_one <= 1,
            f"read API's timeline read, {timed} (server {server_one:.2f} ms); "
            f"GiST self-join {gist_one:.2f} ms "
            f"({gist_one / ours_one:.1f}x slower); whole read function with views {fn_one:.2f} ms; "
            f"same pairs: {same_one}",
        ),
        Figure(
            f"overlap pairs, all {scenes:,} scenes",
            f"{ours_all:.1f} ms",
            "<= 15 ms",
            ours_all <= 15,
            f"read API's {pages} keyset pages of {OVERLAP_PAGE:,} "
            f"({len(walked.statements)} statements), {timed} "
            f"(server {server_all:.1f} ms); GiST self-join {gist_all:.1f} ms "
            f"({gist_all / ours_all:.1f}x slower); whole read function with views {fn_all:.1f} ms; "
            f"{len(pairs):,} pairs; same pairs: {same_all}",
        ),
    ]


async def search_figures(base: Settings, sizes: Sizes) -> list[Figure]:
    """Scene search and Japanese dialogue search on a bulk-loaded scratch read model (bench.search)."""
    return await bench_search(base, sizes.search)


async def replay_figures(base: Settings, sizes: Sizes) -> list[Figure]:
    """`sceneledger replay --all` on a mixed log of about ``replay_events`` events (bench.replay)."""
    return await bench_replay(base, sizes.replay_events // 5, namespace, _env)


NOT_BUILT: list[Figure] = []


BENCHMARKS = {
    "append": bench_append,
    "latency": bench_latency,
    "projection": bench_projection,
    "replay": replay_figures,
    "overlaps": bench_overlaps,
    "search": search_figures,
}


async def run(settings: Settings, *, quick: bool, only: list[str] | None = None) -> list[Figure]:
    """Run every benchmark (or ``only`` those named) in turn, each in its own namespace."""
    sizes = Sizes.choose(quick=quick)
    figures: list[Figure] = []
    for name, bench in BENCHMARKS.items():
        if only and name not in only:
            continue
        started = time.perf_counter()
        log.info("bench.started", bench=name)
        figures += await bench(settings, sizes)
        log.info("bench.finished", bench=name, seconds=round(time.perf_counter() - started, 1))
    if not only:
        figures += NOT_BUILT
    return figures
