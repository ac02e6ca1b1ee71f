"""Queries over the ``scenes`` read model (SQLAlchemy Core: every client value is a bound parameter)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncEngine

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


class SceneView(BaseModel):
    """A scene as the read API returns it."""

    model_config = ConfigDict(frozen=True)

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


def _view(row: Any) -> SceneView:  # noqa: ANN401  a SQLAlchemy Row
    data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
    data["tags"] = data["tags"] or []
    data["emotional_tags"] = data["emotional_tags"] or []
    data["input_format"] = data["input_format"] or {}
    data["scene_type"] = data["scene_type"] or "primary"
    return SceneView.model_validate(data)


class SceneQueries:
    """Reads of the Scene service's read model."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, scene_id: UUID) -> SceneView | None:
        """Return one scene, or ``None``."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(scenes).where(scenes.c.id == scene_id))).first()
        return _view(row) if row else None

    async def by_movie(self, movie_id: UUID, *, limit: int = 100, offset: int = 0) -> list[SceneView]:
        """Return a movie's scenes ordered by start time (then end time and id, for stable pages)."""
        query = (
            select(scenes)
            .where(scenes.c.movie_id == movie_id)
            .order_by(scenes.c.start_time_seconds, scenes.c.end_time_seconds, scenes.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [_view(r) for r in rows]
