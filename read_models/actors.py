"""Queries over the Actor service's read model (SQLAlchemy Core: every client value is a bound parameter)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ARRAY,
    Boolean,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncEngine

metadata = MetaData()

actors = Table(
    "actors",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("name_en", String(255)),
    Column("name_kana", String(255)),
    Column("birth_date", Date),
    Column("birth_place", String(255)),
    Column("gender", String(20)),
    Column("height_cm", Integer),
    Column("debut_year", Integer),
    Column("agency", String(255)),
    Column("biography", Text),
    Column("official_website", String(500)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("total_movies_count", Integer),
    Column("total_scenes_count", Integer),
    Column("avg_rating", Numeric(3, 2)),
    Column("version", Integer, nullable=False),
)

filmography = Table(
    "filmography",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("actor_id", PGUUID(as_uuid=True), nullable=False),
    Column("movie_id", PGUUID(as_uuid=True), nullable=False),
    Column("character_name", String(255)),
    Column("role_type", String(50)),
    Column("billing_order", Integer),
    Column("screen_time_minutes", Integer),
    Column("total_scenes", Integer),
    Column("notes", Text),
    Column("award_nominations", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

actor_relationships = Table(
    "actor_relationships",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("actor_id", PGUUID(as_uuid=True), nullable=False),
    Column("related_actor_id", PGUUID(as_uuid=True), nullable=False),
    Column("relation_type", String(30), nullable=False),
    Column("since_year", Integer),
    Column("until_year", Integer),
    Column("notes", Text),
    Column("created_at", DateTime(timezone=True)),
)

character_roles = Table(
    "character_roles",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("actor_id", PGUUID(as_uuid=True), nullable=False),
    Column("movie_id", PGUUID(as_uuid=True), nullable=False),
    Column("character_name", String(255), nullable=False),
    Column("description", Text),
    Column("is_main", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True)),
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ActorView(_View):
    """An actor's profile with their figures, as the read API returns it."""

    id: UUID
    name: str
    name_en: str | None
    name_kana: str | None
    birth_date: date | None
    birth_place: str | None
    gender: str | None
    height_cm: int | None
    debut_year: int | None
    agency: str | None
    biography: str | None
    official_website: str | None
    created_at: datetime
    updated_at: datetime
    total_movies_count: int
    total_scenes_count: int
    avg_rating: float | None
    version: int


class FilmographyView(_View):
    """One movie of an actor's filmography."""

    id: UUID
    actor_id: UUID
    movie_id: UUID
    character_name: str | None
    role_type: str
    billing_order: int | None
    screen_time_minutes: int | None
    total_scenes: int
    notes: str | None
    award_nominations: list[str]
    created_at: datetime
    updated_at: datetime


class RelationshipView(_View):
    """A relationship between two actors; directed types read ``actor_id`` → ``related_actor_id``."""

    id: UUID
    actor_id: UUID
    related_actor_id: UUID
    relation_type: str
    since_year: int | None
    until_year: int | None
    notes: str | None
    created_at: datetime


class CharacterRoleView(_View):
    """A character an actor plays in a movie."""

    id: UUID
    actor_id: UUID
    movie_id: UUID
    character_name: str
    description: str | None
    is_main: bool
    created_at: datetime


def _data(row: Any) -> dict[str, Any]:  # noqa: ANN401  a SQLAlchemy Row
    return dict(row._mapping)  # noqa: SLF001  Row's public mapping view


def _actor(row: Any) -> ActorView:  # noqa: ANN401  a SQLAlchemy Row
    data = _data(row)
    data["total_movies_count"] = data["total_movies_count"] or 0
    data["total_scenes_count"] = data["total_scenes_count"] or 0
    return ActorView.model_validate(data)


def _entry(row: Any) -> FilmographyView:  # noqa: ANN401  a SQLAlchemy Row
    data = _data(row)
    data["award_nominations"] = data["award_nominations"] or []
    data["total_scenes"] = data["total_scenes"] or 0
    data["role_type"] = data["role_type"] or "supporting"
    return FilmographyView.model_validate(data)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class ActorQueries:
    """Reads of the Actor service's read model."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def _all(self, query: Any) -> list[Any]:  # noqa: ANN401  a SQLAlchemy statement and rows
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).all())

    async def get(self, actor_id: UUID) -> ActorView | None:
        """Return one actor with their figures, or ``None``."""
        rows = await self._all(select(actors).where(actors.c.id == actor_id))
        return _actor(rows[0]) if rows else None

    async def exists(self, actor_id: UUID) -> bool:
        """Whether the actor is in the read model."""
        return bool(await self._all(select(actors.c.id).where(actors.c.id == actor_id)))

    async def search(
        self,
        *,
        name: str | None = None,
        kana: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ActorView]:
        """Return actors whose name or English name contains ``name``, and furigana starts with ``kana``.

        Ordered by furigana (the Japanese catalogue order), then name and id for stable pages.
        """
        query = select(actors)
        if name:
            pattern = f"%{_like_escape(name)}%"
            query = query.where(
                or_(
                    actors.c.name.ilike(pattern, escape="\\"),
                    actors.c.name_en.ilike(pattern, escape="\\"),
                ),
            )
        if kana:
            query = query.where(actors.c.name_kana.like(f"{_like_escape(kana)}%", escape="\\"))
        query = (
            query.order_by(actors.c.name_kana.asc().nulls_last(), actors.c.name, actors.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_actor(r) for r in await self._all(query)]

    async def filmography(self, actor_id: UUID) -> list[FilmographyView]:
        """Return an actor's filmography by billing order (unbilled last), then by when it was added."""
        query = (
            select(filmography)
            .where(filmography.c.actor_id == actor_id)
            .order_by(
                filmography.c.billing_order.asc().nulls_last(),
                filmography.c.created_at,
                filmography.c.movie_id,
            )
        )
        return [_entry(r) for r in await self._all(query)]

    async def entry(self, actor_id: UUID, movie_id: UUID) -> FilmographyView | None:
        """Return one filmography entry, or ``None``."""
        rows = await self._all(
            select(filmography).where(filmography.c.actor_id == actor_id, filmography.c.movie_id == movie_id),
        )
        return _entry(rows[0]) if rows else None

    async def relationships(self, actor_id: UUID) -> list[RelationshipView]:
        """Return every relationship the actor is part of, whichever of the two recorded it."""
        query = (
            select(actor_relationships)
            .where(
                or_(
                    actor_relationships.c.actor_id == actor_id,
                    actor_relationships.c.related_actor_id == actor_id,
                ),
            )
            .order_by(actor_relationships.c.relation_type, actor_relationships.c.created_at)
        )
        return [RelationshipView.model_validate(_data(r)) for r in await self._all(query)]

    async def characters(self, actor_id: UUID) -> list[CharacterRoleView]:
        """Return the characters an actor plays, by movie then main characters first."""
        query = (
            select(character_roles)
            .where(character_roles.c.actor_id == actor_id)
            .order_by(
                character_roles.c.movie_id,
                character_roles.c.is_main.desc(),
                character_roles.c.character_name,
            )
        )
        return [CharacterRoleView.model_validate(_data(r)) for r in await self._all(query)]

    async def played_by(
        self, character_name: str, *, limit: int = 100, offset: int = 0
    ) -> list[CharacterRoleView]:
        """Return every role of a character (a franchise role across movies and actors)."""
        query = (
            select(character_roles)
            .where(character_roles.c.character_name == character_name)
            .order_by(character_roles.c.created_at, character_roles.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [CharacterRoleView.model_validate(_data(r)) for r in await self._all(query)]
