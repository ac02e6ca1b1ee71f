"""Queries over the Movie service's read model (SQLAlchemy Core: every client value is a bound parameter)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ARRAY,
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
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
from sqlalchemy.sql.elements import ColumnElement

metadata = MetaData()

movies = Table(
    "movies",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("title", String(500), nullable=False),
    Column("original_title", String(500)),
    Column("release_year", Integer),
    Column("release_date", Date),
    Column("duration_minutes", Integer),
    Column("country", String(100)),
    Column("language", String(10), nullable=False),
    Column("director", String(255)),
    Column("screenplay", String(255)),
    Column("producer", String(255)),
    Column("budget_jpy", BigInteger),
    Column("box_office_jpy", BigInteger),
    Column("distributor", String(255)),
    Column("is_public", Boolean, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("total_scenes_count", Integer, nullable=False),
    Column("avg_rating", Numeric(3, 2, asdecimal=False)),
    Column("ratings_count", Integer, nullable=False),
    Column("version", Integer, nullable=False),
)

genres = Table(
    "genres",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("name_en", String(100)),
    Column("description", Text),
    Column("color_code", String(7)),
)

movie_genres = Table(
    "movie_genres",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("movie_id", PGUUID(as_uuid=True), ForeignKey("movies.id"), nullable=False),
    Column("genre_id", PGUUID(as_uuid=True), ForeignKey("genres.id"), nullable=False),
    Column("is_primary", Boolean, nullable=False),
)

production_info = Table(
    "production_info",
    metadata,
    Column("movie_id", PGUUID(as_uuid=True), ForeignKey("movies.id"), primary_key=True),
    Column("production_companies", ARRAY(Text), nullable=False),
    Column("studio", String(255)),
    Column("filming_locations", ARRAY(Text), nullable=False),
    Column("filming_start_date", Date),
    Column("filming_end_date", Date),
    Column("film_format", String(50)),
    Column("aspect_ratio", String(10)),
    Column("original_language", String(10)),
    Column("notes", Text),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

MovieSort = Literal["title", "release_year", "rating"]
"""Orders of a movie list: by title, newest first, or best rated first."""


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class GenreView(_View):
    """A genre of the catalogue."""

    id: UUID
    name: str
    name_en: str | None
    description: str | None
    color_code: str | None


class MovieGenreView(GenreView):
    """A genre of one movie, with whether it is the movie's primary genre."""

    is_primary: bool


class ProductionInfoView(_View):
    """How a movie was made."""

    production_companies: list[str]
    studio: str | None
    filming_locations: list[str]
    filming_start_date: date | None
    filming_end_date: date | None
    film_format: str | None
    aspect_ratio: str | None
    original_language: str | None
    notes: str | None
    created_at: datetime
    updated_at: datetime


class MovieView(_View):
    """A movie as lists return it, with its statistics."""

    id: UUID
    title: str
    original_title: str | None
    release_year: int | None
    release_date: date | None
    duration_minutes: int | None
    country: str | None
    language: str
    director: str | None
    screenplay: str | None
    producer: str | None
    budget_jpy: int | None
    box_office_jpy: int | None
    distributor: str | None
    is_public: bool
    created_at: datetime
    updated_at: datetime
    total_scenes_count: int
    avg_rating: float | None
    ratings_count: int
    version: int


class MovieDetailView(MovieView):
    """One movie with its genres (primary first) and production information."""

    genres: list[MovieGenreView]
    production: ProductionInfoView | None


def _mapping(row: Any) -> dict[str, Any]:  # noqa: ANN401  a SQLAlchemy Row
    return dict(row._mapping)  # noqa: SLF001  Row's public mapping view


def _contains(text: str) -> str:
    """Return a LIKE pattern matching ``text`` anywhere, its wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_ORDER: dict[MovieSort, tuple[ColumnElement[Any], ...]] = {
    "title": (movies.c.title.asc(), movies.c.id.asc()),
    "release_year": (movies.c.release_year.desc().nulls_last(), movies.c.title.asc(), movies.c.id.asc()),
    "rating": (
        movies.c.avg_rating.desc().nulls_last(),
        movies.c.ratings_count.desc(),
        movies.c.title.asc(),
        movies.c.id.asc(),
    ),
}


class MovieQueries:
    """Reads of the Movie service's read model."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, movie_id: UUID) -> MovieDetailView | None:
        """Return one movie with its genres and production information, or ``None``."""
        genre_query = (
            select(genres, movie_genres.c.is_primary)
            .join(movie_genres, movie_genres.c.genre_id == genres.c.id)
            .where(movie_genres.c.movie_id == movie_id)
            .order_by(movie_genres.c.is_primary.desc(), genres.c.name_en, genres.c.id)
        )
        production_query = select(production_info).where(production_info.c.movie_id == movie_id)
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(movies).where(movies.c.id == movie_id))).first()
            if row is None:
                return None
            genre_rows = (await conn.execute(genre_query)).all()
            production = (await conn.execute(production_query)).first()
        return MovieDetailView.model_validate(
            {
                **_mapping(row),
                "genres": [_mapping(g) for g in genre_rows],
                "production": _mapping(production) if production else None,
            },
        )

    async def search(
        self,
        *,
        title: str | None = None,
        year: int | None = None,
        director: str | None = None,
        sort: MovieSort = "title",
        limit: int = 100,
        offset: int = 0,
    ) -> list[MovieView]:
        """Return movies whose title (or original title) and director contain the given text.

        Text matches ignore case; ``year`` is the release year.
        """
        query = select(movies)
        if title:
            pattern = _contains(title)
            query = query.where(
                or_(
                    movies.c.title.ilike(pattern, escape="\\"),
                    movies.c.original_title.ilike(pattern, escape="\\"),
                ),
            )
        if year is not None:
            query = query.where(movies.c.release_year == year)
        if director:
            query = query.where(movies.c.director.ilike(_contains(director), escape="\\"))
        query = query.order_by(*_ORDER[sort]).limit(limit).offset(offset)
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [MovieView.model_validate(_mapping(r)) for r in rows]

    async def genres(self) -> list[GenreView]:
        """Return the genre catalogue ordered by English name."""
        async with self._engine.connect() as conn:
            rows = (await conn.execute(select(genres).order_by(genres.c.name_en, genres.c.id))).all()
        return [GenreView.model_validate(_mapping(r)) for r in rows]
