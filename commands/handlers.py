"""Command handlers: load the stream, ask the pure aggregate, append with optimistic concurrency."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from uuid import UUID

from commands import scene as scene_model
from commands.errors import ConcurrencyConflictError
from commands.ports import NO_STREAM, EventStore
from commands.scene import (
    Command,
    CreateScene,
    DeleteScene,
    EditSceneDetails,
    ReclassifyScene,
    RetimeScene,
    SceneState,
)
from events.base import EventMetadata, Message
from events.scene import SceneEvent

CONFLICT_RETRIES = 5
"""How often a command without an expected version is re-run on a concurrent write."""


class CommandResult(Message):
    """What a handled command did: its stream, the version it left, the positions written."""

    command_id: UUID
    stream_id: UUID
    stream_version: int
    positions: tuple[int, ...] = ()
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class HandlerDeps:
    """What handlers need; built once in the bootstrap."""

    event_store: EventStore


async def load_scene(store: EventStore, scene_id: UUID) -> SceneState | None:
    """Rebuild a scene's state from its stream."""
    recorded = await store.read_stream(scene_id)
    events = [r.event for r in recorded if isinstance(r.event, SceneEvent)]
    return scene_model.replay(events)


def _stamp(cmd: Command, metadata: EventMetadata) -> EventMetadata:
    return metadata.model_copy(
        update={
            "correlation_id": metadata.correlation_id or cmd.command_id,
            "causation_id": cmd.command_id,
        },
    )


async def _decide_and_append(
    cmd: Command,
    deps: HandlerDeps,
    metadata: EventMetadata,
    scene_id: UUID,
    decide: Callable[[SceneState | None], list[SceneEvent]],
    expected_version: int | None,
) -> CommandResult:
    previous = await deps.event_store.find_command(cmd.command_id)
    if previous is not None:
        return CommandResult(
            command_id=cmd.command_id,
            stream_id=previous.stream_id,
            stream_version=previous.stream_version,
            positions=previous.positions,
            duplicate=True,
        )
    attempts = 1 if expected_version is not None else CONFLICT_RETRIES
    for attempt in range(1, attempts + 1):
        state = await load_scene(deps.event_store, scene_id)
        current = state.version if state else NO_STREAM
        if expected_version is not None and expected_version != current:
            raise ConcurrencyConflictError(scene_id, expected_version, current)
        events = decide(state)
        if not events:
            return CommandResult(command_id=cmd.command_id, stream_id=scene_id, stream_version=current)
        try:
            result = await deps.event_store.append(
                events,
                expected_version=current,
                metadata=_stamp(cmd, metadata),
                command_id=cmd.command_id,
            )
        except ConcurrencyConflictError:
            if attempt == attempts:
                raise
            continue
        return CommandResult(
            command_id=cmd.command_id,
            stream_id=result.stream_id,
            stream_version=result.stream_version,
            positions=result.positions,
            duplicate=result.duplicate,
        )
    raise AssertionError("unreachable")  # pragma: no cover  the loop returns or raises


async def handle_create_scene(
    cmd: CreateScene,
    deps: HandlerDeps,
    metadata: EventMetadata,
) -> CommandResult:
    """Create a scene (its parent, when nested, must exist and enclose it)."""
    parent = await load_scene(deps.event_store, cmd.parent_scene_id) if cmd.parent_scene_id else None

    def decide(state: SceneState | None) -> list[SceneEvent]:
        return scene_model.create_scene(
            cmd,
            existing=state,
            parent=parent,
            created_by=metadata.user_id,
        )

    return await _decide_and_append(cmd, deps, metadata, cmd.scene_id, decide, NO_STREAM)


async def handle_retime_scene(
    cmd: RetimeScene,
    deps: HandlerDeps,
    metadata: EventMetadata,
) -> CommandResult:
    """Move a scene in time."""
    return await _decide_and_append(
        cmd,
        deps,
        metadata,
        cmd.scene_id,
        lambda state: scene_model.retime_scene(cmd, state),
        cmd.expected_version,
    )


async def handle_reclassify_scene(
    cmd: ReclassifyScene,
    deps: HandlerDeps,
    metadata: EventMetadata,
) -> CommandResult:
    """Reclassify a scene."""
    return await _decide_and_append(
        cmd,
        deps,
        metadata,
        cmd.scene_id,
        lambda state: scene_model.reclassify_scene(cmd, state),
        cmd.expected_version,
    )


async def handle_edit_scene_details(
    cmd: EditSceneDetails,
    deps: HandlerDeps,
    metadata: EventMetadata,
) -> CommandResult:
    """Edit a scene's description and tags."""
    return await _decide_and_append(
        cmd,
        deps,
        metadata,
        cmd.scene_id,
        lambda state: scene_model.edit_scene_details(cmd, state),
        cmd.expected_version,
    )


async def handle_delete_scene(
    cmd: DeleteScene,
    deps: HandlerDeps,
    metadata: EventMetadata,
) -> CommandResult:
    """Delete a scene."""
    return await _decide_and_append(
        cmd,
        deps,
        metadata,
        cmd.scene_id,
        lambda state: scene_model.delete_scene(cmd, state),
        cmd.expected_version,
    )


COMMAND_HANDLERS: dict[type[Command], Callable[..., Awaitable[CommandResult]]] = {
    CreateScene: handle_create_scene,
    RetimeScene: handle_retime_scene,
    ReclassifyScene: handle_reclassify_scene,
    EditSceneDetails: handle_edit_scene_details,
    DeleteScene: handle_delete_scene,
}

COMMANDS_BY_NAME: dict[str, type[Command]] = {cls.__name__: cls for cls in COMMAND_HANDLERS}


class CommandBus:
    """Routes each command to its handler: the one path shared by CLI, HTTP and Kafka."""

    def __init__(
        self,
        deps: HandlerDeps,
        handlers: dict[type[Command], Callable[..., Awaitable[CommandResult]]] | None = None,
    ) -> None:
        self._deps = deps
        self._handlers = handlers if handlers is not None else COMMAND_HANDLERS

    async def dispatch(self, cmd: Command, metadata: EventMetadata | None = None) -> CommandResult:
        """Handle ``cmd``; raises a :class:`commands.errors.DomainError` when it is rejected."""
        handler = self._handlers[type(cmd)]
        return await handler(cmd, self._deps, metadata or EventMetadata())
