"""Queries over the User read model; only ``credentials_by_email`` ever returns the password hash.

Watch lists and interactions read with an ``identity`` run under row-level security: their
owner's only (admins: all); without one they read as the tables' owner (the system itself).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field
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
    select,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.auth import Identity
from read_models.rls import reading

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("email", String(255), unique=True),
    Column("password_hash", String(255)),
    Column("display_name", String(100)),
    Column("avatar_url", String(500)),
    Column("role", String(50), nullable=False),
    Column("is_verified", Boolean, nullable=False),
    Column("language", String(10), nullable=False),
    Column("timezone", String(50), nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
    Column("last_login_at", DateTime(timezone=True)),
    Column("is_active", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("erased_at", DateTime(timezone=True)),
)

user_profiles = Table(
    "user_profiles",
    metadata,
    Column("user_id", PGUUID(as_uuid=True), ForeignKey("users.id"), primary_key=True),
    Column("bio", Text),
    Column("birth_year", Integer),
    Column("country", String(2)),
    Column("favourite_genre_ids", ARRAY(PGUUID(as_uuid=True)), nullable=False),
    Column("updated_at", DateTime(timezone=True)),
)

user_preferences = Table(
    "user_preferences",
    metadata,
    Column("user_id", PGUUID(as_uuid=True), ForeignKey("users.id"), primary_key=True),
    Column("preferred_languages", ARRAY(Text), nullable=False),
    Column("show_spoilers", Boolean, nullable=False),
    Column("preferred_level1_classes", ARRAY(Text), nullable=False),
    Column("email_notifications", Boolean, nullable=False),
    Column("push_notifications", Boolean, nullable=False),
    Column("notify_watch_list_updates", Boolean, nullable=False),
    Column("notify_review_replies", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True)),
)

watch_lists = Table(
    "watch_lists",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("user_id", PGUUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("movie_id", PGUUID(as_uuid=True), nullable=False),
    Column("status", String(20), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("watched_scenes_count", Integer, nullable=False),
    Column("total_scenes_count", Integer),
    Column("last_watched_scene_id", PGUUID(as_uuid=True)),
    Column("notes", Text),
    Column("tags", ARRAY(Text)),
    Column("created_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

user_scene_interactions = Table(
    "user_scene_interactions",
    metadata,
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("user_id", PGUUID(as_uuid=True), ForeignKey("users.id"), nullable=False),
    Column("scene_id", PGUUID(as_uuid=True), nullable=False),
    Column("interaction_type", String(50), nullable=False),
    Column("metadata", JSONB),
    Column("created_at", DateTime(timezone=True)),
)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class ProfileView(_View):
    """A user's profile beyond the display name and avatar."""

    bio: str | None
    birth_year: int | None
    country: str | None
    favourite_genre_ids: list[UUID]
    updated_at: datetime | None


class PreferencesView(_View):
    """A user's viewing and notification preferences."""

    preferred_languages: list[str]
    show_spoilers: bool
    preferred_level1_classes: list[str]
    email_notifications: bool
    push_notifications: bool
    notify_watch_list_updates: bool
    notify_review_replies: bool
    updated_at: datetime | None


class UserView(_View):
    """A user as the read API returns it: never with the password hash.

    An erased user keeps their id, role and dates, and nothing personal: ``email`` and the
    profile are empty, ``is_active`` is false and ``erased_at`` says when.
    """

    id: UUID
    email: str | None
    display_name: str | None
    avatar_url: str | None
    role: str
    is_verified: bool
    language: str
    timezone: str
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None
    is_active: bool
    version: int
    erased_at: datetime | None = None
    profile: ProfileView
    preferences: PreferencesView


class UserCredentials(_View):
    """What a log-in needs: for the log-in endpoint only, never for a response body."""

    id: UUID
    password_hash: str = Field(repr=False)
    role: str
    is_active: bool


class WatchListEntryView(_View):
    """One movie on a user's watch list, with the movie's live scene count."""

    id: UUID
    user_id: UUID
    movie_id: UUID
    status: str
    priority: int
    watched_scenes_count: int
    total_scenes_count: int | None
    last_watched_scene_id: UUID | None
    notes: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime


class InteractionView(_View):
    """One interaction of a user with a scene."""

    id: UUID
    user_id: UUID
    scene_id: UUID
    interaction_type: str
    metadata: dict[str, Any]
    created_at: datetime


_USER_COLUMNS = [c for c in users.c if c.name != "password_hash"]
_PROFILE_COLUMNS = [c.label(f"profile_{c.name}") for c in user_profiles.c if c.name != "user_id"]
_PREFERENCE_COLUMNS = [c.label(f"preferences_{c.name}") for c in user_preferences.c if c.name != "user_id"]


def _nested(data: dict[str, Any], prefix: str) -> dict[str, Any]:
    return {k.removeprefix(prefix): data.pop(k) for k in [k for k in data if k.startswith(prefix)]}


def _user_view(row: Any) -> UserView:  # noqa: ANN401  a SQLAlchemy Row
    data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
    profile = _nested(data, "profile_")
    preferences = _nested(data, "preferences_")
    profile["favourite_genre_ids"] = profile["favourite_genre_ids"] or []
    return UserView.model_validate({**data, "profile": profile, "preferences": preferences})


def _entry_view(row: Any) -> WatchListEntryView:  # noqa: ANN401  a SQLAlchemy Row
    data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
    data["tags"] = data["tags"] or []
    return WatchListEntryView.model_validate(data)


def _interaction_view(row: Any) -> InteractionView:  # noqa: ANN401  a SQLAlchemy Row
    data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
    data["metadata"] = data["metadata"] or {}
    return InteractionView.model_validate(data)


class UserQueries:
    """Reads of the User service's read model."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, user_id: UUID) -> UserView | None:
        """Return one user with their profile and preferences, or ``None``."""
        query = (
            select(*_USER_COLUMNS, *_PROFILE_COLUMNS, *_PREFERENCE_COLUMNS)
            .select_from(
                users.join(user_profiles, user_profiles.c.user_id == users.c.id).join(
                    user_preferences, user_preferences.c.user_id == users.c.id
                )
            )
            .where(users.c.id == user_id)
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return _user_view(row) if row else None

    async def credentials_by_email(self, email: str) -> UserCredentials | None:
        """Return the log-in data of the user with ``email`` (any case, surrounding spaces ignored)."""
        # The same normalisation as the command side's (commands.user.normalise_email).
        query = select(users.c.id, users.c.password_hash, users.c.role, users.c.is_active).where(
            users.c.email == email.strip().lower()
        )
        async with self._engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return UserCredentials.model_validate(dict(row._mapping)) if row else None  # noqa: SLF001  Row's public mapping view

    async def watch_list(
        self,
        user_id: UUID,
        *,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
        identity: Identity | None = None,
    ) -> list[WatchListEntryView]:
        """Return a user's watch list, highest priority (1) first, then oldest first."""
        query = select(watch_lists).where(watch_lists.c.user_id == user_id)
        if status is not None:
            query = query.where(watch_lists.c.status == status)
        query = (
            query.order_by(watch_lists.c.priority, watch_lists.c.created_at, watch_lists.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine, identity) as conn:
            rows = (await conn.execute(query)).all()
        return [_entry_view(r) for r in rows]

    async def watch_list_entry(
        self, user_id: UUID, movie_id: UUID, *, identity: Identity | None = None
    ) -> WatchListEntryView | None:
        """Return the user's entry for ``movie_id``, or ``None``."""
        query = select(watch_lists).where(
            watch_lists.c.user_id == user_id, watch_lists.c.movie_id == movie_id
        )
        async with reading(self._engine, identity) as conn:
            row = (await conn.execute(query)).first()
        return _entry_view(row) if row else None

    async def interactions(
        self,
        user_id: UUID,
        *,
        scene_id: UUID | None = None,
        interaction_type: str | None = None,
        limit: int = 100,
        offset: int = 0,
        identity: Identity | None = None,
    ) -> list[InteractionView]:
        """Return a user's scene interactions, newest first."""
        query = select(user_scene_interactions).where(user_scene_interactions.c.user_id == user_id)
        if scene_id is not None:
            query = query.where(user_scene_interactions.c.scene_id == scene_id)
        if interaction_type is not None:
            query = query.where(user_scene_interactions.c.interaction_type == interaction_type)
        query = (
            query.order_by(user_scene_interactions.c.created_at.desc(), user_scene_interactions.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine, identity) as conn:
            rows = (await conn.execute(query)).all()
        return [_interaction_view(r) for r in rows]
