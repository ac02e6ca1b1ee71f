"""The Scene service's read model: scenes, their cast and dialogues, parallel groups, movie stats.

One apply function per event of ``scenes.events``. Events that change what a movie's
statistics summarise (``STATS_EVENTS``) have that movie's ``movie_scene_stats`` row recomputed
once per batch, in the batch's transaction (``recompute_touched_stats``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from events.base import DomainEvent
from events.scene import (
    DialogueAdded,
    DialogueRemoved,
    DialogueRevised,
    NestedSceneAttached,
    NestedSceneDetached,
    NestedSceneMoved,
    ParallelGroupCreated,
    ParallelGroupDissolved,
    SceneActorAdded,
    SceneActorRemoved,
    SceneAddedToParallelGroup,
    SceneCreated,
    SceneDeleted,
    SceneDetailsEdited,
    SceneEvent,
    SceneReclassified,
    SceneRemovedFromParallelGroup,
    SceneRetimed,
)
from projections.scene_stats import recompute_movie_stats

ApplyFn = Callable[[asyncpg.Connection, Any], Awaitable[None]]

_INSERT = """
INSERT INTO scenes (
    id, movie_id, scene_number, start_time_seconds, end_time_seconds, input_format,
    level1_classification, level2_classification, level3_classification, scene_type,
    parent_scene_id, tags, description, emotional_tags, created_at, updated_at, created_by, version
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17)
ON CONFLICT (id) DO UPDATE SET
    movie_id = EXCLUDED.movie_id, scene_number = EXCLUDED.scene_number,
    start_time_seconds = EXCLUDED.start_time_seconds, end_time_seconds = EXCLUDED.end_time_seconds,
    input_format = EXCLUDED.input_format, level1_classification = EXCLUDED.level1_classification,
    level2_classification = EXCLUDED.level2_classification,
    level3_classification = EXCLUDED.level3_classification, scene_type = EXCLUDED.scene_type,
    parent_scene_id = EXCLUDED.parent_scene_id, tags = EXCLUDED.tags,
    description = EXCLUDED.description, emotional_tags = EXCLUDED.emotional_tags,
    created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at,
    created_by = EXCLUDED.created_by, version = EXCLUDED.version
"""


async def _created(conn: asyncpg.Connection, e: SceneCreated) -> None:
    await conn.execute(
        _INSERT,
        e.stream_id,
        e.movie_id,
        e.scene_number,
        e.start_time_seconds,
        e.end_time_seconds,
        e.input_format,
        e.level1_classification,
        e.level2_classification,
        e.level3_classification,
        e.scene_type,
        e.parent_scene_id,
        list(e.tags),
        e.description,
        list(e.emotional_tags),
        e.occurred_at,
        e.created_by,
        e.stream_version,
    )


async def _retimed(conn: asyncpg.Connection, e: SceneRetimed) -> None:
    await conn.execute(
        "UPDATE scenes SET start_time_seconds = $2, end_time_seconds = $3, input_format = $4, "
        "updated_at = $5, version = $6 WHERE id = $1",
        e.stream_id,
        e.start_time_seconds,
        e.end_time_seconds,
        e.input_format,
        e.occurred_at,
        e.stream_version,
    )


async def _reclassified(conn: asyncpg.Connection, e: SceneReclassified) -> None:
    await conn.execute(
        "UPDATE scenes SET level1_classification = $2, level2_classification = $3, "
        "level3_classification = $4, updated_at = $5, version = $6 WHERE id = $1",
        e.stream_id,
        e.level1_classification,
        e.level2_classification,
        e.level3_classification,
        e.occurred_at,
        e.stream_version,
    )


async def _details_edited(conn: asyncpg.Connection, e: SceneDetailsEdited) -> None:
    await conn.execute(
        "UPDATE scenes SET description = $2, tags = $3, emotional_tags = $4, updated_at = $5, "
        "version = $6 WHERE id = $1",
        e.stream_id,
        e.description,
        list(e.tags),
        list(e.emotional_tags),
        e.occurred_at,
        e.stream_version,
    )


async def _deleted(conn: asyncpg.Connection, e: SceneDeleted) -> None:
    # ON DELETE CASCADE takes the scene's cast, dialogue lines and group memberships along.
    await conn.execute("DELETE FROM scenes WHERE id = $1", e.stream_id)


async def _touch(conn: asyncpg.Connection, e: SceneEvent) -> None:
    """Record that the scene's content changed: its version and update time."""
    await conn.execute(
        "UPDATE scenes SET updated_at = $2, version = $3 WHERE id = $1",
        e.stream_id,
        e.occurred_at,
        e.stream_version,
    )


async def _actor_added(conn: asyncpg.Connection, e: SceneActorAdded) -> None:
    await conn.execute(
        "INSERT INTO scene_actors (id, scene_id, actor_id, character_name, role_type, "
        "screen_time_seconds, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) "
        "ON CONFLICT (scene_id, actor_id) DO UPDATE SET character_name = EXCLUDED.character_name, "
        "role_type = EXCLUDED.role_type, screen_time_seconds = EXCLUDED.screen_time_seconds",
        e.event_id,
        e.stream_id,
        e.actor_id,
        e.character_name,
        e.role_type,
        e.screen_time_seconds,
        e.occurred_at,
    )
    await _touch(conn, e)


async def _actor_removed(conn: asyncpg.Connection, e: SceneActorRemoved) -> None:
    await conn.execute(
        "DELETE FROM scene_actors WHERE scene_id = $1 AND actor_id = $2", e.stream_id, e.actor_id
    )
    await _touch(conn, e)


_UPSERT_DIALOGUE = """
INSERT INTO scene_dialogues (
    id, scene_id, actor_id, character_name, dialogue_text, start_time_offset, duration_seconds,
    is_memorable_quote, dialogue_type, emotional_tone, language, subtitle_text, created_at, updated_at
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)
ON CONFLICT (id) DO UPDATE SET
    actor_id = EXCLUDED.actor_id, character_name = EXCLUDED.character_name,
    dialogue_text = EXCLUDED.dialogue_text, start_time_offset = EXCLUDED.start_time_offset,
    duration_seconds = EXCLUDED.duration_seconds, is_memorable_quote = EXCLUDED.is_memorable_quote,
    dialogue_type = EXCLUDED.dialogue_type, emotional_tone = EXCLUDED.emotional_tone,
    language = EXCLUDED.language, subtitle_text = EXCLUDED.subtitle_text,
    updated_at = EXCLUDED.updated_at
"""


async def _dialogue_added(conn: asyncpg.Connection, e: DialogueAdded) -> None:
    await conn.execute(
        _UPSERT_DIALOGUE,
        e.dialogue_id,
        e.stream_id,
        e.actor_id,
        e.character_name,
        e.dialogue_text,
        e.start_time_offset,
        e.duration_seconds,
        e.is_memorable_quote,
        e.dialogue_type,
        e.emotional_tone,
        e.language,
        e.subtitle_text,
        e.occurred_at,
    )
    await _touch(conn, e)


async def _dialogue_revised(conn: asyncpg.Connection, e: DialogueRevised) -> None:
    await conn.execute(
        "UPDATE scene_dialogues SET actor_id = $3, character_name = $4, dialogue_text = $5, "
        "start_time_offset = $6, duration_seconds = $7, is_memorable_quote = $8, dialogue_type = $9, "
        "emotional_tone = $10, language = $11, subtitle_text = $12, updated_at = $13 "
        "WHERE id = $1 AND scene_id = $2",
        e.dialogue_id,
        e.stream_id,
        e.actor_id,
        e.character_name,
        e.dialogue_text,
        e.start_time_offset,
        e.duration_seconds,
        e.is_memorable_quote,
        e.dialogue_type,
        e.emotional_tone,
        e.language,
        e.subtitle_text,
        e.occurred_at,
    )
    await _touch(conn, e)


async def _dialogue_removed(conn: asyncpg.Connection, e: DialogueRemoved) -> None:
    await conn.execute(
        "DELETE FROM scene_dialogues WHERE id = $1 AND scene_id = $2", e.dialogue_id, e.stream_id
    )
    await _touch(conn, e)


async def _nesting_changed(
    conn: asyncpg.Connection, e: NestedSceneAttached | NestedSceneMoved | NestedSceneDetached
) -> None:
    # The nesting itself is read from the children's parent_scene_id; only the version moves.
    await conn.execute("UPDATE scenes SET version = $2 WHERE id = $1", e.stream_id, e.stream_version)


async def _group_created(conn: asyncpg.Connection, e: ParallelGroupCreated) -> None:
    await conn.execute(
        "INSERT INTO parallel_scene_groups (id, movie_id, group_name, start_time_seconds, "
        "end_time_seconds, input_format, relation_type, description, narrative_purpose, created_at, "
        "version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
        "ON CONFLICT (id) DO UPDATE SET movie_id = EXCLUDED.movie_id, group_name = EXCLUDED.group_name, "
        "start_time_seconds = EXCLUDED.start_time_seconds, end_time_seconds = EXCLUDED.end_time_seconds, "
        "input_format = EXCLUDED.input_format, relation_type = EXCLUDED.relation_type, "
        "description = EXCLUDED.description, narrative_purpose = EXCLUDED.narrative_purpose, "
        "created_at = EXCLUDED.created_at, version = EXCLUDED.version",
        e.stream_id,
        e.movie_id,
        e.group_name,
        e.start_time_seconds,
        e.end_time_seconds,
        e.input_format,
        e.relation_type,
        e.description,
        e.narrative_purpose,
        e.occurred_at,
        e.stream_version,
    )


async def _group_version(
    conn: asyncpg.Connection, e: SceneAddedToParallelGroup | SceneRemovedFromParallelGroup
) -> None:
    await conn.execute(
        "UPDATE parallel_scene_groups SET version = $2 WHERE id = $1", e.stream_id, e.stream_version
    )


async def _member_added(conn: asyncpg.Connection, e: SceneAddedToParallelGroup) -> None:
    # A scene deleted after the command accepted it (its deletion committed first) is skipped:
    # the membership would have been cascaded away anyway.
    await conn.execute(
        "INSERT INTO parallel_scene_members (id, group_id, scene_id, display_position, narrative_role, "
        "created_at) SELECT $1, $2, $3, $4, $5, $6 "
        "WHERE EXISTS (SELECT 1 FROM scenes WHERE id = $3) "
        "AND EXISTS (SELECT 1 FROM parallel_scene_groups WHERE id = $2) "
        "ON CONFLICT (group_id, scene_id) DO UPDATE SET display_position = EXCLUDED.display_position, "
        "narrative_role = EXCLUDED.narrative_role",
        e.event_id,
        e.stream_id,
        e.scene_id,
        e.display_position,
        e.narrative_role,
        e.occurred_at,
    )
    await _group_version(conn, e)


async def _member_removed(conn: asyncpg.Connection, e: SceneRemovedFromParallelGroup) -> None:
    await conn.execute(
        "DELETE FROM parallel_scene_members WHERE group_id = $1 AND scene_id = $2", e.stream_id, e.scene_id
    )
    await _group_version(conn, e)


async def _group_dissolved(conn: asyncpg.Connection, e: ParallelGroupDissolved) -> None:
    await conn.execute("DELETE FROM parallel_scene_groups WHERE id = $1", e.stream_id)


STATS_EVENTS: tuple[type[SceneEvent], ...] = (
    SceneCreated,
    SceneRetimed,
    SceneReclassified,
    SceneDeleted,
    SceneActorAdded,
    SceneActorRemoved,
    DialogueAdded,
    DialogueRevised,
    DialogueRemoved,
)
"""Events that change a movie's ``movie_scene_stats``."""


async def recompute_touched_stats(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    """Recompute ``movie_scene_stats`` once per movie the batch touched (not once per event)."""
    latest: dict[UUID, datetime] = {}
    for e in events:
        if isinstance(e, STATS_EVENTS):
            latest[e.movie_id] = max(e.occurred_at, latest.get(e.movie_id, e.occurred_at))
    for movie_id, at in latest.items():
        await recompute_movie_stats(conn, movie_id, at)


SCENE_HANDLERS: dict[type[DomainEvent], ApplyFn] = {
    SceneCreated: _created,
    SceneRetimed: _retimed,
    SceneReclassified: _reclassified,
    SceneDetailsEdited: _details_edited,
    SceneDeleted: _deleted,
    SceneActorAdded: _actor_added,
    SceneActorRemoved: _actor_removed,
    DialogueAdded: _dialogue_added,
    DialogueRevised: _dialogue_revised,
    DialogueRemoved: _dialogue_removed,
    NestedSceneAttached: _nesting_changed,
    NestedSceneMoved: _nesting_changed,
    NestedSceneDetached: _nesting_changed,
    ParallelGroupCreated: _group_created,
    SceneAddedToParallelGroup: _member_added,
    SceneRemovedFromParallelGroup: _member_removed,
    ParallelGroupDissolved: _group_dissolved,
}
"""Apply functions of the ``scenes`` projection (consumes ``scenes.events``)."""
