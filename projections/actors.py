"""The Actor service's read model: actors, filmography, relationships, character roles and their figures.

Scene and review events come from other topics in any order relative to the actor's own
events, so they only feed index tables (``actor_scene_index``, ``actor_movie_ratings``); every
figure is then recomputed from those tables for the actors concerned. An event that arrives
before the actor or the filmography entry it counts for is simply counted when they arrive.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from events.actor import (
    ActorProfileRevised,
    ActorRegistered,
    ActorRemoved,
    ActorsRelated,
    ActorsUnrelated,
    CharacterCast,
    CharacterUncast,
    FilmographyEntryAdded,
    FilmographyEntryRemoved,
    FilmographyEntryRevised,
)
from events.base import DomainEvent
from events.review import ReviewDeleted, ReviewEvent, ReviewPosted, ReviewRevised
from events.scene import SceneActorAdded, SceneActorRemoved, SceneDeleted
from projections.runner import ApplyFn, BatchApplyFn, Deferral

_REFRESH_ENTRIES = """
UPDATE filmography f SET total_scenes = (
    SELECT count(*) FROM actor_scene_index s WHERE s.actor_id = f.actor_id AND s.movie_id = f.movie_id
)
WHERE f.actor_id = ANY($1::uuid[])
"""

_REFRESH_ACTORS = """
UPDATE actors a SET
    total_movies_count = (SELECT count(*) FROM filmography f WHERE f.actor_id = a.id),
    total_scenes_count = (SELECT count(*) FROM actor_scene_index s WHERE s.actor_id = a.id),
    avg_rating = (
        SELECT round(avg(r.rating), 2) FROM actor_movie_ratings r
        JOIN filmography f ON f.movie_id = r.movie_id
        WHERE f.actor_id = a.id
    )
WHERE a.id = ANY($1::uuid[])
"""


async def refresh_figures(conn: asyncpg.Connection, actor_ids: Iterable[UUID]) -> None:
    """Recompute the denormalised figures of these actors and their filmography entries."""
    ids = list(set(actor_ids))
    if not ids:
        return
    await conn.execute(_REFRESH_ENTRIES, ids)
    await conn.execute(_REFRESH_ACTORS, ids)


async def _bump(conn: asyncpg.Connection, e: DomainEvent) -> None:
    await conn.execute("UPDATE actors SET version = $2 WHERE id = $1", e.stream_id, e.stream_version)


# --- actors ---

_PROFILE_COLUMNS = (
    "name, name_en, name_kana, birth_date, birth_place, gender, height_cm, debut_year, agency, "
    "biography, official_website"
)


def _profile_values(e: ActorRegistered | ActorProfileRevised, birth_date: Any) -> tuple[Any, ...]:  # noqa: ANN401  a date or None
    return (
        e.name,
        e.name_en,
        e.name_kana,
        birth_date,
        e.birth_place,
        e.gender,
        e.height_cm,
        e.debut_year,
        e.agency,
        e.biography,
        e.official_website,
    )


async def _free_name_birth(conn: asyncpg.Connection, e: ActorRegistered | ActorProfileRevised) -> Any:  # noqa: ANN401  a date or None
    """Return the birth date to write, making room under the unique (name, birth_date) index.

    The command side lets only one actor hold a name + birth date at a time, but two actors'
    events come from different streams and may be applied out of order: actor A renamed
    away from the key before actor B took it, yet B's event is applied first. The older of
    the two rows is then stale, and its own later event (a revision carrying the whole
    profile, or the removal) is still to come and will set it right; until then its birth
    date is left out so the index holds.
    """
    if e.birth_date is None:
        return None
    holder = await conn.fetchrow(
        "SELECT id, updated_at FROM actors WHERE name = $1 AND birth_date = $2 AND id <> $3",
        e.name,
        e.birth_date,
        e.stream_id,
    )
    if holder is None:
        return e.birth_date
    if holder["updated_at"] <= e.occurred_at:
        await conn.execute("UPDATE actors SET birth_date = NULL WHERE id = $1", holder["id"])
        return e.birth_date
    return None


async def _registered(conn: asyncpg.Connection, e: ActorRegistered) -> None:
    birth_date = await _free_name_birth(conn, e)
    await conn.execute(
        f"INSERT INTO actors (id, {_PROFILE_COLUMNS}, created_at, updated_at, version) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
        e.stream_id,
        *_profile_values(e, birth_date),
        e.occurred_at,
        e.stream_version,
    )
    # Scenes and reviews may have been indexed before the actor arrived.
    await refresh_figures(conn, [e.stream_id])


async def _profile_revised(conn: asyncpg.Connection, e: ActorProfileRevised) -> None:
    birth_date = await _free_name_birth(conn, e)
    await conn.execute(
        "UPDATE actors SET name = $2, name_en = $3, name_kana = $4, birth_date = $5, birth_place = $6, "
        "gender = $7, height_cm = $8, debut_year = $9, agency = $10, biography = $11, "
        "official_website = $12, updated_at = $13, version = $14 WHERE id = $1",
        e.stream_id,
        *_profile_values(e, birth_date),
        e.occurred_at,
        e.stream_version,
    )


async def _removed(conn: asyncpg.Connection, e: ActorRemoved) -> None:
    # Filmography, character roles and the relationships this actor recorded go by cascade.
    await conn.execute("DELETE FROM actors WHERE id = $1", e.stream_id)
    await conn.execute("DELETE FROM actor_relationships WHERE related_actor_id = $1", e.stream_id)
    await conn.execute(
        "INSERT INTO removed_actors (actor_id, removed_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        e.stream_id,
        e.occurred_at,
    )


# --- filmography ---


# The row id is the event's id, so a rebuild reproduces it exactly.
_INSERT_ENTRY = (
    "INSERT INTO filmography (id, actor_id, movie_id, character_name, role_type, billing_order, "
    "screen_time_minutes, notes, award_nominations, created_at, updated_at) "
    "VALUES ($10, $1, $2, $3, $4, $5, $6, $7, $8, $9, $9)"
)


def _entry_args(e: FilmographyEntryAdded) -> tuple[Any, ...]:
    return (
        e.stream_id,
        e.movie_id,
        e.character_name,
        e.role_type,
        e.billing_order,
        e.screen_time_minutes,
        e.notes,
        list(e.award_nominations),
        e.occurred_at,
        e.event_id,
    )


async def _entry_added(conn: asyncpg.Connection, e: FilmographyEntryAdded) -> None:
    await conn.execute(_INSERT_ENTRY, *_entry_args(e))
    await _bump(conn, e)
    await refresh_figures(conn, [e.stream_id])


async def _entry_revised(conn: asyncpg.Connection, e: FilmographyEntryRevised) -> None:
    await conn.execute(
        "UPDATE filmography SET character_name = $3, role_type = $4, billing_order = $5, "
        "screen_time_minutes = $6, notes = $7, award_nominations = $8, updated_at = $9 "
        "WHERE actor_id = $1 AND movie_id = $2",
        e.stream_id,
        e.movie_id,
        e.character_name,
        e.role_type,
        e.billing_order,
        e.screen_time_minutes,
        e.notes,
        list(e.award_nominations),
        e.occurred_at,
    )
    await _bump(conn, e)


async def _entry_removed(conn: asyncpg.Connection, e: FilmographyEntryRemoved) -> None:
    await conn.execute(
        "DELETE FROM filmography WHERE actor_id = $1 AND movie_id = $2", e.stream_id, e.movie_id
    )
    await _bump(conn, e)
    await refresh_figures(conn, [e.stream_id])


# --- relationships and character roles ---


async def _related(conn: asyncpg.Connection, e: ActorsRelated) -> None:
    await _bump(conn, e)
    if await conn.fetchval("SELECT 1 FROM removed_actors WHERE actor_id = $1", e.related_actor_id):
        return  # the other actor's removal was applied first; it would have deleted this row
    # The pair + type is claimed by one stream at a time, but the other actor's stream may
    # hold a row its later (not yet applied) ActorsUnrelated withdraws: keep the newer one.
    mirror = await conn.fetchrow(
        "SELECT id, created_at FROM actor_relationships "
        "WHERE actor_id = $1 AND related_actor_id = $2 AND relation_type = $3",
        e.related_actor_id,
        e.stream_id,
        e.relation_type,
    )
    if mirror is not None:
        if mirror["created_at"] > e.occurred_at:
            return
        await conn.execute("DELETE FROM actor_relationships WHERE id = $1", mirror["id"])
    await conn.execute(
        # The row id is the event's id, so a rebuild reproduces it exactly.
        "INSERT INTO actor_relationships (id, actor_id, related_actor_id, relation_type, since_year, "
        "until_year, notes, created_at) VALUES ($8, $1, $2, $3, $4, $5, $6, $7)",
        e.stream_id,
        e.related_actor_id,
        e.relation_type,
        e.since_year,
        e.until_year,
        e.notes,
        e.occurred_at,
        e.event_id,
    )


async def _unrelated(conn: asyncpg.Connection, e: ActorsUnrelated) -> None:
    await conn.execute(
        "DELETE FROM actor_relationships WHERE actor_id = $1 AND related_actor_id = $2 "
        "AND relation_type = $3",
        e.stream_id,
        e.related_actor_id,
        e.relation_type,
    )
    await _bump(conn, e)


async def _cast(conn: asyncpg.Connection, e: CharacterCast) -> None:
    await conn.execute(
        "INSERT INTO character_roles (id, actor_id, movie_id, character_name, description, is_main, "
        "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        e.role_id,
        e.stream_id,
        e.movie_id,
        e.character_name,
        e.description,
        e.is_main,
        e.occurred_at,
    )
    await _bump(conn, e)


async def _uncast(conn: asyncpg.Connection, e: CharacterUncast) -> None:
    await conn.execute("DELETE FROM character_roles WHERE id = $1", e.role_id)
    await _bump(conn, e)


# --- scenes (scenes.events) ---


_INDEX_SCENE_ACTOR = (
    "INSERT INTO actor_scene_index (scene_id, actor_id, movie_id) VALUES ($1, $2, $3) "
    "ON CONFLICT (scene_id, actor_id) DO UPDATE SET movie_id = EXCLUDED.movie_id"
)


async def _scene_actor_added(conn: asyncpg.Connection, e: SceneActorAdded) -> None:
    await conn.execute(_INDEX_SCENE_ACTOR, e.stream_id, e.actor_id, e.movie_id)
    await refresh_figures(conn, [e.actor_id])


async def _scene_actor_removed(conn: asyncpg.Connection, e: SceneActorRemoved) -> None:
    await conn.execute(
        "DELETE FROM actor_scene_index WHERE scene_id = $1 AND actor_id = $2", e.stream_id, e.actor_id
    )
    await refresh_figures(conn, [e.actor_id])


async def _scene_deleted(conn: asyncpg.Connection, e: SceneDeleted) -> None:
    rows = await conn.fetch(
        "DELETE FROM actor_scene_index WHERE scene_id = $1 RETURNING actor_id", e.stream_id
    )
    await refresh_figures(conn, [r["actor_id"] for r in rows])


# --- reviews (reviews.events) ---


def _movie_review(e: ReviewEvent) -> bool:
    return e.movie_id is not None and e.scene_id is None


async def _rate(conn: asyncpg.Connection, e: ReviewEvent, rating: int | None) -> None:
    """Replace the review's indexed rating (``None``: drop it) and refresh the movies' actors."""
    old = await conn.fetch(
        "DELETE FROM actor_movie_ratings WHERE review_id = $1 RETURNING movie_id", e.stream_id
    )
    movies = {r["movie_id"] for r in old}
    if rating is not None and e.movie_id is not None and _movie_review(e):
        await conn.execute(
            "INSERT INTO actor_movie_ratings (review_id, movie_id, rating) VALUES ($1, $2, $3)",
            e.stream_id,
            e.movie_id,
            rating,
        )
        movies.add(e.movie_id)
    if movies:
        actors = await conn.fetch(
            "SELECT DISTINCT actor_id FROM filmography WHERE movie_id = ANY($1::uuid[])", list(movies)
        )
        await refresh_figures(conn, [r["actor_id"] for r in actors])


async def _review_posted(conn: asyncpg.Connection, e: ReviewPosted) -> None:
    await _rate(conn, e, e.rating)


async def _review_revised(conn: asyncpg.Connection, e: ReviewRevised) -> None:
    await _rate(conn, e, e.rating)


async def _review_deleted(conn: asyncpg.Connection, e: ReviewDeleted) -> None:
    await _rate(conn, e, None)


# --- batch apply functions (same read model as the functions above, applied in order) ---------
#
# ``executemany`` pipelines the statements of a group in one round trip and runs them in order,
# and a multi-row insert writes what its rows inserted one by one would (a key twice falls back
# to ``executemany``); figures are recomputed once per group for every actor concerned (a
# recomputation, so once at the end equals once per event). Registrations, filmography entries
# and cast additions leave theirs to ``refresh_touched_figures``, once per batch: in a batch's
# rounds (see ``projections.runner``) each actor's cast events fall in many groups, and a
# rebuild spent 5.7 s of its actor database time in 4,054 per-group recomputes of 203,200
# events. A batch of a backlog only marks them (``FIGURES_DEFERRAL``). No apply function reads
# the figures.


async def _bump_many(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    last = {e.stream_id: e.stream_version for e in events}
    await conn.execute(
        "UPDATE actors a SET version = u.v FROM unnest($1::uuid[], $2::int[]) AS u(id, v) WHERE a.id = u.id",
        list(last),
        list(last.values()),
    )


async def _registered_many(conn: asyncpg.Connection, events: Sequence[ActorRegistered]) -> None:
    keys = [(e.name, e.birth_date) for e in events if e.birth_date is not None]
    contested = len(set(keys)) < len(keys) or await conn.fetchval(
        "SELECT EXISTS (SELECT 1 FROM actors a JOIN unnest($1::text[], $2::date[]) AS k(n, b) "
        "ON a.name = k.n AND a.birth_date = k.b)",
        [n for n, _ in keys],
        [b for _, b in keys],
    )
    if contested:
        # A name + birth date some row already holds: _free_name_birth decides event by event.
        for e in events:
            await _registered(conn, e)
        return
    await conn.executemany(
        f"INSERT INTO actors (id, {_PROFILE_COLUMNS}, created_at, updated_at, version) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14)",
        [(e.stream_id, *_profile_values(e, e.birth_date), e.occurred_at, e.stream_version) for e in events],
    )


# Award nominations travel as JSON text: unnest cannot take an array of ragged arrays.
_INSERT_ENTRIES = (
    "INSERT INTO filmography (id, actor_id, movie_id, character_name, role_type, billing_order, "
    "screen_time_minutes, notes, award_nominations, created_at, updated_at) "
    "SELECT u.id, u.actor_id, u.movie_id, u.character_name, u.role_type, u.billing_order, "
    "u.screen_time_minutes, u.notes, ARRAY(SELECT jsonb_array_elements_text(u.awards::jsonb)), u.at, u.at "
    "FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::int[], $6::int[], $7::text[], "
    "$8::text[], $9::timestamptz[], $10::uuid[]) AS u(actor_id, movie_id, character_name, role_type, "
    "billing_order, screen_time_minutes, notes, awards, at, id)"
)


async def _entry_added_many(conn: asyncpg.Connection, events: Sequence[FilmographyEntryAdded]) -> None:
    rows = [_entry_args(e) for e in events]
    columns: list[tuple[Any, ...]] = list(zip(*rows, strict=True))
    columns[7] = tuple(json.dumps(v) for v in columns[7])  # award_nominations
    # A (actor, movie) pair twice violates the unique key either way: the batch is then redone
    # event by event, which dead-letters the same event.
    await conn.execute(_INSERT_ENTRIES, *columns)
    await _bump_many(conn, events)


async def _scene_actor_added_many(conn: asyncpg.Connection, events: Sequence[SceneActorAdded]) -> None:
    rows = [(e.stream_id, e.actor_id, e.movie_id) for e in events]
    if len({(s, a) for s, a, _ in rows}) < len(rows):
        # One statement cannot upsert a row twice: keep the exact sequence instead.
        await conn.executemany(_INDEX_SCENE_ACTOR, rows)
        return
    await conn.execute(
        "INSERT INTO actor_scene_index (scene_id, actor_id, movie_id) "
        "SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[]) "
        + _INDEX_SCENE_ACTOR[_INDEX_SCENE_ACTOR.index("ON CONFLICT") :],
        *zip(*rows, strict=True),
    )


def _figures_touched(events: Sequence[DomainEvent]) -> list[UUID]:
    """Return the actors whose figures the batch's registrations, entries and cast additions change."""
    # By exact type: isinstance against pydantic model classes goes through ABCMeta (seconds of
    # a rebuild's CPU); no event class subclasses another.
    ids: set[UUID] = set()
    for e in events:
        kind = type(e)
        if kind is SceneActorAdded:
            ids.add(e.actor_id)  # type: ignore[attr-defined]  # a SceneActorAdded
        elif kind is FilmographyEntryAdded or kind is ActorRegistered:
            ids.add(e.stream_id)
    return sorted(ids)  # in id order: the marks are row locks


# SKIP LOCKED: a mark held by a transaction still running is that transaction's, or the next
# settle's, to do; waiting for it could only deadlock.
_TAKE_STALE = (
    "DELETE FROM actor_figures_stale WHERE actor_id IN "
    "(SELECT actor_id FROM actor_figures_stale FOR UPDATE SKIP LOCKED) RETURNING actor_id"
)


async def refresh_touched_figures(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    """Recompute, once per batch, the figures of the actors the batch registered or added to.

    Actors earlier batches only marked stale are recomputed too, and unmarked.
    """
    stale = await conn.fetch(_TAKE_STALE)
    await refresh_figures(conn, [*_figures_touched(events), *(r["actor_id"] for r in stale)])


async def mark_touched_figures_stale(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
    """Mark the actors :func:`refresh_touched_figures` would recompute (a backlog's batch)."""
    if ids := _figures_touched(events):
        await conn.execute(
            "INSERT INTO actor_figures_stale (actor_id) SELECT * FROM unnest($1::uuid[]) "
            "ON CONFLICT DO NOTHING",
            ids,
        )


async def settle_stale_figures(conn: asyncpg.Connection) -> None:
    """Recompute the figures of every actor marked stale, once each, and unmark them."""
    await refresh_figures(conn, [r["actor_id"] for r in await conn.fetch(_TAKE_STALE)])


FIGURES_DEFERRAL = Deferral(mark=mark_touched_figures_stale, settle=settle_stale_figures)
"""How the actors projection puts its figures off while a backlog (or a rebuild) is worked through."""


async def _scene_deleted_many(conn: asyncpg.Connection, events: Sequence[SceneDeleted]) -> None:
    rows = await conn.fetch(
        "DELETE FROM actor_scene_index WHERE scene_id = ANY($1::uuid[]) RETURNING actor_id",
        [e.stream_id for e in events],
    )
    await refresh_figures(conn, [r["actor_id"] for r in rows])


ACTOR_HANDLERS: dict[type[DomainEvent], ApplyFn] = {
    ActorRegistered: _registered,
    ActorProfileRevised: _profile_revised,
    ActorRemoved: _removed,
    FilmographyEntryAdded: _entry_added,
    FilmographyEntryRevised: _entry_revised,
    FilmographyEntryRemoved: _entry_removed,
    ActorsRelated: _related,
    ActorsUnrelated: _unrelated,
    CharacterCast: _cast,
    CharacterUncast: _uncast,
    SceneActorAdded: _scene_actor_added,
    SceneActorRemoved: _scene_actor_removed,
    SceneDeleted: _scene_deleted,
    ReviewPosted: _review_posted,
    ReviewRevised: _review_revised,
    ReviewDeleted: _review_deleted,
}
"""Apply function of each event the ``actors`` projection handles."""

ACTOR_BATCH_HANDLERS: dict[type[DomainEvent], BatchApplyFn] = {
    ActorRegistered: _registered_many,
    FilmographyEntryAdded: _entry_added_many,
    SceneActorAdded: _scene_actor_added_many,
    SceneDeleted: _scene_deleted_many,
}
"""Batch apply functions of the ``actors`` projection's bulk event types (see ``projections.runner``)."""

ACTOR_COMMUTING: frozenset[type[DomainEvent]] = frozenset(
    {
        # Its own actor row; it reads and may clear the birth date of another actor holding the
        # same name + birth date, rows only registrations (this type), profile revisions and
        # removals (not commuting: never moved across) write. Two registrations are never
        # reordered: a registration is its stream's first event, so always in the first round
        # of a run, where a type's events keep their delivery order. Here because a rebuild's
        # batches interleave a registration every few hundred scene events, and each one split
        # the run of cast events into more groups: 1,654 per-group statements per table.
        ActorRegistered,
        # Rows of their own stream (filmography, character roles, index rows keyed by scene or
        # review) and the actors' figures, recomputed from the index tables whatever the order.
        FilmographyEntryAdded,
        FilmographyEntryRevised,
        FilmographyEntryRemoved,
        CharacterCast,
        CharacterUncast,
        SceneActorAdded,
        SceneActorRemoved,
        SceneDeleted,
        ReviewPosted,
        ReviewRevised,
        ReviewDeleted,
    },
)
"""Types of the ``actors`` projection that commute across streams. Not here: profile revisions
(they read other actors' names for the unique name + birth date, and may come after another
event of their stream), removals and relationships (they read and write other actors' rows)."""

ACTOR_TOPICS: tuple[str, ...] = ("actors.events", "scenes.events", "reviews.events")
"""The topics the ``actors`` projection consumes."""
