"""The dialogue walk over the two page-order indexes (scene_service 0018): long lines, what each role sees."""

from __future__ import annotations

import random
from typing import Any, get_args
from uuid import UUID, uuid4

import asyncpg
import pytest

from infra.auth import ANONYMOUS, Identity
from infra.bootstrap import System
from read_models.text_search import SearchStrategy, TextSearchQueries
from tests.integration.scene_rows import cached_movie, insert_scene

pytestmark = pytest.mark.integration

STRATEGIES: tuple[SearchStrategy, ...] = get_args(SearchStrategy)
COVERED_BYTES = 2000
"""The covering index's bound on a line's four texts, in bytes (0018)."""


async def _line(
    db: asyncpg.Pool,
    scene: UUID,
    text: str,
    *,
    subtitle: str | None = None,
    language: str = "ja",
    offset: int | None = None,
) -> UUID:
    line = uuid4()
    await db.execute(
        "INSERT INTO scene_dialogues (id, scene_id, actor_id, dialogue_text, subtitle_text, language,"
        " start_time_offset) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        line,
        scene,
        uuid4(),
        text,
        subtitle,
        language,
        offset,
    )
    return line


def _long(marker: str, characters: int, *, seed: int) -> str:
    """Return ``characters`` random kanji around ``marker``: over the bound, and poorly compressible."""
    rng = random.Random(seed)
    body = "".join(chr(rng.randrange(0x4E00, 0x9FA0)) for _ in range(characters))
    return f"{body[: characters // 2]}{marker}{body[characters // 2 :]}"


async def _page(
    system: System, marker: str, strategy: SearchStrategy, identity: Identity | None, **filters: Any
) -> list[UUID]:
    queries = TextSearchQueries(system.engines["scene"])
    hits = await queries.search_dialogues(marker, identity=identity, strategy=strategy, **filters)
    return [h.id for h in hits]


async def _walk_ids(db: asyncpg.Pool, marker: str, movie: UUID | None, *, public_only: bool) -> list[UUID]:
    """Return what the SQL function's walk returns, before the policies and the API's own query."""
    rows = await db.fetch(
        "SELECT line_id FROM search_dialogue_page_ids($1, true, $2, NULL, NULL, $3, 100) AS line_id",
        marker,
        movie,
        public_only,
    )
    return [r["line_id"] for r in rows]


@pytest.mark.parametrize("strategy", STRATEGIES)
@pytest.mark.parametrize("who", [None, ANONYMOUS], ids=["owner", "viewer"])
async def test_long_and_short_lines_come_merged_in_page_order(
    db: asyncpg.Pool, system: System, strategy: SearchStrategy, who: Identity | None
) -> None:
    marker = uuid4().hex
    movie = await cached_movie(db)
    scenes = [await insert_scene(db, movie, start) for start in (10, 20, 30, 40)]
    expected = [
        await _line(db, scenes[0], f"短い {marker}"),
        await _line(db, scenes[1], _long(marker, 1_000, seed=1)),
        await _line(db, scenes[2], f"短い {marker}", offset=2),
        await _line(db, scenes[3], "字幕だけ", subtitle=_long(marker, 800, seed=2), language="en"),
    ]
    assert await _page(system, marker, strategy, who, movie_id=movie) == expected
    assert await _page(system, marker, strategy, who, movie_id=movie, limit=2, offset=1) == expected[1:3]
    assert await _page(system, marker, strategy, who, movie_id=movie, language="ja") == expected[:3]


async def test_lines_either_side_of_the_byte_bound_are_each_walked_once(db: asyncpg.Pool) -> None:
    # Lower-case ASCII is its own normal form (no stored copy); upper case stores a lower-case one.
    marker = uuid4().hex
    movie = await cached_movie(db)
    scene = await insert_scene(db, movie, 10)
    texts = [
        marker.ljust(COVERED_BYTES, "a"),
        marker.ljust(COVERED_BYTES + 1, "a"),
        marker.upper().ljust(COVERED_BYTES // 2, "A"),
        marker.upper().ljust(COVERED_BYTES // 2 + 1, "A"),
    ]
    expected = [await _line(db, scene, text, offset=i) for i, text in enumerate(texts)]
    assert await _walk_ids(db, marker, movie, public_only=False) == expected


async def test_a_line_far_over_a_btree_entry_is_stored_and_walked(db: asyncpg.Pool, system: System) -> None:
    marker = uuid4().hex
    movie = await cached_movie(db)
    line = await _line(db, await insert_scene(db, movie, 10), _long(marker, 9_900, seed=3))
    assert await _page(system, marker, "walk", None, movie_id=movie) == [line]


async def test_the_walk_skips_private_movies_lines_for_viewers_long_or_short(
    db: asyncpg.Pool, system: System
) -> None:
    marker = uuid4().hex
    public, private = await cached_movie(db), await cached_movie(db, public=False)
    hidden = [
        await _line(db, await insert_scene(db, private, 10), f"秘密 {marker}"),
        await _line(db, await insert_scene(db, private, 20), _long(marker, 1_000, seed=4)),
    ]
    shown = [
        await _line(db, await insert_scene(db, public, 10), f"秘密 {marker}"),
        await _line(db, await insert_scene(db, public, 20), _long(marker, 1_000, seed=5)),
    ]
    assert set(await _walk_ids(db, marker, None, public_only=True)) == set(shown)
    assert set(await _walk_ids(db, marker, None, public_only=False)) == set(shown + hidden)
    assert set(await _page(system, marker, "walk", ANONYMOUS)) == set(shown)


async def test_a_professional_gets_no_line_of_a_hidden_scene_from_the_walk(
    db: asyncpg.Pool, system: System
) -> None:
    # Professionals' candidates include every movie (no public_only): the policies alone hide.
    marker, professional = uuid4().hex, Identity(user_id=uuid4(), role="professional")
    private = await cached_movie(db, public=False)
    own, other = await insert_scene(db, private, 10), await insert_scene(db, private, 20)
    await db.execute("UPDATE scenes SET created_by = $1 WHERE id = $2", professional.user_id, own)
    await db.execute("UPDATE scenes SET created_by = $1 WHERE id = $2", uuid4(), other)
    mine = [await _line(db, own, f"台本 {marker}"), await _line(db, own, _long(marker, 1_000, seed=6))]
    for text in (f"台本 {marker}", _long(marker, 1_000, seed=7)):
        await _line(db, other, text)
    assert set(await _page(system, marker, "walk", professional)) == set(mine)
    assert await _page(system, marker, "walk", ANONYMOUS) == []
