"""The Movie service's read model: movies, genres, production info, and statistics from scenes and reviews.

Scene and review events arrive in any order relative to movie events (other topics, other
partitions). So they are recorded in index tables (``movie_scene_index``,
``movie_review_ratings``) whether the movie row exists or not, and each apply recomputes the
statistics of the movies it touched from those tables: a movie row that appears later starts
from the same recomputation. The scene count is read from ``movie_scene_counts``, which the
index's own statement triggers keep (movie_service 0002), rather than counted row by row.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

import asyncpg

from events.base import DomainEvent
from events.movie import (
    MovieDetails,
    MovieDetailsRevised,
    MovieGenresAssigned,
    MovieProductionInfoRecorded,
    MovieRegistered,
    MovieRemoved,
)
from events.review import ReviewDeleted, ReviewPosted, ReviewRevised
from events.scene import SceneCreated, SceneDeleted
from projections.runner import ApplyFn

DETAIL_COLUMNS: tuple[str, ...] = (
    "title",
    "original_title",
    "release_year",
    "release_date",
    "duration_minutes",
    "country",
    "language",
    "director",
    "screenplay",
    "producer",
    "budget_jpy",
    "box_office_jpy",
    "distributor",
    "is_public",
)
"""Columns of ``movies`` carried by ``MovieRegistered`` and ``MovieDetailsRevised`` (same names)."""

_N = len(DETAIL_COLUMNS)
_INSERT_MOVIE = f"""
INSERT INTO movies (id, {", ".join(DETAIL_COLUMNS)}, created_at, updated_at, version)
VALUES ($1, {", ".join(f"${i + 2}" for i in range(_N))}, ${_N + 2}, ${_N + 2}, ${_N + 3})
ON CONFLICT (id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in DETAIL_COLUMNS)},
    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, version = EXCLUDED.version
"""
_UPDATE_MOVIE = f"""
UPDATE movies SET {", ".join(f"{c} = ${i + 2}" for i, c in enumerate(DETAIL_COLUMNS))},
    updated_at = ${_N + 2}, version = ${_N + 3}
WHERE id = $1
"""
_TOUCH_MOVIE = "UPDATE movies SET updated_at = $2, version = $3 WHERE id = $1"

_REFRESH_STATISTICS = """
UPDATE movies AS m SET
    total_scenes_count = coalesce((SELECT c.scenes FROM movie_scene_counts AS c WHERE c.movie_id = m.id), 0),
    ratings_count = (SELECT count(*) FROM movie_review_ratings AS r WHERE r.movie_id = m.id),
    avg_rating = (SELECT round(avg(r.rating), 2) FROM movie_review_ratings AS r WHERE r.movie_id = m.id)
WHERE m.id = ANY($1::uuid[])
"""

_UPSERT_PRODUCTION = """
INSERT INTO production_info (
    movie_id, production_companies, studio, filming_locations, filming_start_date, filming_end_date,
    film_format, aspect_ratio, original_language, notes, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
ON CONFLICT (movie_id) DO UPDATE SET
    production_companies = EXCLUDED.production_companies, studio = EXCLUDED.studio,
    filming_locations = EXCLUDED.filming_locations,
    filming_start_date = EXCLUDED.filming_start_date, filming_end_date = EXCLUDED.filming_end_date,
    film_format = EXCLUDED.film_format, aspect_ratio = EXCLUDED.aspect_ratio,
    original_language = EXCLUDED.original_language, notes = EXCLUDED.notes,
    updated_at = EXCLUDED.updated_at
"""


def _details(e: MovieDetails) -> list[Any]:
    return [getattr(e, c) for c in DETAIL_COLUMNS]


async def _lock_movies(conn: asyncpg.Connection, movie_ids: Iterable[UUID]) -> None:
    """Serialise statistics work per movie across concurrent projector transactions.

    Without it, two processes applying a scene of the same movie would each count only
    their own uncommitted index row. Taken in id order so that two batches cannot deadlock.
    """
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(m::text, 0)) FROM unnest($1::uuid[]) AS m",
        sorted(set(movie_ids)),
    )


async def _refresh_statistics(conn: asyncpg.Connection, movie_ids: Iterable[UUID]) -> None:
    await conn.execute(_REFRESH_STATISTICS, sorted(set(movie_ids)))


# --- movies.events ----------------------------------------------------------------------------


async def _registered(conn: asyncpg.Connection, e: MovieRegistered) -> None:
    await _lock_movies(conn, [e.stream_id])
    await conn.execute(_INSERT_MOVIE, e.stream_id, *_details(e), e.occurred_at, e.stream_version)
    await _refresh_statistics(conn, [e.stream_id])


async def _details_revised(conn: asyncpg.Connection, e: MovieDetailsRevised) -> None:
    await conn.execute(_UPDATE_MOVIE, e.stream_id, *_details(e), e.occurred_at, e.stream_version)


async def _genres_assigned(conn: asyncpg.Connection, e: MovieGenresAssigned) -> None:
    await conn.execute("DELETE FROM movie_genres WHERE movie_id = $1", e.stream_id)
    if e.genre_ids:
        # One statement, so the primary-genre trigger sees the whole new set at once.
        await conn.execute(
            "INSERT INTO movie_genres (movie_id, genre_id, is_primary) "
            "SELECT $1, g, g = $3 FROM unnest($2::uuid[]) AS g",
            e.stream_id,
            list(e.genre_ids),
            e.primary_genre_id,
        )
    await conn.execute(_TOUCH_MOVIE, e.stream_id, e.occurred_at, e.stream_version)


async def _production_recorded(conn: asyncpg.Connection, e: MovieProductionInfoRecorded) -> None:
    await conn.execute(
        _UPSERT_PRODUCTION,
        e.stream_id,
        list(e.production_companies),
        e.studio,
        list(e.filming_locations),
        e.filming_start_date,
        e.filming_end_date,
        e.film_format,
        e.aspect_ratio,
        e.original_language,
        e.notes,
        e.occurred_at,
    )
    await conn.execute(_TOUCH_MOVIE, e.stream_id, e.occurred_at, e.stream_version)


async def _removed(conn: asyncpg.Connection, e: MovieRemoved) -> None:
    # Genres and production info go with the row (ON DELETE CASCADE). The index rows stay:
    # they record scenes and reviews that still exist, and their own deletions remove them.
    await conn.execute("DELETE FROM movies WHERE id = $1", e.stream_id)


# --- scenes.events ----------------------------------------------------------------------------


async def _index_scene(conn: asyncpg.Connection, scene_id: UUID, movie_id: UUID, *, live: bool) -> None:
    previous = await conn.fetchval("SELECT movie_id FROM movie_scene_index WHERE scene_id = $1", scene_id)
    affected = {movie_id} | ({previous} if previous else set())
    await _lock_movies(conn, affected)
    if live:
        await conn.execute(
            "INSERT INTO movie_scene_index (scene_id, movie_id) VALUES ($1, $2) "
            "ON CONFLICT (scene_id) DO UPDATE SET movie_id = EXCLUDED.movie_id",
            scene_id,
            movie_id,
        )
    else:
        await conn.execute("DELETE FROM movie_scene_index WHERE scene_id = $1", scene_id)
    await _refresh_statistics(conn, affected)


async def _scene_created(conn: asyncpg.Connection, e: SceneCreated) -> None:
    await _index_scene(conn, e.stream_id, e.movie_id, live=True)


async def _scene_deleted(conn: asyncpg.Connection, e: SceneDeleted) -> None:
    await _index_scene(conn, e.stream_id, e.movie_id, live=False)


# --- reviews.events ---------------------------------------------------------------------------


async def _set_rating(conn: asyncpg.Connection, review_id: UUID, rated: tuple[UUID, int] | None) -> None:
    """Make the review's rating count for a movie (``rated`` = movie id, rating), or for none."""
    previous = await conn.fetchval(
        "SELECT movie_id FROM movie_review_ratings WHERE review_id = $1", review_id
    )
    affected = {m for m in (previous, rated[0] if rated else None) if m is not None}
    if not affected:
        return
    await _lock_movies(conn, affected)
    if rated is None:
        await conn.execute("DELETE FROM movie_review_ratings WHERE review_id = $1", review_id)
    else:
        await conn.execute(
            "INSERT INTO movie_review_ratings (review_id, movie_id, rating) VALUES ($1, $2, $3) "
            "ON CONFLICT (review_id) DO UPDATE SET movie_id = EXCLUDED.movie_id, rating = EXCLUDED.rating",
            review_id,
            *rated,
        )
    await _refresh_statistics(conn, affected)


def _rating(e: ReviewPosted | ReviewRevised) -> tuple[UUID, int] | None:
    """Return what a review rates: its movie, when it reviews the movie itself (not one of its scenes)."""
    if e.movie_id is None or e.scene_id is not None:
        return None
    return e.movie_id, e.rating


async def _review_posted(conn: asyncpg.Connection, e: ReviewPosted) -> None:
    await _set_rating(conn, e.stream_id, _rating(e))


async def _review_revised(conn: asyncpg.Connection, e: ReviewRevised) -> None:
    await _set_rating(conn, e.stream_id, _rating(e))


async def _review_deleted(conn: asyncpg.Connection, e: ReviewDeleted) -> None:
    await _set_rating(conn, e.stream_id, None)


MOVIE_APPLY: dict[type[DomainEvent], ApplyFn] = {
    MovieRegistered: _registered,
    MovieDetailsRevised: _details_revised,
    MovieGenresAssigned: _genres_assigned,
    MovieProductionInfoRecorded: _production_recorded,
    MovieRemoved: _removed,
    SceneCreated: _scene_created,
    SceneDeleted: _scene_deleted,
    ReviewPosted: _review_posted,
    ReviewRevised: _review_revised,
    ReviewDeleted: _review_deleted,
}
"""Apply function of each event the ``movies`` projection handles (the others only advance versions)."""

TOPICS: tuple[str, ...] = ("movies.events", "scenes.events", "reviews.events")
"""The topics the ``movies`` projection consumes."""
