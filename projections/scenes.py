"""The Scene service's read model: scenes, their cast and dialogues, parallel groups, movie stats.

One apply function per event of ``scenes.events``. Events that change what a movie's
statistics summarise (``STATS_EVENTS``) have that movie's ``movie_scene_stats`` row recomputed
once per batch, in the batch's transaction (``recompute_touched_stats``), or, for a batch of
a backlog, marked stale and recomputed later (``STATS_DEFERRAL``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
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
from projections.runner import ApplyFn, BatchApplyFn, Deferral
from projections.scene_stats import mark_movie_stats_stale, recompute_movie_stats

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
    await conn.execute(_INSERT, *_created_args(e))


_INSERT_MANY = (
    _INSERT.split("VALUES", maxsplit=1)[0]
    + """SELECT u.id, u.movie_id, u.scene_number, u.start_s, u.end_s, u.input_format::jsonb, u.l1, u.l2,
    u.l3, u.scene_type, u.parent, ARRAY(SELECT jsonb_array_elements_text(u.tags::jsonb)), u.description,
    ARRAY(SELECT jsonb_array_elements_text(u.emotional_tags::jsonb)), u.at, u.at, u.created_by, u.version
FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::int[], $5::int[], $6::text[], $7::text[], $8::text[],
            $9::text[], $10::text[], $11::uuid[], $12::text[], $13::text[], $14::text[],
            $15::timestamptz[], $16::uuid[], $17::int[])
    AS u(id, movie_id, scene_number, start_s, end_s, input_format, l1, l2, l3, scene_type, parent, tags,
         description, emotional_tags, at, created_by, version)
ON CONFLICT"""
    + _INSERT.split("ON CONFLICT")[1]
)
"""``_INSERT`` for many scenes in one statement (arguments: one array per column)."""


# The lines keep a copy of their scene's start for the dialogue search's page order
# (scene_service 0011), rewritten in the same statement as the scene.
_RETIME = (
    "WITH retimed AS (UPDATE scenes SET start_time_seconds = $2, end_time_seconds = $3, "
    "input_format = $4, updated_at = $5, version = $6 WHERE id = $1) "
    "UPDATE scene_dialogues SET scene_start_time_seconds = $2 "
    "WHERE scene_id = $1 AND scene_start_time_seconds IS DISTINCT FROM $2"
)


def _retime_args(e: SceneRetimed) -> tuple[Any, ...]:
    return (
        e.stream_id,
        e.start_time_seconds,
        e.end_time_seconds,
        e.input_format,
        e.occurred_at,
        e.stream_version,
    )


async def _retimed(conn: asyncpg.Connection, e: SceneRetimed) -> None:
    await conn.execute(_RETIME, *_retime_args(e))


_RECLASSIFY = (
    "UPDATE scenes SET level1_classification = $2, level2_classification = $3, "
    "level3_classification = $4, updated_at = $5, version = $6 WHERE id = $1"
)


def _reclassify_args(e: SceneReclassified) -> tuple[Any, ...]:
    return (
        e.stream_id,
        e.level1_classification,
        e.level2_classification,
        e.level3_classification,
        e.occurred_at,
        e.stream_version,
    )


async def _reclassified(conn: asyncpg.Connection, e: SceneReclassified) -> None:
    await conn.execute(_RECLASSIFY, *_reclassify_args(e))


_EDIT_DETAILS = (
    "UPDATE scenes SET description = $2, tags = $3, emotional_tags = $4, updated_at = $5, "
    "version = $6 WHERE id = $1"
)


def _details_args(e: SceneDetailsEdited) -> tuple[Any, ...]:
    return (e.stream_id, e.description, list(e.tags), list(e.emotional_tags), e.occurred_at, e.stream_version)


async def _details_edited(conn: asyncpg.Connection, e: SceneDetailsEdited) -> None:
    await conn.execute(_EDIT_DETAILS, *_details_args(e))


# The cast and lines go explicitly: a rebuild's fresh shadow reads the log without their foreign
# keys (scene_service 0019). ON DELETE CASCADE still takes the group memberships along, and
# clears the children's parent_scene_id.
_DELETE = (
    "WITH cast_rows AS (DELETE FROM scene_actors WHERE scene_id = ANY($1::uuid[])), "
    "lines AS (DELETE FROM scene_dialogues WHERE scene_id = ANY($1::uuid[])) "
    "DELETE FROM scenes WHERE id = ANY($1::uuid[])"
)


async def _deleted(conn: asyncpg.Connection, e: SceneDeleted) -> None:
    await conn.execute(_DELETE, [e.stream_id])


async def _touch(conn: asyncpg.Connection, e: SceneEvent) -> None:
    """Record that the scene's content changed: its version and update time."""
    await conn.execute(
        "UPDATE scenes SET updated_at = $2, version = $3 WHERE id = $1",
        e.stream_id,
        e.occurred_at,
        e.stream_version,
    )


# One statement for one entry or many (arguments: one array per column). The scene is looked up
# here, not left to the foreign key alone: a rebuild's fresh shadow reads the log without it
# (scene_service 0019), and a missing scene raises the constraint's own error either way.
_UPSERT_ACTORS = (
    "INSERT INTO scene_actors (id, scene_id, actor_id, character_name, role_type, "
    "screen_time_seconds, created_at) "
    "SELECT u.id, CASE WHEN s.id IS NULL THEN scene_child_orphaned('scene_actors', u.scene_id) "
    "ELSE u.scene_id END, u.actor_id, u.character_name, u.role_type, u.screen_time_seconds, u.at "
    "FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], "
    "$7::timestamptz[]) AS u(id, scene_id, actor_id, character_name, role_type, screen_time_seconds, at) "
    "LEFT JOIN scenes s ON s.id = u.scene_id "
    "ON CONFLICT (scene_id, actor_id) DO UPDATE SET character_name = EXCLUDED.character_name, "
    "role_type = EXCLUDED.role_type, screen_time_seconds = EXCLUDED.screen_time_seconds"
)


def _actor_args(e: SceneActorAdded) -> tuple[Any, ...]:
    return (
        e.event_id,
        e.stream_id,
        e.actor_id,
        e.character_name,
        e.role_type,
        e.screen_time_seconds,
        e.occurred_at,
    )


async def _actor_added(conn: asyncpg.Connection, e: SceneActorAdded) -> None:
    await conn.execute(_UPSERT_ACTORS, *([v] for v in _actor_args(e)))
    await _touch(conn, e)


async def _actor_removed(conn: asyncpg.Connection, e: SceneActorRemoved) -> None:
    await conn.execute(
        "DELETE FROM scene_actors WHERE scene_id = $1 AND actor_id = $2", e.stream_id, e.actor_id
    )
    await _touch(conn, e)


# One statement for one line or many (arguments: one array per column). The lines' copy of their
# scene's movie and start (scene_service 0011) is joined in here, far cheaper than the trigger
# that fills it row by row, and a missing scene raises the foreign key's own error (0019: a
# rebuild's fresh shadow reads the log without the constraint).
_UPSERT_DIALOGUES = """
INSERT INTO scene_dialogues (
    id, scene_id, actor_id, character_name, dialogue_text, start_time_offset, duration_seconds,
    is_memorable_quote, dialogue_type, emotional_tone, language, subtitle_text, created_at, updated_at,
    movie_id, scene_start_time_seconds
)
SELECT u.id, CASE WHEN s.id IS NULL THEN scene_child_orphaned('scene_dialogues', u.scene_id)
    ELSE u.scene_id END, u.actor_id, u.character_name, u.dialogue_text, u.start_time_offset,
    u.duration_seconds, u.is_memorable_quote, u.dialogue_type, u.emotional_tone, u.language,
    u.subtitle_text, u.at, u.at, s.movie_id, s.start_time_seconds
FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::int[], $7::int[],
            $8::boolean[], $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[])
    AS u(id, scene_id, actor_id, character_name, dialogue_text, start_time_offset, duration_seconds,
         is_memorable_quote, dialogue_type, emotional_tone, language, subtitle_text, at)
LEFT JOIN scenes s ON s.id = u.scene_id
ON CONFLICT (id) DO UPDATE SET
    actor_id = EXCLUDED.actor_id, character_name = EXCLUDED.character_name,
    dialogue_text = EXCLUDED.dialogue_text, start_time_offset = EXCLUDED.start_time_offset,
    duration_seconds = EXCLUDED.duration_seconds, is_memorable_quote = EXCLUDED.is_memorable_quote,
    dialogue_type = EXCLUDED.dialogue_type, emotional_tone = EXCLUDED.emotional_tone,
    language = EXCLUDED.language, subtitle_text = EXCLUDED.subtitle_text,
    updated_at = EXCLUDED.updated_at
"""


def _dialogue_args(e: DialogueAdded) -> tuple[Any, ...]:
    return (
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


async def _dialogue_added(conn: asyncpg.Connection, e: DialogueAdded) -> None:
    await conn.execute(_UPSERT_DIALOGUES, *([v] for v in _dialogue_args(e)))
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


_UPSERT_GROUP = (
    "INSERT INTO parallel_scene_groups (id, movie_id, group_name, start_time_seconds, "
    "end_time_seconds, input_format, relation_type, description, narrative_purpose, created_at, "
    "version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) "
    "ON CONFLICT (id) DO UPDATE SET movie_id = EXCLUDED.movie_id, group_name = EXCLUDED.group_name, "
    "start_time_seconds = EXCLUDED.start_time_seconds, end_time_seconds = EXCLUDED.end_time_seconds, "
    "input_format = EXCLUDED.input_format, relation_type = EXCLUDED.relation_type, "
    "description = EXCLUDED.description, narrative_purpose = EXCLUDED.narrative_purpose, "
    "created_at = EXCLUDED.created_at, version = EXCLUDED.version"
)


def _group_args(e: ParallelGroupCreated) -> tuple[Any, ...]:
    return (
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


async def _group_created(conn: asyncpg.Connection, e: ParallelGroupCreated) -> None:
    await conn.execute(_UPSERT_GROUP, *_group_args(e))


async def _group_version(
    conn: asyncpg.Connection, e: SceneAddedToParallelGroup | SceneRemovedFromParallelGroup
) -> None:
    await conn.execute(
        "UPDATE parallel_scene_groups SET version = $2 WHERE id = $1", e.stream_id, e.stream_version
    )


_INSERT_MEMBER = (
    "INSERT INTO parallel_scene_members (id, group_id, scene_id, display_position, narrative_role, "
    "created_at) SELECT $1, $2, $3, $4, $5, $6 "
    "WHERE EXISTS (SELECT 1 FROM scenes WHERE id = $3) "
    "AND EXISTS (SELECT 1 FROM parallel_scene_groups WHERE id = $2) "
    "ON CONFLICT (group_id, scene_id) DO UPDATE SET display_position = EXCLUDED.display_position, "
    "narrative_role = EXCLUDED.narrative_role"
)


async def _member_added(conn: asyncpg.Connection, e: SceneAddedToParallelGroup) -> None:
    # A scene deleted after the command accepted it (its deletion committed first) is skipped:
    # the membership would have been cascaded away anyway.
    await conn.execute(
        _INSERT_MEMBER,
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


# --- batch apply functions (same read model as the functions above, applied in order) ---------
#
# ``executemany`` pipelines one statement per event in a single round trip and runs them in
# order, so it is exactly the one-by-one sequence. The version/update-time touches of the cast,
# line and nesting events are left out of their batch functions: they only keep each scene's
# last values, so ``touch_scenes`` writes them once per scene per batch, from the projection's
# after-batch step (``recompute_touched_stats`` or, deferred, ``mark_touched_stats_stale``),
# which the runner runs in the batch's transaction after every group. Per round of a batch they
# were 160,000 row versions for 40,000 scenes in a rebuild (4.9 s of its scene database time).

_TOUCHING: frozenset[type[DomainEvent]] = frozenset(
    {SceneActorAdded, SceneActorRemoved, DialogueAdded, DialogueRevised, DialogueRemoved}
)
"""Events whose apply ends with ``_touch``: the scene's version and update time."""

_VERSION_ONLY: frozenset[type[DomainEvent]] = frozenset(
    {NestedSceneAttached, NestedSceneMoved, NestedSceneDetached}
)
"""Events whose apply sets only the scene's version."""

_WRITES_OWN: frozenset[type[DomainEvent]] = frozenset(
    {SceneCreated, SceneRetimed, SceneReclassified, SceneDetailsEdited, SceneDeleted}
)
"""Scene events that write (or delete) the scene's version and update time in their own statement."""


async def touch_scenes(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    """Leave each scene's ``version`` and ``updated_at`` where ``events`` applied in order leave them.

    Only what the touching events (``_TOUCHING``, ``_VERSION_ONLY``) set after a scene's last
    event writing its own values is written: one row update per scene. Run after the events
    have been applied (by the batch functions, which skip the touches, or by the one-by-one
    functions, which did them already: the same values again).
    """
    pending: dict[UUID, tuple[int, datetime | None]] = {}
    for e in events:
        kind = type(e)
        if kind in _TOUCHING:
            pending[e.stream_id] = (e.stream_version, e.occurred_at)
        elif kind in _VERSION_ONLY:
            pending[e.stream_id] = (e.stream_version, pending.get(e.stream_id, (0, None))[1])
        elif kind in _WRITES_OWN:
            pending.pop(e.stream_id, None)
    if not pending:
        return
    await conn.execute(
        "UPDATE scenes s SET version = u.v, updated_at = coalesce(u.at, s.updated_at) "
        "FROM unnest($1::uuid[], $2::timestamptz[], $3::int[]) AS u(id, at, v) WHERE s.id = u.id",
        list(pending),
        [at for _, at in pending.values()],
        [v for v, _ in pending.values()],
    )


def _created_args(e: SceneCreated) -> tuple[Any, ...]:
    return (
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


async def _created_many(conn: asyncpg.Connection, events: Sequence[SceneCreated]) -> None:
    rows = [_created_args(e) for e in events]
    if len({e.stream_id for e in events}) < len(events):
        # One statement cannot upsert a row twice: keep the exact sequence instead.
        await conn.executemany(_INSERT, rows)
        return
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True))
    # Ragged arrays (tags) and JSON travel as JSON text: unnest cannot take arrays of arrays.
    for i in (5, 11, 13):  # input_format, tags, emotional_tags
        columns[i] = tuple(json.dumps(v) for v in columns[i])
    await conn.execute(_INSERT_MANY, *columns)


async def _retimed_many(conn: asyncpg.Connection, events: Sequence[SceneRetimed]) -> None:
    await conn.executemany(_RETIME, [_retime_args(e) for e in events])


async def _reclassified_many(conn: asyncpg.Connection, events: Sequence[SceneReclassified]) -> None:
    await conn.executemany(_RECLASSIFY, [_reclassify_args(e) for e in events])


async def _details_edited_many(conn: asyncpg.Connection, events: Sequence[SceneDetailsEdited]) -> None:
    await conn.executemany(_EDIT_DETAILS, [_details_args(e) for e in events])


async def _deleted_many(conn: asyncpg.Connection, events: Sequence[SceneDeleted]) -> None:
    await conn.execute(_DELETE, [e.stream_id for e in events])


async def _actor_added_many(conn: asyncpg.Connection, events: Sequence[SceneActorAdded]) -> None:
    rows = [_actor_args(e) for e in events]
    if len({(e.stream_id, e.actor_id) for e in events}) < len(events):
        # One statement cannot upsert a row twice: keep the exact sequence instead.
        await conn.executemany(_UPSERT_ACTORS, [[[v] for v in row] for row in rows])
    else:
        await conn.execute(_UPSERT_ACTORS, *zip(*rows, strict=True))


async def _dialogue_added_many(conn: asyncpg.Connection, events: Sequence[DialogueAdded]) -> None:
    rows = [_dialogue_args(e) for e in events]
    if len({e.dialogue_id for e in events}) < len(events):
        # One statement cannot upsert a row twice: keep the exact sequence instead.
        await conn.executemany(_UPSERT_DIALOGUES, [[[v] for v in row] for row in rows])
    else:
        await conn.execute(_UPSERT_DIALOGUES, *zip(*rows, strict=True))


async def _nesting_changed_many(
    conn: asyncpg.Connection, events: Sequence[NestedSceneAttached | NestedSceneMoved | NestedSceneDetached]
) -> None:
    """Nothing to write here: the nesting lives in the children's rows; ``touch_scenes`` sets the version."""


async def _group_created_many(conn: asyncpg.Connection, events: Sequence[ParallelGroupCreated]) -> None:
    await conn.executemany(_UPSERT_GROUP, [_group_args(e) for e in events])


async def _member_added_many(conn: asyncpg.Connection, events: Sequence[SceneAddedToParallelGroup]) -> None:
    await conn.executemany(
        _INSERT_MEMBER,
        [
            (e.event_id, e.stream_id, e.scene_id, e.display_position, e.narrative_role, e.occurred_at)
            for e in events
        ],
    )
    last = {e.stream_id: e.stream_version for e in events}
    await conn.execute(
        "UPDATE parallel_scene_groups g SET version = u.v "
        "FROM unnest($1::uuid[], $2::int[]) AS u(id, v) WHERE g.id = u.id",
        list(last),
        list(last.values()),
    )


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

# Looked up by exact type: isinstance against pydantic model classes goes through ABCMeta and
# cost seconds of a rebuild's CPU (no event class subclasses another).
_STATS_TYPES: frozenset[type[DomainEvent]] = frozenset(STATS_EVENTS)


def _movies_touched(events: Sequence[DomainEvent]) -> dict[UUID, datetime]:
    latest: dict[UUID, datetime] = {}
    for e in events:
        if type(e) in _STATS_TYPES:
            movie: UUID = e.movie_id  # type: ignore[attr-defined]  # every STATS_EVENTS type has it
            at = latest.get(movie)
            latest[movie] = e.occurred_at if at is None or e.occurred_at > at else at
    return latest


async def recompute_touched_stats(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    """Finish the batch's scene touches; recompute ``movie_scene_stats`` once per movie it touched.

    Movies an earlier batch only marked stale are recomputed in the same statement.
    """
    await touch_scenes(conn, events)
    await recompute_movie_stats(conn, _movies_touched(events))


async def mark_touched_stats_stale(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    """Finish the batch's scene touches; mark the movies it touched stale (recomputed later)."""
    await touch_scenes(conn, events)
    await mark_movie_stats_stale(conn, _movies_touched(events))


async def settle_stale_stats(conn: asyncpg.Connection) -> None:
    """Recompute every movie marked stale (what the deferred batches left)."""
    await recompute_movie_stats(conn, {})


STATS_DEFERRAL = Deferral(mark=mark_touched_stats_stale, settle=settle_stale_stats)
"""How the scenes projection puts ``movie_scene_stats`` off while a backlog is worked through."""


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

SCENE_BATCH_HANDLERS: dict[type[DomainEvent], BatchApplyFn] = {
    SceneCreated: _created_many,
    SceneRetimed: _retimed_many,
    SceneReclassified: _reclassified_many,
    SceneDetailsEdited: _details_edited_many,
    SceneDeleted: _deleted_many,
    SceneActorAdded: _actor_added_many,
    DialogueAdded: _dialogue_added_many,
    NestedSceneAttached: _nesting_changed_many,
    NestedSceneMoved: _nesting_changed_many,
    NestedSceneDetached: _nesting_changed_many,
    ParallelGroupCreated: _group_created_many,
    SceneAddedToParallelGroup: _member_added_many,
}
"""Batch apply functions of the ``scenes`` projection's bulk event types (see ``projections.runner``)."""

SCENE_COMMUTING: frozenset[type[DomainEvent]] = frozenset(
    {
        # A scene's row and its cast and dialogue rows; a parent scene's row is only read (its
        # foreign key), and a parent is always created before its children, in an earlier
        # round or in the same multi-row insert.
        SceneCreated,
        SceneRetimed,
        SceneReclassified,
        SceneDetailsEdited,
        SceneActorAdded,
        SceneActorRemoved,
        DialogueAdded,
        DialogueRevised,
        DialogueRemoved,
        NestedSceneAttached,
        NestedSceneMoved,
        NestedSceneDetached,
        # A group's row and its own member rows.
        ParallelGroupCreated,
        SceneRemovedFromParallelGroup,
        ParallelGroupDissolved,
    },
)
"""Types of the ``scenes`` projection that touch only their own stream's rows. Not here:
``SceneDeleted`` (clears other scenes' parent and other groups' members) and
``SceneAddedToParallelGroup`` (reads whether the scene exists)."""
