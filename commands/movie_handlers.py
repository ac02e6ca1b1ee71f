"""Movie command handlers: load the movie, let the pure aggregate decide, append."""

from __future__ import annotations

from commands import movie as model
from commands.base import Command, CommandResult, Handler, HandlerDeps, execute, route
from commands.movie import (
    AssignMovieGenres,
    RecordProductionInfo,
    RegisterMovie,
    RemoveMovie,
    ReviseMovieDetails,
)
from commands.ports import NO_STREAM
from events.base import EventMetadata


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


MOVIE_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(RegisterMovie, handle_register_movie),
        route(ReviseMovieDetails, handle_revise_movie_details),
        route(AssignMovieGenres, handle_assign_movie_genres),
        route(RecordProductionInfo, handle_record_production_info),
        route(RemoveMovie, handle_remove_movie),
    ],
)
