"""The Scene service's HTTP routes for cast, dialogue lines, stats and parallel groups (in-process ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from events.actor import ActorRegistered
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from infra.api import create_app
from infra.auth import bearer_headers
from infra.bootstrap import System
from tests.conftest import eventually

pytestmark = pytest.mark.integration


@pytest.fixture(name="api")
async def fx_api(live: System) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process, called as an admin (who may write and read every scene)."""
    app = create_app(live.bus, live.engines, live.services)
    transport = httpx.ASGITransport(app=app)
    admin = bearer_headers(uuid4(), "admin")
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=admin) as client:
        yield client


async def _append(live: System, event: DomainEvent) -> None:
    await live.event_store.append(
        [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
    )


async def _movie(live: System) -> str:
    movie = uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="ほしのこえ"))
    return str(movie)


async def _actor(live: System, name: str = "武田篤") -> str:
    actor = uuid4()
    await _append(live, ActorRegistered(stream_id=actor, stream_version=1, name=name))
    return str(actor)


async def _scene(api: httpx.AsyncClient, movie: str, start: str = "1000", end: str = "1100") -> str:
    response = await api.post(
        "/scenes", json={"movie_id": movie, "start": start, "end": end, "classification": "L2"}
    )
    assert response.status_code == 202, response.text
    return str(response.json()["stream_id"])


async def _get(api: httpx.AsyncClient, path: str, version: int) -> dict[str, Any] | None:
    response = await api.get(path)
    if response.status_code != 200:
        return None
    body: dict[str, Any] = response.json()
    return body if body.get("version", 0) >= version else None


async def test_scene_for_an_unknown_movie_is_422_naming_movie_id(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/scenes", json={"movie_id": str(uuid4()), "start": "1", "end": "2", "classification": "L2"}
    )
    assert response.status_code == 422
    [detail] = response.json()["detail"]
    assert detail["loc"] == ["body", "movie_id"]


async def test_scene_shows_its_cast_and_lines(live: System, api: httpx.AsyncClient) -> None:
    actor = await _actor(live)
    scene = await _scene(api, await _movie(live))
    cast = await api.post(
        f"/scenes/{scene}/actors",
        json={
            "actor_id": actor,
            "character_name": "ミカコ",
            "role_type": "primary",
            "screen_time_seconds": 30,
        },
    )
    assert cast.status_code == 202, cast.text
    line = await api.post(
        f"/scenes/{scene}/dialogues",
        json={
            "actor_id": actor,
            "dialogue_text": "ねえ、私はここにいるよ",
            "start_time_offset": 3,
            "is_memorable_quote": True,
        },
    )
    assert line.status_code == 202, line.text
    dialogue_id = line.json()["dialogue_id"]
    body = await eventually(lambda: _get(api, f"/scenes/{scene}", 3))
    assert [(a["actor_id"], a["character_name"], a["role_type"]) for a in body["actors"]] == [
        (actor, "ミカコ", "primary")
    ]
    assert [(d["id"], d["dialogue_text"]) for d in body["dialogues"]] == [
        (dialogue_id, "ねえ、私はここにいるよ")
    ]
    assert body["start_time_seconds"] == 600  # the existing fields stay
    listed = (await api.get(f"/movies/{body['movie_id']}/scenes")).json()
    assert listed[0]["actors"][0]["actor_id"] == actor


async def test_dialogue_routes_revise_list_and_remove(live: System, api: httpx.AsyncClient) -> None:
    actor = await _actor(live)
    scene = await _scene(api, await _movie(live))
    line = await api.post(
        f"/scenes/{scene}/dialogues", json={"actor_id": actor, "dialogue_text": "a", "emotional_tone": "sad"}
    )
    dialogue_id = line.json()["dialogue_id"]
    revised = await api.patch(
        f"/scenes/{scene}/dialogues/{dialogue_id}", json={"dialogue_text": "b", "emotional_tone": None}
    )
    assert revised.status_code == 202, revised.text
    await eventually(lambda: _get(api, f"/scenes/{scene}", 3))
    [listed] = (await api.get(f"/scenes/{scene}/dialogues")).json()
    assert (listed["dialogue_text"], listed["emotional_tone"]) == ("b", None)
    assert (await api.delete(f"/scenes/{scene}/dialogues/{dialogue_id}")).status_code == 202
    await eventually(lambda: _get(api, f"/scenes/{scene}", 4))
    assert (await api.get(f"/scenes/{scene}/dialogues")).json() == []


async def test_retried_dialogue_post_names_the_same_line_and_applies_once(
    live: System, api: httpx.AsyncClient
) -> None:
    actor = await _actor(live)
    scene = await _scene(api, await _movie(live))
    headers = {"Idempotency-Key": str(uuid4())}
    body = {"actor_id": actor, "dialogue_text": "again"}
    first = (await api.post(f"/scenes/{scene}/dialogues", json=body, headers=headers)).json()
    again = (await api.post(f"/scenes/{scene}/dialogues", json=body, headers=headers)).json()
    assert again["duplicate"] is True
    assert again["dialogue_id"] == first["dialogue_id"]
    assert again["stream_version"] == first["stream_version"] == 2


async def test_unknown_actor_is_422_and_unknown_scene_is_404(live: System, api: httpx.AsyncClient) -> None:
    scene = await _scene(api, await _movie(live))
    unknown_actor = await api.post(f"/scenes/{scene}/actors", json={"actor_id": str(uuid4())})
    assert unknown_actor.status_code == 422
    assert unknown_actor.json()["detail"][0]["loc"] == ["body", "actor_id"]
    actor = await _actor(live)
    assert (await api.post(f"/scenes/{uuid4()}/actors", json={"actor_id": actor})).status_code == 404
    assert (await api.get(f"/scenes/{uuid4()}/dialogues")).status_code == 404
    assert (await api.delete(f"/scenes/{scene}/actors/{actor}")).status_code == 404


async def test_screen_time_beyond_the_scene_is_422(live: System, api: httpx.AsyncClient) -> None:
    scene = await _scene(api, await _movie(live), "1000", "+20")
    response = await api.post(
        f"/scenes/{scene}/actors", json={"actor_id": await _actor(live), "screen_time_seconds": 21}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "screen_time_seconds"]


async def test_scene_stats_route(live: System, api: httpx.AsyncClient) -> None:
    movie = await _movie(live)
    await _scene(api, movie)

    async def counted() -> dict[str, Any] | None:
        response = await api.get(f"/movies/{movie}/scene-stats")
        return (
            response.json() if response.status_code == 200 and response.json()["total_scenes"] == 1 else None
        )

    stats = await eventually(counted)
    assert (stats["dialogue_scenes_count"], stats["total_duration_seconds"]) == (1, 60)
    assert (await api.get(f"/movies/{uuid4()}/scene-stats")).status_code == 404


async def test_parallel_group_routes(live: System, api: httpx.AsyncClient) -> None:
    movie = await _movie(live)
    scene = await _scene(api, movie)
    created = await api.post(
        "/parallel-groups",
        json={
            "movie_id": movie,
            "group_name": "交信",
            "start": "1000",
            "end": "1100",
            "relation_type": "split_screen",
        },
    )
    assert created.status_code == 202, created.text
    group = created.json()["stream_id"]
    joined = await api.post(
        f"/parallel-groups/{group}/members", json={"scene_id": scene, "display_position": "left"}
    )
    assert joined.status_code == 202, joined.text
    body = await eventually(lambda: _get(api, f"/parallel-groups/{group}", 2))
    assert [(m["scene_id"], m["display_position"]) for m in body["members"]] == [(scene, "left")]
    [listed] = (await api.get(f"/movies/{movie}/parallel-groups")).json()
    assert listed["group_name"] == "交信"
    assert (await api.delete(f"/parallel-groups/{group}/members/{scene}")).status_code == 202
    assert (await api.delete(f"/parallel-groups/{group}")).status_code == 202

    async def dissolved() -> bool:
        return (await api.get(f"/parallel-groups/{group}")).status_code == 404

    await eventually(dissolved)


async def test_bad_relation_type_is_422_naming_the_field(live: System, api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/parallel-groups",
        json={"movie_id": await _movie(live), "start": "1", "end": "2", "relation_type": "montage"},
    )
    assert response.status_code == 422
    assert ("body", "relation_type") in {tuple(d["loc"]) for d in response.json()["detail"]}
