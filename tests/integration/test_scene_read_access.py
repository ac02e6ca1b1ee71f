"""Row-level security on every scene read of the API: search, overlaps, parallel groups, statistics.

Each test puts a public and a private movie's rows straight into the scene read model and asks
the same question as different callers: viewers (and anonymous readers, who read as viewers)
see the public movie's scenes only, admins see both, professionals also their own scenes.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from events.user import UserRole
from infra.api import create_app
from infra.auth import bearer_headers, default_authority
from infra.bootstrap import System

pytestmark = pytest.mark.integration

SECRET = "integration-test token secret, 32+ bytes"  # noqa: S105  test input, not a credential
ANONYMOUS: dict[str, str] = {}


@pytest.fixture(autouse=True)
def _auth_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API's token secret, known to the tests: the process's authority is rebuilt around it."""
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


@pytest.fixture(name="api", scope="module")
async def fx_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(system.bus, system.engines, system.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def _as(role: UserRole, user: UUID | None = None) -> dict[str, str]:
    return bearer_headers(user or uuid4(), role)


async def _movie(db: asyncpg.Pool, *, public: bool) -> UUID:
    movie = uuid4()
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, '天気の子', $2)", movie, public
    )
    return movie


async def _scene(
    db: asyncpg.Pool, movie: UUID, start: int, end: int, *, created_by: UUID | None = None
) -> UUID:
    return UUID(
        str(
            await db.fetchval(
                "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification,"
                " level2_classification, description, tags, created_by)"
                " VALUES ($1, $2, $3, 'R', 'R1', '雨の屋上', ARRAY['rain'], $4) RETURNING id",
                movie,
                start,
                end,
                created_by,
            )
        )
    )


async def _overlapping_movie(db: asyncpg.Pool, *, public: bool) -> tuple[UUID, set[UUID]]:
    """A movie with two overlapping scenes."""
    movie = await _movie(db, public=public)
    return movie, {await _scene(db, movie, 10, 30), await _scene(db, movie, 20, 40)}


async def _get(api: httpx.AsyncClient, path: str, headers: dict[str, str], **params: Any) -> Any:
    response = await api.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _search_ids(api: httpx.AsyncClient, headers: dict[str, str], tag: str) -> tuple[set[UUID], int]:
    body = await _get(api, "/scenes/search", headers, tags=tag, limit=100)
    return {UUID(i["id"]) for i in body["items"]}, body["total"]


async def _tagged(db: asyncpg.Pool) -> tuple[str, UUID, UUID]:
    """A tag carried by one scene of a public movie and one of a private movie."""
    tag = uuid4().hex
    public, private = await _movie(db, public=True), await _movie(db, public=False)
    shown, hidden = await _scene(db, public, 0, 10), await _scene(db, private, 0, 10)
    await db.execute("UPDATE scenes SET tags = ARRAY[$1] WHERE id = ANY($2::uuid[])", tag, [shown, hidden])
    return tag, shown, hidden


# --- scene search -------------------------------------------------------------------------------


async def test_search_hides_a_private_movies_scenes_from_a_viewer(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    tag, shown, _ = await _tagged(db)
    assert await _search_ids(api, _as("viewer"), tag) == ({shown}, 1)


async def test_search_shows_a_private_movies_scenes_to_an_admin(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    tag, shown, hidden = await _tagged(db)
    assert await _search_ids(api, _as("admin"), tag) == ({shown, hidden}, 2)


async def test_search_reads_an_anonymous_caller_as_a_viewer(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    tag, shown, _ = await _tagged(db)
    assert await _search_ids(api, ANONYMOUS, tag) == ({shown}, 1)


async def test_search_with_a_bad_token_reads_as_a_viewer(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    tag, shown, _ = await _tagged(db)
    assert await _search_ids(api, {"Authorization": "Bearer not-a-token"}, tag) == ({shown}, 1)


async def test_search_shows_a_professional_their_own_scene_of_a_private_movie(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    tag, shown, hidden = await _tagged(db)
    owner = uuid4()
    await db.execute("UPDATE scenes SET created_by = $1 WHERE id = $2", owner, hidden)
    assert await _search_ids(api, _as("professional", owner), tag) == ({shown, hidden}, 2)
    assert await _search_ids(api, _as("professional"), tag) == ({shown}, 1)


async def test_search_hides_the_cast_and_lines_with_their_scene(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    tag, _, hidden = await _tagged(db)
    await db.execute("INSERT INTO scene_actors (scene_id, actor_id) VALUES ($1, $2)", hidden, uuid4())
    body = await _get(api, "/scenes/search", _as("admin"), tags=tag)
    [hit] = [i for i in body["items"] if UUID(i["id"]) == hidden]
    assert len(hit["actors"]) == 1
    viewer = await _get(api, "/scenes/search", _as("viewer"), tags=tag)
    assert hidden not in {UUID(i["id"]) for i in viewer["items"]}


# --- overlaps -----------------------------------------------------------------------------------


async def test_a_private_movies_overlaps_are_hidden_from_a_viewer(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, _ = await _overlapping_movie(db, public=False)
    assert await _get(api, f"/movies/{movie}/overlaps", _as("viewer")) == []
    assert await _get(api, f"/movies/{movie}/overlaps", ANONYMOUS) == []


async def test_a_private_movies_overlaps_are_shown_to_an_admin(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, scenes = await _overlapping_movie(db, public=False)
    [pair] = await _get(api, f"/movies/{movie}/overlaps", _as("admin"))
    assert {UUID(pair["first_scene_id"]), UUID(pair["second_scene_id"])} == scenes


async def test_a_public_movies_overlaps_are_shown_to_a_viewer(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, _ = await _overlapping_movie(db, public=True)
    assert len(await _get(api, f"/movies/{movie}/overlaps", _as("viewer"))) == 1


async def test_overlaps_pair_only_scenes_the_caller_may_see(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    owner = uuid4()
    movie = await _movie(db, public=False)
    own = await _scene(db, movie, 10, 30, created_by=owner)
    await _scene(db, movie, 20, 40)
    assert await _get(api, f"/movies/{movie}/overlaps", _as("professional", owner)) == []
    assert await _get(api, f"/movies/{movie}/overlapping-scenes", _as("professional", owner)) == []
    [pair] = await _get(api, f"/movies/{movie}/overlaps", _as("admin"))
    assert own in {UUID(pair["first_scene_id"]), UUID(pair["second_scene_id"])}


async def test_overlapping_scenes_of_a_private_movie_by_role(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, scenes = await _overlapping_movie(db, public=False)
    assert await _get(api, f"/movies/{movie}/overlapping-scenes", _as("viewer")) == []
    admin = await _get(api, f"/movies/{movie}/overlapping-scenes", _as("admin"))
    assert {UUID(s["id"]) for s in admin} == scenes


async def _all_pair_movies(api: httpx.AsyncClient, headers: dict[str, str], movies: set[UUID]) -> set[UUID]:
    """Walk every page of /overlaps as the caller; return which of ``movies`` have pairs there."""
    seen: set[UUID] = set()
    after = None
    while True:
        body = await _get(api, "/overlaps", headers, limit=1000, **({"after": after} if after else {}))
        seen |= {UUID(i["movie_id"]) for i in body["items"]} & movies
        after = body["next"]
        if after is None:
            return seen


async def test_all_movies_overlaps_show_each_role_what_it_may_see(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    public, _ = await _overlapping_movie(db, public=True)
    private, _ = await _overlapping_movie(db, public=False)
    assert await _all_pair_movies(api, _as("viewer"), {public, private}) == {public}
    assert await _all_pair_movies(api, ANONYMOUS, {public, private}) == {public}
    assert await _all_pair_movies(api, _as("admin"), {public, private}) == {public, private}


# --- parallel groups and scene statistics -------------------------------------------------------


async def _group(db: asyncpg.Pool, movie: UUID, scenes: set[UUID]) -> UUID:
    group = UUID(
        str(
            await db.fetchval(
                "INSERT INTO parallel_scene_groups (movie_id, start_time_seconds, end_time_seconds,"
                " relation_type) VALUES ($1, 0, 100, 'split_screen') RETURNING id",
                movie,
            )
        )
    )
    for scene in scenes:
        await db.execute(
            "INSERT INTO parallel_scene_members (group_id, scene_id) VALUES ($1, $2)", group, scene
        )
    return group


async def test_a_private_movies_parallel_groups_are_hidden_from_a_viewer(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, scenes = await _overlapping_movie(db, public=False)
    group = await _group(db, movie, scenes)
    assert await _get(api, f"/movies/{movie}/parallel-groups", _as("viewer")) == []
    response = await api.get(f"/parallel-groups/{group}", headers=_as("viewer"))
    assert response.status_code == 404


async def test_a_private_movies_parallel_groups_are_shown_to_an_admin(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, scenes = await _overlapping_movie(db, public=False)
    group = await _group(db, movie, scenes)
    [found] = await _get(api, f"/movies/{movie}/parallel-groups", _as("admin"))
    assert UUID(found["id"]) == group
    assert {UUID(m["scene_id"]) for m in found["members"]} == scenes


async def test_a_professional_sees_a_group_of_their_own_scene_with_only_visible_members(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    owner = uuid4()
    movie = await _movie(db, public=False)
    own, other = await _scene(db, movie, 10, 30, created_by=owner), await _scene(db, movie, 20, 40)
    group = await _group(db, movie, {own, other})
    body = await _get(api, f"/parallel-groups/{group}", _as("professional", owner))
    assert [UUID(m["scene_id"]) for m in body["members"]] == [own]
    response = await api.get(f"/parallel-groups/{group}", headers=_as("professional"))
    assert response.status_code == 404


async def test_a_public_movies_parallel_groups_are_shown_to_anyone(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, scenes = await _overlapping_movie(db, public=True)
    group = await _group(db, movie, scenes)
    body = await _get(api, f"/parallel-groups/{group}", ANONYMOUS)
    assert {UUID(m["scene_id"]) for m in body["members"]} == scenes


async def test_a_private_movies_scene_statistics_are_for_admins_only(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db, public=False)
    await db.execute("INSERT INTO movie_scene_stats (movie_id, total_scenes) VALUES ($1, 7)", movie)
    for headers in (_as("viewer"), _as("professional"), ANONYMOUS):
        response = await api.get(f"/movies/{movie}/scene-stats", headers=headers)
        assert response.status_code == 404, response.text
    assert (await _get(api, f"/movies/{movie}/scene-stats", _as("admin")))["total_scenes"] == 7


async def test_a_private_movie_without_statistics_is_404_not_zeros_for_a_viewer(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db, public=False)
    response = await api.get(f"/movies/{movie}/scene-stats", headers=_as("viewer"))
    assert response.status_code == 404
    assert (await _get(api, f"/movies/{movie}/scene-stats", _as("admin")))["total_scenes"] == 0


async def test_a_public_movies_scene_statistics_are_shown_to_anyone(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db, public=True)
    await db.execute("INSERT INTO movie_scene_stats (movie_id, total_scenes) VALUES ($1, 3)", movie)
    assert (await _get(api, f"/movies/{movie}/scene-stats", ANONYMOUS))["total_scenes"] == 3


async def test_a_direct_sql_session_as_a_viewer_cannot_read_a_private_movies_groups_or_stats(
    db: asyncpg.Pool,
) -> None:
    movie, scenes = await _overlapping_movie(db, public=False)
    await _group(db, movie, scenes)
    await db.execute("INSERT INTO movie_scene_stats (movie_id, total_scenes) VALUES ($1, 2)", movie)
    async with db.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE sceneledger_viewer")
        for table in ("parallel_scene_groups", "movie_scene_stats"):
            assert await conn.fetchval(f"SELECT count(*) FROM {table} WHERE movie_id = $1", movie) == 0
        members = "SELECT count(*) FROM parallel_scene_members WHERE scene_id = ANY($1::uuid[])"
        assert await conn.fetchval(members, list(scenes)) == 0
