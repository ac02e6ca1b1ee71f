"""The User service's read model: users, profiles, preferences, watch lists and scene interactions.

Consumes ``users.events`` and, for ``watch_lists.total_scenes_count``, the scene lifecycle on
``scenes.events``. The count is read for the movie at hand from ``user_movie_scene_counts``,
which the statement triggers of ``user_movie_scene_index`` keep (user_service 0004), so it
comes out right whichever of a scene and a watch-list entry arrives first.

Erasure: ``UserErased`` clears every personal column and deletes the user's watch list and
interactions. An event read after its user was erased carries the erased values of its personal
fields (see :mod:`infra.pii`): a sign-up then makes an inactive row without e-mail address, so a
rebuild ends exactly where the live projection did.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from events.base import DomainEvent
from events.scene import SceneCreated, SceneDeleted
from events.user import (
    ERASED_EMAIL,
    MovieAddedToWatchList,
    MovieRemovedFromWatchList,
    SceneInteractionRecorded,
    SceneInteractionWithdrawn,
    UserActivityCleared,
    UserDeactivated,
    UserErased,
    UserEvent,
    UserLoggedIn,
    UserPasswordChanged,
    UserPreferencesSet,
    UserProfileUpdated,
    UserRegistered,
    UserRoleChanged,
    UserVerified,
    WatchListEntryUpdated,
)
from projections.runner import BatchApplyFn

# Taken by every transaction that reads or writes scene counts. A watch-list entry and a scene
# of its movie projected at the same time (two projector instances, different partitions) would
# each miss the other's uncommitted row; with the lock the second one sees the first. A single
# key, not one per movie, so that batches touching several movies cannot deadlock.
_SCENE_COUNT_LOCK = 0x05E7_5CE7_C0DE

_COUNT = "coalesce((SELECT c.scenes FROM user_movie_scene_counts c WHERE c.movie_id = $1), 0)"


async def _lock_scene_counts(conn: asyncpg.Connection) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCENE_COUNT_LOCK)


async def _recount(conn: asyncpg.Connection, movie_id: UUID) -> None:
    await conn.execute(
        f"UPDATE watch_lists SET total_scenes_count = {_COUNT} "
        f"WHERE movie_id = $1 AND total_scenes_count IS DISTINCT FROM {_COUNT}",
        movie_id,
    )


async def _touch(conn: asyncpg.Connection, e: UserEvent, *, updated: bool = True) -> None:
    """Record the stream version on the user row (and its change time when it changed)."""
    if updated:
        await conn.execute(
            "UPDATE users SET version = $2, updated_at = $3 WHERE id = $1",
            e.stream_id,
            e.stream_version,
            e.occurred_at,
        )
    else:
        await conn.execute("UPDATE users SET version = $2 WHERE id = $1", e.stream_id, e.stream_version)


async def _registered(conn: asyncpg.Connection, e: UserRegistered) -> None:
    # Read after the user's erasure (a rebuild, a lagging projector): no personal data, inactive.
    erased = e.email == ERASED_EMAIL
    await conn.execute(
        "INSERT INTO users (id, email, password_hash, display_name, avatar_url, role, is_verified, "
        "language, timezone, created_at, updated_at, is_active, version) "
        "VALUES ($1, $2, $3, $4, $5, $6, FALSE, $7, $8, $9, $9, NOT $11, $10)",
        e.stream_id,
        None if erased else e.email,
        None if erased else e.password_hash,
        None if erased else e.display_name,
        None if erased else e.avatar_url,
        e.role,
        e.language,
        e.timezone,
        e.occurred_at,
        e.stream_version,
        erased,
    )
    await conn.execute(
        "INSERT INTO user_profiles (user_id, updated_at) VALUES ($1, $2)", e.stream_id, e.occurred_at
    )
    await conn.execute(
        "INSERT INTO user_preferences (user_id, updated_at) VALUES ($1, $2)", e.stream_id, e.occurred_at
    )


async def _password_changed(conn: asyncpg.Connection, e: UserPasswordChanged) -> None:
    await conn.execute("UPDATE users SET password_hash = $2 WHERE id = $1", e.stream_id, e.password_hash)
    await _touch(conn, e)


async def _role_changed(conn: asyncpg.Connection, e: UserRoleChanged) -> None:
    await conn.execute("UPDATE users SET role = $2 WHERE id = $1", e.stream_id, e.role)
    await _touch(conn, e)


async def _verified(conn: asyncpg.Connection, e: UserVerified) -> None:
    await conn.execute("UPDATE users SET is_verified = TRUE WHERE id = $1", e.stream_id)
    await _touch(conn, e)


async def _logged_in(conn: asyncpg.Connection, e: UserLoggedIn) -> None:
    await conn.execute("UPDATE users SET last_login_at = $2 WHERE id = $1", e.stream_id, e.occurred_at)
    # A log-in is activity, not a change of the account.
    await _touch(conn, e, updated=False)


async def _deactivated(conn: asyncpg.Connection, e: UserDeactivated) -> None:
    await conn.execute("UPDATE users SET is_active = FALSE WHERE id = $1", e.stream_id)
    await _touch(conn, e)


async def _activity_cleared(conn: asyncpg.Connection, e: UserActivityCleared) -> None:
    await conn.execute("DELETE FROM watch_lists WHERE user_id = $1", e.stream_id)
    await conn.execute("DELETE FROM user_scene_interactions WHERE user_id = $1", e.stream_id)
    await _touch(conn, e, updated=False)


async def _erased(conn: asyncpg.Connection, e: UserErased) -> None:
    await conn.execute(
        "UPDATE users SET email = NULL, password_hash = NULL, display_name = NULL, avatar_url = NULL, "
        "is_active = FALSE, erased_at = $2 WHERE id = $1",
        e.stream_id,
        e.occurred_at,
    )
    await conn.execute(
        "UPDATE user_profiles SET bio = NULL, birth_year = NULL, country = NULL, "
        "favourite_genre_ids = '{}', updated_at = $2 WHERE user_id = $1",
        e.stream_id,
        e.occurred_at,
    )
    await conn.execute("DELETE FROM watch_lists WHERE user_id = $1", e.stream_id)
    await conn.execute("DELETE FROM user_scene_interactions WHERE user_id = $1", e.stream_id)
    await _touch(conn, e)


async def _profile_updated(conn: asyncpg.Connection, e: UserProfileUpdated) -> None:
    await conn.execute(
        "UPDATE users SET display_name = $2, avatar_url = $3 WHERE id = $1",
        e.stream_id,
        e.display_name,
        e.avatar_url,
    )
    await conn.execute(
        "UPDATE user_profiles SET bio = $2, birth_year = $3, country = $4, favourite_genre_ids = $5, "
        "updated_at = $6 WHERE user_id = $1",
        e.stream_id,
        e.bio,
        e.birth_year,
        e.country,
        list(e.favourite_genre_ids),
        e.occurred_at,
    )
    await _touch(conn, e)


async def _preferences_set(conn: asyncpg.Connection, e: UserPreferencesSet) -> None:
    await conn.execute(
        "UPDATE users SET language = $2, timezone = $3 WHERE id = $1", e.stream_id, e.language, e.timezone
    )
    await conn.execute(
        "UPDATE user_preferences SET preferred_languages = $2, show_spoilers = $3, "
        "preferred_level1_classes = $4, email_notifications = $5, push_notifications = $6, "
        "notify_watch_list_updates = $7, notify_review_replies = $8, updated_at = $9 WHERE user_id = $1",
        e.stream_id,
        list(e.preferred_languages),
        e.show_spoilers,
        list(e.preferred_level1_classes),
        e.email_notifications,
        e.push_notifications,
        e.notify_watch_list_updates,
        e.notify_review_replies,
        e.occurred_at,
    )
    await _touch(conn, e)


async def _added_to_watch_list(conn: asyncpg.Connection, e: MovieAddedToWatchList) -> None:
    await _lock_scene_counts(conn)
    await conn.execute(
        "INSERT INTO watch_lists (id, user_id, movie_id, status, priority, watched_scenes_count, "
        "total_scenes_count, notes, tags, created_at, updated_at) "
        f"VALUES ($2, $3, $1, $4, $5, 0, {_COUNT}, $6, $7, $8, $8)",
        e.movie_id,
        e.entry_id,
        e.stream_id,
        e.status,
        e.priority,
        e.notes,
        list(e.tags),
        e.occurred_at,
    )
    await _touch(conn, e, updated=False)


async def _watch_list_entry_updated(conn: asyncpg.Connection, e: WatchListEntryUpdated) -> None:
    await conn.execute(
        "UPDATE watch_lists SET status = $3, priority = $4, watched_scenes_count = $5, "
        "last_watched_scene_id = $6, notes = $7, tags = $8, updated_at = $9 "
        "WHERE user_id = $1 AND movie_id = $2",
        e.stream_id,
        e.movie_id,
        e.status,
        e.priority,
        e.watched_scenes_count,
        e.last_watched_scene_id,
        e.notes,
        list(e.tags),
        e.occurred_at,
    )
    await _touch(conn, e, updated=False)


async def _removed_from_watch_list(conn: asyncpg.Connection, e: MovieRemovedFromWatchList) -> None:
    await conn.execute(
        "DELETE FROM watch_lists WHERE user_id = $1 AND movie_id = $2", e.stream_id, e.movie_id
    )
    await _touch(conn, e, updated=False)


async def _interaction_recorded(conn: asyncpg.Connection, e: SceneInteractionRecorded) -> None:
    await conn.execute(
        "INSERT INTO user_scene_interactions (id, user_id, scene_id, interaction_type, metadata, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        e.interaction_id,
        e.stream_id,
        e.scene_id,
        e.interaction_type,
        e.metadata,
        e.occurred_at,
    )
    await _touch(conn, e, updated=False)


async def _interaction_withdrawn(conn: asyncpg.Connection, e: SceneInteractionWithdrawn) -> None:
    await conn.execute(
        "DELETE FROM user_scene_interactions WHERE user_id = $1 AND scene_id = $2 AND interaction_type = $3",
        e.stream_id,
        e.scene_id,
        e.interaction_type,
    )
    await _touch(conn, e, updated=False)


async def _scene_created(conn: asyncpg.Connection, e: SceneCreated) -> None:
    await _lock_scene_counts(conn)
    await conn.execute(
        "INSERT INTO user_movie_scene_index (scene_id, movie_id) VALUES ($1, $2) "
        "ON CONFLICT (scene_id) DO NOTHING",
        e.stream_id,
        e.movie_id,
    )
    await _recount(conn, e.movie_id)


async def _scene_deleted(conn: asyncpg.Connection, e: SceneDeleted) -> None:
    await _lock_scene_counts(conn)
    await conn.execute("DELETE FROM user_movie_scene_index WHERE scene_id = $1", e.stream_id)
    await _recount(conn, e.movie_id)


ApplyFn = Callable[[asyncpg.Connection, Any], Awaitable[None]]

USER_HANDLERS: dict[type[DomainEvent], ApplyFn] = {
    UserRegistered: _registered,
    UserPasswordChanged: _password_changed,
    UserRoleChanged: _role_changed,
    UserVerified: _verified,
    UserLoggedIn: _logged_in,
    UserDeactivated: _deactivated,
    UserProfileUpdated: _profile_updated,
    UserPreferencesSet: _preferences_set,
    MovieAddedToWatchList: _added_to_watch_list,
    WatchListEntryUpdated: _watch_list_entry_updated,
    MovieRemovedFromWatchList: _removed_from_watch_list,
    SceneInteractionRecorded: _interaction_recorded,
    SceneInteractionWithdrawn: _interaction_withdrawn,
    UserActivityCleared: _activity_cleared,
    UserErased: _erased,
    SceneCreated: _scene_created,
    SceneDeleted: _scene_deleted,
}
"""Apply function of every event the ``users`` projection handles."""


async def _recount_many(conn: asyncpg.Connection, movie_ids: Sequence[UUID]) -> None:
    """:func:`_recount` of several movies in one statement (a recount depends only on the counts)."""
    await conn.execute(
        "UPDATE watch_lists w SET total_scenes_count = c.n "
        "FROM (SELECT m, coalesce((SELECT k.scenes FROM user_movie_scene_counts k "
        "      WHERE k.movie_id = m), 0) AS n FROM unnest($1::uuid[]) AS m) c "
        "WHERE w.movie_id = c.m AND w.total_scenes_count IS DISTINCT FROM c.n",
        list(movie_ids),
    )


async def _scene_created_many(conn: asyncpg.Connection, events: Sequence[SceneCreated]) -> None:
    await _lock_scene_counts(conn)
    # Rows go in in event order, so for a scene named twice the first one wins, as one by one.
    await conn.execute(
        "INSERT INTO user_movie_scene_index (scene_id, movie_id) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[]) ON CONFLICT (scene_id) DO NOTHING",
        [e.stream_id for e in events],
        [e.movie_id for e in events],
    )
    await _recount_many(conn, list(dict.fromkeys(e.movie_id for e in events)))


async def _scene_deleted_many(conn: asyncpg.Connection, events: Sequence[SceneDeleted]) -> None:
    await _lock_scene_counts(conn)
    await conn.execute(
        "DELETE FROM user_movie_scene_index WHERE scene_id = ANY($1::uuid[])", [e.stream_id for e in events]
    )
    await _recount_many(conn, list(dict.fromkeys(e.movie_id for e in events)))


USER_BATCH_HANDLERS: Mapping[type[DomainEvent], BatchApplyFn] = {
    SceneCreated: _scene_created_many,
    SceneDeleted: _scene_deleted_many,
}
"""Batch apply functions for ``Projection(name="users", ..., batch_handlers=USER_BATCH_HANDLERS)``:
the same read model as their one-by-one functions applied in order (a recount is taken from
the index after the group's rows are written, as after the last event one by one)."""

USER_COMMUTING: frozenset[type[DomainEvent]] = frozenset({SceneCreated, SceneDeleted})
"""Types of this module whose events of different scenes commute: each writes its scene's index
row and recounts from the index (``commuting=USER_COMMUTING``)."""
