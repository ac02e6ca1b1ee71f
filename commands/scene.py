"""Scene commands and the pure Scene aggregate that validates them and returns events.

A scene's stream holds the scene, its cast (scene_actors), its dialogue lines and, for a
parent scene, the time ranges of its nested scenes, so every rule between them is checked
against one consistent state.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Annotated, Any, Literal
from uuid import UUID, uuid4

from pydantic import Field, StringConstraints

from commands.base import Command, Decision, built
from commands.classification import Classification, ClassificationError, parse_classification
from commands.errors import ConcurrencyConflictError, InvalidCommandError, StreamNotFoundError
from commands.ports import UniqueClaim
from commands.timecode import DAY_SECONDS, TimeInputError, TimeRange, parse_time_range
from events.base import DomainEvent, RecordedEvent
from events.scene import (
    DialogueAdded,
    DialogueEvent,
    DialogueRemoved,
    DialogueRevised,
    DialogueType,
    NestedSceneAttached,
    NestedSceneDetached,
    NestedSceneMoved,
    SceneActorAdded,
    SceneActorRemoved,
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
CharacterName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
DialogueText = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]
EmotionalTone = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10)]
Subtitle = Annotated[str, StringConstraints(max_length=10_000)]
Seconds = Annotated[int, Field(ge=0, le=DAY_SECONDS)]
RoleType = Literal["primary", "supporting", "cameo"]
DIALOGUE_ID_SCOPE = "scene_dialogue_id"
"""Unique-claim scope of dialogue ids: an id names one line in one scene, forever."""


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


class AddSceneActor(Command):
    """Cast an actor in a scene (one entry per actor and scene)."""

    scene_id: UUID
    actor_id: UUID
    character_name: CharacterName | None = None
    role_type: RoleType = "supporting"
    screen_time_seconds: Seconds | None = Field(
        default=None, description="seconds the actor is on screen; at most the scene's duration"
    )
    expected_version: int | None = Field(default=None, ge=1)


class RemoveSceneActor(Command):
    """Take an actor out of a scene's cast."""

    scene_id: UUID
    actor_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class AddDialogue(Command):
    """Add a dialogue line to a scene; its offset and duration must fit in the scene."""

    scene_id: UUID
    dialogue_id: UUID = Field(default_factory=uuid4)
    actor_id: UUID = Field(description="the speaker")
    character_name: CharacterName | None = None
    dialogue_text: DialogueText
    start_time_offset: Seconds | None = Field(default=None, description="seconds after the scene's start")
    duration_seconds: Seconds | None = None
    is_memorable_quote: bool = False
    dialogue_type: DialogueType | None = None
    emotional_tone: EmotionalTone | None = Field(default=None, description="free text: sad, angry, ...")
    language: Language = "ja"
    subtitle_text: Subtitle | None = None
    expected_version: int | None = Field(default=None, ge=1)


class ReviseDialogue(Command):
    """Change a dialogue line: fields left out stay as they are, a nullable field given as null is cleared."""

    scene_id: UUID
    dialogue_id: UUID
    actor_id: UUID | None = None
    character_name: CharacterName | None = None
    dialogue_text: DialogueText | None = None
    start_time_offset: Seconds | None = None
    duration_seconds: Seconds | None = None
    is_memorable_quote: bool | None = None
    dialogue_type: DialogueType | None = None
    emotional_tone: EmotionalTone | None = None
    language: Language | None = None
    subtitle_text: Subtitle | None = None
    expected_version: int | None = Field(default=None, ge=1)


class RemoveDialogue(Command):
    """Remove a dialogue line from a scene."""

    scene_id: UUID
    dialogue_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


SceneCommand = (
    CreateScene
    | RetimeScene
    | ReclassifyScene
    | EditSceneDetails
    | DeleteScene
    | AddSceneActor
    | RemoveSceneActor
    | AddDialogue
    | ReviseDialogue
    | RemoveDialogue
)

_REQUIRED_DIALOGUE_FIELDS = frozenset({"actor_id", "dialogue_text", "is_memorable_quote", "language"})


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
    created_by: UUID | None = None
    """Who created the scene (``None``: no user, e.g. the system); only they or an admin change it."""
    actors: Mapping[UUID, SceneActorAdded] = field(default_factory=dict)
    """The cast by actor id, as each was added."""
    dialogues: Mapping[UUID, DialogueEvent] = field(default_factory=dict)
    """Dialogue lines by id, as last added or revised."""
    children: Mapping[UUID, tuple[int, int]] = field(default_factory=dict)
    """Time ranges of the live nested scenes whose parent this scene is."""

    @property
    def duration_seconds(self) -> int:
        """Length of the scene in seconds."""
        return self.end_time_seconds - self.start_time_seconds


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


def _encloses(outer: tuple[int, int], inner: tuple[int, int]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _outside_field(outer: tuple[int, int], inner: tuple[int, int]) -> str:
    """Which end of ``outer`` (``start`` or ``end``) fails to enclose ``inner``."""
    return "start" if inner[0] < outer[0] else "end"


def _check_parent(
    scene_type: SceneType,
    parent: SceneState | None,
    parent_id: UUID | None,
    movie_id: UUID,
    span: TimeRange,
) -> None:
    _check_parent_fields(scene_type, parent_id)
    if parent_id is None:
        return
    _check_parent_encloses(parent, parent_id, movie_id, (span.start_seconds, span.end_seconds))


def _check_parent_fields(scene_type: SceneType, parent_id: UUID | None) -> None:
    if scene_type == "nested" and parent_id is None:
        raise InvalidCommandError("parent_scene_id", "a nested scene needs its parent scene")
    if scene_type != "nested" and parent_id is not None:
        raise InvalidCommandError("parent_scene_id", "only a nested scene has a parent scene")


def _check_parent_encloses(
    parent: SceneState | None,
    parent_id: UUID,
    movie_id: UUID,
    span: tuple[int, int],
    *,
    field_name: str = "parent_scene_id",
) -> SceneState:
    if parent is None or parent.deleted:
        raise StreamNotFoundError("parent_scene_id", "scene", parent_id, referenced=True)
    if parent.movie_id != movie_id:
        raise InvalidCommandError("parent_scene_id", "the parent scene belongs to another movie")
    if not _encloses((parent.start_time_seconds, parent.end_time_seconds), span):
        raise InvalidCommandError(
            field_name,
            f"a nested scene must lie inside its parent "
            f"({parent.start_time_seconds}-{parent.end_time_seconds} s)",
        )
    return parent


def validate_create(cmd: CreateScene) -> tuple[TimeRange, Classification]:
    """Check a new scene's own input (time, classification, nesting fields) before anything is loaded."""
    span = _time_range(cmd.start, cmd.end)
    cls = _classification(cmd.classification)
    _check_parent_fields(cmd.scene_type, cmd.parent_scene_id)
    return span, cls


def create_scene(
    cmd: CreateScene,
    *,
    existing: SceneState | None,
    parent: SceneState | None,
    created_by: UUID | None,
    checked: tuple[TimeRange, Classification] | None = None,
) -> list[SceneEvent]:
    """Validate a new scene and return its ``SceneCreated``.

    ``checked`` is what :func:`validate_create` returned for this very command, when the
    caller already ran it (the handler does, before anything is loaded): not parsed twice.
    """
    if existing is not None:
        raise InvalidCommandError("scene_id", f"scene {cmd.scene_id} already exists")
    span, cls = checked if checked is not None else validate_create(cmd)
    _check_parent(cmd.scene_type, parent, cmd.parent_scene_id, cmd.movie_id, span)
    # Every value comes from the validated command or the parsers: no NUL walk again.
    return [
        built(
            SceneCreated,
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


def _dialogue_end(offset: int | None, duration: int | None) -> int:
    return (offset or 0) + (duration or 0)


def _check_content_fits(scene: SceneState, span: tuple[int, int]) -> None:
    """Reject a time range that no longer holds the scene's nested scenes, screen times or lines."""
    for child_id, child in scene.children.items():
        if not _encloses(span, child):
            raise InvalidCommandError(
                _outside_field(span, child),
                f"nested scene {child_id} ({child[0]}-{child[1]} s) would no longer lie inside this scene",
            )
    duration = span[1] - span[0]
    for actor_id, credit in scene.actors.items():
        if credit.screen_time_seconds is not None and credit.screen_time_seconds > duration:
            raise InvalidCommandError(
                "end",
                f"actor {actor_id} has {credit.screen_time_seconds} s of screen time, "
                f"more than the new {duration} s",
            )
    for dialogue_id, line in scene.dialogues.items():
        if _dialogue_end(line.start_time_offset, line.duration_seconds) > duration:
            raise InvalidCommandError(
                "end", f"dialogue {dialogue_id} would end after the scene's new {duration} s"
            )


def retime_scene(cmd: RetimeScene, state: SceneState | None) -> list[SceneEvent]:
    """Validate a new time range; no event when nothing changes.

    The range must keep holding the scene's nested scenes, actors' screen times and
    dialogue lines. Whether a nested scene's new range lies inside its parent is decided on
    the parent's stream (:func:`move_nested`).
    """
    scene = _live(state, cmd.scene_id)
    span = _time_range(cmd.start, cmd.end)
    new = (span.start_seconds, span.end_seconds)
    if new == (scene.start_time_seconds, scene.end_time_seconds):
        return []
    _check_content_fits(scene, new)
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
    """Remove a live scene that has no live nested scene.

    Its cast is removed first (one ``SceneActorRemoved`` each, in the same append): other
    services count those shared events and need not know what a deleted scene held.
    """
    scene = _live(state, cmd.scene_id)
    if scene.children:
        children = ", ".join(str(c) for c in scene.children)
        raise InvalidCommandError(
            "scene_id", f"scene has nested scenes ({children}); delete or move them first"
        )
    events: list[SceneEvent] = [
        SceneActorRemoved(
            stream_id=scene.scene_id,
            stream_version=scene.version + i,
            movie_id=scene.movie_id,
            actor_id=actor_id,
        )
        for i, actor_id in enumerate(scene.actors, start=1)
    ]
    events.append(
        SceneDeleted(
            stream_id=scene.scene_id,
            stream_version=scene.version + len(events) + 1,
            movie_id=scene.movie_id,
        ),
    )
    return events


def add_scene_actor(cmd: AddSceneActor, state: SceneState | None) -> list[SceneEvent]:
    """Cast an actor (whose existence the handler checked) in the scene, once."""
    scene = _live(state, cmd.scene_id)
    if cmd.actor_id in scene.actors:
        raise InvalidCommandError("actor_id", f"actor {cmd.actor_id} is already in this scene")
    if cmd.screen_time_seconds is not None and cmd.screen_time_seconds > scene.duration_seconds:
        raise InvalidCommandError(
            "screen_time_seconds",
            f"must be at most the scene's duration ({scene.duration_seconds} s)",
        )
    return [
        SceneActorAdded(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            actor_id=cmd.actor_id,
            character_name=cmd.character_name,
            role_type=cmd.role_type,
            screen_time_seconds=cmd.screen_time_seconds,
        ),
    ]


def remove_scene_actor(cmd: RemoveSceneActor, state: SceneState | None) -> list[SceneEvent]:
    """Take an actor out of the scene's cast."""
    scene = _live(state, cmd.scene_id)
    if cmd.actor_id not in scene.actors:
        raise StreamNotFoundError("actor_id", "actor of this scene", cmd.actor_id)
    return [
        SceneActorRemoved(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            actor_id=cmd.actor_id,
        ),
    ]


def _check_dialogue_fits(scene: SceneState, offset: int | None, duration: int | None) -> None:
    limit = scene.duration_seconds
    if offset is not None and offset > limit:
        raise InvalidCommandError(
            "start_time_offset", f"must lie within the scene's duration ({limit} s), got {offset}"
        )
    end = _dialogue_end(offset, duration)
    if duration is not None and end > limit:
        raise InvalidCommandError(
            "duration_seconds",
            f"the line would end {end} s after the scene's start, beyond its duration ({limit} s)",
        )


def add_dialogue(cmd: AddDialogue, state: SceneState | None) -> Decision:
    """Add a dialogue line (whose speaker the handler checked) that fits inside the scene.

    The id is claimed for good (never released, not even by removal): it is the line's key
    in the read model, where another scene's line under the same id would collide.
    """
    scene = _live(state, cmd.scene_id)
    if cmd.dialogue_id in scene.dialogues:
        raise InvalidCommandError("dialogue_id", f"dialogue {cmd.dialogue_id} already exists")
    _check_dialogue_fits(scene, cmd.start_time_offset, cmd.duration_seconds)
    content = cmd.model_dump(include=set(DialogueEvent.CONTENT_FIELDS))
    added = DialogueAdded(
        stream_id=scene.scene_id,
        stream_version=scene.version + 1,
        movie_id=scene.movie_id,
        dialogue_id=cmd.dialogue_id,
        **content,
    )
    return Decision(events=[added], claims=[UniqueClaim(scope=DIALOGUE_ID_SCOPE, key=str(cmd.dialogue_id))])


def _dialogue(scene: SceneState, dialogue_id: UUID) -> DialogueEvent:
    line = scene.dialogues.get(dialogue_id)
    if line is None:
        raise StreamNotFoundError("dialogue_id", "dialogue of this scene", dialogue_id)
    return line


def dialogue_changes(cmd: ReviseDialogue) -> dict[str, Any]:
    """Return the fields a revision sets: those given in the command (``None`` clears a nullable one)."""
    given = cmd.model_fields_set & set(DialogueEvent.CONTENT_FIELDS)
    changes = {name: getattr(cmd, name) for name in sorted(given)}
    for name in sorted(_REQUIRED_DIALOGUE_FIELDS & given):
        if changes[name] is None:
            raise InvalidCommandError(name, "cannot be cleared")
    return changes


def revise_dialogue(cmd: ReviseDialogue, state: SceneState | None) -> list[SceneEvent]:
    """Change the given fields of a dialogue line; no event when nothing changes."""
    scene = _live(state, cmd.scene_id)
    line = _dialogue(scene, cmd.dialogue_id)
    changes = dialogue_changes(cmd)
    if not changes:
        raise InvalidCommandError(
            "dialogue_text", f"give at least one of {', '.join(DialogueEvent.CONTENT_FIELDS)} to change"
        )
    current = line.model_dump(include=set(DialogueEvent.CONTENT_FIELDS))
    content = {**current, **changes}
    if content == current:
        return []
    _check_dialogue_fits(scene, content["start_time_offset"], content["duration_seconds"])
    return [
        DialogueRevised(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            dialogue_id=cmd.dialogue_id,
            **content,
        ),
    ]


def remove_dialogue(cmd: RemoveDialogue, state: SceneState | None) -> list[SceneEvent]:
    """Remove a dialogue line."""
    scene = _live(state, cmd.scene_id)
    _dialogue(scene, cmd.dialogue_id)
    return [
        DialogueRemoved(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            dialogue_id=cmd.dialogue_id,
        ),
    ]


def attach_nested(
    parent: SceneState | None,
    *,
    parent_id: UUID,
    child_id: UUID,
    movie_id: UUID,
    span: tuple[int, int],
) -> list[SceneEvent]:
    """On the parent's stream: place a new nested scene inside it (same movie, enclosed)."""
    scene = _check_parent_encloses(parent, parent_id, movie_id, span)
    if scene.children.get(child_id) == span:
        return []
    return [
        NestedSceneAttached(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            child_scene_id=child_id,
            start_time_seconds=span[0],
            end_time_seconds=span[1],
        ),
    ]


def move_nested(
    parent: SceneState | None,
    *,
    parent_id: UUID,
    child_id: UUID,
    movie_id: UUID,
    span: tuple[int, int],
) -> list[SceneEvent]:
    """On the parent's stream: accept a nested scene's new time range if the parent still encloses it."""
    field_name = "end"
    if parent is not None:
        field_name = _outside_field((parent.start_time_seconds, parent.end_time_seconds), span)
    scene = _check_parent_encloses(parent, parent_id, movie_id, span, field_name=field_name)
    if scene.children.get(child_id) == span:
        return []
    return [
        NestedSceneMoved(
            stream_id=scene.scene_id,
            stream_version=scene.version + 1,
            movie_id=scene.movie_id,
            child_scene_id=child_id,
            start_time_seconds=span[0],
            end_time_seconds=span[1],
        ),
    ]


def reconcile_nested(
    parent: SceneState | None, *, child_id: UUID, child: SceneState | None
) -> list[SceneEvent]:
    """On the parent's stream: record what the child really is now (after a failed or partial change).

    No rule is checked: this records facts. A live child of this parent is (re)attached with
    its current range; a missing or deleted one is detached.
    """
    if parent is None or parent.deleted:
        return []
    recorded = parent.children.get(child_id)
    alive = child is not None and not child.deleted and child.parent_scene_id == parent.scene_id
    if child is not None and alive:
        span = (child.start_time_seconds, child.end_time_seconds)
        if recorded == span:
            return []
        event_type = NestedSceneMoved if recorded is not None else NestedSceneAttached
        return [
            event_type(
                stream_id=parent.scene_id,
                stream_version=parent.version + 1,
                movie_id=parent.movie_id,
                child_scene_id=child_id,
                start_time_seconds=span[0],
                end_time_seconds=span[1],
            ),
        ]
    if recorded is None:
        return []
    return [
        NestedSceneDetached(
            stream_id=parent.scene_id,
            stream_version=parent.version + 1,
            movie_id=parent.movie_id,
            child_scene_id=child_id,
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
        created_by=event.created_by,
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


@apply.register
def _(event: SceneActorAdded, state: SceneState | None) -> SceneState:
    scene = _existing(state, event)
    return replace(scene, version=event.stream_version, actors={**scene.actors, event.actor_id: event})


@apply.register
def _(event: SceneActorRemoved, state: SceneState | None) -> SceneState:
    scene = _existing(state, event)
    actors = {k: v for k, v in scene.actors.items() if k != event.actor_id}
    return replace(scene, version=event.stream_version, actors=actors)


@apply.register(DialogueAdded)
@apply.register(DialogueRevised)
def _(event: DialogueEvent, state: SceneState | None) -> SceneState:
    scene = _existing(state, event)
    dialogues = {**scene.dialogues, event.dialogue_id: event}
    return replace(scene, version=event.stream_version, dialogues=dialogues)


@apply.register
def _(event: DialogueRemoved, state: SceneState | None) -> SceneState:
    scene = _existing(state, event)
    dialogues = {k: v for k, v in scene.dialogues.items() if k != event.dialogue_id}
    return replace(scene, version=event.stream_version, dialogues=dialogues)


@apply.register(NestedSceneAttached)
@apply.register(NestedSceneMoved)
def _(event: NestedSceneAttached | NestedSceneMoved, state: SceneState | None) -> SceneState:
    scene = _existing(state, event)
    children = {**scene.children, event.child_scene_id: (event.start_time_seconds, event.end_time_seconds)}
    return replace(scene, version=event.stream_version, children=children)


@apply.register
def _(event: NestedSceneDetached, state: SceneState | None) -> SceneState:
    scene = _existing(state, event)
    children = {k: v for k, v in scene.children.items() if k != event.child_scene_id}
    return replace(scene, version=event.stream_version, children=children)


def replay(events: Sequence[DomainEvent]) -> SceneState | None:
    """Fold a stream's events into its state (``None`` for an empty stream)."""
    state: SceneState | None = None
    for event in events:
        if isinstance(event, SceneEvent):
            state = apply(event, state)
    return state


# --- Restoring a deleted scene (compensation of the movie-removal saga) ----------------------


class RestoreScene(Command):
    """Bring a deleted scene back as it was just before its deletion: its fields, cast and dialogue lines.

    The compensation of a scene deletion; a live scene is left as it is. Parallel group
    memberships are not restored (the groups keep their own streams).
    """

    scene_id: UUID


def _deletion_start(history: Sequence[RecordedEvent]) -> int:
    """Index of the first event of the last deletion's append (the cast removals, then SceneDeleted)."""
    end = max(i for i, r in enumerate(history) if isinstance(r.event, SceneDeleted))
    cause = history[end].metadata.causation_id
    start = end
    while start > 0 and cause is not None and history[start - 1].metadata.causation_id == cause:
        start -= 1
    return start


def restore_scene(
    cmd: RestoreScene, history: Sequence[RecordedEvent], state: SceneState | None
) -> list[SceneEvent]:
    """Return the events re-creating a deleted scene from its stream's history; none if it is live.

    ``history`` is the scene's stream as read by the handler and ``state`` its replay: they
    must agree (a deleted scene's stream does not move, so a mismatch is a concurrent restore).
    """
    if state is None:
        raise StreamNotFoundError("scene_id", "scene", cmd.scene_id)
    if not state.deleted:
        return []
    if not history or history[-1].event.stream_version != state.version:
        read = history[-1].event.stream_version if history else 0
        raise ConcurrencyConflictError(cmd.scene_id, read, state.version)
    before = [r.event for r in history[: _deletion_start(history)] if isinstance(r.event, SceneEvent)]
    prior = replay(before)
    created = [e for e in before if isinstance(e, SceneCreated)]
    if prior is None or prior.deleted or not created:  # pragma: no cover  a deletion follows a live scene
        raise InvalidCommandError("scene_id", f"scene {cmd.scene_id} has no live state to restore")
    timed = [e for e in before if isinstance(e, SceneCreated | SceneRetimed)]
    version = state.version
    events: list[SceneEvent] = [
        SceneCreated(
            stream_id=prior.scene_id,
            stream_version=version + 1,
            movie_id=prior.movie_id,
            scene_number=created[-1].scene_number,
            start_time_seconds=prior.start_time_seconds,
            end_time_seconds=prior.end_time_seconds,
            input_format=timed[-1].input_format,
            level1_classification=prior.classification.level1,
            level2_classification=prior.classification.level2,
            level3_classification=prior.classification.level3,
            scene_type=prior.scene_type,
            parent_scene_id=prior.parent_scene_id,
            tags=prior.tags,
            description=prior.description,
            emotional_tags=prior.emotional_tags,
            created_by=created[-1].created_by,
        )
    ]
    for credit in prior.actors.values():
        events.append(
            SceneActorAdded(
                stream_id=prior.scene_id,
                stream_version=version + len(events) + 1,
                movie_id=prior.movie_id,
                actor_id=credit.actor_id,
                character_name=credit.character_name,
                role_type=credit.role_type,
                screen_time_seconds=credit.screen_time_seconds,
            )
        )
    for line in prior.dialogues.values():
        content = line.model_dump(include=set(DialogueEvent.CONTENT_FIELDS))
        events.append(
            DialogueAdded(
                stream_id=prior.scene_id,
                stream_version=version + len(events) + 1,
                movie_id=prior.movie_id,
                dialogue_id=line.dialogue_id,
                **content,
            )
        )
    return events
