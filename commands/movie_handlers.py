"""Movie command handlers: load the movie, let the pure aggregate decide, append."""

from __future__ import annotations

from uuid import UUID

from commands import movie as model
from commands.base import Command, CommandResult, Handler, HandlerDeps, Reference, execute, load, route
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.movie import (
    AssignMovieGenres,
    BeginMovieRemoval,
    CancelMovieRemoval,
    LinkSceneToMovie,
    RecordProductionInfo,
    RegisterMovie,
    RemoveMovie,
    ReviseMovieDetails,
    UnlinkSceneFromMovie,
)
from commands.ports import NO_STREAM, EventStore, StreamCondition
from events.base import EventMetadata
from events.movie import MovieRegistered, MovieRemovalBegun, MovieRemovalCancelled, MovieRemoved


async def require_movie_open(store: EventStore, movie_id: UUID, field_name: str = "movie_id") -> None:
    """Reject a command adding to a movie that does not exist, was removed, or is being removed.

    For commands of any service that add something to a movie (a review, a scene, a watch-list
    entry): while a movie-removal saga runs, what it did not plan to remove must not appear.
    """
    state, _ = await load(store, movie_id, model.replay)
    if state is None or state.removed:
        raise StreamNotFoundError(field_name, "movie", movie_id, referenced=True)
    if state.removal_saga is not None:
        raise InvalidCommandError(
            field_name, f"movie {movie_id} is being removed (saga {state.removal_saga})"
        )


def movie_open(store: EventStore, movie_id: UUID, field_name: str = "movie_id") -> Reference:
    """Return what :func:`require_movie_open` checks as a :class:`Reference`, checked inside the append.

    The movie is registered and not removed since, and no removal saga has begun on it
    without being cancelled since; a failure is explained by :func:`require_movie_open`.
    """

    async def explain() -> None:
        await require_movie_open(store, movie_id, field_name)

    return Reference(
        field_name=field_name,
        conditions=(
            StreamCondition(
                stream_id=movie_id,
                set_by=(MovieRegistered.event_type,),
                cleared_by=(MovieRemoved.event_type,),
            ),
            StreamCondition(
                stream_id=movie_id,
                set_by=(MovieRemovalBegun.event_type,),
                cleared_by=(MovieRemovalCancelled.event_type,),
                expected=False,
            ),
        ),
        explain=explain,
    )


async def handle_register_movie(
    cmd: RegisterMovie, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Register a movie (its id must be new)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.register_movie(cmd, state),
        expected_version=NO_STREAM,
    )


async def handle_revise_movie_details(
    cmd: ReviseMovieDetails, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Revise a movie's details."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.revise_movie_details(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_assign_movie_genres(
    cmd: AssignMovieGenres, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Set a movie's genres."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.assign_movie_genres(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_record_production_info(
    cmd: RecordProductionInfo, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Record a movie's production information."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.record_production_info(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_remove_movie(cmd: RemoveMovie, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Remove a movie."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.remove_movie(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_link_scene(
    cmd: LinkSceneToMovie, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Take a scene into a movie's figures (step 2 of the scene-creation saga)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.link_scene(cmd, state),
        expected_version=None,
    )


async def handle_unlink_scene(
    cmd: UnlinkSceneFromMovie, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Take a scene out of a movie's figures."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.unlink_scene(cmd, state),
        expected_version=None,
    )


async def handle_begin_removal(
    cmd: BeginMovieRemoval, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Mark a movie as being removed (first step of the movie-removal saga)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.begin_removal(cmd, state),
        expected_version=None,
    )


async def handle_cancel_removal(
    cmd: CancelMovieRemoval, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Reopen a movie whose removal was rolled back."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.movie_id,
        replay=model.replay,
        decide=lambda state: model.cancel_removal(cmd, state),
        expected_version=None,
    )


MOVIE_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(RegisterMovie, handle_register_movie),
        route(ReviseMovieDetails, handle_revise_movie_details),
        route(AssignMovieGenres, handle_assign_movie_genres),
        route(RecordProductionInfo, handle_record_production_info),
        route(RemoveMovie, handle_remove_movie),
        route(LinkSceneToMovie, handle_link_scene),
        route(UnlinkSceneFromMovie, handle_unlink_scene),
        route(BeginMovieRemoval, handle_begin_removal),
        route(CancelMovieRemoval, handle_cancel_removal),
    ],
)
