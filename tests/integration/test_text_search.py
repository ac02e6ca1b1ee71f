"""Dialogue and description text search and memorable quotes on the real database (rows inserted directly)."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.api import create_app
from infra.auth import ANONYMOUS
from infra.bootstrap import System
from read_models.text_search import TextSearchQueries, matches

pytestmark = pytest.mark.integration


def wide(ascii_text: str) -> str:
    """Return the full-width form of printable ASCII (written out, the source would hide it: RUF001)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


@pytest.fixture(name="api", scope="module")
async def fx_api(system: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(system.bus, system.engines, system.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _movie(db: asyncpg.Pool, title: str = "君の名は。", *, public: bool = True) -> UUID:
    movie = uuid4()
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, $2, $3)", movie, title, public
    )
    return movie


async def _actor(db: asyncpg.Pool, name: str = "神木隆之介") -> UUID:
    actor = uuid4()
    await db.execute("INSERT INTO external_actors_cache (id, name) VALUES ($1, $2)", actor, name)
    return actor


async def _scene(db: asyncpg.Pool, movie: UUID, start: int = 100, description: str | None = None) -> UUID:
    scene = uuid4()
    await db.execute(
        "INSERT INTO scenes (id, movie_id, start_time_seconds, end_time_seconds,"
        " level1_classification, level2_classification, description) VALUES ($1, $2, $3, $4, 'L', 'L2', $5)",
        scene,
        movie,
        start,
        start + 60,
        description,
    )
    return scene


async def _line(
    db: asyncpg.Pool,
    scene: UUID,
    text: str,
    *,
    actor: UUID | None = None,
    subtitle: str | None = None,
    memorable: bool = False,
    language: str = "ja",
    offset: int | None = None,
) -> UUID:
    line = uuid4()
    await db.execute(
        "INSERT INTO scene_dialogues (id, scene_id, actor_id, dialogue_text, subtitle_text,"
        " is_memorable_quote, language, start_time_offset) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        line,
        scene,
        actor or uuid4(),
        text,
        subtitle,
        memorable,
        language,
        offset,
    )
    return line


async def _ids(api: httpx.AsyncClient, path: str, **params: Any) -> list[UUID]:
    response = await api.get(path, params=params)
    assert response.status_code == 200, response.text
    return [UUID(item["id"]) for item in response.json()]


async def _movie_with_lines(db: asyncpg.Pool, *texts: str) -> tuple[UUID, list[UUID]]:
    movie = await _movie(db)
    scene = await _scene(db, movie)
    return movie, [await _line(db, scene, text, offset=i) for i, text in enumerate(texts)]


async def test_one_character_query_finds_the_lines_containing_it(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, (cat, _, cats) = await _movie_with_lines(db, "猫がいる", "犬がいる", "黒猫と白猫")
    assert await _ids(api, "/dialogues/search", q="猫", movie_id=movie) == [cat, cats]


async def test_two_character_query_finds_the_lines_containing_it(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie, (colour, love, _) = await _movie_with_lines(db, "好きな色", "大好き", "好 き")
    assert await _ids(api, "/dialogues/search", q="好き", movie_id=movie) == [colour, love]


async def test_phrase_query_needs_the_whole_phrase_in_order(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    # The second line has every bigram of the phrase, but not the phrase itself.
    movie, (phrase, _) = await _movie_with_lines(db, "ずっと君が好きだった", "好きだ、君が好き")
    assert await _ids(api, "/dialogues/search", q="君が好きだ", movie_id=movie) == [phrase]


async def test_english_query_ignores_case(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie, (said, _) = await _movie_with_lines(db, "I LOVE YOU, Mitsuha.", "I loved the view")
    assert await _ids(api, "/dialogues/search", q="i love you", movie_id=movie) == [said]


async def test_full_width_latin_matches_half_width(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie, (full, half) = await _movie_with_lines(db, wide("ABC") + "放送", "abc news")
    assert await _ids(api, "/dialogues/search", q="abc", movie_id=movie) == [full, half]
    assert await _ids(api, "/dialogues/search", q=wide("ABC"), movie_id=movie) == [full, half]


async def test_half_width_katakana_matches_full_width(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie, (half, full) = await _movie_with_lines(db, "ｱｲｳｴｵ", "アイウエオ")
    assert await _ids(api, "/dialogues/search", q="アイウ", movie_id=movie) == [half, full]
    assert await _ids(api, "/dialogues/search", q="ｱｲｳ", movie_id=movie) == [half, full]


async def test_subtitle_matches_too(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    line = await _line(db, await _scene(db, movie), "君の名は", subtitle="Your name is")
    assert await _ids(api, "/dialogues/search", q="your name", movie_id=movie) == [line]


async def test_hit_carries_scene_movie_and_speaker(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db, "天気の子")
    actor = await _actor(db, "醍醐虎汰朗")
    scene = await _scene(db, movie, start=300)
    line = await _line(db, scene, "晴れ女", actor=actor)
    response = await api.get("/dialogues/search", params={"q": "晴れ", "movie_id": str(movie)})
    [hit] = response.json()
    assert (hit["id"], hit["scene_id"], hit["movie_id"], hit["movie_title"], hit["speaker_name"]) == (
        str(line),
        str(scene),
        str(movie),
        "天気の子",
        "醍醐虎汰朗",
    )
    assert (hit["scene_start_time_seconds"], hit["scene_end_time_seconds"]) == (300, 360)


async def test_language_filter(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    scene = await _scene(db, movie)
    await _line(db, scene, "Tokyo東京", language="ja")
    english = await _line(db, scene, "Tokyo tower", language="en")
    assert await _ids(api, "/dialogues/search", q="tokyo", movie_id=movie, language="en") == [english]


async def test_memorable_filter(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    scene = await _scene(db, movie)
    quote = await _line(db, scene, "大丈夫", memorable=True, offset=1)
    plain = await _line(db, scene, "大丈夫?", offset=2)
    assert await _ids(api, "/dialogues/search", q="大丈夫", movie_id=movie, memorable="true") == [quote]
    assert await _ids(api, "/dialogues/search", q="大丈夫", movie_id=movie, memorable="false") == [plain]


async def test_pages_follow_the_timeline(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie, lines = await _movie_with_lines(db, *[f"{i}回目の雨" for i in range(5)])
    first = await _ids(api, "/dialogues/search", q="雨", movie_id=movie, limit=3)
    rest = await _ids(api, "/dialogues/search", q="雨", movie_id=movie, limit=3, offset=3)
    assert first + rest == lines


async def test_lines_of_a_private_movie_are_not_found_anonymously(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db, public=False)
    await _line(db, await _scene(db, movie), "秘密の台詞")
    assert await _ids(api, "/dialogues/search", q="秘密", movie_id=movie) == []


@pytest.mark.parametrize("q", ["", "   ", "あ" * 101, "a\x00b"])
async def test_bad_search_text_is_422(api: httpx.AsyncClient, q: str) -> None:
    response = await api.get("/dialogues/search", params={"q": q})
    assert response.status_code == 422, response.text
    assert [d["loc"] for d in response.json()["detail"]] == [["query", "q"]]


async def test_missing_search_text_is_422(api: httpx.AsyncClient) -> None:
    response = await api.get("/scenes/description-search")
    assert response.status_code == 422


async def test_search_text_is_trimmed_before_its_length_is_checked(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    text = "あ" * 100
    movie, [line] = await _movie_with_lines(db, text)
    assert await _ids(api, "/dialogues/search", q=f"  {text}  ", movie_id=movie) == [line]


async def test_description_search_finds_scenes(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    marker = uuid4().hex[:12]
    wanted = await _scene(db, movie, start=10, description=f"{wide('ROOFTOP')}屋上の告白 {marker}")
    await _scene(db, movie, start=20, description="駅のホーム")
    response = await api.get("/scenes/description-search", params={"q": f"rooftop屋上の告白 {marker}"})
    assert response.status_code == 200, response.text
    [hit] = response.json()
    assert (hit["id"], hit["movie_id"], hit["movie_title"]) == (str(wanted), str(movie), "君の名は。")


@pytest.mark.parametrize("q", ["猫", "猫が", "l1", "tg", "sb", "Love", "好き 猫"])
async def test_description_ids_are_the_scenes_whose_description_contains_the_query(
    db: asyncpg.Pool, q: str
) -> None:
    """search_scene_ids() reads the scene keys index (0023): its other keys never stand for a description."""
    movie = await _movie(db)
    descriptions = [None, "", "猫", "猫が好き 猫", "the LOVE scene", "l1:L l2:L2 tg:猫 sb:0", "犬"]
    scenes = {await _scene(db, movie, start=10 * i, description=d): d for i, d in enumerate(descriptions)}
    # Keys of 3 characters and more that start like the queries: level, tag and time keys.
    await db.execute("UPDATE scenes SET tags = ARRAY['猫', 'tg', 'l1'] WHERE movie_id = $1", movie)
    found = {
        r["id"]
        for r in await db.fetch(
            "SELECT id FROM scenes WHERE movie_id = $1 AND id IN (SELECT search_scene_ids($2))", movie, q
        )
    }
    expected = {s for s, d in scenes.items() if d is not None and matches(d, q)}
    assert found == expected


async def test_movie_memorable_quotes_in_timeline_order(db: asyncpg.Pool, api: httpx.AsyncClient) -> None:
    movie = await _movie(db)
    late, early = await _scene(db, movie, start=500), await _scene(db, movie, start=50)
    second = await _line(db, late, "また会おう", memorable=True)
    await _line(db, early, "ただの台詞")
    first = await _line(db, early, "前前前世", memorable=True)
    assert await _ids(api, f"/movies/{movie}/memorable-quotes") == [first, second]


async def test_memorable_quotes_of_an_unknown_movie_are_404(api: httpx.AsyncClient) -> None:
    response = await api.get(f"/movies/{uuid4()}/memorable-quotes")
    assert response.status_code == 404


async def test_memorable_quotes_of_a_known_movie_without_quotes_are_empty(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    assert await _ids(api, f"/movies/{movie}/memorable-quotes") == []


async def test_all_memorable_quotes_list_only_memorable_lines(
    db: asyncpg.Pool, api: httpx.AsyncClient
) -> None:
    movie = await _movie(db)
    scene = await _scene(db, movie)
    quote = await _line(db, scene, "名言", memorable=True)
    plain = await _line(db, scene, "ふつう")
    listed = await _ids(api, "/memorable-quotes", limit=1000)
    assert quote in listed
    assert plain not in listed


# --- The index: plans on a table with enough rows ------------------------------------------------

_KANA = "あいうえおかきくけこさしすせそたちつてとなにぬねのはひふへほまみむめもやゆよらりるれろわをん"
_KANJI = "東京猫犬君僕私好嫌愛夢空海山川雨雪風花月星日本人今明夜朝心声手目駅電車家学校先生友達"

_SEARCH = (
    "SELECT id FROM scene_dialogues WHERE search_tokens(dialogue_text) @> search_query_tokens($1)"
    " AND strpos(search_normalise(dialogue_text), search_normalise($1)) > 0"
)


@pytest.fixture(name="many_lines", scope="module")
async def fx_many_lines(db: asyncpg.Pool) -> int:
    """Add 20,000 generated lines (mostly Japanese) to the namespace and analyse the table."""
    rng = random.Random(5)
    texts = [
        "".join(rng.choice(_KANA + _KANJI) for _ in range(rng.randint(8, 30)))
        if rng.random() < 0.7
        else " ".join(rng.choice(["the", "you", "night", "rain", "tower", "go"]) for _ in range(8))
        for _ in range(20_000)
    ]
    scene = await _scene(db, await _movie(db))
    await db.execute(
        "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text) SELECT $1, $2, unnest($3::text[])",
        scene,
        uuid4(),
        texts,
    )
    await db.execute("ANALYZE scene_dialogues")
    return len(texts)


async def _plan(db: asyncpg.Pool, q: str, *settings_sql: str) -> str:
    async with db.acquire() as conn, conn.transaction():
        for statement in settings_sql:
            await conn.execute(statement)
        rows = await conn.fetch("EXPLAIN " + _SEARCH, q)
    return "\n".join(r[0] for r in rows)


@pytest.mark.usefixtures("many_lines")
@pytest.mark.parametrize("q", ["猫", "好き", "君が好きだ"])
async def test_index_can_serve_queries_of_any_length(db: asyncpg.Pool, q: str) -> None:
    plan = await _plan(db, q, "SET LOCAL enable_seqscan = off")
    assert "idx_scene_dialogues_text_tokens" in plan, plan


@pytest.mark.usefixtures("many_lines")
@pytest.mark.parametrize("q", ["猫", "好き", "君が好きだ"])
async def test_index_serves_generic_plans(db: asyncpg.Pool, q: str) -> None:
    # A prepared statement may switch to a generic plan, where the query tokens are unknown.
    plan = await _plan(db, q, "SET LOCAL plan_cache_mode = force_generic_plan")
    assert "idx_scene_dialogues_text_tokens" in plan, plan


@pytest.mark.usefixtures("many_lines")
@pytest.mark.parametrize("q", ["猫", "好き", "君が好きだ", "tower"])
async def test_default_plan_uses_the_index(db: asyncpg.Pool, q: str) -> None:
    plan = await _plan(db, q)
    assert "idx_scene_dialogues_text_tokens" in plan, plan


@pytest.mark.usefixtures("many_lines")
@pytest.mark.parametrize("q", ["猫", "好き", "君が好きだ", "tower", wide("tower")])
async def test_index_finds_what_a_substring_scan_finds(db: asyncpg.Pool, q: str) -> None:
    indexed = {r["id"] for r in await db.fetch(_SEARCH, q)}
    scanned = {
        r["id"]
        for r in await db.fetch(
            "SELECT id FROM scene_dialogues"
            " WHERE strpos(search_normalise(dialogue_text), search_normalise($1)) > 0",
            q,
        )
    }
    assert indexed  # the data holds every query
    assert indexed == scanned


# --- Property: the search equals a substring scan -----------------------------------------------

# Hiragana, katakana (with voiced forms), half-width katakana, a few kanji, ASCII of both cases,
# full-width Latin and digits, spaces. Letters whose lower case differs between Python and
# PostgreSQL (İ) are left out: the reference below lower-cases in Python.
_ALPHABET = "あいかがきすだアイカガキｱｲｶﾞｷ猫好君東京abeloveyIVLO " + wide("ABab01")
_TEXTS = st.lists(st.text(alphabet=_ALPHABET, min_size=1, max_size=25), min_size=1, max_size=8)


@st.composite
def _texts_and_query(draw: st.DrawFn) -> tuple[list[str], list[str | None], str]:
    texts = draw(_TEXTS)
    subtitles = [draw(st.none() | st.text(alphabet=_ALPHABET, min_size=1, max_size=15)) for _ in texts]
    if draw(st.booleans()):
        source = draw(st.sampled_from(texts))
        start = draw(st.integers(0, len(source) - 1))
        query = source[start : start + draw(st.integers(1, 10))]
    else:
        query = draw(st.text(alphabet=_ALPHABET, min_size=1, max_size=10))
    return texts, subtitles, query


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_texts_and_query())
async def test_search_equals_the_substring_scan(
    db: asyncpg.Pool, system: System, case: tuple[list[str], list[str | None], str]
) -> None:
    texts, subtitles, query = case
    movie = await _movie(db)
    scene = await _scene(db, movie)
    expected = set()
    for text, subtitle in zip(texts, subtitles, strict=True):
        line = await _line(db, scene, text, subtitle=subtitle)
        if matches(text, query) or matches(subtitle, query):
            expected.add(line)
    hits = await TextSearchQueries(system.engines["scene"]).search_dialogues(
        query, movie_id=movie, limit=100, identity=ANONYMOUS
    )
    assert {h.id for h in hits} == expected
