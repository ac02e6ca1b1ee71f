"""Overlap reads on the real scene database, and a property test against the && ground truth."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncConnection

from infra.api import create_app
from infra.auth import ANONYMOUS, bearer_headers
from infra.bootstrap import System
from read_models.overlaps import PairDensity, encode_pair_cursor, page_pair_rows, pair_key, read_timelines
from read_models.rls import acting, reading

pytestmark = pytest.mark.integration

Pair = frozenset[UUID]

GROUND_TRUTH_SQL = """
SELECT a.id AS a, b.id AS b,
       lower(int4range(a.start_time_seconds, a.end_time_seconds)
             * int4range(b.start_time_seconds, b.end_time_seconds)) AS overlap_start,
       upper(int4range(a.start_time_seconds, a.end_time_seconds)
             * int4range(b.start_time_seconds, b.end_time_seconds)) AS overlap_end
FROM scenes a JOIN scenes b ON b.movie_id = a.movie_id AND a.id < b.id
 AND int4range(a.start_time_seconds, a.end_time_seconds)
     && int4range(b.start_time_seconds, b.end_time_seconds)
WHERE a.movie_id = ANY($1::uuid[])
"""
"""The design's definition of an overlap (the GiST self-join), the reference for every pair."""


@pytest.fixture(name="api", scope="module")
async def fx_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(system.bus, system.engines, system.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _movie(db: asyncpg.Pool, *, cached: bool = True, public: bool = True) -> UUID:
    movie = uuid4()
    if cached:
        await db.execute(
            "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, 'ほしのこえ', $2)",
            movie,
            public,
        )
    return movie


async def _scene(db: asyncpg.Pool, movie: UUID, start: int, end: int) -> UUID:
    return UUID(
        str(
            await db.fetchval(
                "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds,"
                " level1_classification, level2_classification) VALUES ($1, $2, $3, 'A', 'A1') RETURNING id",
                movie,
                start,
                end,
            )
        )
    )


async def _get(api: httpx.AsyncClient, path: str, **params: Any) -> Any:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _pairs(items: list[dict[str, Any]]) -> set[Pair]:
    return {frozenset((UUID(i["first_scene_id"]), UUID(i["second_scene_id"]))) for i in items}


async def _all_pairs(api: httpx.AsyncClient, movies: set[UUID], limit: int = 1000) -> list[dict[str, Any]]:
    """Walk the pages of /overlaps from the first of ``movies`` on; keep the pairs of ``movies``."""
    found: list[dict[str, Any]] = []
    # A cursor after a pair of the movie just before them: other tests' earlier movies are skipped.
    before = UUID(int=min(movies).int - 1)
    after: str | None = encode_pair_cursor((before, before, 86_400, 86_400, before, 86_400, 86_400))
    while True:
        body = await _get(api, "/overlaps", limit=limit, **({"after": after} if after else {}))
        found.extend(i for i in body["items"] if UUID(i["movie_id"]) in movies)
        after = body["next"]
        if after is None:
            return found


async def test_movie_overlaps_give_each_pair_once_with_its_overlapping_range(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    a = await _scene(db, movie, 0, 100)
    b = await _scene(db, movie, 60, 150)
    await _scene(db, movie, 150, 160)  # touches b: [) ranges do not overlap
    items = await _get(api, f"/movies/{movie}/overlaps")
    assert [
        (
            i["first_scene_id"],
            i["second_scene_id"],
            i["overlap_start"],
            i["overlap_end"],
            i["overlap_seconds"],
        )
        for i in items
    ] == [(str(a), str(b), 60, 100, 40)]


async def test_identical_and_nested_ranges_overlap(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    outer = await _scene(db, movie, 0, 100)
    twin = await _scene(db, movie, 0, 100)
    inner = await _scene(db, movie, 10, 20)
    items = await _get(api, f"/movies/{movie}/overlaps")
    assert _pairs(items) == {frozenset((outer, twin)), frozenset((outer, inner)), frozenset((twin, inner))}
    assert {(i["overlap_start"], i["overlap_end"]) for i in items} == {(0, 100), (10, 20)}


async def test_overlapping_scenes_leave_out_the_scenes_overlapping_none(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    a = await _scene(db, movie, 0, 100)
    b = await _scene(db, movie, 90, 120)
    await _scene(db, movie, 120, 130)  # touches b only
    c = await _scene(db, movie, 200, 300)
    d = await _scene(db, movie, 250, 260)
    items = await _get(api, f"/movies/{movie}/overlapping-scenes")
    assert [(UUID(i["id"]), i["start_time_seconds"], i["end_time_seconds"]) for i in items] == [
        (a, 0, 100),
        (b, 90, 120),
        (c, 200, 300),
        (d, 250, 260),
    ]


@pytest.mark.parametrize("path", ["/movies/{}/overlaps", "/movies/{}/overlapping-scenes"])
async def test_a_movie_neither_cached_nor_with_scenes_is_404(api: httpx.AsyncClient, path: str) -> None:
    response = await api.get(path.format(uuid4()))
    assert response.status_code == 404


@pytest.mark.parametrize("path", ["/movies/{}/overlaps", "/movies/{}/overlapping-scenes"])
async def test_a_cached_movie_without_scenes_has_no_overlaps(
    db: asyncpg.Pool, api: httpx.AsyncClient, path: str
) -> None:
    assert await _get(api, path.format(await _movie(db))) == []


async def test_a_movie_known_only_by_its_scenes_is_not_404(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    # The scene may be projected before the movie's registration reaches the cache. Until then
    # only admins see it (row-level security fails closed), so an admin asks.
    movie = await _movie(db, cached=False)
    a = await _scene(db, movie, 0, 10)
    b = await _scene(db, movie, 5, 15)
    response = await api.get(f"/movies/{movie}/overlaps", headers=bearer_headers(uuid4(), "admin"))
    assert response.status_code == 200, response.text
    assert _pairs(response.json()) == {frozenset((a, b))}


# A page of 1 ends between two pairs of the same first scene, one of 2 between two first scenes.
@pytest.mark.parametrize("limit", [1, 2])
async def test_all_movies_keyset_pages_give_every_pair_once(
    db: asyncpg.Pool, api: httpx.AsyncClient, limit: int
) -> None:
    movies = {await _movie(db), await _movie(db)}
    for movie in movies:
        for start in (0, 10, 20):
            await _scene(db, movie, start, 35)
    expected = {frozenset((r["a"], r["b"])) for r in await db.fetch(GROUND_TRUTH_SQL, list(movies))}
    found = await _all_pairs(api, movies, limit=limit)
    assert len(found) == len(expected) == 6
    assert _pairs(found) == expected


async def test_a_viewer_pages_through_the_pairs_of_public_movies_only(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    public, private = await _movie(db), await _movie(db, public=False)
    for movie in (public, private):
        await _scene(db, movie, 0, 100)
        await _scene(db, movie, 50, 150)
    found = await _all_pairs(api, {public, private})
    assert {UUID(i["movie_id"]) for i in found} == {public}


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"after": "garbage"}, "after")],
)
async def test_bad_overlap_page_parameters_are_422(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await api.get("/overlaps", params=params)
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [["query", field]]


# Few distinct starts and lengths, so that identical, touching and nested ranges come up often.
_SCENES = st.lists(
    st.tuples(
        st.integers(0, 2), st.integers(0, 30).map(lambda n: n * 5), st.integers(1, 12).map(lambda n: n * 5)
    ),
    max_size=40,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenes=_SCENES)
async def test_overlap_endpoints_equal_the_range_overlap_ground_truth(
    db: asyncpg.Pool, api: httpx.AsyncClient, scenes: list[tuple[int, int, int]]
) -> None:
    movies = [await _movie(db) for _ in range(3)]
    for movie_index, start, length in scenes:
        await _scene(db, movies[movie_index], start, min(start + length, 86_400))
    truth = {
        frozenset((r["a"], r["b"])): (r["overlap_start"], r["overlap_end"])
        for r in await db.fetch(GROUND_TRUTH_SQL, movies)
    }
    per_movie: list[dict[str, Any]] = []
    overlapping: set[UUID] = set()
    for movie in movies:
        per_movie.extend(await _get(api, f"/movies/{movie}/overlaps"))
        overlapping |= {UUID(i["id"]) for i in await _get(api, f"/movies/{movie}/overlapping-scenes")}
    for items in (per_movie, await _all_pairs(api, set(movies))):
        assert len(items) == len(truth)  # no pair twice
        assert {
            frozenset((UUID(i["first_scene_id"]), UUID(i["second_scene_id"]))): (
                i["overlap_start"],
                i["overlap_end"],
            )
            for i in items
        } == truth
    assert overlapping == {scene for pair in truth for scene in pair}


class _CountingReads:
    """Reads timelines like the read model and counts the statements."""

    def __init__(self) -> None:
        self.statements = 0

    async def read(
        self, conn: AsyncConnection, start: tuple[UUID, int, UUID], movies: int
    ) -> Sequence[Sequence[Any]]:
        self.statements += 1
        return await read_timelines(conn, start, movies)


async def test_a_page_read_in_several_movie_chunks_gives_every_pair_once(
    db: asyncpg.Pool, system: System
) -> None:
    movies = [await _movie(db) for _ in range(40)]
    for movie in movies:
        for start in (0, 10, 20):
            await _scene(db, movie, start, 35)
    expected = {frozenset((r["a"], r["b"])) for r in await db.fetch(GROUND_TRUTH_SQL, movies)}
    # From just before the first of these movies on, in one page large enough for all of them;
    # a new estimate reads 16 movies first, so these 40 alone take several chunks.
    before = UUID(int=min(movies).int - 1)
    async with acting(system.engines["scene"], ANONYMOUS, isolation="REPEATABLE READ") as conn:
        counting = _CountingReads()
        after = (before, 86_400, before, 86_400, before)
        rows = await page_pair_rows(conn, 100_000, after, PairDensity(), read=counting.read)
    mine = [r for r in rows if r[0] in set(movies)]
    assert counting.statements > 1
    assert len(mine) == len(expected) == 120
    assert {frozenset((r[1], r[4])) for r in mine} == expected
    assert rows == sorted(rows, key=pair_key)


async def test_the_chunks_of_a_page_read_one_snapshot(db: asyncpg.Pool, system: System) -> None:
    movies = sorted([await _movie(db) for _ in range(40)])
    for movie in movies:
        for start in (0, 10, 20):
            await _scene(db, movie, start, 35)
    late: list[UUID] = []

    async def read_then_add_a_scene(
        conn: AsyncConnection, start: tuple[UUID, int, UUID], chunk: int
    ) -> Sequence[Sequence[Any]]:
        timelines = await read_timelines(conn, start, chunk)
        if not late:
            # Committed after the first chunk, in a movie a later chunk reads: not in the snapshot.
            late.append(await _scene(db, movies[-1], 5, 30))
        return timelines

    before = UUID(int=movies[0].int - 1)
    # As the owner (no identity): nothing has begun the transaction before the first chunk.
    async with reading(system.engines["scene"], None, isolation="REPEATABLE READ") as conn:
        after = (before, 86_400, before, 86_400, before)
        rows = await page_pair_rows(conn, 100_000, after, PairDensity(), read=read_then_add_a_scene)
    mine = [r for r in rows if r[0] in set(movies)]
    assert late
    assert len(mine) == 120
    assert all(late[0] not in (r[1], r[4]) for r in mine)
