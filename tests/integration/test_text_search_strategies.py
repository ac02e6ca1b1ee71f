"""Both paths of the dialogue search (index, walk in page order) give the substring scan's page."""

from __future__ import annotations

import random
from typing import get_args
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from infra.auth import ANONYMOUS
from infra.bootstrap import System
from read_models.text_search import SearchStrategy, TextSearchQueries, matches
from tests.integration.scene_rows import cached_movie, insert_scene

pytestmark = pytest.mark.integration

STRATEGIES: tuple[SearchStrategy, ...] = get_args(SearchStrategy)


async def _line(
    db: asyncpg.Pool, scene: UUID, text: str, *, subtitle: str | None = None, offset: int | None = None
) -> UUID:
    line = uuid4()
    await db.execute(
        "INSERT INTO scene_dialogues (id, scene_id, actor_id, dialogue_text, subtitle_text,"
        " start_time_offset) VALUES ($1, $2, $3, $4, $5, $6)",
        line,
        scene,
        uuid4(),
        text,
        subtitle,
        offset,
    )
    return line


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_page_follows_movie_scene_start_offset_and_id(
    db: asyncpg.Pool, system: System, strategy: SearchStrategy
) -> None:
    # Two scenes with the same start interleave their lines by offset; a line without offset comes last.
    movie = await cached_movie(db)
    late, early, twin = [await insert_scene(db, movie, start) for start in (500, 50, 50)]
    lines = [
        (await _line(db, early, "雨だ", offset=3), (50, 3)),
        (await _line(db, twin, "雨の日", offset=1), (50, 1)),
        (await _line(db, late, "雨", offset=0), (500, 0)),
        (await _line(db, early, "晴れ", subtitle="雨?", offset=None), (50, 99)),
        (await _line(db, twin, "雨雨", offset=3), (50, 3)),
    ]
    expected = [line for line, _ in sorted(lines, key=lambda pair: (pair[1], pair[0]))]
    hits = await TextSearchQueries(system.engines["scene"]).search_dialogues(
        "雨", movie_id=movie, strategy=strategy
    )
    assert [h.id for h in hits] == expected


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_walk_and_index_hide_private_movies_alike(
    db: asyncpg.Pool, system: System, strategy: SearchStrategy
) -> None:
    marker = uuid4().hex
    public, private = await cached_movie(db), await cached_movie(db, public=False)
    shown = await _line(db, await insert_scene(db, public, 10), f"秘密 {marker}")
    await _line(db, await insert_scene(db, private, 10), f"秘密 {marker}")
    hits = await TextSearchQueries(system.engines["scene"]).search_dialogues(
        marker, identity=ANONYMOUS, strategy=strategy
    )
    assert [h.id for h in hits] == [shown]


async def test_share_of_a_frequent_term_comes_from_the_statistics(db: asyncpg.Pool) -> None:
    # 鰻 and 鱧 appear in no other test's text: 鰻 is in 3,000 new lines, 鱧 in none.
    scene = await insert_scene(db, await cached_movie(db), 10)
    rng = random.Random(3)
    texts = [f"{rng.choice('あいうえお')}鰻{rng.choice('かきくけこ')}" for _ in range(3_000)]
    await db.execute(
        "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text) SELECT $1, $2, unnest($3::text[])",
        scene,
        uuid4(),
        texts,
    )
    await db.execute("ANALYZE scene_dialogues")
    total = await db.fetchval("SELECT count(*) FROM scene_dialogues")
    share = await db.fetchval("SELECT share FROM search_dialogue_share('鰻')")
    assert share == pytest.approx(3_000 / total, rel=0.5)
    assert await db.fetchval("SELECT share FROM search_dialogue_share('鱧')") == 0
    # A phrase is bounded by its rarest key.
    assert await db.fetchval("SELECT share FROM search_dialogue_share('鰻鱧')") == 0


# As in test_text_search.py, with full-width Latin and digits written out (RUF001).
_WIDE = "".join(chr(ord(c) + 0xFEE0) for c in "ABab01")
_ALPHABET = "あいかがきすだアイカガキｱｲｶﾞｷ猫好君東京abeloveyIVLO " + _WIDE
_TEXTS = st.lists(st.text(alphabet=_ALPHABET, min_size=1, max_size=25), min_size=1, max_size=8)


@st.composite
def _case(draw: st.DrawFn) -> tuple[list[str], list[str | None], str]:
    texts = draw(_TEXTS)
    subtitles = [draw(st.none() | st.text(alphabet=_ALPHABET, min_size=1, max_size=15)) for _ in texts]
    if draw(st.booleans()):
        source = draw(st.sampled_from(texts))
        start = draw(st.integers(0, len(source) - 1))
        query = source[start : start + draw(st.integers(1, 10))]
    else:
        query = draw(st.text(alphabet=_ALPHABET, min_size=1, max_size=10))
    return texts, subtitles, query


@pytest.mark.parametrize("strategy", STRATEGIES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_case())
async def test_each_strategy_equals_the_substring_scan(
    db: asyncpg.Pool, system: System, strategy: SearchStrategy, case: tuple[list[str], list[str | None], str]
) -> None:
    texts, subtitles, query = case
    scene = await insert_scene(db, await cached_movie(db), 10)
    expected = []
    for i, (text, subtitle) in enumerate(zip(texts, subtitles, strict=True)):
        line = await _line(db, scene, text, subtitle=subtitle, offset=i)
        if matches(text, query) or matches(subtitle, query):
            expected.append(line)
    movie = await db.fetchval("SELECT movie_id FROM scenes WHERE id = $1", scene)
    hits = await TextSearchQueries(system.engines["scene"]).search_dialogues(
        query, movie_id=movie, limit=100, identity=ANONYMOUS, strategy=strategy
    )
    assert [h.id for h in hits] == expected
