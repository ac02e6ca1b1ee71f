"""``movie_scene_stats``: a movie's figures recomputed from the scene tables, never counted up.

Recomputing from ``scenes``, ``scene_actors`` and ``scene_dialogues`` (kept in the same
database and transaction) makes the row right whatever order events arrive in and however
often they are redelivered.
"""

from __future__ import annotations

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

_PER_CLASS = ",\n    ".join(
    f"count(*) FILTER (WHERE s.level1_classification = '{letter}')" for letter in LEVEL1_COLUMNS
)

# An aggregate without GROUP BY yields one row even for no scenes: a movie whose last scene
# went keeps a row of zeros.
_RECOMPUTE = f"""
INSERT INTO movie_scene_stats (movie_id, {", ".join(_COUNT_COLUMNS)}, last_updated)
SELECT
    $1::uuid,
    count(*),
    coalesce(sum(s.duration_seconds), 0)::integer,
    {_PER_CLASS},
    (SELECT count(*) FROM scene_dialogues d JOIN scenes ds ON ds.id = d.scene_id
      WHERE ds.movie_id = $1 AND d.is_memorable_quote),
    (SELECT count(*) FROM scene_dialogues d JOIN scenes ds ON ds.id = d.scene_id WHERE ds.movie_id = $1),
    (SELECT count(DISTINCT a.actor_id) FROM scene_actors a JOIN scenes ac ON ac.id = a.scene_id
      WHERE ac.movie_id = $1),
    $2
FROM scenes s
WHERE s.movie_id = $1
ON CONFLICT (movie_id) DO UPDATE SET
    {", ".join(f"{c} = EXCLUDED.{c}" for c in _COUNT_COLUMNS)},
    last_updated = GREATEST(movie_scene_stats.last_updated, EXCLUDED.last_updated)
"""


async def recompute_movie_stats(conn: asyncpg.Connection, movie_id: UUID, at: datetime) -> None:
    """Rewrite ``movie_id``'s stats row from the scene tables; ``at`` is the causing event's time."""
    await conn.execute(_RECOMPUTE, movie_id, at)
