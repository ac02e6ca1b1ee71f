"""Per-movie scene counts kept by the scene indexes' statement triggers (movie 0002, user 0004)."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg
import pytest

from infra.bootstrap import System
from projections.movies import _refresh_statistics

pytestmark = pytest.mark.integration

TABLES = {
    "movie": ("movie_scene_index", "movie_scene_counts"),
    "user": ("user_movie_scene_index", "user_movie_scene_counts"),
}


async def _counts(pool: asyncpg.Pool, service: str, movies: list[UUID]) -> dict[UUID, int]:
    _, counts = TABLES[service]
    rows = await pool.fetch(f"SELECT movie_id, scenes FROM {counts} WHERE movie_id = ANY($1::uuid[])", movies)
    return {r["movie_id"]: r["scenes"] for r in rows}


async def _insert(pool: asyncpg.Pool, service: str, rows: list[tuple[UUID, UUID]]) -> None:
    index, _ = TABLES[service]
    await pool.execute(
        f"INSERT INTO {index} (scene_id, movie_id) SELECT * FROM unnest($1::uuid[], $2::uuid[])",
        [s for s, _ in rows],
        [m for _, m in rows],
    )


@pytest.mark.parametrize("service", list(TABLES))
async def test_one_statement_counts_its_rows_per_movie(system: System, service: str) -> None:
    pool = system.pools[service]
    a, b = uuid4(), uuid4()
    await _insert(pool, service, [(uuid4(), a), (uuid4(), a), (uuid4(), a), (uuid4(), b)])
    await _insert(pool, service, [(uuid4(), b)])
    assert await _counts(pool, service, [a, b]) == {a: 3, b: 2}


@pytest.mark.parametrize("service", list(TABLES))
async def test_a_scene_moved_to_another_movie_counts_there_only(system: System, service: str) -> None:
    pool = system.pools[service]
    index, _ = TABLES[service]
    a, b, moved = uuid4(), uuid4(), uuid4()
    await _insert(pool, service, [(moved, a), (uuid4(), a), (uuid4(), b)])
    # An upsert's update, as the movies projection writes a scene named again.
    await pool.execute(
        f"INSERT INTO {index} (scene_id, movie_id) VALUES ($1, $2) "
        "ON CONFLICT (scene_id) DO UPDATE SET movie_id = EXCLUDED.movie_id",
        moved,
        b,
    )
    assert await _counts(pool, service, [a, b]) == {a: 1, b: 2}


@pytest.mark.parametrize("service", list(TABLES))
async def test_a_scene_upserted_into_its_own_movie_changes_nothing(system: System, service: str) -> None:
    pool = system.pools[service]
    index, _ = TABLES[service]
    a, scene = uuid4(), uuid4()
    await _insert(pool, service, [(scene, a), (uuid4(), a)])
    await pool.execute(f"UPDATE {index} SET movie_id = movie_id WHERE scene_id = $1", scene)
    assert await _counts(pool, service, [a]) == {a: 2}


@pytest.mark.parametrize("service", list(TABLES))
async def test_deletes_take_away_and_a_movie_left_without_scenes_has_no_row(
    system: System, service: str
) -> None:
    pool = system.pools[service]
    index, _ = TABLES[service]
    a, b = uuid4(), uuid4()
    kept = uuid4()
    await _insert(pool, service, [(uuid4(), a), (uuid4(), a), (kept, b), (uuid4(), b)])
    await pool.execute(
        f"DELETE FROM {index} WHERE movie_id = $1 OR (movie_id = $2 AND scene_id <> $3)", a, b, kept
    )
    assert await _counts(pool, service, [a, b]) == {b: 1}


async def test_movie_figure_reads_the_kept_count(system: System) -> None:
    pool = system.pools["movie"]
    movie = uuid4()
    await pool.execute(
        "INSERT INTO movies (id, title, created_at, updated_at) VALUES ($1, 'counted', now(), now())", movie
    )
    await _insert(pool, "movie", [(uuid4(), movie), (uuid4(), movie)])
    # What each batch of scene events runs for the movies it touched.
    async with pool.acquire() as conn:
        await _refresh_statistics(conn, [movie])
    assert await pool.fetchval("SELECT total_scenes_count FROM movies WHERE id = $1", movie) == 2
