"""movie_scene_stats put off while a backlog is worked through: marked, then settled, same figures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest

from events.base import DomainEvent
from events.scene import DialogueAdded, SceneActorAdded, SceneCreated
from infra.db import create_pool
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from projections.runner import ProjectionRunner
from tests.integration.test_projection_runner import delivery

pytestmark = pytest.mark.integration


@pytest.fixture(name="pool")
async def fx_pool(quiet: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(quiet.dsn_for("scene"), max_size=4)
    yield pool
    await pool.close()


def _scene(movie_id: UUID, start: int = 10) -> list[DomainEvent]:
    scene, actor = uuid4(), uuid4()
    return [
        SceneCreated(
            stream_id=scene,
            stream_version=1,
            movie_id=movie_id,
            start_time_seconds=start,
            end_time_seconds=start + 30,
            level1_classification="R",
            level2_classification="R1",
        ),
        SceneActorAdded(stream_id=scene, stream_version=2, movie_id=movie_id, actor_id=actor),
        DialogueAdded(
            stream_id=scene,
            stream_version=3,
            movie_id=movie_id,
            dialogue_id=uuid4(),
            actor_id=actor,
            dialogue_text="君が好きだ",
            is_memorable_quote=True,
        ),
    ]


async def _stats(pool: asyncpg.Pool, movie_id: UUID) -> tuple[int, ...] | None:
    row = await pool.fetchrow(
        "SELECT total_scenes, total_duration_seconds, romance_scenes_count, total_dialogues_count, "
        "memorable_quotes_count, unique_actors_count FROM movie_scene_stats WHERE movie_id = $1",
        movie_id,
    )
    return None if row is None else tuple(row)


async def _stale(pool: asyncpg.Pool, movie_id: UUID) -> bool:
    return bool(
        await pool.fetchval("SELECT count(*) FROM movie_scene_stats_stale WHERE movie_id = $1", movie_id)
    )


async def test_deferred_batch_marks_its_movie_stale_and_leaves_its_stats(pool: asyncpg.Pool) -> None:
    movie = uuid4()
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    await runner.handle_batch([delivery(e) for e in _scene(movie)], settle=False)
    assert await pool.fetchval("SELECT count(*) FROM scenes WHERE movie_id = $1", movie) == 1
    assert await _stats(pool, movie) is None
    assert await _stale(pool, movie)


async def test_settle_gives_the_figures_of_an_eager_recompute(pool: asyncpg.Pool) -> None:
    deferred_movie, eager_movie = uuid4(), uuid4()
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    for start in (10, 100):
        await runner.handle_batch([delivery(e) for e in _scene(deferred_movie, start)], settle=False)
        await runner.handle_batch([delivery(e) for e in _scene(eager_movie, start)])
    await runner.settle()
    assert await _stats(pool, deferred_movie) == await _stats(pool, eager_movie) == (2, 60, 2, 2, 2, 2)
    assert not await _stale(pool, deferred_movie)


async def test_a_batch_that_settles_recomputes_the_movies_left_stale(pool: asyncpg.Pool) -> None:
    deferred_movie, other_movie = uuid4(), uuid4()
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    await runner.handle_batch([delivery(e) for e in _scene(deferred_movie)], settle=False)
    await runner.handle_batch([delivery(e) for e in _scene(other_movie)])
    assert await _stats(pool, deferred_movie) == (1, 30, 1, 1, 1, 1)
    assert not await _stale(pool, deferred_movie)


async def test_settled_row_keeps_the_time_of_the_latest_event(pool: asyncpg.Pool) -> None:
    movie = uuid4()
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    events = [*_scene(movie, 10), *_scene(movie, 200)]
    await runner.handle_batch([delivery(e) for e in events], settle=False)
    await runner.settle()
    last_updated = await pool.fetchval(
        "SELECT last_updated FROM movie_scene_stats WHERE movie_id = $1", movie
    )
    assert last_updated == max(e.occurred_at for e in events)


async def test_redelivered_deferred_batch_marks_nothing(pool: asyncpg.Pool) -> None:
    movie = uuid4()
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    deliveries = [delivery(e) for e in _scene(movie)]
    await runner.handle_batch(deliveries, settle=False)
    await runner.settle()
    await runner.handle_batch(deliveries, settle=False)
    assert not await _stale(pool, movie)
    assert await _stats(pool, movie) == (1, 30, 1, 1, 1, 1)
