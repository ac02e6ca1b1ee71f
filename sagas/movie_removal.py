"""The movie-removal saga: a movie leaves the catalogue with everything that hangs on it, or nothing does.

Planned at start from the read models (who has the movie on a watch list or in a filmography,
which reviews and scenes it has), with each entry's data taken from its aggregate in the log so
that its compensation puts back exactly what the step removed. Steps, in order:

1. ``begin-removal``: the movie takes no new scenes or reviews from here on (undo: reopen it).
2. ``watch-list:<user>``: the entry goes (undo: re-added from the user's own stream with its
   status, priority, notes, tags, progress and id; the plan never carries the notes).
3. ``filmography:<actor>``: the entry goes with the characters played in the movie (undo: the
   entry and the characters are recorded again, with their ids).
4. ``review:<review>``: reviews of the movie or of its scenes are deleted (undo: restored
   with their reactions).
5. ``scene:<scene>``: scenes are deleted, nested ones before their parents (undo: restored with
   their cast and dialogue lines, parents before children).
6. ``remove-movie``: the movie itself, last: the one step with nothing after it to fail.

Not covered: star ratings and recommendations of the movie (they stay, as after a plain
``RemoveMovie``), parallel group memberships of deleted scenes (not restored by a rollback).
"""

from __future__ import annotations

from collections.abc import Mapping
from uuid import UUID

from commands.actor import AddFilmographyEntry, CastCharacter, RemoveFilmographyEntry
from commands.actor import replay as replay_actor
from commands.authorization import require_admin
from commands.base import Command, load
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.movie import BeginMovieRemoval, CancelMovieRemoval, RemoveMovie
from commands.movie import replay as replay_movie
from commands.review import DeleteReview, RestoreReview
from commands.scene import DeleteScene, RestoreScene
from commands.user import RemoveMovieFromWatchList, RestoreWatchListEntry
from commands.user import replay as replay_user
from events.base import Message
from sagas.definition import PlanContext, SagaDefinition, Step


class MovieRemovalRequest(Message):
    """The movie to remove."""

    movie_id: UUID


async def _ids(ctx: PlanContext, service: str, sql: str, *args: object) -> list[UUID]:
    pool = ctx.pools.get(service)
    if pool is None:
        raise InvalidCommandError("movie_id", f"the {service} read model is needed to plan a removal")
    return [r[0] for r in await pool.fetch(sql, *args)]


async def _watch_list_steps(ctx: PlanContext, movie_id: UUID) -> list[Step]:
    steps = []
    for user_id in await _ids(ctx, "user", "SELECT user_id FROM watch_lists WHERE movie_id = $1", movie_id):
        user, _ = await load(ctx.event_store, user_id, replay_user)
        if user is None or movie_id not in user.watch_list:  # the read model lags behind a removal
            continue
        steps.append(
            Step(
                f"watch-list:{user_id}",
                action=RemoveMovieFromWatchList(user_id=user_id, movie_id=movie_id),
                # The undo rebuilds the entry from the user's own stream: the plan, stored in
                # clear in the saga's stream, never holds the user's notes or tags.
                compensation=(RestoreWatchListEntry(user_id=user_id, movie_id=movie_id),),
            )
        )
    return steps


async def _filmography_steps(ctx: PlanContext, movie_id: UUID) -> list[Step]:
    steps = []
    for actor_id in await _ids(
        ctx, "actor", "SELECT actor_id FROM filmography WHERE movie_id = $1", movie_id
    ):
        actor, _ = await load(ctx.event_store, actor_id, replay_actor)
        entry = actor.filmography.get(movie_id) if actor is not None else None
        if actor is None or entry is None:
            continue
        undo: list[Command] = [
            AddFilmographyEntry(
                actor_id=actor_id,
                movie_id=movie_id,
                character_name=entry.character_name,
                role_type=entry.role_type,
                billing_order=entry.billing_order,
                screen_time_minutes=entry.screen_time_minutes,
                notes=entry.notes,
                award_nominations=entry.award_nominations,
            )
        ]
        undo.extend(
            CastCharacter(
                role_id=role.role_id,
                actor_id=actor_id,
                movie_id=movie_id,
                character_name=role.character_name,
                description=role.description,
                is_main=role.is_main,
            )
            for role in actor.characters.values()
            if role.movie_id == movie_id
        )
        steps.append(
            Step(
                f"filmography:{actor_id}",
                action=RemoveFilmographyEntry(actor_id=actor_id, movie_id=movie_id),
                compensation=tuple(undo),
            )
        )
    return steps


def _deepest_first(parents: Mapping[UUID, UUID | None]) -> list[UUID]:
    """Scene ids ordered so that every nested scene comes before its parent."""

    def depth(scene_id: UUID) -> int:
        seen: set[UUID] = set()
        level = 0
        parent = parents.get(scene_id)
        while parent is not None and parent in parents and parent not in seen:
            seen.add(parent)
            level += 1
            parent = parents.get(parent)
        return level

    return sorted(parents, key=lambda s: (-depth(s), str(s)))


async def plan_movie_removal(request: MovieRemovalRequest, ctx: PlanContext) -> list[Step]:
    """Return the steps removing ``request.movie_id`` and what hangs on it."""
    movie_id = request.movie_id
    if ctx.saga_id is None:
        raise InvalidCommandError("saga_id", "a movie removal is planned for a given saga")
    movie, _ = await load(ctx.event_store, movie_id, replay_movie)
    if movie is None or movie.removed:
        raise StreamNotFoundError("movie_id", "movie", movie_id)
    if movie.removal_saga is not None:
        raise InvalidCommandError(
            "movie_id", f"movie {movie_id} is already being removed (saga {movie.removal_saga})"
        )
    scene_pool = ctx.pools.get("scene")
    if scene_pool is None:
        raise InvalidCommandError("movie_id", "the scene read model is needed to plan a removal")
    scenes = {
        r["id"]: r["parent_scene_id"]
        for r in await scene_pool.fetch(
            "SELECT id, parent_scene_id FROM scenes WHERE movie_id = $1", movie_id
        )
    }
    reviews = await _ids(
        ctx,
        "review",
        "SELECT id FROM reviews WHERE movie_id = $1 OR scene_id = ANY($2::uuid[]) ORDER BY created_at, id",
        movie_id,
        list(scenes),
    )
    return [
        Step(
            "begin-removal",
            action=BeginMovieRemoval(movie_id=movie_id, saga_id=ctx.saga_id),
            compensation=(CancelMovieRemoval(movie_id=movie_id, saga_id=ctx.saga_id),),
        ),
        *await _watch_list_steps(ctx, movie_id),
        *await _filmography_steps(ctx, movie_id),
        *(
            Step(f"review:{r}", action=DeleteReview(review_id=r), compensation=(RestoreReview(review_id=r),))
            for r in reviews
        ),
        *(
            Step(f"scene:{s}", action=DeleteScene(scene_id=s), compensation=(RestoreScene(scene_id=s),))
            for s in _deepest_first(scenes)
        ),
        Step("remove-movie", action=RemoveMovie(movie_id=movie_id)),
    ]


MOVIE_REMOVAL = SagaDefinition(
    saga_type="movie_removal",
    input_model=MovieRemovalRequest,
    plan=plan_movie_removal,
    description="remove a movie with its scenes, filmography entries, watch-list entries and reviews",
    authorize=lambda metadata: require_admin(metadata, "remove movies"),
)
