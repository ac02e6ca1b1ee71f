"""Parallel scene group commands and the pure aggregate: scenes of one movie that run at the same time."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field, StringConstraints

from commands.base import Command
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.scene import Description, SceneState
from commands.timecode import TimeInputError, TimeRange, parse_time_range
from events.base import DomainEvent
from events.scene import (
    DisplayPosition,
    NarrativeRole,
    ParallelGroupCreated,
    ParallelGroupDissolved,
    ParallelGroupEvent,
    RelationType,
    SceneAddedToParallelGroup,
    SceneRemovedFromParallelGroup,
)

GroupName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class CreateParallelGroup(Command):
    """Group time-parallel scenes of a movie (split screen, parallel narrative, overlapping events)."""

    group_id: UUID = Field(default_factory=uuid4)
    movie_id: UUID
    group_name: GroupName | None = None
    start: str = Field(description="start time: HHMMSS digits right-aligned, H:MM:SS or MM:SS")
    end: str = Field(description="end time, absolute like start, or '+' and a duration after it")
    relation_type: RelationType
    description: Description | None = None
    narrative_purpose: Description | None = None


class AddSceneToParallelGroup(Command):
    """Make a live scene of the group's movie, overlapping the group's time range, a member."""

    group_id: UUID
    scene_id: UUID
    display_position: DisplayPosition | None = Field(default=None, description="split_screen groups only")
    narrative_role: NarrativeRole | None = None
    expected_version: int | None = Field(default=None, ge=1)


class RemoveSceneFromParallelGroup(Command):
    """Take a scene out of a group."""

    group_id: UUID
    scene_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class DissolveParallelGroup(Command):
    """Dissolve a group; its scenes stay."""

    group_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


@dataclass(frozen=True, slots=True)
class ParallelGroupState:
    """A parallel scene group as its events left it."""

    group_id: UUID
    version: int
    movie_id: UUID
    start_time_seconds: int
    end_time_seconds: int
    relation_type: RelationType
    members: Mapping[UUID, SceneAddedToParallelGroup] = field(default_factory=dict)
    dissolved: bool = False


def _time_range(start: str, end: str) -> TimeRange:
    try:
        return parse_time_range(start, end)
    except TimeInputError as exc:
        raise InvalidCommandError(exc.field, exc.reason) from None


def validate_group(cmd: CreateParallelGroup) -> TimeRange:
    """Check a new group's own input before anything is loaded; return its time range."""
    return _time_range(cmd.start, cmd.end)


def create_group(cmd: CreateParallelGroup, existing: ParallelGroupState | None) -> list[ParallelGroupEvent]:
    """Validate a new group (its movie checked by the handler) and return its ``ParallelGroupCreated``."""
    if existing is not None:
        raise InvalidCommandError("group_id", f"parallel group {cmd.group_id} already exists")
    span = validate_group(cmd)
    return [
        ParallelGroupCreated(
            stream_id=cmd.group_id,
            stream_version=1,
            movie_id=cmd.movie_id,
            group_name=cmd.group_name,
            start_time_seconds=span.start_seconds,
            end_time_seconds=span.end_seconds,
            input_format=span.input_format,
            relation_type=cmd.relation_type,
            description=cmd.description or None,
            narrative_purpose=cmd.narrative_purpose or None,
        ),
    ]


def _live(state: ParallelGroupState | None, group_id: UUID) -> ParallelGroupState:
    if state is None or state.dissolved:
        raise StreamNotFoundError("group_id", "parallel group", group_id)
    return state


def add_scene(
    cmd: AddSceneToParallelGroup,
    state: ParallelGroupState | None,
    scene: SceneState | None,
) -> list[ParallelGroupEvent]:
    """Add a member: a live scene of the same movie overlapping the group's range, once."""
    group = _live(state, cmd.group_id)
    if scene is None or scene.deleted:
        raise StreamNotFoundError("scene_id", "scene", cmd.scene_id, referenced=True)
    if scene.movie_id != group.movie_id:
        raise InvalidCommandError("scene_id", "the scene belongs to another movie than the group")
    if not (
        scene.start_time_seconds < group.end_time_seconds
        and group.start_time_seconds < scene.end_time_seconds
    ):
        raise InvalidCommandError(
            "scene_id",
            f"the scene ({scene.start_time_seconds}-{scene.end_time_seconds} s) does not overlap the "
            f"group's time range ({group.start_time_seconds}-{group.end_time_seconds} s)",
        )
    if cmd.scene_id in group.members:
        raise InvalidCommandError("scene_id", f"scene {cmd.scene_id} is already in this group")
    if cmd.display_position is not None and group.relation_type != "split_screen":
        raise InvalidCommandError(
            "display_position", f"only split_screen groups place scenes (this one is {group.relation_type})"
        )
    return [
        SceneAddedToParallelGroup(
            stream_id=group.group_id,
            stream_version=group.version + 1,
            movie_id=group.movie_id,
            scene_id=cmd.scene_id,
            display_position=cmd.display_position,
            narrative_role=cmd.narrative_role,
        ),
    ]


def remove_scene(
    cmd: RemoveSceneFromParallelGroup, state: ParallelGroupState | None
) -> list[ParallelGroupEvent]:
    """Remove a member (also one whose scene was deleted since)."""
    group = _live(state, cmd.group_id)
    if cmd.scene_id not in group.members:
        raise StreamNotFoundError("scene_id", "member of this group", cmd.scene_id)
    return [
        SceneRemovedFromParallelGroup(
            stream_id=group.group_id,
            stream_version=group.version + 1,
            movie_id=group.movie_id,
            scene_id=cmd.scene_id,
        ),
    ]


def dissolve_group(cmd: DissolveParallelGroup, state: ParallelGroupState | None) -> list[ParallelGroupEvent]:
    """Dissolve a live group."""
    group = _live(state, cmd.group_id)
    return [
        ParallelGroupDissolved(
            stream_id=group.group_id,
            stream_version=group.version + 1,
            movie_id=group.movie_id,
        ),
    ]


@singledispatch
def apply(event: ParallelGroupEvent, state: ParallelGroupState | None) -> ParallelGroupState:  # noqa: ARG001  the fallback
    """Return the group state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing(state: ParallelGroupState | None, event: ParallelGroupEvent) -> ParallelGroupState:
    if state is None:
        raise TypeError(f"{event.event_type} before ParallelGroupCreated in stream {event.stream_id}")
    return state


@apply.register
def _(event: ParallelGroupCreated, state: ParallelGroupState | None) -> ParallelGroupState:  # noqa: ARG001  starts from nothing
    return ParallelGroupState(
        group_id=event.stream_id,
        version=event.stream_version,
        movie_id=event.movie_id,
        start_time_seconds=event.start_time_seconds,
        end_time_seconds=event.end_time_seconds,
        relation_type=event.relation_type,
    )


@apply.register
def _(event: SceneAddedToParallelGroup, state: ParallelGroupState | None) -> ParallelGroupState:
    group = _existing(state, event)
    return replace(group, version=event.stream_version, members={**group.members, event.scene_id: event})


@apply.register
def _(event: SceneRemovedFromParallelGroup, state: ParallelGroupState | None) -> ParallelGroupState:
    group = _existing(state, event)
    members = {k: v for k, v in group.members.items() if k != event.scene_id}
    return replace(group, version=event.stream_version, members=members)


@apply.register
def _(event: ParallelGroupDissolved, state: ParallelGroupState | None) -> ParallelGroupState:
    return replace(_existing(state, event), version=event.stream_version, dissolved=True)


def replay(events: Sequence[DomainEvent]) -> ParallelGroupState | None:
    """Fold a group stream's events into its state (``None`` for an empty stream)."""
    state: ParallelGroupState | None = None
    for event in events:
        if isinstance(event, ParallelGroupEvent):
            state = apply(event, state)
    return state
