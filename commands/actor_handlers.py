"""Actor command handlers: check the entities a command names, let the pure aggregate decide, append."""

from __future__ import annotations

from uuid import UUID

from commands import actor as model
from commands.actor import (
    AddFilmographyEntry,
    CastCharacter,
    EnsureFilmographyEntry,
    RegisterActor,
    RelateActors,
    RemoveActor,
    RemoveFilmographyEntry,
    ReviseActorProfile,
    ReviseFilmographyEntry,
    UncastCharacter,
    UnrelateActors,
)
from commands.base import Command, CommandResult, Handler, HandlerDeps, execute, load, require_alive, route
from commands.ports import NO_STREAM, EventStore
from events.actor import ActorRegistered, ActorRemoved
from events.base import EventMetadata
from events.movie import MovieRegistered, MovieRemoved


async def _require_movie(store: EventStore, movie_id: UUID) -> None:
    await require_alive(
        store,
        movie_id,
        created=(MovieRegistered,),
        removed=(MovieRemoved,),
        field_name="movie_id",
        entity="movie",
    )


async def handle_register_actor(
    cmd: RegisterActor, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Register an actor; a name + birth date already taken is rejected by the store's claim."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.register_actor(cmd, state),
        expected_version=NO_STREAM,
    )


async def handle_revise_actor_profile(
    cmd: ReviseActorProfile, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Revise an actor's profile."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.revise_actor_profile(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_remove_actor(cmd: RemoveActor, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Remove an actor."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.remove_actor(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_add_filmography_entry(
    cmd: AddFilmographyEntry, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Add a movie (which must exist) to an actor's filmography."""
    await _require_movie(deps.event_store, cmd.movie_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.add_filmography_entry(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_ensure_filmography_entry(
    cmd: EnsureFilmographyEntry, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Add a movie (which must exist) to an actor's filmography unless it is there already."""
    await _require_movie(deps.event_store, cmd.movie_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.ensure_filmography_entry(cmd, state),
        expected_version=None,
    )


async def handle_revise_filmography_entry(
    cmd: ReviseFilmographyEntry, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Revise a filmography entry (a movie removed since may still be corrected)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.revise_filmography_entry(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_remove_filmography_entry(
    cmd: RemoveFilmographyEntry, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Remove a filmography entry and the characters played in that movie."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.remove_filmography_entry(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_relate_actors(
    cmd: RelateActors, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Relate two actors; the other actor must exist, and the pair + type is claimed."""
    if cmd.related_actor_id != cmd.actor_id:
        await require_alive(
            deps.event_store,
            cmd.related_actor_id,
            created=(ActorRegistered,),
            removed=(ActorRemoved,),
            field_name="related_actor_id",
            entity="actor",
        )
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.relate_actors(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_unrelate_actors(
    cmd: UnrelateActors, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Unrelate two actors, on the stream of whichever of them recorded the relationship."""
    store = deps.event_store
    actor, _ = await load(store, cmd.actor_id, model.replay)
    owner, other = cmd.actor_id, cmd.related_actor_id
    if (
        actor is not None
        and not actor.removed
        and not model.holds_relationship(actor, other, cmd.relation_type)
    ):
        # Relationships are symmetric to the caller: it may have been recorded by the other actor.
        other_state, _ = await load(store, other, model.replay)
        if model.holds_relationship(other_state, owner, cmd.relation_type):
            owner, other = other, owner
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=owner,
        replay=model.replay,
        decide=lambda state: model.unrelate_actors(
            state, owner_id=owner, other_id=other, kind=cmd.relation_type
        ),
        expected_version=None,
    )


async def handle_cast_character(
    cmd: CastCharacter, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Cast an actor as a character in a movie (which must exist) of their filmography."""
    await _require_movie(deps.event_store, cmd.movie_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.cast_character(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_uncast_character(
    cmd: UncastCharacter, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Withdraw a character role."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.actor_id,
        replay=model.replay,
        decide=lambda state: model.uncast_character(cmd, state),
        expected_version=cmd.expected_version,
    )


ACTOR_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(RegisterActor, handle_register_actor),
        route(ReviseActorProfile, handle_revise_actor_profile),
        route(RemoveActor, handle_remove_actor),
        route(AddFilmographyEntry, handle_add_filmography_entry),
        route(EnsureFilmographyEntry, handle_ensure_filmography_entry),
        route(ReviseFilmographyEntry, handle_revise_filmography_entry),
        route(RemoveFilmographyEntry, handle_remove_filmography_entry),
        route(RelateActors, handle_relate_actors),
        route(UnrelateActors, handle_unrelate_actors),
        route(CastCharacter, handle_cast_character),
        route(UncastCharacter, handle_uncast_character),
    ],
)
