"""The materialised overlapping pairs (scene_overlaps) equal the pairs computed from scenes.

The reference is ``PROBE_PAIRS_SQL``, the read API's query before the table: under each role
(row-level security), after every kind of write to ``scenes`` (a statement of many scenes,
retime, creator change, delete, concurrent writers of one movie), through the projector, and
as seen by the data consistency check.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from commands.scene import CreateScene, DeleteScene, RetimeScene
from events.base import EventMetadata
from events.movie import MovieRegistered
from infra.auth import ANONYMOUS, Identity
from infra.bootstrap import System, open_system
from infra.ops import OpsContext, pool_connect, run_checks
from infra.settings import Settings
from read_models.overlaps import ALL_PAIRS_SQL, PAIR_COLUMNS, PROBE_PAIRS_SQL, pair_page_params
from read_models.rls import acting
from tests.acting import AS_SYSTEM
from tests.conftest import eventually

pytestmark = pytest.mark.integration

Row = tuple[object, ...]

_STORED = f"SELECT {PAIR_COLUMNS} FROM scene_overlaps WHERE movie_id = ANY($1::uuid[])"
_COMPUTED = f"SELECT * FROM ({PROBE_PAIRS_SQL}) p WHERE p.movie_id = ANY($1::uuid[])"


@pytest.fixture(name="system", scope="module")
async def fx_system(settings: Settings) -> AsyncIterator[System]:
    """Pools and engines on the session namespace (writes scenes directly: no projector needed)."""
    system = await open_system(settings)
    yield system
    await system.close()


@pytest.fixture(name="db", scope="module")
def fx_db(system: System) -> asyncpg.Pool:
    return system.scene_pool


async def _movie(db: asyncpg.Pool, *, public: bool | None = True) -> UUID:
    """A movie in the cache (public or not), or, with ``public=None``, one the cache lacks."""
    movie = uuid4()
    if public is not None:
        await db.execute(
            "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, '秒速5センチメートル', $2)",
            movie,
            public,
        )
    return movie


_INSERT = (
    "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, created_by, "
    "level1_classification, level2_classification) "
    "SELECT * , 'A', 'A1' FROM unnest($1::uuid[], $2::int[], $3::int[], $4::uuid[]) RETURNING id"
)


async def _scenes(
    db: asyncpg.Pool | asyncpg.Connection,
    movie: UUID,
    ranges: Sequence[tuple[int, int]],
    created_by: UUID | None = None,
) -> list[UUID]:
    """Insert scenes of ``movie`` in one statement (one trigger call); return their ids in order."""
    rows = await db.fetch(
        _INSERT,
        [movie] * len(ranges),
        [r[0] for r in ranges],
        [r[1] for r in ranges],
        [created_by] * len(ranges),
    )
    return [r["id"] for r in rows]


async def _stored_and_computed(db: asyncpg.Pool, movies: Sequence[UUID]) -> tuple[set[Row], set[Row]]:
    stored = {tuple(r) for r in await db.fetch(_STORED, list(movies))}
    computed = {tuple(r) for r in await db.fetch(_COMPUTED, list(movies))}
    return stored, computed


async def _assert_in_step(db: asyncpg.Pool, movies: Sequence[UUID]) -> set[Row]:
    stored, computed = await _stored_and_computed(db, movies)
    assert stored == computed
    return stored


# --- row-level security: the table shows a role exactly the pairs the probe shows it ---------


@pytest.fixture(name="rls_movies", scope="module")
async def fx_rls_movies(db: asyncpg.Pool) -> dict[str, UUID]:
    """A public, a private and an uncached movie, each with pairs of the professional's own scenes
    and pairs mixing them with someone else's."""
    movies = {
        "public": await _movie(db),
        "private": await _movie(db, public=False),
        "uncached": await _movie(db, public=None),
    }
    for movie in movies.values():
        await _scenes(db, movie, [(0, 50), (10, 60)], created_by=_PROFESSIONAL)
        await _scenes(db, movie, [(20, 70)], created_by=uuid4())
    return movies


_PROFESSIONAL = uuid4()

# Pairs per movie: 3 (every two of the three scenes); the professional's own pair is 1 of them.
_ROLES: dict[str, tuple[Identity, dict[str, int]]] = {
    "anonymous viewer": (ANONYMOUS, {"public": 3}),
    "contributor": (Identity(user_id=uuid4(), role="contributor"), {"public": 3}),
    "professional": (
        Identity(user_id=_PROFESSIONAL, role="professional"),
        {"public": 3, "private": 1, "uncached": 1},
    ),
    "other professional": (Identity(user_id=uuid4(), role="professional"), {"public": 3}),
    "admin": (Identity(user_id=uuid4(), role="admin"), {"public": 3, "private": 3, "uncached": 3}),
}


@pytest.mark.parametrize("role", list(_ROLES))
async def test_each_role_reads_from_the_table_the_pairs_the_probe_gives_it(
    system: System, rls_movies: dict[str, UUID], role: str
) -> None:
    identity, expected = _ROLES[role]
    stored: set[Row] = set()
    per_movie: dict[str, int] = {}
    async with acting(system.engines["scene"], identity) as conn:
        for name, movie in rls_movies.items():
            params = pair_page_params(1000, (movie, UUID(int=0), UUID(int=0)))
            page = {
                tuple(r)
                for r in (await conn.execute(text(ALL_PAIRS_SQL), params)).all()
                if r.movie_id == movie
            }
            stored |= page
            if page:
                per_movie[name] = len(page)
        probe = await conn.execute(
            text(f"SELECT * FROM ({PROBE_PAIRS_SQL}) p WHERE p.movie_id = ANY(:movies)"),
            {"movies": list(rls_movies.values())},
        )
        computed = {tuple(r)[:7] for r in probe.all()}
    assert stored == computed
    assert per_movie == expected


# --- upkeep on every kind of write to scenes --------------------------------------------------


async def test_scenes_inserted_by_one_statement_pair_with_each_other_and_with_earlier_scenes(
    db: asyncpg.Pool,
) -> None:
    movie = await _movie(db)
    [early, late] = await _scenes(db, movie, [(0, 100), (500, 600)])
    # Together: pairs among themselves, with a scene starting before them, with one after them.
    new = await _scenes(db, movie, [(50, 120), (60, 70), (110, 510), (40, 55)])
    stored = await _assert_in_step(db, [movie])
    ids = {frozenset((r[1], r[4])) for r in stored}
    assert frozenset((early, new[0])) in ids
    assert frozenset((new[2], late)) in ids
    assert frozenset((new[0], new[1])) in ids
    assert len(stored) == 7


async def test_scenes_that_only_touch_make_no_pair(db: asyncpg.Pool) -> None:
    movie = await _movie(db)
    await _scenes(db, movie, [(0, 10), (10, 20)])
    await _scenes(db, movie, [(20, 30)])
    assert await _assert_in_step(db, [movie]) == set()


async def test_a_retimed_scene_gets_its_pairs_recomputed(db: asyncpg.Pool) -> None:
    movie = await _movie(db)
    a, b, c = await _scenes(db, movie, [(0, 100), (50, 150), (300, 400)])
    await db.execute("UPDATE scenes SET start_time_seconds = 90, end_time_seconds = 350 WHERE id = $1", a)
    stored = await _assert_in_step(db, [movie])
    # a now comes after b by start: the pair's order flips, and a meets c.
    assert {(r[1], r[4]) for r in stored} == {(b, a), (a, c)}


async def test_an_update_leaving_the_range_alone_keeps_the_pairs(db: asyncpg.Pool) -> None:
    movie = await _movie(db)
    await _scenes(db, movie, [(0, 100), (50, 150)])
    before = await _assert_in_step(db, [movie])
    await db.execute(
        "UPDATE scenes SET start_time_seconds = start_time_seconds, version = 2 WHERE movie_id = $1", movie
    )
    assert await _assert_in_step(db, [movie]) == before


async def test_a_changed_creator_is_copied_to_the_scenes_pairs(db: asyncpg.Pool) -> None:
    movie = await _movie(db)
    a, _ = await _scenes(db, movie, [(0, 100), (50, 150)], created_by=uuid4())
    owner = uuid4()
    await db.execute("UPDATE scenes SET created_by = $2 WHERE id = $1", a, owner)
    [pair] = await _assert_in_step(db, [movie])
    assert pair[7] == owner


async def test_deleted_scenes_take_their_pairs_along(db: asyncpg.Pool) -> None:
    movie = await _movie(db)
    a, b, c = await _scenes(db, movie, [(0, 100), (50, 150), (60, 70)])
    await db.execute("DELETE FROM scenes WHERE id = ANY($1::uuid[])", [a, c])
    assert await _assert_in_step(db, [movie]) == set()
    assert (
        await db.fetchval(
            "SELECT count(*) FROM scene_overlaps WHERE $1 IN (first_scene_id, second_scene_id)", b
        )
        == 0
    )


# Few distinct starts and lengths, so that identical, touching and nested ranges come up often.
_RANGE = st.tuples(st.integers(0, 20).map(lambda n: n * 5), st.integers(1, 8).map(lambda n: n * 5)).map(
    lambda r: (r[0], r[0] + r[1])
)
Op = tuple[str, int, list[tuple[int, int]]]
"""(what, a movie index or a pick among the scenes so far, ranges): one statement on scenes."""
_OPS: st.SearchStrategy[list[Op]] = st.lists(
    st.one_of(
        st.tuples(st.just("insert"), st.integers(0, 1), st.lists(_RANGE, min_size=1, max_size=6)),
        st.tuples(st.just("retime"), st.integers(0, 50), st.lists(_RANGE, min_size=1, max_size=1)),
        st.tuples(st.just("delete"), st.integers(0, 50), st.just([])),
    ),
    max_size=12,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=_OPS)
async def test_any_sequence_of_writes_leaves_the_table_equal_to_the_probe(
    db: asyncpg.Pool, ops: list[Op]
) -> None:
    movies = [await _movie(db), await _movie(db)]
    scenes: list[UUID] = []
    for what, pick, ranges in ops:
        if what == "insert":
            scenes += await _scenes(db, movies[pick], ranges)
        elif scenes and what == "retime":
            [(start, end)] = ranges
            await db.execute(
                "UPDATE scenes SET start_time_seconds = $2, end_time_seconds = $3 WHERE id = $1",
                scenes[pick % len(scenes)],
                start,
                end,
            )
        elif scenes and what == "delete":
            await db.execute("DELETE FROM scenes WHERE id = $1", scenes.pop(pick % len(scenes)))
    await _assert_in_step(db, movies)


async def test_two_transactions_adding_overlapping_scenes_to_one_movie_both_get_the_pair(
    db: asyncpg.Pool,
) -> None:
    # Neither transaction sees the other's uncommitted scene: without the per-movie lock each
    # would compute its pairs without the other and the pair would be lost.
    movie = await _movie(db)
    async with db.acquire() as first, db.acquire() as second:
        first_tx = first.transaction()
        await first_tx.start()
        await _scenes(first, movie, [(0, 100)])
        second_tx = second.transaction()
        await second_tx.start()
        blocked = asyncio.create_task(_scenes(second, movie, [(50, 150)]))
        await asyncio.sleep(0.3)
        assert not blocked.done()  # waiting for the first writer of the movie
        await first_tx.commit()
        await blocked
        await second_tx.commit()
    assert len(await _assert_in_step(db, [movie])) == 1


# --- through the projector, and the consistency check -----------------------------------------


async def test_commands_keep_the_pairs_in_step_through_the_projector(live: System) -> None:
    movie = uuid4()
    await live.event_store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="言の葉の庭")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    gone, kept, moved, late = (
        CreateScene(movie_id=movie, start=start, end=end, classification="L2")
        for start, end in (("0:00", "2:00"), ("1:00", "3:00"), ("2:30", "4:00"), ("5:30", "7:00"))
    )
    for cmd in (gone, kept, moved):
        await live.bus.dispatch(cmd, AS_SYSTEM)
    await live.bus.dispatch(RetimeScene(scene_id=moved.scene_id, start="5:00", end="6:00"), AS_SYSTEM)
    await live.bus.dispatch(DeleteScene(scene_id=gone.scene_id), AS_SYSTEM)
    await live.bus.dispatch(late, AS_SYSTEM)
    db = live.scene_pool

    async def settled() -> set[Row] | None:
        scenes = dict(await db.fetch("SELECT id, start_time_seconds FROM scenes WHERE movie_id = $1", movie))
        if scenes != {kept.scene_id: 60, moved.scene_id: 300, late.scene_id: 330}:
            return None
        stored, computed = await _stored_and_computed(db, [movie])
        return stored if stored == computed else None

    stored = await eventually(settled)
    assert {(r[1], r[4]) for r in stored} == {(moved.scene_id, late.scene_id)}


async def test_the_consistency_check_reports_drift_of_the_pairs_table(
    system: System, db: asyncpg.Pool
) -> None:
    movie = await _movie(db)
    a, b = await _scenes(db, movie, [(0, 100), (50, 150)])
    ops = OpsContext(connect=pool_connect(system.event_pool, system.pools))

    async def drift() -> tuple[str, str | None]:
        [check] = [
            c for c in await run_checks(ops, movie_id=movie) if c.name == "consistency.scene_overlaps_drift"
        ]
        return check.status, check.details

    assert await drift() == ("PASS", None)
    await db.execute("UPDATE scene_overlaps SET first_end = 99 WHERE first_scene_id = $1", a)
    status, details = await drift()
    assert status == "FAIL"
    assert details == f"pairs differing: 2 (missing {a}/{b}, stale {a}/{b})"
    await db.execute("DELETE FROM scene_overlaps WHERE movie_id = $1", movie)
    assert await drift() == ("FAIL", f"pairs differing: 1 (missing {a}/{b})")
