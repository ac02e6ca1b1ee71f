"""Nested scene trees on the real stack: GET /scenes/{id}/tree and GET /movies/{id}/scene-tree."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from commands.authorization import SYSTEM_ROLE
from commands.scene import CreateScene
from events.base import EventMetadata
from events.movie import MovieRegistered
from infra.api import create_app
from infra.auth import bearer_headers, default_authority
from infra.bootstrap import System
from read_models.scene_trees import MAX_TREE_DEPTH, SceneTreeQueries
from tests.conftest import eventually

pytestmark = pytest.mark.integration

SECRET = "integration-test token secret, 32+ bytes"  # noqa: S105  test input, not a credential


@pytest.fixture(autouse=True)
def _auth_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


@pytest.fixture(name="api", scope="module")
async def fx_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(system.bus, system.engines, system.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _movie(db: asyncpg.Pool, *, public: bool = True) -> UUID:
    movie = uuid4()
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, 'インセプション', $2)",
        movie,
        public,
    )
    return movie


async def _scene(db: asyncpg.Pool, movie: UUID, start: int, end: int, parent: UUID | None = None) -> UUID:
    return UUID(
        str(
            await db.fetchval(
                "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification,"
                " level2_classification, scene_type, parent_scene_id)"
                " VALUES ($1, $2, $3, 'S', 'S1', $4, $5) RETURNING id",
                movie,
                start,
                end,
                "nested" if parent else "primary",
                parent,
            )
        )
    )


async def _get(
    api: httpx.AsyncClient, path: str, headers: dict[str, str] | None = None, **params: Any
) -> Any:
    response = await api.get(path, params=params, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()


def _shape(node: dict[str, Any]) -> tuple[UUID, list[Any]]:
    """A node as (id, [children's shapes]): the tree's structure and order, nothing else."""
    return UUID(node["id"]), [_shape(c) for c in node["children"]]


async def test_a_scene_tree_nests_children_and_grandchildren_by_start(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    root = await _scene(db, movie, 0, 100)
    late = await _scene(db, movie, 50, 90, root)
    early = await _scene(db, movie, 10, 40, root)
    grandchild = await _scene(db, movie, 20, 30, early)
    tree = await _get(api, f"/scenes/{root}/tree")
    assert _shape(tree) == (root, [(early, [(grandchild, [])]), (late, [])])
    assert [tree["depth"], tree["children"][0]["depth"], tree["children"][0]["children"][0]["depth"]] == [
        0,
        1,
        2,
    ]


async def test_a_subtree_starts_at_the_scene_asked_for(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    root = await _scene(db, movie, 0, 100)
    child = await _scene(db, movie, 10, 40, root)
    grandchild = await _scene(db, movie, 20, 30, child)
    tree = await _get(api, f"/scenes/{child}/tree")
    assert _shape(tree) == (child, [(grandchild, [])])
    assert (UUID(tree["parent_scene_id"]), tree["depth"]) == (root, 0)


async def test_the_depth_limit_cuts_the_tree_and_flags_the_cut(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    root = await _scene(db, movie, 0, 100)
    child = await _scene(db, movie, 10, 40, root)
    await _scene(db, movie, 20, 30, child)
    tree = await _get(api, f"/scenes/{root}/tree", depth=1)
    assert _shape(tree) == (root, [(child, [])])
    assert (tree["truncated"], tree["children"][0]["truncated"]) == (False, True)


async def test_a_leaf_at_the_depth_limit_is_not_flagged(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    root = await _scene(db, movie, 0, 100)
    await _scene(db, movie, 10, 40, root)
    tree = await _get(api, f"/scenes/{root}/tree", depth=1)
    assert tree["children"][0]["truncated"] is False


async def test_a_chain_deeper_than_the_maximum_stops_at_the_maximum(db: asyncpg.Pool, system: System) -> None:
    movie = await _movie(db)
    chain = [await _scene(db, movie, 0, 1000)]
    for level in range(1, MAX_TREE_DEPTH + 3):
        chain.append(await _scene(db, movie, level, 1000 - level, chain[-1]))
    tree = await SceneTreeQueries(system.engines["scene"]).scene_tree(chain[0])
    assert tree is not None
    node, depth = tree, 0
    while node.children:
        [node] = node.children
        depth += 1
    assert (depth, node.id, node.truncated) == (MAX_TREE_DEPTH, chain[MAX_TREE_DEPTH], True)


async def test_an_unknown_scene_tree_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/scenes/{uuid4()}/tree")
    assert response.status_code == 404


@pytest.mark.parametrize("depth", ["-1", str(MAX_TREE_DEPTH + 1), "x"])
async def test_a_bad_depth_is_422_naming_it(api: httpx.AsyncClient, depth: str) -> None:
    response = await api.get(f"/scenes/{uuid4()}/tree", params={"depth": depth})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["query", "depth"]


async def test_a_movie_tree_has_its_roots_by_start_each_with_its_nested_scenes(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    second = await _scene(db, movie, 200, 300)
    first = await _scene(db, movie, 0, 100)
    nested = await _scene(db, movie, 10, 20, first)
    await _scene(db, await _movie(db), 0, 50)  # another movie's scene stays out
    body = await _get(api, f"/movies/{movie}/scene-tree")
    assert UUID(body["movie_id"]) == movie
    assert [_shape(r) for r in body["roots"]] == [(first, [(nested, [])]), (second, [])]


async def test_a_known_movie_without_scenes_has_an_empty_tree(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    assert (await _get(api, f"/movies/{movie}/scene-tree"))["roots"] == []


async def test_an_unknown_movie_tree_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/movies/{uuid4()}/scene-tree")
    assert response.status_code == 404


async def test_a_private_movies_trees_are_hidden_from_a_viewer_and_shown_to_an_admin(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db, public=False)
    root = await _scene(db, movie, 0, 100)
    child = await _scene(db, movie, 10, 20, root)
    viewer, admin = bearer_headers(uuid4(), "viewer"), bearer_headers(uuid4(), "admin")
    assert (await api.get(f"/scenes/{root}/tree", headers=viewer)).status_code == 404
    assert (await api.get(f"/scenes/{root}/tree")).status_code == 404  # anonymous = viewer
    assert (await _get(api, f"/movies/{movie}/scene-tree", viewer))["roots"] == []
    assert _shape(await _get(api, f"/scenes/{root}/tree", admin)) == (root, [(child, [])])
    assert [_shape(r) for r in (await _get(api, f"/movies/{movie}/scene-tree", admin))["roots"]] == [
        (root, [(child, [])])
    ]


async def test_a_professionals_own_scene_under_a_hidden_parent_is_a_root_of_the_movie_tree(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    owner = uuid4()
    movie = await _movie(db, public=False)
    parent = await _scene(db, movie, 0, 100)
    own = await _scene(db, movie, 10, 20, parent)
    await db.execute("UPDATE scenes SET created_by = $1 WHERE id = $2", owner, own)
    body = await _get(api, f"/movies/{movie}/scene-tree", bearer_headers(owner, "professional"))
    assert [_shape(r) for r in body["roots"]] == [(own, [])]


async def test_nested_scenes_created_by_commands_form_the_tree(live: System, api: httpx.AsyncClient) -> None:
    movie = uuid4()
    await live.event_store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="パプリカ", is_public=True)],
        expected_version=0,
        metadata=EventMetadata(),
    )
    operator = EventMetadata(user_role=SYSTEM_ROLE)
    root = CreateScene(movie_id=movie, start="0", end="100", classification="S1")
    await live.bus.dispatch(root, operator)
    child = CreateScene(
        movie_id=movie,
        start="10",
        end="50",
        classification="S1",
        scene_type="nested",
        parent_scene_id=root.scene_id,
    )
    await live.bus.dispatch(child, operator)

    async def tree() -> Any:
        response = await api.get(f"/scenes/{root.scene_id}/tree")
        return response.json() if response.status_code == 200 and response.json()["children"] else None

    body = await eventually(tree)
    assert _shape(body) == (root.scene_id, [(child.scene_id, [])])
