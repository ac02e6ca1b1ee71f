"""The handler of ``RestoreScene``: a deleted scene back, re-attached to its parent when nested."""

from __future__ import annotations

from uuid import uuid5

from commands import scene as model
from commands.authorization import ADMIN, require_role
from commands.base import CommandResult, HandlerDeps, execute, require_alive
from commands.scene import RestoreScene
from events.base import EventMetadata
from events.movie import MovieRegistered, MovieRemoved


async def handle_restore_scene(
    cmd: RestoreScene, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Restore a deleted scene (admins and the system only: it undoes a deletion)."""
    require_role(metadata, frozenset({ADMIN}), "restore deleted scenes")
    store = deps.event_store
    history = await store.read_stream(cmd.scene_id)
    state = model.replay([r.event for r in history])
    if state is not None and state.deleted:
        await require_alive(
            store,
            state.movie_id,
            created=(MovieRegistered,),
            removed=(MovieRemoved,),
            field_name="movie_id",
            entity="movie",
        )
        planned = model.restore_scene(cmd, history, state)
        parent_id = state.parent_scene_id
        if parent_id is not None and planned:
            restored = model.replay([*(r.event for r in history), *planned])
            if restored is None:  # pragma: no cover  planned starts with SceneCreated
                raise TypeError("restore produced no scene")
            span = (restored.start_time_seconds, restored.end_time_seconds)
            # The parent reserves the range first, as on creation (see commands.scene_handlers).
            await execute(
                cmd.model_copy(update={"command_id": uuid5(cmd.command_id, "attach-to-parent")}),
                deps,
                metadata,
                stream_id=parent_id,
                replay=model.replay,
                decide=lambda p: model.attach_nested(
                    p, parent_id=parent_id, child_id=cmd.scene_id, movie_id=restored.movie_id, span=span
                ),
                expected_version=None,
            )
    history = await store.read_stream(cmd.scene_id)  # after the parent's step, as the decision sees it
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=lambda s: model.restore_scene(cmd, history, s),
        expected_version=None,
    )
