"""The Scene service's caches of movies and actors, its data checks and its monitoring objects."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta
from uuid import UUID, uuid4

import asyncpg
import pytest

from commands.parallel import AddSceneToParallelGroup, CreateParallelGroup, RemoveSceneFromParallelGroup
from commands.scene import (
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    ReclassifyScene,
    RemoveDialogue,
    RetimeScene,
    ReviseDialogue,
)
from events.actor import ActorProfileRevised, ActorRegistered, ActorRemoved
from events.base import DomainEvent, EventMetadata
from events.movie import MovieDetailsRevised, MovieRegistered, MovieRemoved
from infra.bootstrap import System, build_broker, build_relay, open_system
from infra.publisher import KafkaPublisher
from infra.settings import Settings
from tests.acting import AS_SYSTEM
from tests.conftest import eventually

pytestmark = pytest.mark.integration

CheckRows = dict[str, tuple[str, str | None]]


async def _append(system: System, event: DomainEvent) -> None:
    await system.event_store.append(
        [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
    )


async def _cached(pool: asyncpg.Pool, table: str, row_id: UUID, version: int) -> asyncpg.Record | None:
    row = await pool.fetchrow(f"SELECT * FROM {table} WHERE id = $1", row_id)
    return row if row is not None and row["version"] >= version else None


async def _gone(pool: asyncpg.Pool, table: str, row_id: UUID) -> bool:
    return bool(await pool.fetchval(f"SELECT count(*) FROM {table} WHERE id = $1", row_id) == 0)


async def _consistency(pool: asyncpg.Pool, movie: UUID | None = None) -> CheckRows:
    rows = await pool.fetch("SELECT * FROM check_data_consistency($1)", movie)
    return {r["check_name"]: (r["status"], r["details"]) for r in rows}


async def _quality(pool: asyncpg.Pool, movie: UUID | None = None) -> CheckRows:
    rows = await pool.fetch("SELECT * FROM run_data_quality_tests($1)", movie)
    return {r["test_name"]: (r["status"], r["details"]) for r in rows}


# --- external_movies_cache / external_actors_cache ---


async def test_registered_movie_is_cached_at_version_1_with_the_events_time(live: System) -> None:
    registered = MovieRegistered(
        stream_id=uuid4(), stream_version=1, title="秒速5センチメートル", release_year=2007, is_public=False
    )
    await _append(live, registered)
    row = await eventually(lambda: _cached(live.scene_pool, "external_movies_cache", registered.stream_id, 1))
    assert (row["title"], row["release_year"], row["is_public"], row["version"]) == (
        "秒速5センチメートル",
        2007,
        False,
        1,
    )
    assert row["cached_at"] == registered.occurred_at
    assert row["expires_at"] - row["cached_at"] == timedelta(hours=1)


async def test_each_movie_revision_bumps_the_cache_version(live: System) -> None:
    movie = uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="言の葉"))
    await _append(live, MovieDetailsRevised(stream_id=movie, stream_version=2, title="言の葉の庭"))
    last = MovieDetailsRevised(stream_id=movie, stream_version=3, title="言の葉の庭", director="新海誠")
    await _append(live, last)
    row = await eventually(lambda: _cached(live.scene_pool, "external_movies_cache", movie, 3))
    assert (row["title"], row["director"], row["version"]) == ("言の葉の庭", "新海誠", 3)
    assert row["cached_at"] == last.occurred_at
    assert row["expires_at"] == last.occurred_at + timedelta(hours=1)


async def test_removed_movie_leaves_the_cache(live: System) -> None:
    movie = uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="x"))
    await eventually(lambda: _cached(live.scene_pool, "external_movies_cache", movie, 1))
    await _append(live, MovieRemoved(stream_id=movie, stream_version=2))
    await eventually(lambda: _gone(live.scene_pool, "external_movies_cache", movie))


async def test_actor_cache_is_inserted_bumped_and_deleted(live: System) -> None:
    actor = uuid4()
    await _append(live, ActorRegistered(stream_id=actor, stream_version=1, name="上白石萌音"))
    first = await eventually(lambda: _cached(live.scene_pool, "external_actors_cache", actor, 1))
    assert (first["name"], first["name_kana"], first["version"]) == ("上白石萌音", None, 1)
    revised = ActorProfileRevised(
        stream_id=actor, stream_version=2, name="上白石萌音", name_kana="かみしらいし もね"
    )
    await _append(live, revised)
    second = await eventually(lambda: _cached(live.scene_pool, "external_actors_cache", actor, 2))
    assert (second["name_kana"], second["cached_at"]) == ("かみしらいし もね", revised.occurred_at)
    await _append(live, ActorRemoved(stream_id=actor, stream_version=3))
    await eventually(lambda: _gone(live.scene_pool, "external_actors_cache", actor))


# --- check_data_consistency() / run_data_quality_tests() ---


@pytest.fixture(name="own_live")
async def fx_own_live(fresh_settings: Settings) -> AsyncIterator[System]:
    """A running system on a namespace of its own: whole-database checks see only this test's data."""
    system = await open_system(fresh_settings)
    publisher = KafkaPublisher(fresh_settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    broker = build_broker(system, commands=False)
    await broker.start()
    yield system
    stop.set()
    await relay
    await broker.stop()
    await publisher.stop()
    await system.close()


async def _projected_everything(system: System) -> bool:
    """Whether the scene database's projections applied every stream of the log to its last version."""
    log = {
        r["stream_id"]: r["v"]
        for r in await system.event_pool.fetch(
            "SELECT stream_id, max(stream_version) AS v FROM saga_events "
            "WHERE stream_type IN ('scene', 'parallel_group', 'movie', 'actor') GROUP BY stream_id"
        )
    }
    applied = {
        r["stream_id"]: r["stream_version"]
        for r in await system.scene_pool.fetch(
            "SELECT stream_id, stream_version FROM projection_stream_versions "
            "WHERE projection IN ('scenes', 'scene_caches')"
        )
    }
    return all(applied.get(stream, 0) >= version for stream, version in log.items())


async def _realistic_sequence(system: System) -> UUID:
    """A movie's life: cast, lines, nesting, a parallel group, retimes, removals and deletions."""
    bus, movie = system.bus, uuid4()
    await _append(system, MovieRegistered(stream_id=movie, stream_version=1, title="すずめの戸締まり"))
    await _append(
        system,
        MovieDetailsRevised(stream_id=movie, stream_version=2, title="すずめの戸締まり", director="新海誠"),
    )
    lead, support = uuid4(), uuid4()
    await _append(system, ActorRegistered(stream_id=lead, stream_version=1, name="原菜乃華"))
    await _append(system, ActorRegistered(stream_id=support, stream_version=1, name="松村北斗"))

    parent = CreateScene(movie_id=movie, start="1000", end="1100", classification="L2-3", description="扉")
    child = CreateScene(
        movie_id=movie,
        start="1010",
        end="1020",
        classification="R1",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    chase = CreateScene(movie_id=movie, start="1200", end="1230", classification="A1")
    cut = CreateScene(movie_id=movie, start="1300", end="1320", classification="C1")
    for cmd in (parent, child, chase, cut):
        await bus.dispatch(cmd, AS_SYSTEM)
    await bus.dispatch(
        AddSceneActor(scene_id=parent.scene_id, actor_id=lead, role_type="primary", screen_time_seconds=50),
        AS_SYSTEM,
    )
    await bus.dispatch(
        AddSceneActor(scene_id=parent.scene_id, actor_id=support, role_type="supporting"), AS_SYSTEM
    )
    await bus.dispatch(
        AddSceneActor(scene_id=chase.scene_id, actor_id=lead, character_name="すずめ"), AS_SYSTEM
    )
    await bus.dispatch(AddSceneActor(scene_id=cut.scene_id, actor_id=support, role_type="cameo"), AS_SYSTEM)
    quote = AddDialogue(
        scene_id=parent.scene_id,
        actor_id=lead,
        dialogue_text="いってきます",
        start_time_offset=50,
        duration_seconds=3,
        is_memorable_quote=True,
        dialogue_type="monologue",
    )
    aside = AddDialogue(
        scene_id=child.scene_id, actor_id=support, dialogue_text="閉じろ", start_time_offset=2
    )
    dropped = AddDialogue(scene_id=cut.scene_id, actor_id=support, dialogue_text="…", is_memorable_quote=True)
    for line in (quote, aside, dropped):
        await bus.dispatch(line, AS_SYSTEM)
    await bus.dispatch(
        ReviseDialogue(scene_id=child.scene_id, dialogue_id=aside.dialogue_id, emotional_tone="urgent"),
        AS_SYSTEM,
    )
    await bus.dispatch(RemoveDialogue(scene_id=parent.scene_id, dialogue_id=quote.dialogue_id), AS_SYSTEM)
    await bus.dispatch(RetimeScene(scene_id=child.scene_id, start="1030", end="+15"), AS_SYSTEM)
    await bus.dispatch(RetimeScene(scene_id=parent.scene_id, start="1000", end="1050"), AS_SYSTEM)
    await bus.dispatch(ReclassifyScene(scene_id=chase.scene_id, classification="S3"), AS_SYSTEM)
    group = CreateParallelGroup(movie_id=movie, start="1200", end="1330", relation_type="split_screen")
    await bus.dispatch(group, AS_SYSTEM)
    await bus.dispatch(
        AddSceneToParallelGroup(group_id=group.group_id, scene_id=chase.scene_id, display_position="top"),
        AS_SYSTEM,
    )
    await bus.dispatch(
        AddSceneToParallelGroup(group_id=group.group_id, scene_id=cut.scene_id, display_position="bottom"),
        AS_SYSTEM,
    )
    await bus.dispatch(
        RemoveSceneFromParallelGroup(group_id=group.group_id, scene_id=chase.scene_id), AS_SYSTEM
    )
    await bus.dispatch(
        DeleteScene(scene_id=cut.scene_id), AS_SYSTEM
    )  # had an actor, a memorable line, a membership
    return movie


async def test_whole_database_checks_pass_after_a_realistic_sequence(own_live: System) -> None:
    movie = await _realistic_sequence(own_live)
    await eventually(lambda: _projected_everything(own_live), timeout=60)
    pool = own_live.scene_pool
    consistency = {
        r["check_name"]: r["status"] for r in await pool.fetch("SELECT * FROM check_data_consistency()")
    }
    quality = {
        r["test_name"]: r["status"] for r in await pool.fetch("SELECT * FROM run_data_quality_tests()")
    }
    assert consistency == dict.fromkeys(
        (
            "orphan_scenes",
            "duplicate_dialogues",
            "invalid_time_ranges",
            "nested_scenes_outside_parent",
            "parallel_members_outside_group",
            "movie_scene_stats_drift",
        ),
        "PASS",
    )
    assert quality == dict.fromkeys(
        (
            "valid_scene_times",
            "classification_hierarchy",
            "foreign_key_integrity",
            "actor_references",
            "screen_time_within_scene",
            "dialogues_within_scene",
        ),
        "PASS",
    )
    stats = await pool.fetchrow("SELECT * FROM movie_scene_stats WHERE movie_id = $1", movie)
    assert (stats["total_scenes"], stats["total_dialogues_count"], stats["unique_actors_count"]) == (3, 1, 2)


async def _movie_with_a_scene(live: System) -> tuple[UUID, UUID]:
    movie = uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="x"))
    scene = CreateScene(movie_id=movie, start="1", end="+30", classification="D1")
    await live.bus.dispatch(scene, AS_SYSTEM)

    async def ready() -> bool:
        found = await live.scene_pool.fetchval(
            "SELECT count(*) FROM scenes s JOIN external_movies_cache m ON m.id = s.movie_id "
            "JOIN movie_scene_stats st ON st.movie_id = s.movie_id WHERE s.id = $1 AND st.total_scenes = 1",
            scene.scene_id,
        )
        return bool(found == 1)

    await eventually(ready)
    checks = await _consistency(live.scene_pool, movie)
    assert (checks["orphan_scenes"][0], checks["movie_scene_stats_drift"][0]) == ("PASS", "PASS")
    return movie, scene.scene_id


async def test_a_scene_whose_movie_was_removed_is_an_orphan(live: System) -> None:
    movie, scene = await _movie_with_a_scene(live)
    await _append(live, MovieRemoved(stream_id=movie, stream_version=2))

    async def orphaned() -> CheckRows | None:
        checks = await _consistency(live.scene_pool, movie)
        return checks if checks["orphan_scenes"][0] == "FAIL" else None

    checks = await eventually(orphaned)
    assert checks["orphan_scenes"][1] == str(scene)
    assert (await _quality(live.scene_pool, movie))["foreign_key_integrity"][0] == "WARNING"


async def test_stats_drift_is_reported(live: System) -> None:
    movie, _ = await _movie_with_a_scene(live)
    await live.scene_pool.execute("UPDATE movie_scene_stats SET total_scenes = 7 WHERE movie_id = $1", movie)
    assert (await _consistency(live.scene_pool, movie))["movie_scene_stats_drift"] == ("FAIL", str(movie))


async def test_cast_and_lines_beyond_their_scene_are_reported(live: System) -> None:
    movie, scene = await _movie_with_a_scene(live)
    await live.scene_pool.execute(
        "INSERT INTO scene_actors (scene_id, actor_id, screen_time_seconds) VALUES ($1, $2, 31)",
        scene,
        uuid4(),
    )
    await live.scene_pool.execute(
        "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text, start_time_offset, "
        "duration_seconds) VALUES ($1, $2, 'x', 29, 2)",
        scene,
        uuid4(),
    )
    quality = await _quality(live.scene_pool, movie)
    assert quality["screen_time_within_scene"][0] == "FAIL"
    assert quality["dialogues_within_scene"][0] == "FAIL"
    assert quality["actor_references"][0] == "WARNING"


# --- monitoring ---


async def test_monitoring_views_and_health_check_answer(live: System) -> None:
    pool = live.scene_pool
    sizes = {r["tablename"] for r in await pool.fetch("SELECT tablename FROM table_sizes")}
    assert {
        "scenes",
        "scene_actors",
        "scene_dialogues",
        "movie_scene_stats",
        "external_movies_cache",
    } <= sizes
    indexes = {r["indexname"] for r in await pool.fetch("SELECT indexname FROM index_usage")}
    assert {
        "idx_scene_actors_actor",
        "idx_scene_dialogues_memorable",
        "idx_parallel_members_scene",
    } <= indexes
    await pool.fetch("SELECT * FROM slow_queries")
    health = {
        r["alert_type"]: r["severity"] for r in await pool.fetch("SELECT * FROM check_database_health()")
    }
    assert health["connection_count"] in {"OK", "WARNING", "CRITICAL"}
    assert "long_locks" in health
