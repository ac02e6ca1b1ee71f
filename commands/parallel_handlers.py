"""Parallel scene group command handlers: check the movie or scene referred to, decide, append."""

from __future__ import annotations

from commands import parallel as model
from commands import scene as scene_model
from commands.authorization import require_scene_writer
from commands.base import Command, CommandResult, Handler, HandlerDeps, execute, load, route
from commands.parallel import (
    AddSceneToParallelGroup,
    CreateParallelGroup,
    DissolveParallelGroup,
    RemoveSceneFromParallelGroup,
)
from commands.ports import NO_STREAM
from commands.scene_handlers import require_movie
from events.base import EventMetadata


async def handle_create_parallel_group(
    cmd: CreateParallelGroup, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Create a group on an existing movie."""
    require_scene_writer(metadata)
    model.validate_group(cmd)  # the caller's own input is judged before any reference
    await require_movie(deps, cmd.movie_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.group_id,
        replay=model.replay,
        decide=lambda state: model.create_group(cmd, state),
        expected_version=NO_STREAM,
    )


async def handle_add_scene_to_parallel_group(
    cmd: AddSceneToParallelGroup, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Add a scene to a group, judged against the scene as it is now."""
    require_scene_writer(metadata)
    scene, _ = await load(deps.event_store, cmd.scene_id, scene_model.replay)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.group_id,
        replay=model.replay,
        decide=lambda state: model.add_scene(cmd, state, scene),
        expected_version=cmd.expected_version,
    )


async def handle_remove_scene_from_parallel_group(
    cmd: RemoveSceneFromParallelGroup, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Take a scene out of a group."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.group_id,
        replay=model.replay,
        decide=lambda state: model.remove_scene(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_dissolve_parallel_group(
    cmd: DissolveParallelGroup, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Dissolve a group."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.group_id,
        replay=model.replay,
        decide=lambda state: model.dissolve_group(cmd, state),
        expected_version=cmd.expected_version,
    )


PARALLEL_GROUP_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(CreateParallelGroup, handle_create_parallel_group),
        route(AddSceneToParallelGroup, handle_add_scene_to_parallel_group),
        route(RemoveSceneFromParallelGroup, handle_remove_scene_from_parallel_group),
        route(DissolveParallelGroup, handle_dissolve_parallel_group),
    ],
)
