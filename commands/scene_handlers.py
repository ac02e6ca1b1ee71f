"""Scene command handlers: load the scene, let the pure aggregate decide, append."""

from __future__ import annotations

from commands import scene as model
from commands.base import Command, CommandResult, Handler, HandlerDeps, execute, load, route
from commands.ports import NO_STREAM
from commands.scene import CreateScene, DeleteScene, EditSceneDetails, ReclassifyScene, RetimeScene
from events.base import EventMetadata


async def handle_create_scene(cmd: CreateScene, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Create a scene (its parent, when nested, must exist and enclose it)."""
    parent = None
    if cmd.parent_scene_id is not None:
        parent, _ = await load(deps.event_store, cmd.parent_scene_id, model.replay)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=lambda state: model.create_scene(
            cmd, existing=state, parent=parent, created_by=metadata.user_id
        ),
        expected_version=NO_STREAM,
    )


async def handle_retime_scene(cmd: RetimeScene, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Move a scene in time."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=lambda state: model.retime_scene(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_reclassify_scene(
    cmd: ReclassifyScene, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Reclassify a scene."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=lambda state: model.reclassify_scene(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_edit_scene_details(
    cmd: EditSceneDetails, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Edit a scene's description and tags."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=lambda state: model.edit_scene_details(cmd, state),
        expected_version=cmd.expected_version,
    )


async def handle_delete_scene(cmd: DeleteScene, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Delete a scene."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=lambda state: model.delete_scene(cmd, state),
        expected_version=cmd.expected_version,
    )


SCENE_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(CreateScene, handle_create_scene),
        route(RetimeScene, handle_retime_scene),
        route(ReclassifyScene, handle_reclassify_scene),
        route(EditSceneDetails, handle_edit_scene_details),
        route(DeleteScene, handle_delete_scene),
    ],
)
