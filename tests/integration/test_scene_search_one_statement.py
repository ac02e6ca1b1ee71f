"""Scene search pages read in one statement per shape: casts and lines per hit, values per call, all roles.

The page's casts and lines are correlated JSON aggregates of the page statement, and the
statement of a shape is built once with its values as parameters (read_models/search.py). A cast
or line attached to the wrong hit, or a value kept from an earlier search of the same shape,
shows up here as a wrong page.
"""

from __future__ import annotations

from uuid import UUID, uuid4

import asyncpg
import pytest

from infra.auth import Identity
from infra.bootstrap import System
from read_models.search import SceneSearch, SceneSearchQueries, SearchHit

pytestmark = pytest.mark.integration

READERS = {
    "owner": None,
    "viewer": Identity(user_id=uuid4(), role="viewer"),
    "admin": Identity(user_id=uuid4(), role="admin"),
}


@pytest.fixture(name="queries")
def fx_queries(system: System) -> SceneSearchQueries:
    return SceneSearchQueries(system.engines["scene"])


async def _movie(db: asyncpg.Pool) -> UUID:
    movie = uuid4()
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, '言の葉の庭', TRUE)", movie
    )
    return movie


async def _scene(db: asyncpg.Pool, movie: UUID, start: int, tags: list[str]) -> UUID:
    row = await db.fetchval(
        "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification,"
        " level2_classification, description, tags) VALUES ($1, $2, $3, 'R', 'R2', '雨の日の恋愛', $4)"
        " RETURNING id",
        movie,
        start,
        start + 30,
        tags,
    )
    return UUID(str(row))


async def _cast(db: asyncpg.Pool, scene: UUID, *members: tuple[str, str]) -> None:
    for character, role in members:
        actor = uuid4()
        await db.execute(
            "INSERT INTO external_actors_cache (id, name) VALUES ($1, $2)", actor, f"{character}役"
        )
        await db.execute(
            "INSERT INTO scene_actors (scene_id, actor_id, character_name, role_type)"
            " VALUES ($1, $2, $3, $4)",
            scene,
            actor,
            character,
            role,
        )


async def _lines(db: asyncpg.Pool, scene: UUID, *lines: tuple[str, int | None]) -> None:
    for text, offset in lines:
        await db.execute(
            "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text, start_time_offset)"
            " VALUES ($1, $2, $3, $4)",
            scene,
            uuid4(),
            text,
            offset,
        )


def _contents(hit: SearchHit) -> tuple[list[tuple[str | None, str | None]], list[tuple[str, int | None]]]:
    return (
        [(a.character_name, a.role_type) for a in hit.actors],
        [(d.text, d.start_offset) for d in hit.dialogues],
    )


@pytest.mark.parametrize("reader", list(READERS))
async def test_each_hit_carries_its_own_cast_and_lines_in_order(
    db: asyncpg.Pool, queries: SceneSearchQueries, reader: str
) -> None:
    tag = uuid4().hex
    movie = await _movie(db)
    first, second, bare = [await _scene(db, movie, start, [tag]) for start in (0, 60, 120)]
    await _cast(db, first, ("タカオ", "supporting"), ("ユキノ", "primary"))
    await _cast(db, second, ("先生", "cameo"))
    await _lines(db, first, ("靴を作りたい", 20), ("雨だね", 5), ("さよなら", None))
    await _lines(db, second, ("こんにちは", 0))
    page = await queries.search(SceneSearch(tags=(tag,)), limit=10, identity=READERS[reader])
    assert [h.id for h in page.items] == [first, second, bare]
    assert [_contents(h) for h in page.items] == [
        (
            [("ユキノ", "primary"), ("タカオ", "supporting")],
            [("雨だね", 5), ("靴を作りたい", 20), ("さよなら", None)],
        ),
        ([("先生", "cameo")], [("こんにちは", 0)]),
        ([], []),
    ]


@pytest.mark.parametrize("reader", list(READERS))
async def test_a_second_search_of_the_same_shape_finds_its_own_hits(
    db: asyncpg.Pool, queries: SceneSearchQueries, reader: str
) -> None:
    movie = await _movie(db)
    rain, snow = uuid4().hex, uuid4().hex
    rainy = await _scene(db, movie, 0, [rain])
    snowy = [await _scene(db, movie, start, [snow]) for start in (60, 120)]
    identity = READERS[reader]
    first = await queries.search(SceneSearch(tags=(rain,), start_min=0), limit=10, identity=identity)
    second = await queries.search(SceneSearch(tags=(snow,), start_min=60), limit=1, identity=identity)
    assert ([h.id for h in first.items], first.total) == ([rainy], 1)
    assert ([h.id for h in second.items], second.total, second.next is not None) == ([snowy[0]], 2, True)
    rest = await queries.search(
        SceneSearch(tags=(snow,), start_min=60), limit=1, after=second.next, identity=identity
    )
    assert ([h.id for h in rest.items], rest.total, rest.next) == ([snowy[1]], 2, None)
