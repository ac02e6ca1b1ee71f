"""The Scene service's ``scenes`` read model, one apply function per scene event."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from events.base import DomainEvent
from events.scene import (
    SceneCreated,
    SceneDeleted,
    SceneDetailsEdited,
    SceneReclassified,
    SceneRetimed,
)

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
    await conn.execute("DELETE FROM scenes WHERE id = $1", e.stream_id)


ApplyFn = Callable[[asyncpg.Connection, Any], Awaitable[None]]

SCENE_HANDLERS: dict[type[DomainEvent], ApplyFn] = {
    SceneCreated: _created,
    SceneRetimed: _retimed,
    SceneReclassified: _reclassified,
    SceneDetailsEdited: _details_edited,
    SceneDeleted: _deleted,
}
