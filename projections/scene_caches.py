"""The Scene service's caches of other services' data, fed by ``movies.events`` and ``actors.events``.

A registration inserts a row at version 1; each revision bumps ``version`` and sets
``cached_at`` to the event's time and ``expires_at`` an hour later (the design's
``update_cache_timestamp`` trigger, done here so a replay stamps event times, not replay
times); a removal deletes the row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import asyncpg

from events.actor import ActorProfileRevised, ActorRegistered, ActorRemoved
from events.base import DomainEvent
from events.movie import MovieDetailsRevised, MovieRegistered, MovieRemoved
from projections.runner import ApplyFn, BatchApplyFn

# $8: whether this is a revision (bump the version) or the registration (version 1).
_UPSERT_MOVIE = """
INSERT INTO external_movies_cache (
    id, title, release_year, duration_minutes, director, is_public, cached_at, expires_at, version
) VALUES ($1, $2, $3, $4, $5, $6, $7::timestamptz, $7::timestamptz + INTERVAL '1 hour', 1)
ON CONFLICT (id) DO UPDATE SET
    title = EXCLUDED.title, release_year = EXCLUDED.release_year,
    duration_minutes = EXCLUDED.duration_minutes, director = EXCLUDED.director,
    is_public = EXCLUDED.is_public, cached_at = EXCLUDED.cached_at, expires_at = EXCLUDED.expires_at,
    version = CASE WHEN $8::boolean THEN external_movies_cache.version + 1 ELSE 1 END
"""

_UPSERT_ACTOR = """
INSERT INTO external_actors_cache (id, name, name_kana, cached_at, expires_at, version)
VALUES ($1, $2, $3, $4::timestamptz, $4::timestamptz + INTERVAL '1 hour', 1)
ON CONFLICT (id) DO UPDATE SET
    name = EXCLUDED.name, name_kana = EXCLUDED.name_kana,
    cached_at = EXCLUDED.cached_at, expires_at = EXCLUDED.expires_at,
    version = CASE WHEN $5::boolean THEN external_actors_cache.version + 1 ELSE 1 END
"""


def _movie_args(e: MovieRegistered | MovieDetailsRevised) -> tuple[Any, ...]:
    return (
        e.stream_id,
        e.title,
        e.release_year,
        e.duration_minutes,
        e.director,
        e.is_public,
        e.occurred_at,
        isinstance(e, MovieDetailsRevised),
    )


async def _movie(conn: asyncpg.Connection, e: MovieRegistered | MovieDetailsRevised) -> None:
    await conn.execute(_UPSERT_MOVIE, *_movie_args(e))


async def _movie_many(
    conn: asyncpg.Connection, events: Sequence[MovieRegistered | MovieDetailsRevised]
) -> None:
    # executemany runs the statements in order in one round trip: the same as one by one.
    await conn.executemany(_UPSERT_MOVIE, [_movie_args(e) for e in events])


async def _movie_removed(conn: asyncpg.Connection, e: MovieRemoved) -> None:
    await conn.execute("DELETE FROM external_movies_cache WHERE id = $1", e.stream_id)


def _actor_args(e: ActorRegistered | ActorProfileRevised) -> tuple[Any, ...]:
    return (e.stream_id, e.name, e.name_kana, e.occurred_at, isinstance(e, ActorProfileRevised))


async def _actor(conn: asyncpg.Connection, e: ActorRegistered | ActorProfileRevised) -> None:
    await conn.execute(_UPSERT_ACTOR, *_actor_args(e))


async def _actor_many(
    conn: asyncpg.Connection, events: Sequence[ActorRegistered | ActorProfileRevised]
) -> None:
    await conn.executemany(_UPSERT_ACTOR, [_actor_args(e) for e in events])


async def _actor_removed(conn: asyncpg.Connection, e: ActorRemoved) -> None:
    await conn.execute("DELETE FROM external_actors_cache WHERE id = $1", e.stream_id)


CACHE_HANDLERS: dict[type[DomainEvent], ApplyFn] = {
    MovieRegistered: _movie,
    MovieDetailsRevised: _movie,
    MovieRemoved: _movie_removed,
    ActorRegistered: _actor,
    ActorProfileRevised: _actor,
    ActorRemoved: _actor_removed,
}
"""Apply functions of the ``scene_caches`` projection (consumes ``movies.events`` and ``actors.events``)."""

CACHE_BATCH_HANDLERS: dict[type[DomainEvent], BatchApplyFn] = {
    MovieRegistered: _movie_many,
    MovieDetailsRevised: _movie_many,
    ActorRegistered: _actor_many,
    ActorProfileRevised: _actor_many,
}
"""Batch apply functions of the ``scene_caches`` projection (see ``projections.runner``)."""

CACHE_COMMUTING: frozenset[type[DomainEvent]] = frozenset(CACHE_HANDLERS)
"""Every cache event writes only its own movie's or actor's row."""
