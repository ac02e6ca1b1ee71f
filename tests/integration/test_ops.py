"""Operations on the real stack: status and health, dead letters, upcasting, checks, housekeeping, backup."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner, Result

from events.base import DomainEvent, EventMetadata
from events.scene import SceneCreated, SceneDetailsEdited
from infra.bootstrap import System, build_broker, build_relay, create_read_engine, open_system
from infra.metrics import ops_router
from infra.ops import OpsContext, ProjectionStatus, pool_connect, projection_status
from infra.ops_cli import ops_app
from infra.publisher import KafkaPublisher
from infra.settings import Settings
from tests.conftest import _drop_namespace, eventually, make_namespace

pytestmark = pytest.mark.integration


# --- helpers ---


def _created(scene_id: UUID, movie_id: UUID, *, parent: UUID | None = None) -> SceneCreated:
    return SceneCreated(
        stream_id=scene_id,
        stream_version=1,
        movie_id=movie_id,
        start_time_seconds=10,
        end_time_seconds=20,
        level1_classification="L",
        level2_classification="L2",
        scene_type="nested" if parent else "primary",
        parent_scene_id=parent,
        tags=("rain",),
    )


def _edited(scene_id: UUID, movie_id: UUID, version: int, tags: tuple[str, ...]) -> SceneDetailsEdited:
    return SceneDetailsEdited(
        stream_id=scene_id, stream_version=version, movie_id=movie_id, description="夜", tags=tags
    )


async def _append(system: System, *events: DomainEvent) -> None:
    await system.event_store.append(
        list(events), expected_version=events[0].stream_version - 1, metadata=EventMetadata()
    )


async def _append_v1_details_edited(system: System, scene_id: UUID, movie_id: UUID, version: int) -> None:
    """A SceneDetailsEdited row as the v1 code wrote it: schema_version 1, unnormalised tags."""
    payload = {"movie_id": str(movie_id), "description": "旧", "tags": [" rain", "rain", "", "night"]}
    await system.event_pool.execute(
        "INSERT INTO saga_events (saga_id, saga_type, step_name, step_status, event_data, stream_type, "
        "stream_id, stream_version, event_type, schema_version, partition_key, occurred_at) "
        "VALUES (gen_random_uuid(), 'command', 'SceneDetailsEdited', 'completed', $1::jsonb, 'scene', "
        "$2, $3, 'SceneDetailsEdited', 1, $4, now())",
        payload,  # the pool's jsonb codec encodes it
        scene_id,
        version,
        str(movie_id),
    )


def _ops(system: System) -> OpsContext:
    return OpsContext(connect=pool_connect(system.event_pool, system.pools))


async def _cli(settings: Settings, *args: str) -> Result:
    env = {
        "SCENELEDGER_PG_DSN": settings.pg_dsn,
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SCENELEDGER_NAMESPACE": settings.namespace,
    }
    # The commands run their own event loop (asyncio.run): give them a thread of their own.
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(ops_app, list(args), env=env))


_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[")


def _text(result: Result) -> str:
    # CliRunner swaps the process-wide stdout: log lines of the workers running meanwhile land in it.
    return "\n".join(line for line in result.output.splitlines() if not _LOG_LINE.match(line))


def _json(result: Result) -> Any:
    return json.loads(_text(result))


async def _status(system: System, name: str, **kwargs: Any) -> ProjectionStatus:
    return next(s for s in await projection_status(_ops(system), **kwargs) if s.projection == name)


@asynccontextmanager
async def _running(settings: Settings) -> AsyncIterator[System]:
    """The relay and every projector on ``settings``' namespace, as the ``live`` fixture runs them."""
    system = await open_system(settings)
    publisher = KafkaPublisher(settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    broker = build_broker(system, commands=False)
    await broker.start()
    try:
        yield system
    finally:
        stop.set()
        await relay
        await broker.stop()
        await publisher.stop()
        await system.close()


async def _scene_row(system: System, scene_id: UUID) -> Any:
    return await system.pools["scene"].fetchrow("SELECT * FROM scenes WHERE id = $1", scene_id)


async def _letters(system: System, scene_id: UUID) -> list[Any]:
    return list(
        await system.pools["scene"].fetch(
            "SELECT * FROM projection_dead_letters WHERE projection = 'scenes' AND stream_id = $1 "
            "ORDER BY stream_version",
            scene_id,
        ),
    )


async def _poisoned_scene(live: System, *, v1_edit: bool = False) -> tuple[UUID, UUID, UUID, int]:
    """A scene whose creation names a parent the read model lacks, then an edit parked behind it.

    Returns (scene id, movie id, missing parent id, id of the head dead letter).
    """
    scene, movie, parent = uuid4(), uuid4(), uuid4()
    await _append(live, _created(scene, movie, parent=parent))
    if v1_edit:
        await _append_v1_details_edited(live, scene, movie, 2)
    else:
        await _append(live, _edited(scene, movie, 2, ("fixed",)))

    async def both_dead_lettered() -> list[Any] | None:
        rows = await _letters(live, scene)
        return rows if len(rows) == 2 else None

    rows = await eventually(both_dead_lettered)
    return scene, movie, parent, int(rows[0]["id"])


# --- status and health ---


async def test_stalled_projector_is_reported_unhealthy(fresh_settings: Settings) -> None:
    system = await open_system(fresh_settings)  # no relay, no projector: the head moves, nothing follows
    try:
        scene, movie = uuid4(), uuid4()
        await _append(system, _created(scene, movie), _edited(scene, movie, 2, ("a",)))
        before = await _status(system, "scenes", stall_after=timedelta(seconds=60))
        assert (before.lag_events, before.stalled) == (2, False)
        assert before.head_position > 0
        assert before.projected_position == 0
        await asyncio.sleep(1.2)
        after = await _status(system, "scenes", stall_after=timedelta(seconds=1))
        assert after.stalled
        assert after.lag_seconds > 1
        result = await _cli(fresh_settings, "projections", "health", "--stall-after", "1")
        assert result.exit_code == 1, result.output
        assert _text(result).startswith("unhealthy")
        assert "scenes: stalled, 2 events waiting" in result.output
    finally:
        await system.close()


async def test_running_projector_catches_up_and_is_not_stalled(fresh_settings: Settings) -> None:
    async with _running(fresh_settings) as system:
        scene, movie = uuid4(), uuid4()
        await _append(system, _created(scene, movie), _edited(scene, movie, 2, ("a",)))

        async def caught_up() -> ProjectionStatus | None:
            s = await _status(system, "scenes", stall_after=timedelta(seconds=0))
            return s if s.lag_events == 0 and s.projected_position == s.head_position else None

        status = await eventually(caught_up)
        assert not status.stalled
        assert status.lag_seconds == 0
        assert status.partitions
        assert sum(p.next_offset for p in status.partitions) == 2
        result = await _cli(fresh_settings, "projections", "status")
        assert result.exit_code == 0, result.output
        assert "scene/scenes: ok" in result.output


async def test_status_reports_kafka_lag_per_partition(fresh_settings: Settings) -> None:
    async with _running(fresh_settings) as system:
        scene, movie = uuid4(), uuid4()
        await _append(system, _created(scene, movie), _edited(scene, movie, 2, ("a",)))
        await eventually(lambda: _scene_row(system, scene))
        result = await _cli(fresh_settings, "projections", "status", "--json")
    assert result.exit_code == 0, result.output
    scenes = next(s for s in _json(result) if s["projection"] == "scenes")
    # Every partition of the topic is listed, also those the projection never committed on.
    assert sorted(p["partition"] for p in scenes["partitions"]) == [0, 1, 2]
    assert sum(p["end_offset"] for p in scenes["partitions"]) == 2
    assert all(p["lag_records"] == 0 for p in scenes["partitions"])


# --- upcasting ---


async def test_v1_event_replays_through_its_upcaster(live: System) -> None:
    scene, movie = uuid4(), uuid4()
    await _append(live, _created(scene, movie))
    await _append_v1_details_edited(live, scene, movie, 2)

    async def edited() -> Any:
        row = await _scene_row(live, scene)
        return row if row and row["version"] == 2 else None

    row = await eventually(edited)
    assert row["tags"] == ["rain", "night"]
    assert row["description"] == "旧"


# --- dead letters ---


async def test_poison_event_is_dead_lettered_without_stopping_other_keys(live: System) -> None:
    scene, movie, _, head = await _poisoned_scene(live)
    same_movie, other_movie, other = uuid4(), uuid4(), uuid4()
    await _append(live, _created(same_movie, movie))
    await _append(live, _created(other, other_movie))
    await eventually(lambda: _scene_row(live, other))
    await eventually(lambda: _scene_row(live, same_movie))
    assert await _scene_row(live, scene) is None
    result = await _cli(live.settings, "dlq", "list", "--projection", "scenes", "--json")
    assert result.exit_code == 0, result.output
    mine = [d for d in _json(result) if d["stream_id"] == str(scene)]
    assert [(d["stream_version"], d["parked_behind"]) for d in mine] == [(1, None), (2, head)]
    assert mine[0]["ref"] == f"scene:{head}"
    assert "ForeignKeyViolationError" in mine[0]["error"]


async def test_retry_after_fixing_the_cause_applies_the_parked_events_upcast(live: System) -> None:
    scene, movie, parent, head = await _poisoned_scene(live, v1_edit=True)
    await _append(live, _created(parent, movie))  # the missing parent: the cause is fixed
    await eventually(lambda: _scene_row(live, parent))
    result = await _cli(live.settings, "dlq", "retry", f"scene:{head}")
    assert result.exit_code == 0, result.output
    assert "applied 2" in result.output
    row = await _scene_row(live, scene)
    # The parked edit is a v1 event: retried dead letters go through the upcaster too.
    assert (row["version"], row["parent_scene_id"], row["tags"]) == (2, parent, ["rain", "night"])
    assert all(r["resolved_at"] is not None for r in await _letters(live, scene))


async def test_retry_that_fails_again_keeps_the_stream_parked(live: System) -> None:
    scene, _, _, head = await _poisoned_scene(live)
    result = await _cli(live.settings, "dlq", "retry", f"scene:{head}")
    assert result.exit_code == 1, result.output
    letters = await _letters(live, scene)
    assert [(r["id"], r["resolved_at"], r["parked_behind"]) for r in letters] == [
        (head, None, None),
        (letters[1]["id"], None, head),
    ]
    assert letters[0]["error"].startswith("ForeignKeyViolationError")
    assert await _scene_row(live, scene) is None


async def test_retry_of_a_parked_dead_letter_is_refused(live: System) -> None:
    scene, _, _, head = await _poisoned_scene(live)
    parked = (await _letters(live, scene))[1]["id"]
    result = await _cli(live.settings, "dlq", "retry", f"scene:{parked}")
    assert result.exit_code == 3
    assert f"parked behind scene:{head}" in result.output


async def test_skip_gives_up_the_head_and_applies_the_parked_events(live: System) -> None:
    scene, _, _, head = await _poisoned_scene(live)
    result = await _cli(live.settings, "dlq", "skip", f"scene:{head}")
    assert result.exit_code == 0, result.output
    assert "applied 1, skipped 1" in result.output
    version = await live.pools["scene"].fetchval(
        "SELECT stream_version FROM projection_stream_versions "
        "WHERE projection = 'scenes' AND stream_id = $1",
        scene,
    )
    assert version == 2
    assert all(r["resolved_at"] is not None for r in await _letters(live, scene))


async def test_skip_policy_sweep_lets_a_stream_go_on(endpoints: tuple[str, str]) -> None:
    settings = await make_namespace(endpoints)
    try:
        async with _running(settings) as system:
            scene, _, _, _ = await _poisoned_scene(system)
            result = await _cli(settings, "housekeeping", "--skip-projection", "scenes")
            assert result.exit_code == 0, result.output
            assert "skipped 1 dead letters" in result.output
            assert all(r["resolved_at"] is not None for r in await _letters(system, scene))
            later = _edited(scene, uuid4(), 3, ("after",))
            await _append(system, later)

            async def applied() -> bool:
                s = await _status(system, "scenes")
                return s.lag_events == 0 and s.open_dead_letters == 0

            await eventually(applied)
    finally:
        await _drop_namespace(settings)


# --- metrics and readiness ---


@asynccontextmanager
async def _client(system: System, **kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    engine = create_read_engine(system.settings.dsn_for("event_store"), pool_size=5)
    app = FastAPI()
    app.include_router(ops_router(system.bus, {**system.engines, "event_store": engine}, **kwargs))
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://ops") as client:
            yield client
    finally:
        await engine.dispose()


async def test_metrics_expose_appended_published_projected_and_lag(live: System) -> None:
    scene = uuid4()
    await _append(live, _created(scene, uuid4()))
    await eventually(lambda: _scene_row(live, scene))
    position = await live.event_pool.fetchval("SELECT position FROM saga_events WHERE stream_id = $1", scene)
    async with _client(live) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    samples = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in response.text.splitlines()
        if line and not line.startswith("#")
    }
    assert samples["sceneledger_events_appended_total"] >= position
    assert samples['sceneledger_events_published_total{relay="kafka"}'] >= 1
    assert samples['sceneledger_events_projected_total{projection="scenes",service="scene"}'] >= 1
    assert 'sceneledger_projection_lag_events{projection="scenes",service="scene"}' in samples
    assert 'sceneledger_saga_steps{saga_type="command",step_status="completed"}' in samples


async def test_ready_is_503_when_a_projection_is_stalled(fresh_settings: Settings) -> None:
    system = await open_system(fresh_settings)
    try:
        await _append(system, _created(uuid4(), uuid4()))
        await asyncio.sleep(0.1)
        async with _client(system, stall_after=timedelta(0)) as client:
            response = await client.get("/health/ready")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert any(p.startswith("scenes: stalled") for p in body["problems"])
    finally:
        await system.close()


async def test_ready_is_200_while_projectors_keep_up(live: System) -> None:
    async with _client(live) as client:
        response = await client.get("/health/ready")
    assert response.status_code == 200, response.text
    assert response.json()["status"] in {"ok", "degraded"}


# --- checks and housekeeping ---


async def test_check_fails_on_an_orphan_scene(live: System) -> None:
    movie = uuid4()  # no such movie: the scene row below is an orphan
    await live.pools["scene"].execute(
        "INSERT INTO scenes (id, movie_id, start_time_seconds, end_time_seconds, "
        "level1_classification, level2_classification) VALUES ($1, $2, 1, 2, 'A', 'A1')",
        uuid4(),
        movie,
    )
    result = await _cli(live.settings, "check", "--movie", str(movie))
    assert result.exit_code == 1, result.output
    assert "FAIL  consistency.orphan_scenes" in result.output


async def test_check_passes_for_a_consistent_movie(live: System) -> None:
    from events.movie import MovieRegistered  # noqa: PLC0415  only this test needs a movie

    movie, scene = uuid4(), uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="ops"))
    await eventually(
        lambda: live.pools["scene"].fetchval("SELECT 1 FROM external_movies_cache WHERE id = $1", movie)
    )
    await _append(live, _created(scene, movie))
    await eventually(lambda: _scene_row(live, scene))
    result = await _cli(live.settings, "check", "--movie", str(movie))
    assert result.exit_code == 0, result.output
    assert "FAIL" not in result.output


async def test_housekeeping_purges_only_command_ids_past_retention(live: System) -> None:
    old, recent = uuid4(), uuid4()
    for command_id, age in ((old, timedelta(days=8)), (recent, timedelta(days=6))):
        await live.event_pool.execute(
            "INSERT INTO processed_commands (command_id, stream_id, stream_version, positions, processed_at) "
            "VALUES ($1, $2, 1, '{}', $3)",
            command_id,
            uuid4(),
            datetime.now(UTC) - age,
        )
    result = await _cli(live.settings, "housekeeping", "--retention-days", "7")
    assert result.exit_code == 0, result.output
    left = await live.event_pool.fetch(
        "SELECT command_id FROM processed_commands WHERE command_id = ANY($1::uuid[])", [old, recent]
    )
    assert [r["command_id"] for r in left] == [recent]


# --- backup and restore ---


async def _read_models(system: System) -> list[Any]:
    async def caught_up() -> bool:
        statuses = await projection_status(_ops(system))
        return all(s.lag_events == 0 for s in statuses) and any(s.head_position for s in statuses)

    await eventually(caught_up, timeout=60)
    rows = await system.pools["scene"].fetch(
        "SELECT id, movie_id, parent_scene_id, tags, description, version FROM scenes ORDER BY id"
    )
    return [tuple(r) for r in rows]


async def test_restore_then_replay_reproduces_the_read_models(
    endpoints: tuple[str, str], tmp_path: Path
) -> None:
    source, target = await make_namespace(endpoints), await make_namespace(endpoints)
    try:
        async with _running(source) as system:
            movie, parent, child = uuid4(), uuid4(), uuid4()
            await _append(system, _created(parent, movie))
            await _append(system, _created(child, movie, parent=parent))
            await _append_v1_details_edited(system, child, movie, 2)
            expected = await _read_models(system)
        assert len(expected) == 2
        dump = tmp_path / "event_store.dump"
        result = await _cli(source, "backup", str(dump))
        assert result.exit_code == 0, result.output
        result = await _cli(target, "restore", str(dump))
        assert result.exit_code == 0, result.output
        async with _running(target) as system:
            assert await _read_models(system) == expected
    finally:
        await _drop_namespace(source)
        await _drop_namespace(target)


async def test_restore_refuses_an_event_store_with_events(live: System, tmp_path: Path) -> None:
    dump = tmp_path / "event_store.dump"
    result = await _cli(live.settings, "backup", str(dump))
    assert result.exit_code == 0, result.output
    result = await _cli(live.settings, "restore", str(dump))
    assert result.exit_code == 3
    assert "already holds events" in result.output
