"""Rebuilding several services together (``replay --all``) yields what one at a time yields."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import asyncpg
import pytest

from events.base import RecordedEvent
from events.registry import EventRegistry
from infra.bootstrap import System
from infra.replay import ReplayEngine, compare_schemas, recorded_from_log
from infra.services import ALL_SERVICES, build_registry, topic_by_stream_type
from projections.runner import BatchOutcome, Delivery, ProjectionRunner
from tests.integration.test_replay import _diff_with_old, _engine, _scenario, fx_system

pytestmark = pytest.mark.integration

__all__ = ["fx_system"]  # the fixture, imported for its registration

SPECS = [spec for spec in ALL_SERVICES if spec.projections]


class _Counted:
    """A progress sink recording what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def start(self, label: str, total: int, done: int) -> None:  # noqa: ARG002  label not checked
        self.calls.append(("start", total))

    def advance(self, events: int) -> None:
        self.calls.append(("advance", events))

    def finish(self) -> None:
        self.calls.append(("finish", 0))


class _InterruptedError(Exception):
    """Raised by :class:`_StopAfter` to stop a build half-way, as a killed process would."""


class _StopAfter(_Counted):
    """A progress sink that stops the build after ``batches`` batches have been committed."""

    def __init__(self, batches: int) -> None:
        super().__init__()
        self.batches = batches

    def advance(self, events: int) -> None:
        super().advance(events)
        if sum(kind == "advance" for kind, _ in self.calls) >= self.batches:
            raise _InterruptedError


async def _schema_diff(system: System, name: str, left: str, right: str) -> list[str]:
    conn = await asyncpg.connect(system.settings.dsn_for(name))
    try:
        return [d.describe() for d in await compare_schemas(conn, left, right)]
    finally:
        await conn.close()


async def _progress_row(system: System, name: str, schema: str) -> tuple[int, int]:
    row = await system.pools[name].fetchrow(f"SELECT position, events FROM {schema}.replay_progress")
    assert row is not None
    return row["position"], row["events"]


async def _log_rows(system: System, services: Sequence[str]) -> int:
    """Rows of the log whose stream type one of ``services`` consumes."""
    topics = {t for spec in ALL_SERVICES if spec.name in services for p in spec.projections for t in p.topics}
    types = [st for st, topic in topic_by_stream_type().items() if topic in topics]
    return int(
        await system.event_pool.fetchval(
            "SELECT count(*) FROM saga_events WHERE stream_type = ANY($1::text[])", types
        )
    )


async def test_services_rebuilt_together_yield_the_live_read_models(system: System) -> None:
    await _scenario(system)
    reports = await _engine(system, batch_size=7).rebuild_many(SPECS, keep_old=True)
    assert [r.service for r in reports] == [spec.name for spec in SPECS]
    assert all(r.swapped and r.events > 0 for r in reports)
    differences = {r.service: await _diff_with_old(system, r.service, r.old_schema) for r in reports}
    assert differences == {spec.name: [] for spec in SPECS}


async def test_services_rebuilt_together_equal_the_services_rebuilt_one_by_one(system: System) -> None:
    await _scenario(system)
    engine = _engine(system, batch_size=7)
    for spec in SPECS:
        await engine.build_only(spec, "public_one_by_one")

    await engine.rebuild_many(SPECS)

    differences = {
        spec.name: await _schema_diff(system, spec.name, "public_one_by_one", "public") for spec in SPECS
    }
    assert differences == {spec.name: [] for spec in SPECS}


async def test_services_rebuilt_together_decode_each_log_row_once(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenario(system)
    decoded: list[int] = []

    def counting(
        row: asyncpg.Record, payload: dict[str, Any], registry: EventRegistry, metadata: dict[Any, Any]
    ) -> RecordedEvent:
        decoded.append(row["position"])
        return recorded_from_log(row, payload, registry, metadata)

    monkeypatch.setattr("infra.replay.recorded_from_log", counting)

    reports = await _engine(system, batch_size=7).rebuild_many(SPECS)

    assert sorted(decoded) == sorted(set(decoded))
    assert len(decoded) == await _log_rows(system, [spec.name for spec in SPECS])
    # ... while each service still got every row it consumes.
    assert [r.events for r in reports] == [await _log_rows(system, [spec.name]) for spec in SPECS]


async def test_the_next_batch_is_read_and_decoded_while_the_one_before_is_applied(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenario(system)
    decoded: list[int] = []
    next_batch = asyncio.Event()

    def counting(
        row: asyncpg.Record, payload: dict[str, Any], registry: EventRegistry, metadata: dict[Any, Any]
    ) -> RecordedEvent:
        decoded.append(row["position"])
        if len(decoded) > 7:  # a row of the second batch
            next_batch.set()
        return recorded_from_log(row, payload, registry, metadata)

    original = ProjectionRunner.handle_batch

    async def holding(
        self: ProjectionRunner, deliveries: Sequence[Delivery], *, settle: bool = True, fresh: bool = False
    ) -> BatchOutcome:
        # The first batch stays applying until the reading has decoded the next one: a reading
        # that waited for an apply to end would never get there (TimeoutError).
        await asyncio.wait_for(next_batch.wait(), timeout=5)
        return await original(self, deliveries, settle=settle, fresh=fresh)

    monkeypatch.setattr("infra.replay.recorded_from_log", counting)
    monkeypatch.setattr(ProjectionRunner, "handle_batch", holding)

    # One service: a target given no rows of a batch (none of its stream types) is done with it
    # at once, and would let any reading go on.
    scene = SPECS[0]
    reports = await _engine(system, batch_size=7).rebuild_many([scene])

    assert [r.events for r in reports] == [await _log_rows(system, [scene.name])]


async def test_services_rebuilt_together_report_one_progress(system: System) -> None:
    await _scenario(system)
    sink = _Counted()
    engine = ReplayEngine(system.settings, build_registry(), batch_size=7, progress=sink)
    reports = await engine.rebuild_many(SPECS)
    kinds = [kind for kind, _ in sink.calls]
    assert kinds[0] == "start"
    assert kinds[-1] == "finish"
    assert kinds.count("start") == kinds.count("finish") == 1
    total = sink.calls[0][1]
    assert sum(n for kind, n in sink.calls if kind == "advance") == total == sum(r.events for r in reports)


async def test_services_resume_together_from_different_cursors(system: System) -> None:
    await _scenario(system)
    scene, movie = SPECS[0], SPECS[1]
    assert (scene.name, movie.name) == ("scene", "movie")
    await _engine(system, batch_size=7).build_only(scene, "public_shadow_rebuild")  # to the head
    stopping = ReplayEngine(system.settings, build_registry(), batch_size=7, progress=_StopAfter(2))
    with pytest.raises(_InterruptedError):
        await stopping.build_only(movie, "public_shadow_rebuild")  # half-way
    scene_cursor, _ = await _progress_row(system, "scene", "public_shadow_rebuild")
    movie_cursor, movie_done = await _progress_row(system, "movie", "public_shadow_rebuild")
    assert 0 < movie_cursor < scene_cursor  # the others have no shadow yet: cursor 0

    reports = await _engine(system, batch_size=7).rebuild_many(SPECS, keep_old=True)

    by_name = {r.service: r for r in reports}
    assert (by_name["scene"].resumed_from, by_name["scene"].events) == (scene_cursor, 0)
    assert by_name["movie"].resumed_from == movie_cursor
    assert by_name["movie"].events == await _log_rows(system, ["movie"]) - movie_done
    assert all(r.resumed_from == 0 and r.events > 0 for r in reports if r.service not in {"scene", "movie"})
    differences = {r.service: await _diff_with_old(system, r.service, r.old_schema) for r in reports}
    assert differences == {spec.name: [] for spec in SPECS}


async def test_a_service_failing_stops_the_run_and_a_rerun_resumes_every_service(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenario(system)
    original = ProjectionRunner.handle_batch
    calls = {"users": 0}

    async def failing(
        self: ProjectionRunner, deliveries: Sequence[Delivery], *, settle: bool = True, fresh: bool = False
    ) -> BatchOutcome:
        if self.projection.name == "users":
            calls["users"] += 1
            if calls["users"] == 1:
                raise ConnectionError("user database went away")
        return await original(self, deliveries, settle=settle, fresh=fresh)

    monkeypatch.setattr(ProjectionRunner, "handle_batch", failing)
    with pytest.raises(ConnectionError):
        await _engine(system, batch_size=7).rebuild_many(SPECS)
    monkeypatch.setattr(ProjectionRunner, "handle_batch", original)
    left = {spec.name: (await _progress_row(system, spec.name, "public_shadow_rebuild"))[0] for spec in SPECS}
    assert left["scene"] > 0  # the others' batches were committed, not undone

    reports = await _engine(system, batch_size=7).rebuild_many(SPECS, keep_old=True)

    assert {r.service: r.resumed_from for r in reports} == left
    differences = {r.service: await _diff_with_old(system, r.service, r.old_schema) for r in reports}
    assert differences == {spec.name: [] for spec in SPECS}
