"""Rows that tests write straight into the Scene service's read model, bypassing the projections."""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg


async def cached_movie(db: asyncpg.Pool, *, public: bool = True) -> UUID:
    """A new movie in the Scene service's movies cache, public or not."""
    movie = uuid4()
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, 'm', $2)", movie, public
    )
    return movie


async def insert_scene(db: asyncpg.Pool, movie: UUID, start: int) -> UUID:
    """Insert a one-minute L2 scene of ``movie`` at ``start``."""
    scene = uuid4()
    await db.execute(
        "INSERT INTO scenes (id, movie_id, start_time_seconds, end_time_seconds,"
        " level1_classification, level2_classification) VALUES ($1, $2, $3, $4, 'L', 'L2')",
        scene,
        movie,
        start,
        start + 60,
    )
    return scene
