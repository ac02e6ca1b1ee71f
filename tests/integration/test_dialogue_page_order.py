"""The lines' copy of their scene's movie and start (scene_service 0011), and RLS pages built from it."""

from __future__ import annotations

from typing import get_args
from uuid import UUID, uuid4

import asyncpg
import pytest

from commands.scene import AddDialogue, CreateScene, RetimeScene
from events.actor import ActorRegistered
from events.base import EventMetadata
from events.movie import MovieRegistered
from infra.auth import ANONYMOUS
from infra.bootstrap import System
from read_models.text_search import WIDEN_FACTOR, SearchStrategy, TextSearchQueries
from tests.acting import AS_SYSTEM
from tests.conftest import eventually
from tests.integration.scene_rows import insert_scene

pytestmark = pytest.mark.integration

STRATEGIES: tuple[SearchStrategy, ...] = get_args(SearchStrategy)


async def _copies(live: System, scene: UUID) -> set[tuple[UUID, int]]:
    rows = await live.scene_pool.fetch(
        "SELECT movie_id, scene_start_time_seconds FROM scene_dialogues WHERE scene_id = $1", scene
    )
    return {(r["movie_id"], r["scene_start_time_seconds"]) for r in rows}


async def _scene_with_lines(live: System, lines: int) -> tuple[UUID, UUID]:
    movie = uuid4()
    await live.event_store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="君の名は")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    actor = uuid4()
    await live.event_store.append(
        [ActorRegistered(stream_id=actor, stream_version=1, name="神木隆之介")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    create = CreateScene(movie_id=movie, start="0:10:00", end="0:12:00", classification="L2")
    await live.bus.dispatch(create, AS_SYSTEM)
    for i in range(lines):
        line = AddDialogue(
            scene_id=create.scene_id, actor_id=actor, dialogue_text=f"台詞{i}", start_time_offset=i
        )
        await live.bus.dispatch(line, AS_SYSTEM)
    return movie, create.scene_id


async def test_a_projected_line_carries_its_scenes_movie_and_start(live: System) -> None:
    movie, scene = await _scene_with_lines(live, 2)

    async def both_lines() -> int | None:
        count = await live.scene_pool.fetchval(
            "SELECT count(*) FROM scene_dialogues WHERE scene_id = $1", scene
        )
        return count if count == 2 else None

    await eventually(both_lines)
    assert await _copies(live, scene) == {(movie, 600)}


async def test_a_retimed_scene_moves_its_lines_copy_of_the_start(live: System) -> None:
    movie, scene = await _scene_with_lines(live, 2)
    await live.bus.dispatch(RetimeScene(scene_id=scene, start="0:20:00", end="0:21:00"), AS_SYSTEM)

    async def moved() -> set[tuple[UUID, int]] | None:
        found = await _copies(live, scene)
        return found if found == {(movie, 1200)} else None

    assert await eventually(moved) == {(movie, 1200)}


async def test_a_line_of_an_unknown_scene_still_fails_on_the_foreign_key(live: System) -> None:
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await live.scene_pool.execute(
            "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text) VALUES ($1, $2, 'x')",
            uuid4(),
            uuid4(),
        )


async def _direct_scene(db: asyncpg.Pool, *, public: bool, start: int) -> UUID:
    # Hidden movies' ids sort before the public ones': their lines come first in page order.
    movie = UUID(("00000000" if not public else "ffffffff") + uuid4().hex[8:])
    await db.execute(
        "INSERT INTO external_movies_cache (id, title, is_public) VALUES ($1, 'm', $2)", movie, public
    )
    return await insert_scene(db, movie, start)


@pytest.mark.parametrize("strategy", STRATEGIES)
async def test_a_viewer_gets_a_full_page_when_the_first_matches_are_hidden(
    live: System, strategy: SearchStrategy
) -> None:
    # More hidden matches than the first widened request holds: the page needs two widenings.
    marker, limit = uuid4().hex, 3
    hidden = limit * WIDEN_FACTOR + 1
    for i in range(hidden):
        scene = await _direct_scene(live.scene_pool, public=False, start=i)
        await live.scene_pool.execute(
            "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text) VALUES ($1, $2, $3)",
            scene,
            uuid4(),
            f"隠 {marker}",
        )
    shown = []
    for i in range(limit + 1):
        scene = await _direct_scene(live.scene_pool, public=True, start=i)
        shown.append(
            await live.scene_pool.fetchval(
                "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text) VALUES ($1, $2, $3)"
                " RETURNING id",
                scene,
                uuid4(),
                f"見 {marker}",
            )
        )
    queries = TextSearchQueries(live.engines["scene"])
    page = await queries.search_dialogues(marker, limit=limit, identity=ANONYMOUS, strategy=strategy)
    owner_page = await queries.search_dialogues(marker, limit=100, strategy=strategy)
    expected = [line for line in [h.id for h in owner_page] if line in shown][:limit]
    assert [h.id for h in page] == expected
    assert len(page) == limit


async def test_the_stored_normalised_text_is_the_search_normalisation(live: System) -> None:
    # Full-width letters, half-width kana, upper case, Japanese punctuation; NULL when unchanged.
    wide = "".join(chr(ord(c) + 0xFEE0) for c in "ABC")
    texts = [f"{wide}ｱｲｳ", "君が好きだ。", "I Love You", "どうして？"]  # noqa: RUF001  the full-width mark is the case
    scene = await _direct_scene(live.scene_pool, public=True, start=0)
    for text in texts:
        await live.scene_pool.execute(
            "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text, subtitle_text)"
            " VALUES ($1, $2, $3, $3)",
            scene,
            uuid4(),
            text,
        )
    rows = await live.scene_pool.fetch(
        "SELECT dialogue_text, dialogue_text_normalised, subtitle_text_normalised,"
        " search_normalise(dialogue_text) AS expected FROM scene_dialogues WHERE scene_id = $1",
        scene,
    )
    stored = {
        r["dialogue_text"]: (r["dialogue_text_normalised"], r["subtitle_text_normalised"]) for r in rows
    }
    expected = {r["dialogue_text"]: r["expected"] for r in rows}
    assert stored["君が好きだ。"] == (None, None)
    for text in texts:
        normalised, subtitle = stored[text]
        assert (normalised or text) == expected[text] == (subtitle or text)
    assert stored[f"{wide}ｱｲｳ"][0] == "abcアイウ"
