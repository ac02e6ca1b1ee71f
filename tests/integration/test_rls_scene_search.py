"""Scene search under row-level security (the keys index through leakproof operators, 0017).

Each role sees its own. Each test puts scenes of a public, a private and an uncached movie, and a
professional's own scene of the private movie, straight into the read model, all carrying a tag of
the test's own; every search names that tag, so the keyed path (the leakproof key operators of
0017) finds the candidates. The expected hits are computed here from the roles' rules (0006): a
hidden scene in the items or in the total is a leak, a visible one missing is a loss.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from infra.auth import Identity
from infra.bootstrap import System
from read_models.search import SceneSearch, SceneSearchQueries

pytestmark = pytest.mark.integration

PROFESSIONAL = uuid4()
ROLES = {
    "viewer": Identity(user_id=uuid4(), role="viewer"),
    "anonymous": Identity(user_id=None, role="viewer"),
    "contributor": Identity(user_id=uuid4(), role="contributor"),
    "professional": Identity(user_id=PROFESSIONAL, role="professional"),
    "other professional": Identity(user_id=uuid4(), role="professional"),
    "admin": Identity(user_id=uuid4(), role="admin"),
}


@pytest.fixture(name="queries")
def fx_queries(system: System) -> SceneSearchQueries:
    return SceneSearchQueries(system.engines["scene"])


@dataclass(frozen=True)
class _Scene:
    id: UUID
    public: bool
    created_by: UUID | None


async def _movie(db: asyncpg.Pool, *, public: bool | None) -> UUID:
    """A movie: public, private, or (``None``) not in the movies cache."""
    movie = uuid4()
    if public is not None:
        await db.execute(
            "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, '秒速5センチメートル', $2)",
            movie,
            public,
        )
    return movie


async def _scene(db: asyncpg.Pool, movie: UUID, start: int, tag: str, **columns: Any) -> UUID:
    values: dict[str, Any] = {
        "movie_id": movie,
        "start_time_seconds": start,
        "end_time_seconds": start + 30,
        "level1_classification": "R",
        "level2_classification": "R2",
        "description": "桜の下で恋愛の話",
        "tags": [tag, "romantic"],
        **columns,
    }
    names = ", ".join(values)
    marks = ", ".join(f"${n}" for n in range(1, len(values) + 1))
    row = await db.fetchval(f"INSERT INTO scenes ({names}) VALUES ({marks}) RETURNING id", *values.values())
    return UUID(str(row))


async def _world(db: asyncpg.Pool, tag: str) -> list[_Scene]:
    """Two scenes of each movie kind, and a professional's own scene of the private movie."""
    scenes = []
    for public in (True, False, None):
        movie = await _movie(db, public=public)
        shown = public is True
        scenes += [_Scene(await _scene(db, movie, 600 + n * 60, tag), shown, None) for n in range(2)]
        if public is False:
            own = await _scene(db, movie, 900, tag, created_by=PROFESSIONAL)
            scenes.append(_Scene(own, public=False, created_by=PROFESSIONAL))
    return scenes


def _visible(scenes: list[_Scene], identity: Identity) -> set[UUID]:
    """The scenes the roles' rules (0006) show ``identity``."""
    if identity.role == "admin":
        return {s.id for s in scenes}
    own = identity.role == "professional"
    return {s.id for s in scenes if s.public or (own and s.created_by == identity.user_id)}


SEARCHES: dict[str, dict[str, Any]] = {
    "tag": {},
    "level 1 and tag": {"level1": "R"},
    "description, level 1 and tag": {"level1": "R", "description": "恋愛"},
    "long description": {"description": "桜の下で恋愛"},
    "levels, tag and time": {"level2": "R2", "start_min": 600, "end_max": 3600},
}


@pytest.mark.parametrize("role", list(ROLES))
@pytest.mark.parametrize("search", list(SEARCHES))
async def test_a_keyed_search_shows_each_role_exactly_the_scenes_it_may_see(
    db: asyncpg.Pool, queries: SceneSearchQueries, role: str, search: str
) -> None:
    tag = uuid4().hex
    scenes = await _world(db, tag)
    identity = ROLES[role]
    page = await queries.search(SceneSearch(tags=(tag,), **SEARCHES[search]), limit=50, identity=identity)
    wanted = _visible(scenes, identity)
    assert ({h.id for h in page.items}, page.total) == (wanted, len(wanted))


async def test_a_viewers_keyset_pages_walk_each_visible_hit_once_and_count_only_those(
    db: asyncpg.Pool, queries: SceneSearchQueries
) -> None:
    tag = uuid4().hex
    scenes = await _world(db, tag)
    scenes += await _world(db, tag)
    search = SceneSearch(level1="R", tags=(tag,))
    seen: list[UUID] = []
    totals = set()
    after = None
    while True:
        page = await queries.search(search, limit=2, after=after, identity=ROLES["viewer"])
        seen += [h.id for h in page.items]
        totals.add(page.total)
        if page.next is None:
            break
        after = page.next
    wanted = _visible(scenes, ROLES["viewer"])
    assert (sorted(seen), totals) == (sorted(wanted), {len(wanted)})


async def test_a_page_past_a_viewers_last_hit_counts_only_the_visible_hits(
    db: asyncpg.Pool, queries: SceneSearchQueries
) -> None:
    tag = uuid4().hex
    scenes = await _world(db, tag)
    page = await queries.search(SceneSearch(tags=(tag,)), limit=5, offset=50, identity=ROLES["viewer"])
    assert (page.items, page.total) == ([], len(_visible(scenes, ROLES["viewer"])))


async def test_a_scene_updated_after_insert_is_found_once_with_its_new_values(
    db: asyncpg.Pool, queries: SceneSearchQueries
) -> None:
    """An update writes a new row version elsewhere in the heap: its position, not the old one, is read."""
    tag = uuid4().hex
    movie = await _movie(db, public=True)
    scene = await _scene(db, movie, 600, tag)
    await db.execute(
        "UPDATE scenes SET start_time_seconds = 700, end_time_seconds = 730 WHERE id = $1", scene
    )
    page = await queries.search(SceneSearch(tags=(tag,)), limit=10, identity=ROLES["viewer"])
    assert [(h.id, h.start_time_seconds) for h in page.items] == [(scene, 700)]
    assert page.total == 1


async def test_a_scene_updated_out_of_the_match_is_no_longer_found(
    db: asyncpg.Pool, queries: SceneSearchQueries
) -> None:
    tag = uuid4().hex
    movie = await _movie(db, public=True)
    kept = await _scene(db, movie, 600, tag)
    moved = await _scene(db, movie, 660, tag)
    await db.execute("UPDATE scenes SET tags = ARRAY['night'] WHERE id = $1", moved)
    page = await queries.search(SceneSearch(tags=(tag,)), limit=10, identity=ROLES["viewer"])
    assert ([h.id for h in page.items], page.total) == ([kept], 1)


async def test_a_movie_made_private_hides_its_scenes_from_the_next_viewer_search(
    db: asyncpg.Pool, queries: SceneSearchQueries
) -> None:
    tag = uuid4().hex
    movie = await _movie(db, public=True)
    scene = await _scene(db, movie, 600, tag)
    before = await queries.search(SceneSearch(tags=(tag,)), limit=10, identity=ROLES["viewer"])
    await db.execute("UPDATE external_movies_cache SET is_public = FALSE WHERE id = $1", movie)
    after = await queries.search(SceneSearch(tags=(tag,)), limit=10, identity=ROLES["viewer"])
    assert ([h.id for h in before.items], before.total) == ([scene], 1)
    assert (after.items, after.total) == ([], 0)
