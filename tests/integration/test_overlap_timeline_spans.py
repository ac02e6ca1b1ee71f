"""A scene's packed times (scenes.timeline_span, scene_service 0022) follow its times on every write."""

from __future__ import annotations

import struct
from uuid import UUID, uuid4

import asyncpg
import pytest

from commands.scene import CreateScene, RetimeScene
from events.scene import SceneCreated, SceneRetimed
from infra.auth import ANONYMOUS
from infra.bootstrap import System
from infra.services.scene import SCENES_PROJECTION
from read_models.overlaps import MOVIE_TIMELINE_SQL, TIMELINES_SQL, PairRow, movie_pair_rows
from read_models.rls import acting, reading
from tests.acting import AS_SYSTEM
from tests.conftest import eventually
from tests.integration.test_scene_pipeline import register_movie

pytestmark = pytest.mark.integration

_SPANS_SQL = (
    "SELECT id, start_time_seconds, end_time_seconds, timeline_span FROM scenes WHERE id = ANY($1::uuid[])"
)


async def _spans(db: asyncpg.Pool, scenes: list[UUID]) -> dict[UUID, tuple[int, int, bytes]]:
    """Each scene's start, end and stored span."""
    rows = await db.fetch(_SPANS_SQL, scenes)
    return {r["id"]: (r["start_time_seconds"], r["end_time_seconds"], r["timeline_span"]) for r in rows}


def _packed(start: int, end: int) -> bytes:
    """The span the read model unpacks: start and end as big-endian int4s."""
    return struct.pack(">ii", start, end)


async def _insert(db: asyncpg.Pool, movie: UUID, start: int, end: int) -> UUID:
    scene = uuid4()
    await db.execute(
        "INSERT INTO scenes (id, movie_id, start_time_seconds, end_time_seconds, level1_classification,"
        " level2_classification) VALUES ($1, $2, $3, $4, 'A', 'A1')",
        scene,
        movie,
        start,
        end,
    )
    return scene


async def test_an_inserted_scene_carries_its_times_packed(db: asyncpg.Pool) -> None:
    scene = await _insert(db, uuid4(), 86_399, 86_400)
    assert (await _spans(db, [scene]))[scene] == (86_399, 86_400, _packed(86_399, 86_400))


async def test_a_copied_scene_carries_its_times_packed(db: asyncpg.Pool) -> None:
    scene = uuid4()
    async with db.acquire() as conn:
        await conn.copy_records_to_table(
            "scenes",
            records=[(scene, uuid4(), 0, 7_200, "A", "A1")],
            columns=[
                "id",
                "movie_id",
                "start_time_seconds",
                "end_time_seconds",
                "level1_classification",
                "level2_classification",
            ],
        )
    assert (await _spans(db, [scene]))[scene] == (0, 7_200, _packed(0, 7_200))


async def test_updating_a_scenes_times_repacks_them(db: asyncpg.Pool) -> None:
    scene = await _insert(db, uuid4(), 10, 20)
    await db.execute(
        "UPDATE scenes SET start_time_seconds = 300, end_time_seconds = 65536 WHERE id = $1", scene
    )
    assert (await _spans(db, [scene]))[scene] == (300, 65_536, _packed(300, 65_536))


async def test_the_span_cannot_be_written_by_hand(db: asyncpg.Pool) -> None:
    scene = await _insert(db, uuid4(), 10, 20)
    with pytest.raises(asyncpg.GeneratedAlwaysError):
        await db.execute("UPDATE scenes SET timeline_span = $2 WHERE id = $1", scene, _packed(0, 1))


async def test_the_projections_batch_functions_keep_the_span(db: asyncpg.Pool) -> None:
    movie, scenes = uuid4(), [uuid4() for _ in range(3)]
    created = [
        SceneCreated(
            stream_id=scene,
            stream_version=1,
            movie_id=movie,
            start_time_seconds=100 * n,
            end_time_seconds=100 * n + 150,
            level1_classification="A",
            level2_classification="A1",
        )
        for n, scene in enumerate(scenes)
    ]
    # The middle scene moves, twice in one batch: the last of its retimes holds.
    retimed = [
        SceneRetimed(
            stream_id=scenes[1], stream_version=2, movie_id=movie, start_time_seconds=5, end_time_seconds=50
        ),
        SceneRetimed(
            stream_id=scenes[1], stream_version=3, movie_id=movie, start_time_seconds=40, end_time_seconds=260
        ),
    ]
    handlers = SCENES_PROJECTION.batch_handlers
    async with db.acquire() as conn, conn.transaction():
        await handlers[SceneCreated](conn, created)
        await handlers[SceneRetimed](conn, retimed)
    spans = await _spans(db, scenes)
    expected = [(0, 150), (40, 260), (200, 350)]
    assert [spans[s] for s in scenes] == [(start, end, _packed(start, end)) for start, end in expected]


async def test_the_pairs_of_a_scene_created_and_retimed_through_the_pipeline_use_its_new_times(
    live: System,
) -> None:
    movie = await register_movie(live)
    first = CreateScene(movie_id=movie, start="0:00", end="1:40", classification="A1")
    second = CreateScene(movie_id=movie, start="3:20", end="5:00", classification="A1")
    for cmd in (first, second):
        await live.bus.dispatch(cmd, AS_SYSTEM)
    await live.bus.dispatch(RetimeScene(scene_id=second.scene_id, start="0:50", end="2:00"), AS_SYSTEM)

    async def pairs() -> list[PairRow] | None:
        async with reading(live.engines["scene"], None, isolation="REPEATABLE READ") as conn:
            rows = await movie_pair_rows(conn, movie)
        return rows or None

    rows = await eventually(pairs)
    assert rows == [(movie, first.scene_id, 0, 100, second.scene_id, 50, 120)]
    assert (await _spans(live.scene_pool, [second.scene_id]))[second.scene_id] == (50, 120, _packed(50, 120))


@pytest.mark.parametrize("statement", ["movie", "chunk"])
async def test_the_timeline_statements_read_the_index_alone_as_a_viewer(
    db: asyncpg.Pool, system: System, statement: str
) -> None:
    movie = uuid4()
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, 'ほしのこえ', TRUE)", movie
    )
    for start in (0, 30, 60):
        await _insert(db, movie, start, start + 45)
    sql, args = (
        (MOVIE_TIMELINE_SQL, (movie,)) if statement == "movie" else (TIMELINES_SQL, (movie, -1, movie, 5))
    )
    async with acting(system.engines["scene"], ANONYMOUS) as conn:
        # A few rows may be read any way: the question is whether the index can serve the
        # statement alone, in its order, which only an index holding every column it reads can;
        # every other way is ruled out (heap fetches then depend on the visibility map alone).
        for method in ("seqscan", "bitmapscan", "indexscan", "sort"):
            await conn.exec_driver_sql(f"SET LOCAL enable_{method} = off")
        plan = (await conn.exec_driver_sql(f"EXPLAIN (COSTS OFF) {sql}", args)).scalars().all()
    assert "Index Only Scan using idx_scenes_movie_start_covering on scenes" in "\n".join(plan), plan
