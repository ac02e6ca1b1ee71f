"""``movie_scene_stats``: a movie's figures recomputed from the scene tables, never counted up.

Recomputing from ``scenes``, ``scene_actors`` and ``scene_dialogues`` (kept in the same
database and transaction) makes the row right whatever order events arrive in and however
often they are redelivered. A batch worked through in a backlog may instead only mark its
movies stale (``movie_scene_stats_stale``); the next recompute in any transaction settles them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from uuid import UUID

import asyncpg

from commands.classification import LEVEL1_NAMES

LEVEL1_COLUMNS: dict[str, str] = {letter: f"{name}_scenes_count" for letter, name in LEVEL1_NAMES.items()}
"""Stats column of each level 1 class: A -> action_scenes_count, L -> dialogue_scenes_count, ..."""

_COUNT_COLUMNS = (
    "total_scenes",
    "total_duration_seconds",
    *LEVEL1_COLUMNS.values(),
    "memorable_quotes_count",
    "total_dialogues_count",
    "unique_actors_count",
)

_SCENE_AGGREGATES = (
    "count(*)",
    "coalesce(sum(s.duration_seconds), 0)::integer",
    *(f"count(*) FILTER (WHERE s.level1_classification = '{letter}')" for letter in LEVEL1_COLUMNS),
)
"""The figures read from the movie's scene rows, in ``_COUNT_COLUMNS`` order."""

_SCENE_FIGURES = len(_SCENE_AGGREGATES)

# An aggregate without GROUP BY yields one row even for no scenes: a movie whose last scene
# went keeps a row of zeros. A movie's scene rows are read once: its lines and cast are looked
# up by those scenes' ids (array_agg; NULL for no scene, where = ANY finds nothing) instead of
# joining scenes again for each figure (a rebuild's settle of 400 movies, 40,000 scenes: about
# 560 -> 450 ms). Every movie of the batch in one statement (a round trip per movie was half a
# scene rebuild's time); each movie's figures are computed as if on their own.
# The movies marked stale are taken along (and unmarked) in the same statement. SKIP LOCKED: a
# mark held by a transaction still running is that transaction's, or the next settle's, to do;
# waiting for it could only deadlock. Movies in id order: two transactions lock their stats
# rows in the same order.
_RECOMPUTE = f"""
WITH settled AS (
    DELETE FROM movie_scene_stats_stale
    WHERE movie_id IN (SELECT movie_id FROM movie_scene_stats_stale FOR UPDATE SKIP LOCKED)
    RETURNING movie_id, changed_at
),
m AS (
    SELECT a.id, max(a.at) AS at
    FROM (
        SELECT * FROM unnest($1::uuid[], $2::timestamptz[]) AS t(id, at)
        UNION ALL
        SELECT movie_id, changed_at FROM settled
    ) a
    GROUP BY a.id
    ORDER BY a.id
)
INSERT INTO movie_scene_stats (movie_id, {", ".join(_COUNT_COLUMNS)}, last_updated)
SELECT
    m.id,
    {", ".join(f"s.c{i}" for i in range(_SCENE_FIGURES))},
    (SELECT count(*) FROM scene_dialogues d WHERE d.scene_id = ANY(s.ids) AND d.is_memorable_quote),
    (SELECT count(*) FROM scene_dialogues d WHERE d.scene_id = ANY(s.ids)),
    (SELECT count(DISTINCT a.actor_id) FROM scene_actors a WHERE a.scene_id = ANY(s.ids)),
    m.at
FROM m
CROSS JOIN LATERAL (
    SELECT
        {", ".join(f"{e} AS c{i}" for i, e in enumerate(_SCENE_AGGREGATES))},
        array_agg(s.id) AS ids
    FROM scenes s
    WHERE s.movie_id = m.id
) s
ON CONFLICT (movie_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _COUNT_COLUMNS)},
    last_updated = GREATEST(movie_scene_stats.last_updated, EXCLUDED.last_updated)
"""


_MARK_STALE = """
INSERT INTO movie_scene_stats_stale (movie_id, changed_at)
SELECT * FROM unnest($1::uuid[], $2::timestamptz[])
ON CONFLICT (movie_id) DO UPDATE
SET changed_at = GREATEST(movie_scene_stats_stale.changed_at, EXCLUDED.changed_at)
"""


async def recompute_movie_stats(conn: asyncpg.Connection, touched: Mapping[UUID, datetime]) -> None:
    """Rewrite the stats row of each movie of ``touched`` (movie id -> the causing event's time).

    The movies marked stale are recomputed too, and unmarked: with ``touched`` empty, this
    settles what :func:`mark_movie_stats_stale` left.
    """
    movies = sorted(touched)
    await conn.execute(_RECOMPUTE, movies, [touched[m] for m in movies])


async def mark_movie_stats_stale(conn: asyncpg.Connection, touched: Mapping[UUID, datetime]) -> None:
    """Mark each movie of ``touched`` stale instead of recomputing it (see the module docstring)."""
    if not touched:
        return
    # In id order, as the recompute: the marks are row locks too.
    movies = sorted(touched)
    await conn.execute(_MARK_STALE, movies, [touched[m] for m in movies])
