"""GET /scenes/search on the real scene database: filters, hit contents, relevance, pages, 422s."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from infra.api import create_app
from infra.auth import Identity, bearer_headers
from infra.bootstrap import System
from read_models.search import SceneSearch, SceneSearchQueries

pytestmark = pytest.mark.integration


@pytest.fixture(name="api", scope="module")
async def fx_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(system.bus, system.engines, system.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _movie(db: asyncpg.Pool, title: str = "君の名は。", *, cached: bool = True) -> UUID:
    movie = uuid4()
    if cached:
        await db.execute(
            "INSERT INTO external_movies_cache (id, title, release_year, director)"
            " VALUES ($1, $2, 2016, '新海誠')",
            movie,
            title,
        )
    return movie


async def _scene(
    db: asyncpg.Pool,
    movie: UUID,
    start: int,
    end: int,
    code: str = "L2",
    *,
    description: str | None = None,
    tags: list[str] | None = None,
    emotional_tags: list[str] | None = None,
    scene_type: str = "primary",
) -> UUID:
    level3 = code if "-" in code else None
    level2 = code.split("-", maxsplit=1)[0]
    return UUID(
        str(
            await db.fetchval(
                "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds,"
                " level1_classification, level2_classification, level3_classification,"
                " description, tags, emotional_tags, scene_type)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id",
                movie,
                start,
                end,
                code[0],
                level2,
                level3,
                description,
                tags,
                emotional_tags,
                scene_type,
            )
        )
    )


async def _search(api: httpx.AsyncClient, movie: UUID, **params: Any) -> dict[str, Any]:
    response = await api.get("/scenes/search", params={"movie_id": str(movie), **params})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _ids(body: dict[str, Any]) -> list[UUID]:
    return [UUID(item["id"]) for item in body["items"]]


async def test_description_matches_a_substring_ignoring_case(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    hit = await _scene(db, movie, 0, 10, description="The LOVE scene 恋愛")
    await _scene(db, movie, 20, 30, description="a chase")
    await _scene(db, movie, 40, 50)
    assert _ids(await _search(api, movie, description="love scene")) == [hit]


async def test_description_percent_and_underscore_match_literally(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    percent = await _scene(db, movie, 0, 10, description="100% 好き")
    await _scene(db, movie, 20, 30, description="1000 好き")
    underscore = await _scene(db, movie, 40, 50, description="a_b")
    await _scene(db, movie, 60, 70, description="axb")
    assert _ids(await _search(api, movie, description="0%")) == [percent]
    assert _ids(await _search(api, movie, description="a_b")) == [underscore]


async def test_level_filters_select_the_classification(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    l23 = await _scene(db, movie, 0, 10, "L2-3")
    l2 = await _scene(db, movie, 20, 30, "L2")
    l1 = await _scene(db, movie, 40, 50, "L1")
    await _scene(db, movie, 60, 70, "A2")
    assert _ids(await _search(api, movie, level1="L")) == [l23, l2, l1]
    assert _ids(await _search(api, movie, level2="L2")) == [l23, l2]
    assert _ids(await _search(api, movie, level3="L2-3")) == [l23]


async def test_time_range_filters_accept_the_command_time_formats(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    await _scene(db, movie, 50, 70)  # starts before 1:00
    inside = await _scene(db, movie, 60, 120)  # [1:00, 2:00): exactly on both bounds
    await _scene(db, movie, 100, 121)  # ends after 2:00
    assert _ids(await _search(api, movie, start_min="1:00", end_max="200")) == [inside]


async def test_tags_match_any_of_the_requested(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    night = await _scene(db, movie, 0, 10, tags=["night"])
    rain = await _scene(db, movie, 20, 30, tags=["rain", "city"])
    await _scene(db, movie, 40, 50, tags=["day"])
    await _scene(db, movie, 60, 70)
    assert _ids(await _search(api, movie, tags=["night", "rain"])) == [night, rain]


async def test_emotional_tags_match_any_of_the_requested(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    sad = await _scene(db, movie, 0, 10, emotional_tags=["sad"])
    await _scene(db, movie, 20, 30, emotional_tags=["happy"])
    tense = await _scene(db, movie, 40, 50, emotional_tags=["tense", "dark"])
    assert _ids(await _search(api, movie, emotional_tags=["sad", "tense"])) == [sad, tense]


async def test_scene_type_filter(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    await _scene(db, movie, 0, 100)
    nested = await _scene(db, movie, 10, 20, scene_type="nested")
    assert _ids(await _search(api, movie, scene_type="nested")) == [nested]


async def test_a_hit_carries_its_movie_cast_by_role_and_lines_by_offset(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db, "天気の子")
    scene = await _scene(db, movie, 0, 100, "R1")
    taki, mitsuha, unknown = uuid4(), uuid4(), uuid4()
    await db.executemany(
        "INSERT INTO external_actors_cache (id, name) VALUES ($1, $2)",
        [(taki, "醍醐虎汰朗"), (mitsuha, "森七菜")],
    )
    await db.executemany(
        "INSERT INTO scene_actors (scene_id, actor_id, character_name, role_type) VALUES ($1, $2, $3, $4)",
        [(scene, mitsuha, "陽菜", "supporting"), (scene, taki, "帆高", "primary")],
    )
    await db.executemany(
        "INSERT INTO scene_dialogues (scene_id, actor_id, character_name, dialogue_text, start_time_offset,"
        " is_memorable_quote) VALUES ($1, $2, $3, $4, $5, $6)",
        [(scene, mitsuha, "陽菜", "晴れたよ", 30, True), (scene, unknown, None, "はい", 5, False)],
    )
    [item] = (await _search(api, movie))["items"]
    assert item["movie"] == {"title": "天気の子", "release_year": 2016, "director": "新海誠"}
    assert item["actors"] == [
        {"actor_id": str(taki), "actor_name": "醍醐虎汰朗", "character_name": "帆高", "role_type": "primary"},
        {
            "actor_id": str(mitsuha),
            "actor_name": "森七菜",
            "character_name": "陽菜",
            "role_type": "supporting",
        },
    ]
    assert item["dialogues"] == [
        {"text": "はい", "speaker": None, "character": None, "is_memorable": False, "start_offset": 5},
        {
            "text": "晴れたよ",
            "speaker": "森七菜",
            "character": "陽菜",
            "is_memorable": True,
            "start_offset": 30,
        },
    ]


async def test_a_scene_whose_movie_is_not_cached_is_found_with_movie_null(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    # Until the movie is cached only admins see its scenes (row-level security fails closed).
    movie = await _movie(db, cached=False)
    scene = await _scene(db, movie, 0, 10)
    admin = bearer_headers(uuid4(), "admin")
    response = await api.get("/scenes/search", params={"movie_id": str(movie)}, headers=admin)
    assert response.status_code == 200, response.text
    [item] = response.json()["items"]
    assert (UUID(item["id"]), item["movie"], item["actors"], item["dialogues"]) == (scene, None, [], [])


async def test_scenes_with_more_requested_tags_rank_first_then_by_start(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    one_early = await _scene(db, movie, 0, 10, tags=["rain"])
    two_late = await _scene(db, movie, 50, 60, tags=["rain", "night"])
    one_late = await _scene(db, movie, 70, 80, tags=["night", "day"])
    body = await _search(api, movie, tags=["rain", "night"])
    assert [(UUID(i["id"]), i["relevance_score"]) for i in body["items"]] == [
        (two_late, 12),
        (one_early, 6),
        (one_late, 6),
    ]


async def test_description_and_level1_add_to_the_relevance(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    await _scene(db, movie, 0, 10, "R1", description="恋愛", tags=["romantic"])
    body = await _search(api, movie, description="恋愛", level1="R", tags=["romantic"])
    assert [i["relevance_score"] for i in body["items"]] == [10 + 8 + 6]
    assert [i["relevance_score"] for i in (await _search(api, movie))["items"]] == [1]


async def test_offset_pages_come_with_the_total(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    scenes = [await _scene(db, movie, n * 10, n * 10 + 5) for n in range(5)]
    body = await _search(api, movie, limit=2, offset=2)
    assert (body["total"], _ids(body)) == (5, scenes[2:4])


async def test_keyset_pages_walk_every_hit_once_in_order(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    # Same starts, so that the id breaks the ties; tags give two relevance levels.
    scenes = [
        await _scene(db, movie, (n % 3) * 10, 100, tags=["a", "b"] if n % 2 else ["a"]) for n in range(7)
    ]
    expected = [r["id"] for r in (await _search(api, movie, tags=["a", "b"], limit=100))["items"]]
    seen: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"tags": ["a", "b"], "limit": 3} | ({"after": after} if after else {})
        body = await _search(api, movie, **params)
        assert body["total"] == 7
        seen.extend(i["id"] for i in body["items"])
        after = body["next"]
        if after is None:
            break
    assert seen == expected
    assert sorted(UUID(s) for s in seen) == sorted(scenes)


async def test_keyset_page_is_stable_when_an_earlier_hit_is_added(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    for n in range(4):
        await _scene(db, movie, 100 + n, 200)
    first = await _search(api, movie, limit=2)
    await _scene(db, movie, 0, 50)  # sorts before the whole first page
    second = await _search(api, movie, limit=2, after=first["next"])
    everything = _ids(await _search(api, movie, limit=10))
    # The cursor resumes after the last hit shown, not after "two hits": no repeat, no gap.
    assert _ids(second) == everything[3:5]


async def test_last_page_has_no_next_cursor(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    await _scene(db, movie, 0, 10)
    await _scene(db, movie, 20, 30)
    assert (await _search(api, movie, limit=2))["next"] is None
    assert (await _search(api, movie, limit=1))["next"] is not None


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"end_max": "0:60:00"}, "end_max"),
        ({"start_min": "1:2:3:4"}, "start_min"),
        ({"start_min": "25:00:00"}, "start_min"),
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"offset": -1}, "offset"),
        ({"level1": "X"}, "level1"),
        ({"level2": "L"}, "level2"),
        ({"level3": "L2"}, "level3"),
        ({"scene_type": "flashback"}, "scene_type"),
        ({"movie_id": "not-a-uuid"}, "movie_id"),
        ({"description": ""}, "description"),
        (
            {
                "offset": 0,
                "after": base64.urlsafe_b64encode(
                    b'{"r":1,"s":0,"i":"00000000-0000-0000-0000-000000000000"}'
                ).decode(),
            },
            "offset",
        ),
        ({"after": "bm90IGpzb24="}, "after"),
        ({"after": base64.urlsafe_b64encode(b'{"r":"1","s":0,"i":"x"}').decode()}, "after"),
    ],
)
async def test_bad_parameters_are_422_naming_the_parameter(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await api.get("/scenes/search", params=params)
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [["query", field]]


async def test_injection_attempts_are_plain_search_text(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    hit = await _scene(db, movie, 0, 10, description="it's'); DROP TABLE scenes; --")
    await _scene(db, movie, 20, 30, description="harmless")
    body = await _search(api, movie, description="'); DROP TABLE scenes; --", tags=["x'"])
    assert body["items"] == []
    assert _ids(await _search(api, movie, description="'); DROP TABLE scenes; --")) == [hit]


# --- the two ways to the description index and the counted total ------------------------------
# The API reads under row-level security, where the description goes through search_scene_ids();
# the system's own reads (identity None: CLI, benchmark) put the token index predicate inline.

FULL_WIDTH_LOVE_SCENE = "\uff2c\uff2f\uff36\uff25\u3000\uff53\uff43\uff45\uff4e\uff45"
"""'LOVE scene' in full-width letters and an ideographic space: NFKC makes it 'LOVE scene'."""


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("愛", {0, 1}),
        ("恋愛", {0}),
        ("love scene", {2}),
        (FULL_WIDTH_LOVE_SCENE, {2}),
        ("恋愛の悩み", set()),
    ],
)
async def test_owner_and_caller_reads_match_the_same_descriptions(
    db: asyncpg.Pool, api: httpx.AsyncClient, system: System, query: str, expected: set[int]
) -> None:
    movie = await _movie(db)
    texts = ["恋愛の話", "愛の話", "The LOVE scene", None]
    scenes = [await _scene(db, movie, n * 10, n * 10 + 5, description=t) for n, t in enumerate(texts)]
    owner = await SceneSearchQueries(system.engines["scene"]).search(
        SceneSearch(movie_id=movie, description=query), limit=10
    )
    caller = await _search(api, movie, description=query)
    wanted = {scenes[n] for n in expected}
    assert ({h.id for h in owner.items}, owner.total) == (wanted, len(wanted))
    assert (set(_ids(caller)), caller["total"]) == (wanted, len(wanted))


async def test_a_page_past_the_last_hit_still_counts_every_hit(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    for n in range(3):
        await _scene(db, movie, n * 10, n * 10 + 5)
    body = await _search(api, movie, limit=2, offset=5)
    assert (body["total"], body["items"], body["next"]) == (3, [], None)


async def test_the_total_counts_the_hits_before_a_keyset_cursor(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    for n in range(3):
        await _scene(db, movie, n * 10, n * 10 + 5)
    first = await _search(api, movie, limit=2)
    second = await _search(api, movie, limit=2, after=first["next"])
    assert (first["total"], second["total"], len(second["items"])) == (3, 3, 1)


@pytest.mark.parametrize(
    "filters",
    [
        {"level1": "R"},
        {"level1": "R", "tags": ("romantic", "night")},
        {"level2": "R2", "tags": ("night",)},
        {"level3": "R2-1"},
        {"tags": ("romantic",)},
        {"level1": "A", "tags": ("romantic",)},
        {"level1": "R", "description": "恋愛", "tags": ("romantic",), "start_min": 10},
        {"emotional_tags": ("sad",), "end_max": 40},
    ],
)
async def test_the_owners_keyed_filters_find_what_the_column_filters_find(
    db: asyncpg.Pool, api: httpx.AsyncClient, system: System, filters: dict[str, Any]
) -> None:
    movie = await _movie(db)
    await _scene(db, movie, 0, 10, "R1", description="恋愛", tags=["romantic"])
    await _scene(db, movie, 10, 20, "R2-1", description="恋愛と別れ", tags=["romantic", "night"])
    await _scene(db, movie, 20, 30, "R2", tags=["night"], emotional_tags=["sad"])
    await _scene(db, movie, 30, 40, "A1", description="恋愛", tags=["romantic"], emotional_tags=["sad"])
    await _scene(db, movie, 40, 50, "R3")
    owner = await SceneSearchQueries(system.engines["scene"]).search(
        SceneSearch(movie_id=movie, **filters), limit=10
    )
    caller = await _search(
        api, movie, **{k: list(v) if isinstance(v, tuple) else v for k, v in filters.items()}
    )
    hits = [(str(h.id), h.relevance_score) for h in owner.items]
    assert hits == [(i["id"], i["relevance_score"]) for i in caller["items"]]
    assert owner.total == caller["total"] == len(hits) > 0


@pytest.mark.parametrize(
    ("start_min", "end_max"),
    [(600, 3600), (599, 1201), (601, 1199), (0, 600), (1200, None), (None, 1800), (0, 86400), (700, 650)],
)
async def test_time_ranges_with_keys_find_exactly_the_scenes_within_them(
    db: asyncpg.Pool, system: System, start_min: int | None, end_max: int | None
) -> None:
    """The start-time buckets among the keys (0015) are coarse: the scenes at their edges decide."""
    movie = await _movie(db)
    times = [
        (0, 10),
        (590, 600),
        (599, 620),
        (600, 610),
        (1190, 1199),
        (1199, 1201),
        (1200, 1800),
        (3590, 3700),
    ]
    ids = [await _scene(db, movie, start, end, "R2", tags=["romantic"]) for start, end in times]
    search = SceneSearch(level1="R", tags=("romantic",), movie_id=movie, start_min=start_min, end_max=end_max)
    wanted = {
        scene
        for scene, (start, end) in zip(ids, times, strict=True)
        if (start_min is None or start >= start_min) and (end_max is None or end <= end_max)
    }
    queries = SceneSearchQueries(system.engines["scene"])
    owner = await queries.search(search, limit=20)
    admin = await queries.search(search, limit=20, identity=Identity(user_id=uuid4(), role="admin"))
    assert ({h.id for h in owner.items}, owner.total) == (wanted, len(wanted))
    assert ({h.id for h in admin.items}, admin.total) == (wanted, len(wanted))
