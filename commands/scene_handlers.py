"""Scene command handlers: check what a command refers to, let the pure aggregate decide, append.

A nested scene involves two streams, its own and its parent's. The parent's stream is where
the nesting relation is decided: the parent keeps the time range of each live nested scene
(``NestedSceneAttached`` / ``NestedSceneMoved`` / ``NestedSceneDetached``), so a retime or a
deletion of the parent is checked against its children atomically, and a child's creation or
retime is checked against the parent's range under the parent's optimistic concurrency.

Order of the two appends (never one transaction, the event store appends to one stream):

* create / retime of a nested scene: parent first (the reservation), then the child. If the
  child's append is rejected, the parent is reconciled with what the child really is.
* delete of a nested scene: child first, then the parent detaches it. A crash in between
  leaves the parent believing it still has that child, which only blocks the parent's
  deletion or a retime that would exclude it: the safe side.

The parent's steps use command ids derived from the command's id, so retrying the same
command (same ``command_id`` / ``Idempotency-Key``) after a crash between the two appends
completes the pair instead of repeating it.

Authorization (:mod:`commands.authorization`) is checked here, so HTTP, CLI, Kafka and sagas
get the same rules: every scene command needs a writer role (contributor, professional,
admin) or the system's, before anything is loaded; a change to an existing scene must come from
its creator, an admin or the system, judged on the scene's own stream (``created_by`` of its
``SceneCreated``) inside the decide step. Nesting a new scene inside a parent changes the
parent (it can no longer be deleted or shrunk freely), so it needs the same right on the parent.
The parent's bookkeeping when a nested scene is retimed or deleted, and the reconciliations,
follow a change already authorized on the child and are not checked again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar
from uuid import UUID, uuid5

from commands import scene as model
from commands.authorization import require_scene_owner, require_scene_writer
from commands.base import (
    Command,
    CommandResult,
    Handler,
    HandlerDeps,
    Reference,
    alive_reference,
    execute,
    load,
    route,
)
from commands.errors import ConcurrencyConflictError, DomainError, InvalidCommandError
from commands.movie_handlers import movie_open, require_movie_open
from commands.ports import NO_STREAM
from commands.scene import (
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    EditSceneDetails,
    ReclassifyScene,
    RemoveDialogue,
    RemoveSceneActor,
    RestoreScene,
    RetimeScene,
    ReviseDialogue,
)
from commands.scene_restore import handle_restore_scene
from events.actor import ActorRegistered, ActorRemoved
from events.base import EventMetadata
from events.scene import SceneRetimed

T = TypeVar("T")


async def require_movie(deps: HandlerDeps, movie_id: UUID) -> None:
    """Reject a command adding to a movie that was never registered, was removed or is being removed."""
    await require_movie_open(deps.event_store, movie_id)


def actor_exists(deps: HandlerDeps, actor_id: UUID) -> Reference:
    """Return the check that a named actor was registered and not removed since.

    Made inside the command's append (see :class:`commands.base.Reference`): no read of its own.
    """
    return alive_reference(
        deps.event_store,
        actor_id,
        created=(ActorRegistered,),
        removed=(ActorRemoved,),
        field_name="actor_id",
        entity="actor",
    )


def authorize_change(state: model.SceneState | None, metadata: EventMetadata) -> None:
    """Reject a change to a live scene by anyone but its creator, an admin or the system.

    A missing or deleted scene is left to the decide function, which answers that it does not exist.
    """
    if state is not None and not state.deleted:
        require_scene_owner(metadata, state.created_by)


def _owned(
    metadata: EventMetadata, decide: Callable[[model.SceneState | None], T]
) -> Callable[[model.SceneState | None], T]:
    """Wrap a decide function: the loaded scene must be one the acting user may change."""

    def checked(state: model.SceneState | None) -> T:
        authorize_change(state, metadata)
        return decide(state)

    return checked


def _step(cmd: Command, name: str) -> Command:
    """Return the same command under a derived id: one idempotent step of a two-stream command."""
    return cmd.model_copy(update={"command_id": uuid5(cmd.command_id, name)})


def _correlated(cmd: Command, metadata: EventMetadata) -> EventMetadata:
    """Metadata whose correlation id ties the steps of one command together."""
    return metadata.model_copy(update={"correlation_id": metadata.correlation_id or cmd.command_id})


async def _reconcile_parent(
    cmd: Command,
    deps: HandlerDeps,
    metadata: EventMetadata,
    *,
    parent_id: UUID,
    child_id: UUID,
) -> None:
    """Record on the parent's stream what the child really is now."""
    child, _ = await load(deps.event_store, child_id, model.replay)
    await execute(
        _step(cmd, "reconcile-parent"),
        deps,
        _correlated(cmd, metadata),
        stream_id=parent_id,
        replay=model.replay,
        decide=lambda parent: model.reconcile_nested(parent, child_id=child_id, child=child),
        expected_version=None,
    )


async def handle_create_scene(cmd: CreateScene, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Create a scene of an existing movie; a nested scene is first reserved inside its parent."""
    require_scene_writer(metadata)
    checked = model.validate_create(cmd)  # the caller's own input is judged before any reference
    span = checked[0]
    parent = None
    parent_id = cmd.parent_scene_id
    if parent_id is not None:
        await require_movie(deps, cmd.movie_id)  # before the parent reserves a range for it
        existing, _ = await load(deps.event_store, cmd.scene_id, model.replay)
        if existing is not None:  # checked before the parent reserves a range for it
            raise InvalidCommandError("scene_id", f"scene {cmd.scene_id} already exists")
        await execute(
            _step(cmd, "attach-to-parent"),
            deps,
            _correlated(cmd, metadata),
            stream_id=parent_id,
            replay=model.replay,
            decide=_owned(
                metadata,
                lambda p: model.attach_nested(
                    p,
                    parent_id=parent_id,
                    child_id=cmd.scene_id,
                    movie_id=cmd.movie_id,
                    span=(span.start_seconds, span.end_seconds),
                ),
            ),
            expected_version=None,
        )
        parent, _ = await load(deps.event_store, parent_id, model.replay)
    try:
        return await execute(
            cmd,
            deps,
            metadata,  # execute stamps the command's own events as _correlated would
            stream_id=cmd.scene_id,
            replay=model.replay,
            decide=lambda state: model.create_scene(
                cmd, existing=state, parent=parent, created_by=metadata.user_id, checked=checked
            ),
            expected_version=NO_STREAM,
            # The movie is checked by the append itself: one round trip for the whole command.
            references=(movie_open(deps.event_store, cmd.movie_id),),
        )
    except DomainError:
        if parent_id is not None:
            await _reconcile_parent(cmd, deps, metadata, parent_id=parent_id, child_id=cmd.scene_id)
        raise


async def handle_retime_scene(cmd: RetimeScene, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Move a scene in time; a nested scene's new range is first accepted by its parent."""
    require_scene_writer(metadata)
    state, version = await load(deps.event_store, cmd.scene_id, model.replay)
    authorize_change(state, metadata)  # before the parent is touched
    if cmd.expected_version is not None and cmd.expected_version != version:
        raise ConcurrencyConflictError(cmd.scene_id, cmd.expected_version, version)
    planned = model.retime_scene(cmd, state)  # the scene's own rules, before the parent is touched
    parent_id = state.parent_scene_id if state is not None else None
    if parent_id is not None and state is not None and planned:
        [retimed] = planned
        if not isinstance(retimed, SceneRetimed):  # pragma: no cover  retime_scene returns SceneRetimed
            raise TypeError(f"unexpected {type(retimed).__name__}")
        span = (retimed.start_time_seconds, retimed.end_time_seconds)
        await execute(
            _step(cmd, "move-in-parent"),
            deps,
            _correlated(cmd, metadata),
            stream_id=parent_id,
            replay=model.replay,
            decide=lambda p: model.move_nested(
                p, parent_id=parent_id, child_id=cmd.scene_id, movie_id=state.movie_id, span=span
            ),
            expected_version=None,
        )
    try:
        return await execute(
            cmd,
            deps,
            _correlated(cmd, metadata),
            stream_id=cmd.scene_id,
            replay=model.replay,
            decide=_owned(metadata, lambda s: model.retime_scene(cmd, s)),
            expected_version=cmd.expected_version,
        )
    except DomainError:
        if parent_id is not None:
            await _reconcile_parent(cmd, deps, metadata, parent_id=parent_id, child_id=cmd.scene_id)
        raise


async def handle_reclassify_scene(
    cmd: ReclassifyScene, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Reclassify a scene."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.reclassify_scene(cmd, state)),
        expected_version=cmd.expected_version,
    )


async def handle_edit_scene_details(
    cmd: EditSceneDetails, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Edit a scene's description and tags."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.edit_scene_details(cmd, state)),
        expected_version=cmd.expected_version,
    )


async def handle_delete_scene(cmd: DeleteScene, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Delete a scene without nested scenes; then its parent, if any, lets go of it."""
    require_scene_writer(metadata)
    state, _ = await load(deps.event_store, cmd.scene_id, model.replay)
    result = await execute(
        cmd,
        deps,
        _correlated(cmd, metadata),
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda s: model.delete_scene(cmd, s)),
        expected_version=cmd.expected_version,
    )
    # Also on a redelivered command: completes a deletion interrupted before this step.
    if state is not None and state.parent_scene_id is not None:
        await _reconcile_parent(cmd, deps, metadata, parent_id=state.parent_scene_id, child_id=cmd.scene_id)
    return result


async def handle_add_scene_actor(
    cmd: AddSceneActor, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Cast an existing actor in a scene."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.add_scene_actor(cmd, state)),
        expected_version=cmd.expected_version,
        references=(actor_exists(deps, cmd.actor_id),),
    )


async def handle_remove_scene_actor(
    cmd: RemoveSceneActor, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Take an actor out of a scene (also one the Actor service has removed since)."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.remove_scene_actor(cmd, state)),
        expected_version=cmd.expected_version,
    )


async def handle_add_dialogue(cmd: AddDialogue, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Add a dialogue line spoken by an existing actor."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.add_dialogue(cmd, state)),
        expected_version=cmd.expected_version,
        references=(actor_exists(deps, cmd.actor_id),),
    )


async def handle_revise_dialogue(
    cmd: ReviseDialogue, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Revise a dialogue line; a new speaker must exist."""
    require_scene_writer(metadata)
    speaker = model.dialogue_changes(cmd).get("actor_id")
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.revise_dialogue(cmd, state)),
        expected_version=cmd.expected_version,
        references=(actor_exists(deps, speaker),) if speaker is not None else (),
    )


async def handle_remove_dialogue(
    cmd: RemoveDialogue, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Remove a dialogue line."""
    require_scene_writer(metadata)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.scene_id,
        replay=model.replay,
        decide=_owned(metadata, lambda state: model.remove_dialogue(cmd, state)),
        expected_version=cmd.expected_version,
    )


SCENE_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(CreateScene, handle_create_scene),
        route(RetimeScene, handle_retime_scene),
        route(ReclassifyScene, handle_reclassify_scene),
        route(EditSceneDetails, handle_edit_scene_details),
        route(DeleteScene, handle_delete_scene),
        route(AddSceneActor, handle_add_scene_actor),
        route(RemoveSceneActor, handle_remove_scene_actor),
        route(AddDialogue, handle_add_dialogue),
        route(ReviseDialogue, handle_revise_dialogue),
        route(RemoveDialogue, handle_remove_dialogue),
        route(RestoreScene, handle_restore_scene),  # the movie-removal saga's compensation
    ],
)
