"""Queries over the Scene service's read model (SQLAlchemy Core: every client value is a bound parameter)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    case,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.auth import Identity
from read_models.rls import reading

metadata = MetaData()

scenes = Table(
    "scenes",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("movie_id", PGUUID(as_uuid=True), nullable=False),
    Column("scene_number", Integer),
    Column("start_time_seconds", Integer, nullable=False),
    Column("end_time_seconds", Integer, nullable=False),
    Column("duration_seconds", Integer),
    Column("input_format", JSONB),
    Column("level1_classification", String(10), nullable=False),
    Column("level2_classification", String(20), nullable=False),
    Column("level3_classification", String(50)),
    Column("scene_type", String(20)),
    Column("parent_scene_id", PGUUID(as_uuid=True)),
    Column("tags", ARRAY(Text)),
    Column("description", Text),
    Column("emotional_tags", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("created_by", PGUUID(as_uuid=True)),
    Column("version", Integer, nullable=False),
)

scene_actors = Table(
    "scene_actors",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("scene_id", PGUUID(as_uuid=True), ForeignKey("scenes.id"), nullable=False),
    Column("actor_id", PGUUID(as_uuid=True), nullable=False),
    Column("character_name", String(255)),
    Column("role_type", String(50)),
    Column("screen_time_seconds", Integer),
    Column("created_at", DateTime(timezone=True)),
)

scene_dialogues = Table(
    "scene_dialogues",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("scene_id", PGUUID(as_uuid=True), ForeignKey("scenes.id"), nullable=False),
    Column("actor_id", PGUUID(as_uuid=True), nullable=False),
    Column("character_name", String(255)),
    Column("dialogue_text", Text, nullable=False),
    Column("start_time_offset", Integer),
    Column("duration_seconds", Integer),
    Column("is_memorable_quote", Boolean),
    Column("dialogue_type", String(50)),
    Column("emotional_tone", String(50)),
    Column("language", String(10)),
    Column("subtitle_text", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

parallel_scene_groups = Table(
    "parallel_scene_groups",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("movie_id", PGUUID(as_uuid=True), nullable=False),
    Column("group_name", String(255)),
    Column("start_time_seconds", Integer, nullable=False),
    Column("end_time_seconds", Integer, nullable=False),
    Column("input_format", JSONB),
    Column("relation_type", String(50), nullable=False),
    Column("description", Text),
    Column("narrative_purpose", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
)

parallel_scene_members = Table(
    "parallel_scene_members",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("group_id", PGUUID(as_uuid=True), ForeignKey("parallel_scene_groups.id"), nullable=False),
    Column("scene_id", PGUUID(as_uuid=True), ForeignKey("scenes.id"), nullable=False),
    Column("display_position", String(50)),
    Column("narrative_role", String(50)),
    Column("created_at", DateTime(timezone=True)),
)

movie_scene_stats = Table(
    "movie_scene_stats",
    metadata,
    Column("movie_id", PGUUID(as_uuid=True), primary_key=True),
    Column("total_scenes", Integer, nullable=False),
    Column("total_duration_seconds", Integer, nullable=False),
    Column("action_scenes_count", Integer, nullable=False),
    Column("romance_scenes_count", Integer, nullable=False),
    Column("dialogue_scenes_count", Integer, nullable=False),
    Column("comedy_scenes_count", Integer, nullable=False),
    Column("drama_scenes_count", Integer, nullable=False),
    Column("suspense_scenes_count", Integer, nullable=False),
    Column("other_scenes_count", Integer, nullable=False),
    Column("memorable_quotes_count", Integer, nullable=False),
    Column("total_dialogues_count", Integer, nullable=False),
    Column("unique_actors_count", Integer, nullable=False),
    Column("last_updated", DateTime(timezone=True)),
)

external_movies_cache = Table(
    "external_movies_cache",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("title", String(500), nullable=False),
    Column("is_public", Boolean, nullable=False),
)

external_actors_cache = Table(
    "external_actors_cache",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("name_kana", String(255)),
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SceneActorView(_View):
    """An actor in a scene; ``actor_name`` comes from the actors cache (``None`` if unknown there)."""

    actor_id: UUID
    actor_name: str | None
    character_name: str | None
    role_type: str | None
    screen_time_seconds: int | None
    created_at: datetime


class DialogueView(_View):
    """A dialogue line; ``speaker_name`` comes from the actors cache (``None`` if unknown there)."""

    id: UUID
    scene_id: UUID
    actor_id: UUID
    speaker_name: str | None
    character_name: str | None
    dialogue_text: str
    start_time_offset: int | None
    duration_seconds: int | None
    is_memorable_quote: bool
    dialogue_type: str | None
    emotional_tone: str | None
    language: str | None
    subtitle_text: str | None
    created_at: datetime
    updated_at: datetime


class SceneView(_View):
    """A scene as the read API returns it, with its cast and dialogue lines."""

    id: UUID
    movie_id: UUID
    scene_number: int | None
    start_time_seconds: int
    end_time_seconds: int
    duration_seconds: int
    input_format: dict[str, Any]
    level1_classification: str
    level2_classification: str
    level3_classification: str | None
    scene_type: str
    parent_scene_id: UUID | None
    tags: list[str]
    description: str | None
    emotional_tags: list[str]
    created_at: datetime
    updated_at: datetime
    created_by: UUID | None
    version: int
    actors: list[SceneActorView] = []
    dialogues: list[DialogueView] = []


class MovieSceneStatsView(_View):
    """A movie's scene statistics (the design's movie_scene_stats)."""

    movie_id: UUID
    total_scenes: int
    total_duration_seconds: int
    action_scenes_count: int
    romance_scenes_count: int
    dialogue_scenes_count: int
    comedy_scenes_count: int
    drama_scenes_count: int
    suspense_scenes_count: int
    other_scenes_count: int
    memorable_quotes_count: int
    total_dialogues_count: int
    unique_actors_count: int
    last_updated: datetime | None


class ParallelMemberView(_View):
    """A scene of a parallel group."""

    scene_id: UUID
    display_position: str | None
    narrative_role: str | None
    created_at: datetime


class ParallelGroupView(_View):
    """A parallel scene group with its members (ordered by the member scenes' start)."""

    id: UUID
    movie_id: UUID
    group_name: str | None
    start_time_seconds: int
    end_time_seconds: int
    relation_type: str
    description: str | None
    narrative_purpose: str | None
    created_at: datetime
    version: int
    members: list[ParallelMemberView]


def _mapping(row: Any) -> dict[str, Any]:  # noqa: ANN401  a SQLAlchemy Row
    return dict(row._mapping)  # noqa: SLF001  Row's public mapping view


def _scene_view(
    row: Any,  # noqa: ANN401  a SQLAlchemy Row
    actors: Sequence[SceneActorView],
    dialogues: Sequence[DialogueView],
) -> SceneView:
    data = _mapping(row)
    data["tags"] = data["tags"] or []
    data["emotional_tags"] = data["emotional_tags"] or []
    data["input_format"] = data["input_format"] or {}
    data["scene_type"] = data["scene_type"] or "primary"
    data["actors"] = list(actors)
    data["dialogues"] = list(dialogues)
    return SceneView.model_validate(data)


_ROLE_ORDER = case({"primary": 0, "supporting": 1, "cameo": 2}, value=scene_actors.c.role_type, else_=3)


async def _actors_of(conn: AsyncConnection, scene_ids: Sequence[UUID]) -> dict[UUID, list[SceneActorView]]:
    query = (
        select(
            scene_actors.c.scene_id,
            scene_actors.c.actor_id,
            external_actors_cache.c.name.label("actor_name"),
            scene_actors.c.character_name,
            scene_actors.c.role_type,
            scene_actors.c.screen_time_seconds,
            scene_actors.c.created_at,
        )
        .select_from(
            scene_actors.outerjoin(
                external_actors_cache, external_actors_cache.c.id == scene_actors.c.actor_id
            )
        )
        .where(scene_actors.c.scene_id.in_(scene_ids))
        .order_by(scene_actors.c.scene_id, _ROLE_ORDER, scene_actors.c.created_at, scene_actors.c.actor_id)
    )
    found: dict[UUID, list[SceneActorView]] = defaultdict(list)
    for row in (await conn.execute(query)).all():
        data = _mapping(row)
        found[data.pop("scene_id")].append(SceneActorView.model_validate(data))
    return found


async def _dialogues_of(conn: AsyncConnection, scene_ids: Sequence[UUID]) -> dict[UUID, list[DialogueView]]:
    query = (
        select(scene_dialogues, external_actors_cache.c.name.label("speaker_name"))
        .select_from(
            scene_dialogues.outerjoin(
                external_actors_cache, external_actors_cache.c.id == scene_dialogues.c.actor_id
            )
        )
        .where(scene_dialogues.c.scene_id.in_(scene_ids))
        .order_by(
            scene_dialogues.c.scene_id,
            scene_dialogues.c.start_time_offset.asc().nulls_last(),
            scene_dialogues.c.created_at,
            scene_dialogues.c.id,
        )
    )
    found: dict[UUID, list[DialogueView]] = defaultdict(list)
    for row in (await conn.execute(query)).all():
        data = _mapping(row)
        data["is_memorable_quote"] = bool(data["is_memorable_quote"])
        found[data["scene_id"]].append(DialogueView.model_validate(data))
    return found


class SceneQueries:
    """Reads of the Scene service's read model.

    A read of several tables runs in one REPEATABLE READ transaction: a scene and its cast
    and lines come from the same snapshot, never half of a projection's commit.

    Reads given an ``identity`` (the API's) run under row-level security: viewers and
    contributors see the scenes of public movies, professionals also their own, admins all;
    cast, lines and parallel group members follow their scene, groups and statistics their
    movie (migrations 0006 and 0007). Without one they read as the tables' owner (the system
    itself: CLI, checks, tests).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _scenes_with_details(self, conn: AsyncConnection, rows: Sequence[Any]) -> list[SceneView]:
        ids = [r.id for r in rows]
        actors = await _actors_of(conn, ids) if ids else {}
        dialogues = await _dialogues_of(conn, ids) if ids else {}
        return [_scene_view(r, actors.get(r.id, []), dialogues.get(r.id, [])) for r in rows]

    async def get(self, scene_id: UUID, *, identity: Identity | None = None) -> SceneView | None:
        """Return one scene with its cast and dialogue lines, or ``None`` (also when not visible)."""
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            row = (await conn.execute(select(scenes).where(scenes.c.id == scene_id))).first()
            if row is None:
                return None
            [scene] = await self._scenes_with_details(conn, [row])
        return scene

    async def by_movie(
        self, movie_id: UUID, *, limit: int = 100, offset: int = 0, identity: Identity | None = None
    ) -> list[SceneView]:
        """Return a movie's visible scenes ordered by start time (then end time and id, for stable pages)."""
        query = (
            select(scenes)
            .where(scenes.c.movie_id == movie_id)
            .order_by(scenes.c.start_time_seconds, scenes.c.end_time_seconds, scenes.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            rows = (await conn.execute(query)).all()
            return await self._scenes_with_details(conn, rows)

    async def dialogues(
        self, scene_id: UUID, *, identity: Identity | None = None
    ) -> list[DialogueView] | None:
        """Return a scene's dialogue lines in time order, or ``None`` if there is no such (visible) scene."""
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            exists = (await conn.execute(select(scenes.c.id).where(scenes.c.id == scene_id))).first()
            if exists is None:
                return None
            return (await _dialogues_of(conn, [scene_id])).get(scene_id, [])

    async def movie_stats(
        self, movie_id: UUID, *, identity: Identity | None = None
    ) -> MovieSceneStatsView | None:
        """Return a movie's scene statistics: zeros for a known movie without scenes, else ``None``.

        Under row-level security a private movie's figures (which count every scene of it) are
        ``None`` for everyone but admins, as if the movie had none: zeros would be a lie.
        """
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            row = (
                await conn.execute(select(movie_scene_stats).where(movie_scene_stats.c.movie_id == movie_id))
            ).first()
            if row is not None:
                return MovieSceneStatsView.model_validate(_mapping(row))
            cached = (
                await conn.execute(
                    select(external_movies_cache.c.is_public).where(external_movies_cache.c.id == movie_id)
                )
            ).first()
        if cached is None:
            return None
        if identity is not None and identity.role != "admin" and not cached.is_public:
            return None
        counters = {c.name: 0 for c in movie_scene_stats.c if c.name not in {"movie_id", "last_updated"}}
        return MovieSceneStatsView.model_validate({"movie_id": movie_id, "last_updated": None, **counters})

    async def _groups(
        self,
        where: Any,  # noqa: ANN401  a SQL expression
        identity: Identity | None,
    ) -> list[ParallelGroupView]:
        groups_query = (
            select(parallel_scene_groups)
            .where(where)
            .order_by(
                parallel_scene_groups.c.start_time_seconds,
                parallel_scene_groups.c.end_time_seconds,
                parallel_scene_groups.c.id,
            )
        )
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            groups = (await conn.execute(groups_query)).all()
            ids = [g.id for g in groups]
            members_query = (
                select(
                    parallel_scene_members.c.group_id,
                    parallel_scene_members.c.scene_id,
                    parallel_scene_members.c.display_position,
                    parallel_scene_members.c.narrative_role,
                    parallel_scene_members.c.created_at,
                )
                .select_from(
                    parallel_scene_members.join(scenes, scenes.c.id == parallel_scene_members.c.scene_id)
                )
                .where(parallel_scene_members.c.group_id.in_(ids))
                .order_by(scenes.c.start_time_seconds, scenes.c.end_time_seconds, scenes.c.id)
            )
            members: dict[UUID, list[ParallelMemberView]] = defaultdict(list)
            for row in (await conn.execute(members_query)).all() if ids else []:
                data = _mapping(row)
                members[data.pop("group_id")].append(ParallelMemberView.model_validate(data))
        views = []
        for group in groups:
            data = _mapping(group)
            data.pop("input_format", None)
            views.append(ParallelGroupView.model_validate({**data, "members": members.get(group.id, [])}))
        return views

    async def parallel_groups(
        self, movie_id: UUID, *, identity: Identity | None = None
    ) -> list[ParallelGroupView]:
        """Return a movie's visible parallel groups ordered by start time, each with its visible members."""
        return await self._groups(parallel_scene_groups.c.movie_id == movie_id, identity)

    async def parallel_group(
        self, group_id: UUID, *, identity: Identity | None = None
    ) -> ParallelGroupView | None:
        """Return one parallel group with its visible members, or ``None`` (also when not visible)."""
        found = await self._groups(parallel_scene_groups.c.id == group_id, identity)
        return found[0] if found else None
