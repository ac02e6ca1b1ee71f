"""Scene commands and the pure Scene aggregate that validates them and returns events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field, StringConstraints

from commands.base import Command
from commands.classification import Classification, ClassificationError, parse_classification
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.timecode import TimeInputError, TimeRange, parse_time_range
from events.base import DomainEvent
from events.scene import (
    SceneCreated,
    SceneDeleted,
    SceneDetailsEdited,
    SceneEvent,
    SceneReclassified,
    SceneRetimed,
    SceneType,
)

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Description = Annotated[str, StringConstraints(max_length=10_000)]
MAX_TAGS = 50


class CreateScene(Command):
    """Classify a new scene on a movie's timeline."""

    scene_id: UUID = Field(default_factory=uuid4)
    movie_id: UUID
    start: str = Field(description="start time: HHMMSS digits right-aligned, H:MM:SS or MM:SS")
    end: str = Field(description="end time, absolute like start, or '+' and a duration after it")
    classification: str = Field(description="L-dialogue code, level 2 or 3: 'L2' or 'L2-3'")
    scene_number: int | None = Field(default=None, ge=1)
    scene_type: SceneType = "primary"
    parent_scene_id: UUID | None = None
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)
    description: Description | None = None
    emotional_tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)


class RetimeScene(Command):
    """Move a scene to a new time range."""

    scene_id: UUID
    start: str
    end: str
    expected_version: int | None = Field(default=None, ge=1)


class ReclassifyScene(Command):
    """Give a scene a new L-dialogue classification."""

    scene_id: UUID
    classification: str
    expected_version: int | None = Field(default=None, ge=1)


class EditSceneDetails(Command):
    """Change a scene's description, tags or emotional tags; fields left out stay as they are.

    An empty description clears it.
    """

    scene_id: UUID
    description: Description | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    emotional_tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    expected_version: int | None = Field(default=None, ge=1)


class DeleteScene(Command):
    """Remove a scene."""

    scene_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


SceneCommand = CreateScene | RetimeScene | ReclassifyScene | EditSceneDetails | DeleteScene


@dataclass(frozen=True, slots=True)
class SceneState:
    """A scene as its events left it."""

    scene_id: UUID
    version: int
    movie_id: UUID
    start_time_seconds: int
    end_time_seconds: int
    classification: Classification
    scene_type: SceneType
    parent_scene_id: UUID | None
    tags: tuple[str, ...]
    description: str | None
    emotional_tags: tuple[str, ...]
    deleted: bool = False


def _dedupe(tags: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(tags))


def _time_range(start: str, end: str) -> TimeRange:
    try:
        return parse_time_range(start, end)
    except TimeInputError as exc:
        raise InvalidCommandError(exc.field, exc.reason) from None


def _classification(code: str) -> Classification:
    try:
        return parse_classification(code)
    except ClassificationError as exc:
        raise InvalidCommandError("classification", exc.reason) from None


def _check_parent(
    scene_type: SceneType,
    parent: SceneState | None,
    parent_id: UUID | None,
    movie_id: UUID,
    span: TimeRange,
) -> None:
    if scene_type == "nested" and parent_id is None:
        raise InvalidCommandError("parent_scene_id", "a nested scene needs its parent scene")
    if scene_type != "nested" and parent_id is not None:
        raise InvalidCommandError("parent_scene_id", "only a nested scene has a parent scene")
    if parent_id is None:
        return
    if parent is None or parent.deleted:
        raise StreamNotFoundError("parent_scene_id", "scene", parent_id, referenced=True)
    if parent.movie_id != movie_id:
        raise InvalidCommandError("parent_scene_id", "the parent scene belongs to another movie")
    if not (parent.start_time_seconds <= span.start_seconds and span.end_seconds <= parent.end_time_seconds):
        raise InvalidCommandError(
            "parent_scene_id",
            f"a nested scene must lie inside its parent "
            f"({parent.start_time_seconds}-{parent.end_time_seconds} s)",
        )


def create_scene(
    cmd: CreateScene,
    *,
    existing: SceneState | None,
    parent: SceneState | None,
    created_by: UUID | None,
) -> list[SceneEvent]:
    """Validate a new scene and return its ``SceneCreated``."""
    if existing is not None:
        raise InvalidCommandError("scene_id", f"scene {cmd.scene_id} already exists")
    span = _time_range(cmd.start, cmd.end)
    cls = _classification(cmd.classification)
    _check_parent(cmd.scene_type, parent, cmd.parent_scene_id, cmd.movie_id, span)
    return [
        SceneCreated(
            stream_id=cmd.scene_id,
            stream_version=1,
            movie_id=cmd.movie_id,
            scene_number=cmd.scene_number,
            start_time_seconds=span.start_seconds,
            end_time_seconds=span.end_seconds,
            input_format=span.input_format,
            level1_classification=cls.level1,
            level2_classification=cls.level2,
            level3_classification=cls.level3,
            scene_type=cmd.scene_type,
            parent_scene_id=cmd.parent_scene_id,
            tags=_dedupe(cmd.tags),
            description=cmd.description or None,
            emotional_tags=_dedupe(cmd.emotional_tags),
            created_by=created_by,
        ),
    ]


def _live(state: SceneState | None, scene_id: UUID) -> SceneState:
    if state is None or state.deleted:
        raise StreamNotFoundError("scene_id", "scene", scene_id)
    return state


def retime_scene(cmd: RetimeScene, state: SceneState | None) -> list[SceneEvent]:
    """Validate a new time range; no event when nothing changes."""
    scene = _live(state, cmd.scene_id)
    span = _time_range(cmd.start, cmd.end)
    if (span.start_seconds, span.end_seconds) == (
        scene.start_time_seconds,
        scene.end_time_seconds,
    ):
        return []
    return [
        SceneRetimed(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            start_time_seconds=span.start_seconds,
            end_time_seconds=span.end_seconds,
            input_format=span.input_format,
        ),
    ]


def reclassify_scene(cmd: ReclassifyScene, state: SceneState | None) -> list[SceneEvent]:
    """Validate a new classification; no event when nothing changes."""
    scene = _live(state, cmd.scene_id)
    cls = _classification(cmd.classification)
    if cls == scene.classification:
        return []
    return [
        SceneReclassified(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            level1_classification=cls.level1,
            level2_classification=cls.level2,
            level3_classification=cls.level3,
        ),
    ]


def edit_scene_details(cmd: EditSceneDetails, state: SceneState | None) -> list[SceneEvent]:
    """Apply the given detail changes; no event when nothing changes."""
    scene = _live(state, cmd.scene_id)
    if cmd.description is None and cmd.tags is None and cmd.emotional_tags is None:
        raise InvalidCommandError(
            "description",
            "give at least one of description, tags, emotional_tags to change",
        )
    description = scene.description if cmd.description is None else (cmd.description or None)
    tags = scene.tags if cmd.tags is None else _dedupe(cmd.tags)
    emotional = scene.emotional_tags if cmd.emotional_tags is None else _dedupe(cmd.emotional_tags)
    if (description, tags, emotional) == (scene.description, scene.tags, scene.emotional_tags):
        return []
    return [
        SceneDetailsEdited(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            description=description,
            tags=tags,
            emotional_tags=emotional,
        ),
    ]


def delete_scene(cmd: DeleteScene, state: SceneState | None) -> list[SceneEvent]:
    """Remove a live scene."""
    scene = _live(state, cmd.scene_id)
    return [
        SceneDeleted(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
        ),
    ]


@singledispatch
def apply(event: SceneEvent, state: SceneState | None) -> SceneState:  # noqa: ARG001  the fallback
    """Return the scene state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing(state: SceneState | None, event: SceneEvent) -> SceneState:
    if state is None:
        raise TypeError(f"{event.event_type} before SceneCreated in stream {event.stream_id}")
    return state


@apply.register
def _(event: SceneCreated, state: SceneState | None) -> SceneState:  # noqa: ARG001  starts from nothing
    return SceneState(
        scene_id=event.stream_id,
        version=event.stream_version,
        movie_id=event.movie_id,
        start_time_seconds=event.start_time_seconds,
        end_time_seconds=event.end_time_seconds,
        classification=Classification(
            level1=event.level1_classification,
            level2=event.level2_classification,
            level3=event.level3_classification,
        ),
        scene_type=event.scene_type,
        parent_scene_id=event.parent_scene_id,
        tags=event.tags,
        description=event.description,
        emotional_tags=event.emotional_tags,
    )


@apply.register
def _(event: SceneRetimed, state: SceneState | None) -> SceneState:
    return replace(
        _existing(state, event),
        version=event.stream_version,
        start_time_seconds=event.start_time_seconds,
        end_time_seconds=event.end_time_seconds,
    )


@apply.register
def _(event: SceneReclassified, state: SceneState | None) -> SceneState:
    return replace(
        _existing(state, event),
        version=event.stream_version,
        classification=Classification(
            level1=event.level1_classification,
            level2=event.level2_classification,
            level3=event.level3_classification,
        ),
    )


@apply.register
def _(event: SceneDetailsEdited, state: SceneState | None) -> SceneState:
    return replace(
        _existing(state, event),
        version=event.stream_version,
        description=event.description,
        tags=event.tags,
        emotional_tags=event.emotional_tags,
    )


@apply.register
def _(event: SceneDeleted, state: SceneState | None) -> SceneState:
    return replace(_existing(state, event), version=event.stream_version, deleted=True)


def replay(events: Sequence[DomainEvent]) -> SceneState | None:
    """Fold a stream's events into its state (``None`` for an empty stream)."""
    state: SceneState | None = None
    for event in events:
        if isinstance(event, SceneEvent):
            state = apply(event, state)
    return state
