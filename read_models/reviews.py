"""Queries over the Review service's read model (SQLAlchemy Core: every client value is a bound parameter).

A private review is seen only by its author: reads given an ``identity`` (the API's) run under
row-level security, which enforces that in the database; reads without one (the system's own)
filter by ``viewer`` in the query. A recommendation addressed to one user is seen only by that
user and its sender (filtered in the query).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    false,
    func,
    or_,
    select,
    true,
)
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.auth import Identity
from read_models.rls import reading

metadata = MetaData()

reviews = Table(
    "reviews",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("user_id", PGUUID(as_uuid=True)),  # NULL once anonymized
    Column("movie_id", PGUUID(as_uuid=True)),
    Column("scene_id", PGUUID(as_uuid=True)),
    Column("title", String(255)),
    Column("content", Text, nullable=False),
    Column("rating", Integer, nullable=False),
    Column("review_type", String(20)),
    Column("is_public", Boolean),
    Column("is_spoiler", Boolean),
    Column("likes_count", Integer),
    Column("helpful_count", Integer),
    Column("report_count", Integer),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
)

review_likes = Table(
    "review_likes",
    metadata,
    Column("review_id", PGUUID(as_uuid=True), primary_key=True),
    Column("user_id", PGUUID(as_uuid=True), primary_key=True),
    Column("kind", String(20), primary_key=True),
    Column("created_at", DateTime(timezone=True)),
)

ratings = Table(
    "ratings",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("user_id", PGUUID(as_uuid=True), nullable=False),
    Column("movie_id", PGUUID(as_uuid=True)),
    Column("scene_id", PGUUID(as_uuid=True)),
    Column("rating", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
)

recommendations = Table(
    "recommendations",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("recommender_id", PGUUID(as_uuid=True), nullable=False),
    Column("recipient_id", PGUUID(as_uuid=True)),
    Column("movie_id", PGUUID(as_uuid=True)),
    Column("scene_id", PGUUID(as_uuid=True)),
    Column("reason", Text, nullable=False),
    Column("score", Integer, nullable=False),
    Column("dismissed_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("version", Integer, nullable=False),
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ReviewView(_View):
    """A review as the read API returns it; ``user_id`` is ``None`` once anonymized (author erased)."""

    id: UUID
    user_id: UUID | None
    movie_id: UUID | None
    scene_id: UUID | None
    title: str | None
    content: str
    rating: int
    review_type: str
    is_public: bool
    is_spoiler: bool
    likes_count: int
    helpful_count: int
    report_count: int
    created_at: datetime
    updated_at: datetime
    version: int


class RatingView(_View):
    """A star rating as the read API returns it."""

    id: UUID
    user_id: UUID
    movie_id: UUID | None
    scene_id: UUID | None
    rating: int
    created_at: datetime
    updated_at: datetime
    version: int


class RatingSummary(_View):
    """How a movie or a scene is rated: the number of ratings and their mean (``None`` if none)."""

    movie_id: UUID | None
    scene_id: UUID | None
    count: int
    average: float | None


class RecommendationView(_View):
    """A recommendation as the read API returns it (``recipient_id`` ``None``: to everyone)."""

    id: UUID
    recommender_id: UUID
    recipient_id: UUID | None
    movie_id: UUID | None
    scene_id: UUID | None
    reason: str
    score: int
    dismissed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


def _row(row: Any) -> dict[str, Any]:  # noqa: ANN401  a SQLAlchemy Row
    return dict(row._mapping)  # noqa: SLF001  Row's public mapping view


def _review(row: Any) -> ReviewView:  # noqa: ANN401  a SQLAlchemy Row
    data = _row(row)
    # The design's columns have defaults but no NOT NULL; the projection always fills them.
    data["review_type"] = data["review_type"] or "general"
    data["is_public"] = data["is_public"] is not False
    data["is_spoiler"] = bool(data["is_spoiler"])
    for counter in ("likes_count", "helpful_count", "report_count"):
        data[counter] = data[counter] or 0
    return ReviewView.model_validate(data)


def review_visible_to(viewer: UUID | None) -> ColumnElement[bool]:
    """Filter: public reviews, and the viewer's own private ones."""
    public = reviews.c.is_public.is_(True)
    return public if viewer is None else or_(public, reviews.c.user_id == viewer)


def recommendation_visible_to(viewer: UUID | None) -> ColumnElement[bool]:
    """Filter: recommendations to everyone, and those the viewer sent or received."""
    public = recommendations.c.recipient_id.is_(None)
    if viewer is None:
        return public
    return or_(public, recommendations.c.recipient_id == viewer, recommendations.c.recommender_id == viewer)


def _visible(viewer: UUID | None, identity: Identity | None) -> ColumnElement[bool]:
    # Under an identity, row-level security filters; the query adds nothing that could mask it.
    return true() if identity is not None else review_visible_to(viewer)


class ReviewQueries:
    """Reads of reviews: as ``identity`` under row-level security, else filtered for ``viewer``.

    ``viewer`` is the user a system read acts for (``None``: an anonymous reader); it is
    ignored when ``identity`` is given.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(
        self, review_id: UUID, *, viewer: UUID | None = None, identity: Identity | None = None
    ) -> ReviewView | None:
        """Return one review if the viewer may see it, else ``None``."""
        query = select(reviews).where(reviews.c.id == review_id, _visible(viewer, identity))
        async with reading(self._engine, identity) as conn:
            row = (await conn.execute(query)).first()
        return _review(row) if row else None

    async def _page(
        self,
        where: ColumnElement[bool],
        viewer: UUID | None,
        identity: Identity | None,
        limit: int,
        offset: int,
    ) -> list[ReviewView]:
        query = (
            select(reviews)
            .where(where, _visible(viewer, identity))
            .order_by(reviews.c.created_at.desc(), reviews.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine, identity) as conn:
            rows = (await conn.execute(query)).all()
        return [_review(r) for r in rows]

    async def by_movie(
        self,
        movie_id: UUID,
        *,
        viewer: UUID | None = None,
        identity: Identity | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ReviewView]:
        """Return a movie's reviews the viewer may see, newest first."""
        return await self._page(reviews.c.movie_id == movie_id, viewer, identity, limit, offset)

    async def by_scene(
        self,
        scene_id: UUID,
        *,
        viewer: UUID | None = None,
        identity: Identity | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[ReviewView]:
        """Return a scene's reviews the viewer may see, newest first."""
        return await self._page(reviews.c.scene_id == scene_id, viewer, identity, limit, offset)

    async def reactions_of(self, review_id: UUID, user_id: UUID) -> list[str]:
        """Return the kinds of reaction ``user_id`` gave a review, in name order."""
        query = (
            select(review_likes.c.kind)
            .where(review_likes.c.review_id == review_id, review_likes.c.user_id == user_id)
            .order_by(review_likes.c.kind)
        )
        async with self._engine.connect() as conn:
            return list((await conn.execute(query)).scalars())


class RatingQueries:
    """Reads of star ratings (ratings are public)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, rating_id: UUID) -> RatingView | None:
        """Return one rating, or ``None``."""
        async with self._engine.connect() as conn:
            row = (await conn.execute(select(ratings).where(ratings.c.id == rating_id))).first()
        return RatingView.model_validate(_row(row)) if row else None

    async def find(
        self,
        *,
        user_id: UUID | None = None,
        movie_id: UUID | None = None,
        scene_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RatingView]:
        """Return the ratings matching every filter given, newest first."""
        conditions = [
            column == value
            for column, value in (
                (ratings.c.user_id, user_id),
                (ratings.c.movie_id, movie_id),
                (ratings.c.scene_id, scene_id),
            )
            if value is not None
        ]
        query = (
            select(ratings)
            .where(*conditions)
            .order_by(ratings.c.created_at.desc(), ratings.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [RatingView.model_validate(_row(r)) for r in rows]

    async def summary(self, *, movie_id: UUID | None = None, scene_id: UUID | None = None) -> RatingSummary:
        """Return the count and mean of a movie's or a scene's ratings."""
        if movie_id is not None:
            where = ratings.c.movie_id == movie_id
        elif scene_id is not None:
            where = ratings.c.scene_id == scene_id
        else:
            where = false()
        query = select(func.count(), func.avg(ratings.c.rating)).where(where)
        async with self._engine.connect() as conn:
            count, average = (await conn.execute(query)).one()
        return RatingSummary(
            movie_id=movie_id,
            scene_id=scene_id,
            count=count,
            average=float(average) if average is not None else None,
        )


class RecommendationQueries:
    """Reads of recommendations; ``viewer`` is the acting user (``None`` for an anonymous reader)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, recommendation_id: UUID, *, viewer: UUID | None = None) -> RecommendationView | None:
        """Return one recommendation if the viewer may see it, else ``None``."""
        query = select(recommendations).where(
            recommendations.c.id == recommendation_id, recommendation_visible_to(viewer)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return RecommendationView.model_validate(_row(row)) if row else None

    async def inbox(
        self,
        *,
        viewer: UUID | None = None,
        include_dismissed: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RecommendationView]:
        """Return what is recommended to the viewer, newest first.

        That is the recommendations addressed to the viewer (not dismissed ones, unless asked)
        and those to everyone made by someone else; an anonymous reader gets the latter only.
        """
        rec = recommendations.c
        if viewer is None:
            where: ColumnElement[bool] = rec.recipient_id.is_(None)
        else:
            addressed = rec.recipient_id == viewer
            if not include_dismissed:
                addressed = and_(addressed, rec.dismissed_at.is_(None))
            where = or_(addressed, and_(rec.recipient_id.is_(None), rec.recommender_id != viewer))
        query = (
            select(recommendations)
            .where(where)
            .order_by(rec.created_at.desc(), rec.id.desc())
            .limit(limit)
            .offset(offset)
        )
        async with self._engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [RecommendationView.model_validate(_row(r)) for r in rows]
