"""Cast, dialogue lines, nesting, parallel groups and movie stats on the real stack (command → read model)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest

from commands.errors import UniqueKeyTakenError
from commands.parallel import AddSceneToParallelGroup, CreateParallelGroup, DissolveParallelGroup
from commands.parallel import RemoveSceneFromParallelGroup as RemoveMember
from commands.scene import (
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    ReclassifyScene,
    RemoveDialogue,
    RemoveSceneActor,
    RetimeScene,
    ReviseDialogue,
)
from events.actor import ActorRegistered
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from infra.bootstrap import System
from read_models.scenes import MovieSceneStatsView, ParallelGroupView, SceneView
from tests.acting import AS_SYSTEM
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def _append(live: System, event: DomainEvent) -> None:
    await live.event_store.append(
        [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
    )


async def _movie(live: System) -> UUID:
    movie = uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="天気の子"))
    return movie


async def _actor(live: System, name: str = "醍醐虎汰朗") -> UUID:
    actor = uuid4()
    await _append(live, ActorRegistered(stream_id=actor, stream_version=1, name=name))
    return actor


async def _scene(live: System, movie: UUID, start: str = "1000", end: str = "1100", cls: str = "L2") -> UUID:
    cmd = CreateScene(movie_id=movie, start=start, end=end, classification=cls)
    await live.bus.dispatch(cmd, AS_SYSTEM)
    return cmd.scene_id


async def _at_version(live: System, scene_id: UUID, version: int) -> SceneView | None:
    scene = await live.scenes.get(scene_id)
    return scene if scene is not None and scene.version >= version else None


def _stats_become(
    live: System, movie: UUID, **expected: int
) -> Callable[[], Awaitable[MovieSceneStatsView | None]]:
    async def check() -> MovieSceneStatsView | None:
        stats = await live.scenes.movie_stats(movie)
        if stats is None:
            return None
        actual = {name: getattr(stats, name) for name in expected}
        return stats if actual == expected else None

    return check


async def _rows(live: System, query: str, *args: Any) -> list[asyncpg.Record]:
    return list(await live.scene_pool.fetch(query, *args))


# --- scene_actors ---


async def test_cast_actor_is_in_scene_actors_and_in_the_scene_view(live: System) -> None:
    movie, actor = await _movie(live), await _actor(live, "森七菜")
    scene = await _scene(live, movie)
    await live.bus.dispatch(
        AddSceneActor(
            scene_id=scene, actor_id=actor, character_name="陽菜", role_type="primary", screen_time_seconds=45
        ),
        AS_SYSTEM,
    )
    view = await eventually(lambda: _at_version(live, scene, 2))
    [cast] = view.actors
    assert (cast.actor_id, cast.character_name, cast.role_type, cast.screen_time_seconds) == (
        actor,
        "陽菜",
        "primary",
        45,
    )
    [row] = await _rows(live, "SELECT * FROM scene_actors WHERE scene_id = $1", scene)
    assert row["actor_id"] == actor


async def test_scene_view_names_the_actor_from_the_cache(live: System) -> None:
    movie, actor = await _movie(live), await _actor(live, "小栗旬")
    scene = await _scene(live, movie)
    await live.bus.dispatch(AddSceneActor(scene_id=scene, actor_id=actor), AS_SYSTEM)

    async def named() -> SceneView | None:
        view = await _at_version(live, scene, 2)
        return view if view and view.actors and view.actors[0].actor_name == "小栗旬" else None

    await eventually(named)


async def test_removed_actor_leaves_scene_actors(live: System) -> None:
    movie, actor = await _movie(live), await _actor(live)
    scene = await _scene(live, movie)
    await live.bus.dispatch(AddSceneActor(scene_id=scene, actor_id=actor), AS_SYSTEM)
    await live.bus.dispatch(RemoveSceneActor(scene_id=scene, actor_id=actor), AS_SYSTEM)
    view = await eventually(lambda: _at_version(live, scene, 3))
    assert view.actors == []
    assert await _rows(live, "SELECT 1 FROM scene_actors WHERE scene_id = $1", scene) == []


async def test_scene_actors_schema_enforces_role_type_and_one_row_per_actor(live: System) -> None:
    scene = await _scene(live, await _movie(live))
    await eventually(lambda: _at_version(live, scene, 1))
    with pytest.raises(asyncpg.CheckViolationError):
        await live.scene_pool.execute(
            "INSERT INTO scene_actors (scene_id, actor_id, role_type) VALUES ($1, $2, 'lead')", scene, uuid4()
        )
    actor = uuid4()
    await live.scene_pool.execute(
        "INSERT INTO scene_actors (scene_id, actor_id) VALUES ($1, $2)", scene, actor
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.scene_pool.execute(
            "INSERT INTO scene_actors (scene_id, actor_id) VALUES ($1, $2)", scene, actor
        )


# --- scene_dialogues ---


async def test_dialogue_lines_are_listed_in_time_order_with_every_column(live: System) -> None:
    movie, speaker = await _movie(live), await _actor(live)
    scene = await _scene(live, movie)
    late = AddDialogue(
        scene_id=scene,
        actor_id=speaker,
        character_name="帆高",
        dialogue_text="天気なんて狂ったままでいいんだ",
        start_time_offset=40,
        duration_seconds=4,
        is_memorable_quote=True,
        dialogue_type="monologue",
        emotional_tone="defiant",
        subtitle_text="Who cares if the weather stays crazy",
    )
    early = AddDialogue(scene_id=scene, actor_id=speaker, dialogue_text="晴れ女", start_time_offset=5)
    await live.bus.dispatch(late, AS_SYSTEM)
    await live.bus.dispatch(early, AS_SYSTEM)
    await eventually(lambda: _at_version(live, scene, 3))
    lines = await live.scenes.dialogues(scene)
    assert lines is not None
    assert [d.id for d in lines] == [early.dialogue_id, late.dialogue_id]
    last = lines[1]
    assert (last.character_name, last.start_time_offset, last.duration_seconds) == ("帆高", 40, 4)
    assert (last.is_memorable_quote, last.dialogue_type, last.emotional_tone, last.language) == (
        True,
        "monologue",
        "defiant",
        "ja",
    )
    assert last.subtitle_text == "Who cares if the weather stays crazy"


async def test_revised_and_removed_dialogue_lines_follow(live: System) -> None:
    movie, speaker = await _movie(live), await _actor(live)
    scene = await _scene(live, movie)
    line = AddDialogue(scene_id=scene, actor_id=speaker, dialogue_text="大丈夫", emotional_tone="calm")
    other = AddDialogue(scene_id=scene, actor_id=speaker, dialogue_text="行こう")
    await live.bus.dispatch(line, AS_SYSTEM)
    await live.bus.dispatch(other, AS_SYSTEM)
    await live.bus.dispatch(
        ReviseDialogue.model_validate(
            {
                "scene_id": scene,
                "dialogue_id": line.dialogue_id,
                "dialogue_text": "大丈夫だよ",
                "emotional_tone": None,
            }
        ),
        AS_SYSTEM,
    )
    await live.bus.dispatch(RemoveDialogue(scene_id=scene, dialogue_id=other.dialogue_id), AS_SYSTEM)
    view = await eventually(lambda: _at_version(live, scene, 5))
    [kept] = view.dialogues
    assert (kept.id, kept.dialogue_text, kept.emotional_tone) == (line.dialogue_id, "大丈夫だよ", None)
    assert kept.updated_at > kept.created_at


async def test_a_dialogue_id_cannot_be_reused_in_another_scene(live: System) -> None:
    movie, speaker = await _movie(live), await _actor(live)
    first, second = await _scene(live, movie), await _scene(live, movie, "2000", "2100")
    line = AddDialogue(scene_id=first, actor_id=speaker, dialogue_text="一度だけ")
    await live.bus.dispatch(line, AS_SYSTEM)
    with pytest.raises(UniqueKeyTakenError):
        await live.bus.dispatch(
            AddDialogue(
                scene_id=second, dialogue_id=line.dialogue_id, actor_id=speaker, dialogue_text="二度目"
            ),
            AS_SYSTEM,
        )
    count = await live.event_pool.fetchval("SELECT count(*) FROM saga_events WHERE stream_id = $1", second)
    assert count == 1


async def test_dialogues_of_an_unknown_scene_are_none(live: System) -> None:
    assert await live.scenes.dialogues(uuid4()) is None


async def test_scene_dialogues_schema_enforces_dialogue_type_and_offsets(live: System) -> None:
    scene = await _scene(live, await _movie(live))
    await eventually(lambda: _at_version(live, scene, 1))
    insert = "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text, {0}) VALUES ($1, $2, 'x', $3)"
    with pytest.raises(asyncpg.CheckViolationError):
        await live.scene_pool.execute(insert.format("dialogue_type"), scene, uuid4(), "soliloquy")
    with pytest.raises(asyncpg.CheckViolationError):
        await live.scene_pool.execute(insert.format("start_time_offset"), scene, uuid4(), -1)
    language = await live.scene_pool.fetchval(
        "INSERT INTO scene_dialogues (scene_id, actor_id, dialogue_text) VALUES ($1, $2, 'x') "
        "RETURNING language",
        scene,
        uuid4(),
    )
    assert language == "ja"


# --- nesting ---


async def test_nested_scene_points_at_its_parent_and_the_parent_moves_on(live: System) -> None:
    movie = await _movie(live)
    parent = await _scene(live, movie, "1000", "1100")
    child = CreateScene(
        movie_id=movie,
        start="1010",
        end="1020",
        classification="R1",
        scene_type="nested",
        parent_scene_id=parent,
    )
    await live.bus.dispatch(child, AS_SYSTEM)
    nested = await eventually(lambda: _at_version(live, child.scene_id, 1))
    assert (nested.parent_scene_id, nested.scene_type) == (parent, "nested")
    await eventually(lambda: _at_version(live, parent, 2))  # NestedSceneAttached on the parent's stream


# --- parallel_scene_groups / parallel_scene_members ---


async def _groups(live: System, movie: UUID, members: int) -> list[ParallelGroupView] | None:
    groups = await live.scenes.parallel_groups(movie)
    return groups if groups and len(groups[0].members) == members else None


async def test_parallel_group_lists_its_members_in_time_order(live: System) -> None:
    movie = await _movie(live)
    right = await _scene(live, movie, "1010", "1100", "A1")
    left = await _scene(live, movie, "1000", "1050", "A2")
    group = CreateParallelGroup(
        movie_id=movie,
        group_name="倉庫内銃撃戦",
        start="1000",
        end="1100",
        relation_type="split_screen",
        narrative_purpose="同時進行の緊張",
    )
    await live.bus.dispatch(group, AS_SYSTEM)
    await live.bus.dispatch(
        AddSceneToParallelGroup(
            group_id=group.group_id, scene_id=right, display_position="right", narrative_role="main"
        ),
        AS_SYSTEM,
    )
    await live.bus.dispatch(
        AddSceneToParallelGroup(
            group_id=group.group_id, scene_id=left, display_position="left", narrative_role="subplot"
        ),
        AS_SYSTEM,
    )
    [found] = await eventually(lambda: _groups(live, movie, 2))
    assert (found.id, found.group_name, found.relation_type, found.start_time_seconds) == (
        group.group_id,
        "倉庫内銃撃戦",
        "split_screen",
        600,
    )
    assert [(m.scene_id, m.display_position, m.narrative_role) for m in found.members] == [
        (left, "left", "subplot"),
        (right, "right", "main"),
    ]


async def test_removed_member_and_dissolved_group_leave_the_read_model(live: System) -> None:
    movie = await _movie(live)
    scene = await _scene(live, movie)
    group = CreateParallelGroup(movie_id=movie, start="1000", end="1100", relation_type="parallel_narrative")
    await live.bus.dispatch(group, AS_SYSTEM)
    await live.bus.dispatch(AddSceneToParallelGroup(group_id=group.group_id, scene_id=scene), AS_SYSTEM)
    await eventually(lambda: _groups(live, movie, 1))
    await live.bus.dispatch(RemoveMember(group_id=group.group_id, scene_id=scene), AS_SYSTEM)
    await eventually(lambda: _groups(live, movie, 0))
    await live.bus.dispatch(DissolveParallelGroup(group_id=group.group_id), AS_SYSTEM)

    async def gone() -> bool:
        return await live.scenes.parallel_group(group.group_id) is None

    await eventually(gone)


async def test_parallel_schema_enforces_relation_position_and_one_membership(live: System) -> None:
    movie = await _movie(live)
    scene = await _scene(live, movie)
    await eventually(lambda: _at_version(live, scene, 1))
    with pytest.raises(asyncpg.CheckViolationError):
        await live.scene_pool.execute(
            "INSERT INTO parallel_scene_groups (movie_id, start_time_seconds, end_time_seconds, "
            "relation_type) VALUES ($1, 1, 2, 'montage')",
            movie,
        )
    group = await live.scene_pool.fetchval(
        "INSERT INTO parallel_scene_groups (movie_id, start_time_seconds, end_time_seconds, "
        "relation_type) VALUES ($1, 1, 2, 'split_screen') RETURNING id",
        movie,
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await live.scene_pool.execute(
            "INSERT INTO parallel_scene_members (group_id, scene_id, display_position) "
            "VALUES ($1, $2, 'center')",
            group,
            scene,
        )
    await live.scene_pool.execute(
        "INSERT INTO parallel_scene_members (group_id, scene_id) VALUES ($1, $2)", group, scene
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.scene_pool.execute(
            "INSERT INTO parallel_scene_members (group_id, scene_id) VALUES ($1, $2)", group, scene
        )


# --- movie_scene_stats ---


async def test_stats_count_scenes_by_class_duration_lines_and_distinct_actors(live: System) -> None:
    movie, speaker, other = await _movie(live), await _actor(live), await _actor(live)
    codes = ["A1", "R2", "L3", "C1", "D1", "S1", "O1", "L2-3"]
    scenes = [await _scene(live, movie, f"{10 + i}00", f"+{10 + i}", code) for i, code in enumerate(codes)]
    for scene in scenes[:2]:
        await live.bus.dispatch(AddSceneActor(scene_id=scene, actor_id=speaker), AS_SYSTEM)
    await live.bus.dispatch(AddSceneActor(scene_id=scenes[2], actor_id=other), AS_SYSTEM)
    await live.bus.dispatch(
        AddDialogue(scene_id=scenes[0], actor_id=speaker, dialogue_text="a", is_memorable_quote=True),
        AS_SYSTEM,
    )
    await live.bus.dispatch(AddDialogue(scene_id=scenes[1], actor_id=speaker, dialogue_text="b"), AS_SYSTEM)
    stats = await eventually(
        _stats_become(live, movie, total_scenes=8, total_dialogues_count=2, unique_actors_count=2)
    )
    assert stats.total_duration_seconds == sum(10 + i for i in range(8))
    assert (
        stats.action_scenes_count,
        stats.romance_scenes_count,
        stats.dialogue_scenes_count,
        stats.comedy_scenes_count,
        stats.drama_scenes_count,
        stats.suspense_scenes_count,
        stats.other_scenes_count,
    ) == (1, 1, 2, 1, 1, 1, 1)
    assert stats.memorable_quotes_count == 1


async def test_stats_follow_retimes_and_reclassifications(live: System) -> None:
    movie = await _movie(live)
    scene = await _scene(live, movie, "1000", "+30", "A1")
    await eventually(_stats_become(live, movie, total_duration_seconds=30, action_scenes_count=1))
    await live.bus.dispatch(RetimeScene(scene_id=scene, start="1000", end="+45"), AS_SYSTEM)
    await live.bus.dispatch(ReclassifyScene(scene_id=scene, classification="S2"), AS_SYSTEM)
    await eventually(
        _stats_become(live, movie, total_duration_seconds=45, action_scenes_count=0, suspense_scenes_count=1)
    )


async def test_deleting_a_scene_cascades_out_of_every_table_and_the_stats(live: System) -> None:
    movie, actor = await _movie(live), await _actor(live)
    kept = await _scene(live, movie, "2000", "2100", "D1")
    doomed = await _scene(live, movie, "1000", "1100", "A1")
    await live.bus.dispatch(AddSceneActor(scene_id=doomed, actor_id=actor), AS_SYSTEM)
    await live.bus.dispatch(
        AddDialogue(scene_id=doomed, actor_id=actor, dialogue_text="さよなら", is_memorable_quote=True),
        AS_SYSTEM,
    )
    group = CreateParallelGroup(movie_id=movie, start="1000", end="1100", relation_type="overlapping_events")
    await live.bus.dispatch(group, AS_SYSTEM)
    await live.bus.dispatch(AddSceneToParallelGroup(group_id=group.group_id, scene_id=doomed), AS_SYSTEM)
    await eventually(
        _stats_become(live, movie, total_scenes=2, memorable_quotes_count=1, unique_actors_count=1)
    )
    await eventually(lambda: _groups(live, movie, 1))

    await live.bus.dispatch(DeleteScene(scene_id=doomed), AS_SYSTEM)

    stats = await eventually(
        _stats_become(
            live,
            movie,
            total_scenes=1,
            action_scenes_count=0,
            total_dialogues_count=0,
            memorable_quotes_count=0,
            unique_actors_count=0,
        )
    )
    assert (stats.drama_scenes_count, stats.total_duration_seconds) == (1, 60)
    for table in ("scene_actors", "scene_dialogues", "parallel_scene_members"):
        assert await _rows(live, f"SELECT 1 FROM {table} WHERE scene_id = $1", doomed) == []
    assert await live.scenes.get(kept) is not None
    [still] = await live.scenes.parallel_groups(movie)
    assert still.members == []


async def test_stats_of_a_movie_without_scenes_are_zero_and_of_an_unknown_movie_none(live: System) -> None:
    movie = await _movie(live)

    async def cached() -> MovieSceneStatsView | None:
        return await live.scenes.movie_stats(movie)

    stats = await eventually(cached)
    assert (stats.total_scenes, stats.unique_actors_count) == (0, 0)
    assert await live.scenes.movie_stats(uuid4()) is None
