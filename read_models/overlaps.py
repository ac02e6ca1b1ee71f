"""Overlapping scenes of a movie's timeline: every overlapping pair, and the scenes overlapping any other.

Ranges are half-open, ``[start, end)`` like ``int4range``'s default: scenes that only touch
(one ends when the other starts) do not overlap.

The pairs come from a B-tree start sweep, not the design's GiST self-join: each scene is paired
with the scenes starting at or after it (ordered by ``(start, id)``) and before it ends, probing
``idx_scenes_movie_time (movie_id, start_time_seconds, end_time_seconds)``. For non-empty ranges
this is exactly ``&&`` (the later-starting scene overlaps iff it starts before the earlier one
ends), and on 10,000 overlapping scenes it is 5-10x faster than the GiST self-join
(``shared/notes/postgres-search-and-overlaps.md`` section 2). "Overlaps any other" is a window
sweep over the same index: a scene overlaps another iff an earlier-ordered scene ends after it
starts, or the next-ordered scene starts before it ends.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.auth import Identity
from read_models.rls import reading

__all__ = [
    "OverlapPage",
    "OverlapPair",
    "OverlapQueries",
    "OverlappingScene",
    "decode_pair_cursor",
    "encode_pair_cursor",
    "movie_known",
]

# ``a`` is the pair's earlier scene by (start, id), ``b`` the later one; the overlap is then
# [b.start, least(a.end, b.end)).
_PAIRS = """
SELECT a.movie_id,
       a.id AS first_scene_id, a.start_time_seconds AS first_start, a.end_time_seconds AS first_end,
       b.id AS second_scene_id, b.start_time_seconds AS second_start, b.end_time_seconds AS second_end,
       b.start_time_seconds AS overlap_start,
       least(a.end_time_seconds, b.end_time_seconds) AS overlap_end
FROM scenes a
JOIN scenes b
  ON b.movie_id = a.movie_id
 AND b.start_time_seconds >= a.start_time_seconds
 AND b.start_time_seconds < a.end_time_seconds
 AND (b.start_time_seconds, b.id) > (a.start_time_seconds, a.id)
"""

MOVIE_PAIRS_SQL = (
    _PAIRS
    + """WHERE a.movie_id = :movie_id
ORDER BY a.start_time_seconds, a.id, b.start_time_seconds, b.id"""
)
"""One movie's overlapping pairs, in timeline order."""

ALL_PAIRS_SQL = (
    _PAIRS
    + """WHERE a.movie_id >= :after_movie
  AND (a.movie_id, a.id, b.id) > (:after_movie, :after_first, :after_second)
ORDER BY a.movie_id, a.id, b.id
LIMIT :limit"""
)
"""A keyset page of every movie's overlapping pairs, ordered by (movie id, first id, second id)."""

OVERLAPPING_SCENES_SQL = """
SELECT id, start_time_seconds, end_time_seconds
FROM (
    SELECT id, start_time_seconds, end_time_seconds,
           max(end_time_seconds) OVER (
               ORDER BY start_time_seconds, id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
           ) AS prev_max_end,
           lead(start_time_seconds) OVER (ORDER BY start_time_seconds, id) AS next_start
    FROM scenes
    WHERE movie_id = :movie_id
) swept
WHERE prev_max_end > start_time_seconds OR next_start < end_time_seconds
ORDER BY start_time_seconds, id
"""
"""A movie's scenes that overlap at least one other scene of the movie (window sweep)."""

_MOVIE_KNOWN_SQL = """
SELECT EXISTS (SELECT 1 FROM external_movies_cache WHERE id = :movie_id)
    OR EXISTS (SELECT 1 FROM scenes WHERE movie_id = :movie_id)
"""

_ZERO_UUID = UUID(int=0)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class OverlapPair(_View):
    """Two scenes of one movie whose ``[start, end)`` ranges overlap, and the overlapping range.

    ``first`` is the scene that comes first by (start, id), ``second`` the other one.
    """

    movie_id: UUID
    first_scene_id: UUID
    first_start: int
    first_end: int
    second_scene_id: UUID
    second_start: int
    second_end: int
    overlap_start: int
    overlap_end: int
    overlap_seconds: int


class OverlapPage(_View):
    """A page of overlapping pairs across all movies; ``next`` is the cursor of the following page."""

    items: list[OverlapPair]
    next: str | None


class OverlappingScene(_View):
    """A scene that overlaps at least one other scene of its movie."""

    id: UUID
    start_time_seconds: int
    end_time_seconds: int


def encode_pair_cursor(pair: OverlapPair) -> str:
    """Return the opaque keyset cursor that resumes right after ``pair``."""
    raw = json.dumps([str(pair.movie_id), str(pair.first_scene_id), str(pair.second_scene_id)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_pair_cursor(cursor: str) -> tuple[UUID, UUID, UUID]:
    """Return (movie id, first id, second id) of a cursor; raises ValueError for a malformed one."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        movie, first, second = (UUID(v) for v in values)
    except (binascii.Error, UnicodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError("is not a cursor returned by this endpoint") from exc
    return movie, first, second


async def movie_known(conn: AsyncConnection, movie_id: UUID) -> bool:
    """Whether the Scene service knows the movie: cached from the Movie service, or has (visible) scenes.

    A scene may be projected before its movie's registration reaches the cache.
    """
    return bool((await conn.execute(text(_MOVIE_KNOWN_SQL), {"movie_id": movie_id})).scalar())


def _pair(row: Any) -> OverlapPair:  # noqa: ANN401  a SQLAlchemy Row
    data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
    return OverlapPair.model_validate(
        {**data, "overlap_seconds": data["overlap_end"] - data["overlap_start"]}
    )


class OverlapQueries:
    """Overlap reads of the Scene service's read model (every value a bound parameter).

    Given an ``identity`` (the API's), they run under row-level security: only pairs of scenes
    the caller may both see. Without one they read as the tables' owner (the system itself).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def movie_pairs(
        self, movie_id: UUID, *, identity: Identity | None = None
    ) -> list[OverlapPair] | None:
        """Return a movie's overlapping pairs in timeline order, or ``None`` for an unknown movie."""
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            if not await movie_known(conn, movie_id):
                return None
            rows = (await conn.execute(text(MOVIE_PAIRS_SQL), {"movie_id": movie_id})).all()
        return [_pair(r) for r in rows]

    async def all_pairs(
        self, *, limit: int, after: str | None = None, identity: Identity | None = None
    ) -> OverlapPage:
        """Return a keyset page of every movie's overlapping pairs (ValueError for a bad cursor)."""
        movie, first, second = decode_pair_cursor(after) if after else (_ZERO_UUID,) * 3
        params = {"after_movie": movie, "after_first": first, "after_second": second, "limit": limit + 1}
        async with reading(self._engine, identity) as conn:
            rows = (await conn.execute(text(ALL_PAIRS_SQL), params)).all()
        # An all-zero cursor sorts before every UUID except itself, which no gen_random_uuid() makes.
        items = [_pair(r) for r in rows[:limit]]
        more = len(rows) > limit
        return OverlapPage(items=items, next=encode_pair_cursor(items[-1]) if more else None)

    async def overlapping_scenes(
        self, movie_id: UUID, *, identity: Identity | None = None
    ) -> list[OverlappingScene] | None:
        """Return a movie's scenes overlapping any other, by start time, or ``None`` for an unknown movie.

        Under row-level security "any other" means any other scene the caller may see.
        """
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            if not await movie_known(conn, movie_id):
                return None
            rows = (await conn.execute(text(OVERLAPPING_SCENES_SQL), {"movie_id": movie_id})).all()
        return [OverlappingScene.model_validate(dict(r._mapping)) for r in rows]  # noqa: SLF001
