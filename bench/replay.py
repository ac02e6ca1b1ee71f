"""Replay benchmark: `sceneledger replay --all` on a mixed log, against one event per transaction.

The log is written straight into the event store (the command path is measured elsewhere):
movies with genres, actors with filmographies, and scenes with their cast and dialogue lines,
one append per stream, 16 writers at a time, so the log interleaves streams like real use.
"""

from __future__ import annotations

import asyncio
import random
import re
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from uuid import UUID, uuid4

from bench.report import Figure
from commands.movie import GENRES
from events.actor import ActorRegistered, FilmographyEntryAdded
from events.base import DomainEvent, EventMetadata
from events.movie import MovieGenresAssigned, MovieRegistered
from events.scene import DialogueAdded, SceneActorAdded, SceneCreated
from infra.bootstrap import System, open_system
from infra.replay import ReplayEngine
from infra.services import ALL_SERVICES, build_registry
from infra.settings import Settings

_BASELINE_SCENES = 2000
"""At most this many scenes (about 10,000 events) for the one-event-per-transaction baseline: at
a few hundred applications a second, a twentieth of a million-event log would take 10 minutes."""

_LINES = ("君が好きだ", "猫がいる", "I will come back", "雨が降っている", "Where is the station?")


async def fill_mixed_log(system: System, scenes: int, *, seed: int = 7) -> int:
    """Append a mixed log of about ``5 * scenes`` events; return how many events it holds."""
    rng = random.Random(seed)
    movies = [uuid4() for _ in range(max(scenes // 100, 2))]
    actors = [uuid4() for _ in range(max(scenes // 50, 4))]
    genres = [g.id for g in GENRES.values()]
    streams: list[list[DomainEvent]] = []
    for m in movies:
        chosen = rng.sample(genres, 2)
        streams.append(
            [
                MovieRegistered(stream_id=m, stream_version=1, title=f"映画 {m.hex[:6]}", release_year=1960),
                MovieGenresAssigned(
                    stream_id=m, stream_version=2, genre_ids=tuple(chosen), primary_genre_id=chosen[0]
                ),
            ],
        )
    for i, a in enumerate(actors):
        films = rng.sample(movies, 2)
        streams.append(
            [
                ActorRegistered(stream_id=a, stream_version=1, name=f"俳優 {i}"),
                *(
                    FilmographyEntryAdded(stream_id=a, stream_version=v, movie_id=f)
                    for v, f in enumerate(films, 2)
                ),
            ],
        )
    streams.extend(_scene(rng, rng.choice(movies), actors) for _ in range(scenes))
    rng.shuffle(streams)
    total = sum(len(s) for s in streams)

    async def writer() -> None:
        while streams:
            events = streams.pop()
            await system.event_store.append(events, expected_version=0, metadata=EventMetadata())

    await asyncio.gather(*(writer() for _ in range(16)))
    return total


async def settle_log(system: System) -> None:
    """Bring a log just written to the state any log is in a minute later: read and vacuumed.

    In a running system the relay reads every event right after its commit (setting the rows'
    hint bits) and autovacuum then visits the table. A log bulk-written by the benchmark has
    had neither: the rebuild's first reading paid for the hint bits (its log fetches took
    3.7 s of server CPU instead of 0.7 s) and autovacuum's first pass over ``saga_events``
    started during the timed rebuild.
    """
    await system.event_pool.execute("VACUUM (ANALYZE) saga_events")


def _scene(rng: random.Random, movie: UUID, actors: list[UUID]) -> list[DomainEvent]:
    scene, start = uuid4(), rng.randrange(0, 7000)
    events: list[DomainEvent] = [
        SceneCreated(
            stream_id=scene,
            stream_version=1,
            movie_id=movie,
            start_time_seconds=start,
            end_time_seconds=start + rng.randrange(5, 120),
            level1_classification="L",
            level2_classification=f"L{rng.randrange(1, 6)}",
            tags=("bench",),
            description="ベンチマーク",
        ),
    ]
    cast = rng.sample(actors, 2)
    for actor in cast:
        events.append(
            SceneActorAdded(stream_id=scene, stream_version=len(events) + 1, movie_id=movie, actor_id=actor)
        )
    for _ in range(2):
        events.append(
            DialogueAdded(
                stream_id=scene,
                stream_version=len(events) + 1,
                movie_id=movie,
                dialogue_id=uuid4(),
                actor_id=rng.choice(cast),
                dialogue_text=rng.choice(_LINES),
            ),
        )
    return events


def _run_replay(env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run `sceneledger replay --all` in a process of its own: seconds, peak MB, events, steps.

    The steps are the scene database's, as the command printed them (the longest service).
    """
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.cli", "--log-level", "WARNING", "replay", "--all"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    started, peak = time.perf_counter(), 0.0
    status = Path(f"/proc/{proc.pid}/status")
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]) / 1024)
        except OSError:  # gone between poll() and the read
            break
        time.sleep(0.1)
    seconds = time.perf_counter() - started
    out = (proc.stdout.read() if proc.stdout else b"").decode()
    if proc.returncode != 0:
        raise RuntimeError(f"sceneledger replay --all exited {proc.returncode}: {out}")
    events = sum(int(n) for n in re.findall(r"rebuilt from (\d+) events", out))
    steps = re.search(r"^scene: (shadow .*)$", out, re.MULTILINE)
    return seconds, peak, events, steps.group(1) if steps else "not printed"


async def _one_per_transaction(settings: Settings) -> float:
    """Events/s of a build that applies one event per transaction with the one-by-one functions."""
    projections = [p.projection for spec in ALL_SERVICES for p in spec.projections]
    saved = [p.batch_handlers for p in projections]
    engine = ReplayEngine(settings, build_registry(), batch_size=1)
    events, started = 0, time.perf_counter()
    try:
        for p in projections:
            object.__setattr__(p, "batch_handlers", {})  # frozen; restored below
        for spec in ALL_SERVICES:
            if spec.projections:
                events += (await engine.build_only(spec, "public_bench_baseline")).events
                await engine.drop_schema(spec, "public_bench_baseline")
    finally:
        for p, handlers in zip(projections, saved, strict=True):
            object.__setattr__(p, "batch_handlers", handlers)
    return events / (time.perf_counter() - started)


async def bench_replay(
    base: Settings,
    scenes: int,
    namespace: Callable[[Settings], AbstractAsyncContextManager[Settings]],
    env: Callable[[Settings], dict[str, str]],
) -> list[Figure]:
    """Measure `sceneledger replay --all` (events/s, peak memory) and the one-per-transaction baseline."""
    async with namespace(base) as settings:
        system = await open_system(settings)
        try:
            log_events = await fill_mixed_log(system, scenes)
            await settle_log(system)
        finally:
            await system.close()
        seconds, peak, events, steps = await asyncio.to_thread(_run_replay, env(settings))
    # The target counts the log's events (1M events < 35 s); each is applied by every service
    # that consumes it, so the applied count is about 4x larger and only a note.
    rate = log_events / max(seconds, 1e-9)
    applied_rate = events / max(seconds, 1e-9)
    async with namespace(base) as settings:  # a smaller log: one event per transaction is slow
        system = await open_system(settings)
        try:
            await fill_mixed_log(system, min(max(scenes // 20, 50), _BASELINE_SCENES), seed=8)
            await settle_log(system)
        finally:
            await system.close()
        baseline = await _one_per_transaction(settings)
    return [
        Figure(
            "replay / rebuild of all read models",
            f"{rate:,.0f} events/s",
            ">= 30,000 events/s",
            rate >= 30_000,
            f"log events/s: `replay --all` rebuilt from a log of {log_events:,} events in "
            f"{seconds:.1f} s, process start included ({events:,} applications over the 5 service "
            f"databases, {applied_rate:,.0f}/s); the scene database's steps: {steps}; one event per "
            f"transaction: {baseline:,.0f} applications/s ({applied_rate / max(baseline, 1e-9):.1f}x slower)",
        ),
        Figure(
            "peak memory of one process during replay",
            f"{peak:.0f} MB",
            "<= 300 MB",
            peak <= 300,
            "VmHWM of the `replay --all` process",
        ),
    ]
