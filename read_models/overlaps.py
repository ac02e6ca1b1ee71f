"""Overlapping scenes of a movie's timeline: every overlapping pair, and the scenes overlapping any other.

Ranges are half-open, ``[start, end)`` like ``int4range``'s default: scenes that only touch
(one ends when the other starts) do not overlap.

The database reads each movie's visible scenes once, in timeline order ``(start, id)``, as the
scene ids and their starts and ends packed (one index-only range scan of
``idx_scenes_movie_start_covering (movie_id, start_time_seconds, id) INCLUDE (end_time_seconds,
created_by, timeline_span)``, migrations 0012 and 0022; the row-level security policies only read
``movie_id`` and ``created_by``), and the pairs come from a sweep of
that timeline here, not from a self-join: a scene overlaps exactly the scenes after it in
timeline order that start before it ends (for non-empty ranges, the later-starting of two
scenes overlaps the other iff it starts before the other ends), and those are contiguous, so
each scene's partners are one binary search away. The sweep costs O(n log n + pairs) of the
API's CPU instead of the database's: on 10,000 scenes of 100 movies as a viewer, the earlier
per-scene probes (a LATERAL range probe per scene, a join in the database) executed in about
45 ms for every page of pairs together; the timelines' scan executes in about 3 ms.
Under row-level security the timeline holds the scenes the caller may see, so a pair always
has both scenes visible. The timeline statements run on the driver's own connection, in the
caller's transaction (``_fetch``): SQLAlchemy's execute added 0.1-0.2 ms to each.
"Overlaps any other" is a window sweep over the same index: a scene overlaps another iff an
earlier-ordered scene ends after it starts, or the next-ordered scene starts before it ends.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import struct
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Sequence
from itertools import compress
from operator import le, lt
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, TypeAdapter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.auth import Identity
from read_models.rls import reading, transaction_driver

__all__ = [
    "OverlapPage",
    "OverlapPair",
    "OverlapQueries",
    "OverlappingScene",
    "PairDensity",
    "PairKey",
    "PairRow",
    "decode_pair_cursor",
    "encode_pair_cursor",
    "movie_known",
    "movie_pair_rows",
    "page_pair_rows",
    "pair_key",
    "pair_views",
    "read_timelines",
    "timeline_pairs",
]

PairRow = tuple[UUID, UUID, int, int, UUID, int, int]
"""A pair as (movie id, first id, first start, first end, second id, second start, second end)."""

PairKey = tuple[UUID, int, UUID, int, UUID]
"""Where a pair sorts: (movie id, first start, first id, second start, second id)."""

# array_agg and string_agg keep the order their input arrives in, and the subquery delivers the
# index's order; _timeline() still checks it, since SQL does not promise that order to them.
# A scene's start and end travel packed as the scene stores them (timeline_span, scene_service
# 0022: int4send(start) || int4send(end), in the covering index), aggregated as they are, and
# one unpack (_spans) gives both. As int4[] arrays they cost 0.15-0.2 ms more per statement of
# 1,400 scenes, mostly building and decoding the arrays element by element; packed per scene
# by the statement, 0.05-0.07 ms (one int8send of both) or 0.09-0.11 ms (two string_agg of
# int4send) more on the server for 1,300 scenes, as a viewer. Both timeline statements take
# positional parameters ($n): they run on the driver's connection (_fetch).
MOVIE_TIMELINE_SQL = """
SELECT array_agg(id), string_agg(timeline_span, '')
FROM (
    SELECT id, start_time_seconds, timeline_span
    FROM scenes
    WHERE movie_id = $1
    ORDER BY start_time_seconds, id
) timeline
"""
"""One movie's visible scenes in timeline order ($1: the movie): ids, and (start, end) packed."""

TIMELINES_SQL = """
SELECT movie_id, array_agg(id), string_agg(timeline_span, '')
FROM (
    SELECT movie_id, id, start_time_seconds, timeline_span
    FROM scenes
    WHERE (movie_id, start_time_seconds, id) >= ($1, $2, $3)
    ORDER BY movie_id, start_time_seconds, id
) timeline
GROUP BY movie_id
ORDER BY movie_id
LIMIT $4
"""
"""The timelines of up to ``$4`` movies from a scene on, in movie id order.

The first movie's starts at the scene ``($1 movie, $2 start, $3 id)``: a page that resumes
inside a movie reads that movie from the cursor's first scene, whose partners all come after it.
"""

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


def pair_key(row: PairRow) -> PairKey:
    """Return where ``row`` sorts among all pairs (the order of pages and of the cursor)."""
    return (row[0], row[2], row[1], row[5], row[4])


def encode_pair_cursor(row: PairRow) -> str:
    """Return the opaque keyset cursor that resumes right after the pair ``row``."""
    movie, first_start, first, second_start, second = pair_key(row)
    raw = json.dumps([str(movie), first_start, str(first), second_start, str(second)])
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_pair_cursor(cursor: str) -> PairKey:
    """Return the pair key a cursor resumes after; raises ValueError for a malformed one."""
    try:
        movie, first_start, first, second_start, second = json.loads(
            base64.urlsafe_b64decode(cursor.encode())
        )
        key = (UUID(movie), first_start, UUID(first), second_start, UUID(second))
    except (binascii.Error, UnicodeError, json.JSONDecodeError, TypeError, ValueError) as exc:
        raise ValueError("is not a cursor returned by this endpoint") from exc
    # bool is an int to Python, and a start is a whole number of seconds.
    if not all(type(v) is int for v in (first_start, second_start)):
        raise ValueError("is not a cursor returned by this endpoint")
    return key


async def movie_known(conn: AsyncConnection, movie_id: UUID) -> bool:
    """Whether the Scene service knows the movie: cached from the Movie service, or has (visible) scenes.

    A scene may be projected before its movie's registration reaches the cache.
    """
    return bool((await conn.execute(text(_MOVIE_KNOWN_SQL), {"movie_id": movie_id})).scalar())


def _timeline(
    ids: Sequence[UUID], starts: Sequence[int], ends: Sequence[int]
) -> tuple[Sequence[UUID], Sequence[int], Sequence[int]]:
    """Return the three arrays in timeline order ``(start, id)``, sorting them only if they are not.

    The statements deliver that order; checking it costs one pass over the starts in C when they
    are all distinct (then the ids need no look), far less than the sweep.
    """
    following = starts[1:]
    if all(map(lt, starts, following)) or (
        all(map(le, starts, following))
        and all(ids[i] < ids[i + 1] for i in range(len(ids) - 1) if starts[i] == starts[i + 1])
    ):
        return ids, starts, ends
    order = sorted(range(len(ids)), key=lambda i: (starts[i], ids[i]))
    return [ids[i] for i in order], [starts[i] for i in order], [ends[i] for i in order]


_AFTER_ALL = 1 << 62
"""A start later than every end (ends are at most 86,400 s): it closes the last scene's scan."""


def _sweep(movie: UUID, ids: Sequence[UUID], starts: Sequence[int], ends: Sequence[int]) -> list[PairRow]:
    """Return the overlapping pairs of a timeline already in ``(start, id)`` order, in pair order."""
    rows: list[PairRow] = []
    append = rows.append
    bounded = (*starts, _AFTER_ALL)
    # A scene has partners iff the next one starts before it ends: compress() finds those scenes
    # in C, and each one's partners are scanned in a plain loop that the sentinel start stops
    # without a bounds check. Per-scene setup (a bisect, slices, a comprehension) cost twice as
    # much as the pairs themselves, and building the rows in C (itertools over masks of
    # partners) three to four times as much on 100-scene movies, a pass per partner rank.
    for i in compress(range(len(ids)), map(lt, starts[1:], ends)):
        first, start, end = ids[i], starts[i], ends[i]
        j = i + 1
        while True:
            append((movie, first, start, end, ids[j], bounded[j], ends[j]))
            j += 1
            if bounded[j] >= end:
                break
    return rows


def timeline_pairs(
    movie: UUID, ids: Sequence[UUID], starts: Sequence[int], ends: Sequence[int]
) -> list[PairRow]:
    """Return the overlapping pairs of one movie's scenes, in pair order (see ``pair_key``).

    ``ids``, ``starts`` and ``ends`` describe the same scenes, in any order. Scene ``i``'s
    partners are the scenes after it in timeline order up to the first that starts at or after
    its end, so the scan from ``i`` stops at the first scene that is not a partner: O(n + pairs).
    """
    return _sweep(movie, *_timeline(ids, starts, ends))


def _spans(packed: bytes | None) -> tuple[Sequence[int], Sequence[int]]:
    """Unpack the starts and ends a timeline statement's ``string_agg(timeline_span, '')`` sent, in order.

    Each scene's eight bytes are its start's and its end's big-endian int4s, in that order.
    """
    if not packed:
        return (), ()
    values = struct.unpack(f">{len(packed) // 4}i", packed)
    return values[0::2], values[1::2]


async def _fetch(conn: AsyncConnection, sql: str, *args: object) -> Sequence[Sequence[Any]]:
    """Run ``sql`` (``$n`` parameters) in ``conn``'s transaction; return its rows as the driver gives them.

    Once the transaction has begun on the driver's connection, the statement goes to asyncpg
    directly: the same connection, so the same transaction, snapshot, role and settings (the
    row-level security), and the same values as through SQLAlchemy, whose own execute costs
    0.1-0.2 ms more a statement (its cursor adapter, lock and result rows; ``SELECT 1``: 0.29
    against 0.11 ms), about a tenth of a page of pairs. A read under row-level security has
    its transaction open on the driver from the start (``read_models.rls.acting``); an owner's
    read has none before its first statement, which therefore goes through SQLAlchemy, which
    begins the transaction with the connection's isolation level: the driver alone would run
    it outside, each chunk of a page in its own snapshot.
    """
    driver = transaction_driver(conn)
    if driver is not None:
        rows: Sequence[Sequence[Any]] = await driver.fetch(sql, *args)
        return rows
    return (await conn.exec_driver_sql(sql, args)).all()


async def movie_pair_rows(conn: AsyncConnection, movie_id: UUID) -> list[PairRow]:
    """Return one movie's overlapping pairs of the scenes ``conn`` may see, in timeline order."""
    ((ids, spans),) = await _fetch(conn, MOVIE_TIMELINE_SQL, movie_id)
    return timeline_pairs(movie_id, ids or [], *_spans(spans))


async def read_timelines(
    conn: AsyncConnection, start: tuple[UUID, int, UUID], movies: int
) -> Sequence[Sequence[Any]]:
    """Read the timelines of up to ``movies`` movies from the scene ``start`` on, in one statement.

    ``start`` is ``(movie id, start, scene id)``; each row is ``(movie id, scene ids, packed
    starts and ends)``, a movie's visible scenes in timeline order (``TIMELINES_SQL``).
    """
    return await _fetch(conn, TIMELINES_SQL, start[0], start[1], start[2], movies)


TimelineReader = Callable[[AsyncConnection, tuple[UUID, int, UUID], int], Awaitable[Sequence[Sequence[Any]]]]
"""Reads the timelines of a movie chunk, like ``read_timelines`` (which a benchmark may wrap)."""

_FIRST_CHUNK = 16
"""Movies a page's first statement reads before anything is known of the pairs per movie."""

_MAX_CHUNK = 512
"""At most this many movies' timelines in memory at once, whatever the page needs."""

_LAST_UUID = (1 << 128) - 1


class PairDensity:
    """A running estimate of overlapping pairs per movie, which sizes the movie chunks pages read.

    It decides how many movies one statement reads, never which pairs a page holds: too low an
    estimate costs another round trip, too high one reads movies the page leaves unused. One
    per process serves every page; it follows the data as pages are read.
    """

    def __init__(self) -> None:
        self._per_movie: float | None = None

    def movies_for(self, pairs: int) -> int:
        """How many movies to read for ``pairs`` more pairs: the movies expected, half more, and one.

        The extra one is for the cursor's movie, which a page resumes partway; the half covers
        movies with fewer pairs than the estimate. Simulated walks of the benchmark's data (40
        seeds, pages of 1,000 pairs) read 116 movies and ran 9.6 statements a walk this way; a
        tenth more instead of the half (session 7) read 124 movies for the same statements, the
        movie alone without the half 115 movies but 10.1 statements (a statement costs about
        four movies: 0.25 ms against 0.065 ms).
        """
        if self._per_movie is None:
            return _FIRST_CHUNK
        return max(1, min(_MAX_CHUNK, math.ceil(pairs / max(self._per_movie, 0.01) + 0.5) + 1))

    def observe(self, pairs: int, movies: int) -> None:
        """Fold in that ``movies`` whole movies held ``pairs`` pairs."""
        if movies:
            seen = pairs / movies
            self._per_movie = seen if self._per_movie is None else (self._per_movie + seen) / 2


async def page_pair_rows(
    conn: AsyncConnection,
    limit: int,
    after: PairKey | None = None,
    density: PairDensity | None = None,
    *,
    read: TimelineReader = read_timelines,
) -> list[PairRow]:
    """Return up to ``limit + 1`` pairs after ``after`` in pair order (the extra one says more exist).

    Movies are read in chunks (``read``, one statement each), sized by ``density``, until the
    page is full or no movie is left. ``conn`` should be a repeatable-read transaction when more
    than one chunk may be read, so that the chunks see one snapshot.
    """
    density = density or PairDensity()
    # A page resumes at the scene of its cursor's first: the earlier ones pair with none after it.
    start: tuple[UUID, int, UUID] = (after[0], after[1], after[2]) if after else (_ZERO_UUID, -1, _ZERO_UUID)
    rows: list[PairRow] = []
    while True:
        chunk = density.movies_for(limit + 1 - len(rows))
        timelines = await read(conn, start, chunk)
        swept = found = 0
        for movie, ids, spans in timelines:
            pairs = timeline_pairs(movie, ids, *_spans(spans))
            if after is not None and movie == after[0]:
                # The cursor's first scene's pairs up to the cursor's come first (pair order).
                pairs = pairs[bisect_right(pairs, after, key=pair_key) :]
            else:
                # A whole movie: what the estimate learns from.
                swept, found = swept + 1, found + len(pairs)
            rows.extend(pairs[: limit + 1 - len(rows)])
            if len(rows) > limit:
                break
        density.observe(found, swept)
        if len(rows) > limit or len(timelines) < chunk or timelines[-1][0].int == _LAST_UUID:
            return rows
        # Starts are never negative: the next movie from its first scene on.
        start = (UUID(int=timelines[-1][0].int + 1), -1, _ZERO_UUID)


_PAIR_LIST: TypeAdapter[list[OverlapPair]] = TypeAdapter(list[OverlapPair])


def pair_views(rows: Sequence[PairRow]) -> list[OverlapPair]:
    """Build the views of pair rows, in one validation pass rather than one call per pair."""
    views = []
    for movie, first, first_start, first_end, second, second_start, second_end in rows:
        overlap_end = min(first_end, second_end)
        views.append(
            {
                "movie_id": movie,
                "first_scene_id": first,
                "first_start": first_start,
                "first_end": first_end,
                "second_scene_id": second,
                "second_start": second_start,
                "second_end": second_end,
                "overlap_start": second_start,
                "overlap_end": overlap_end,
                "overlap_seconds": overlap_end - second_start,
            }
        )
    return _PAIR_LIST.validate_python(views)


class OverlapQueries:
    """Overlap reads of the Scene service's read model (every value a bound parameter).

    Given an ``identity`` (the API's), they run under row-level security: only pairs of scenes
    the caller may both see. Without one they read as the tables' owner (the system itself).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._density = PairDensity()

    async def movie_pairs(
        self, movie_id: UUID, *, identity: Identity | None = None
    ) -> list[OverlapPair] | None:
        """Return a movie's overlapping pairs in timeline order, or ``None`` for an unknown movie."""
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            rows = await movie_pair_rows(conn, movie_id)
            # A pair means visible scenes, so a known movie: only an empty answer needs the look-up.
            if not rows and not await movie_known(conn, movie_id):
                return None
        return pair_views(rows)

    async def all_pairs(
        self, *, limit: int, after: str | None = None, identity: Identity | None = None
    ) -> OverlapPage:
        """Return a keyset page of every movie's overlapping pairs (ValueError for a bad cursor).

        Pages go by movie id, and within a movie in timeline order, like ``movie_pairs``.
        """
        key = decode_pair_cursor(after) if after else None
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            rows = await page_pair_rows(conn, limit, key, self._density)
        more = len(rows) > limit
        return OverlapPage(
            items=pair_views(rows[:limit]), next=encode_pair_cursor(rows[limit - 1]) if more else None
        )

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
