"""Events of the Scene service: scenes, their cast and dialogues, nesting, and parallel groups."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field

from events.base import DomainEvent

SceneType = Literal["primary", "nested", "parallel"]
DialogueType = Literal["monologue", "conversation", "narration"]
RelationType = Literal["split_screen", "parallel_narrative", "overlapping_events"]
DisplayPosition = Literal["top", "bottom", "left", "right"]
NarrativeRole = Literal["main", "subplot", "context"]


class SceneEvent(DomainEvent):
    """An event of one scene's stream; keyed by its movie so a movie's scenes stay in order."""

    stream_type: ClassVar[str] = "scene"

    movie_id: UUID

    def partition_key(self) -> str:
        """Scene events are keyed by movie id (per-movie order on Kafka)."""
        return str(self.movie_id)


class SceneCreated(SceneEvent):
    """A scene was classified on a movie's timeline."""

    event_type: ClassVar[str] = "SceneCreated"

    scene_number: int | None = None
    start_time_seconds: int = Field(ge=0, le=86400)
    end_time_seconds: int = Field(ge=0, le=86400)
    input_format: dict[str, str] = Field(default_factory=dict)
    level1_classification: str
    level2_classification: str
    level3_classification: str | None = None
    scene_type: SceneType = "primary"
    parent_scene_id: UUID | None = None
    tags: tuple[str, ...] = ()
    description: str | None = None
    emotional_tags: tuple[str, ...] = ()
    created_by: UUID | None = None


class SceneRetimed(SceneEvent):
    """A scene's time range changed."""

    event_type: ClassVar[str] = "SceneRetimed"

    start_time_seconds: int = Field(ge=0, le=86400)
    end_time_seconds: int = Field(ge=0, le=86400)
    input_format: dict[str, str] = Field(default_factory=dict)


class SceneReclassified(SceneEvent):
    """A scene's L-dialogue classification changed."""

    event_type: ClassVar[str] = "SceneReclassified"

    level1_classification: str
    level2_classification: str
    level3_classification: str | None = None


class SceneDetailsEdited(SceneEvent):
    """A scene's description, tags or emotional tags changed; carries all three as they now are.

    v2: ``tags`` and ``emotional_tags`` are stripped, non-empty and unique (first seen kept);
    v1 events may repeat a tag or carry blanks (see :func:`upcast_scene_details_edited_v1`).
    """

    event_type: ClassVar[str] = "SceneDetailsEdited"
    schema_version: ClassVar[int] = 2

    description: str | None = None
    tags: tuple[str, ...] = ()
    emotional_tags: tuple[str, ...] = ()


def _normalised_tags(tags: list[str]) -> list[str]:
    return list(dict.fromkeys(t.strip() for t in tags if t.strip()))


def upcast_scene_details_edited_v1(payload: dict[str, Any]) -> dict[str, Any]:
    """SceneDetailsEdited v1 -> v2: strip tags, drop blank ones and keep each tag once."""
    return {
        **payload,
        "tags": _normalised_tags(payload.get("tags") or []),
        "emotional_tags": _normalised_tags(payload.get("emotional_tags") or []),
    }


class SceneDeleted(SceneEvent):
    """A scene was removed."""

    event_type: ClassVar[str] = "SceneDeleted"


class SceneActorAdded(SceneEvent):
    """An actor appears in the scene (shared contract: the Actor service counts these)."""

    event_type: ClassVar[str] = "SceneActorAdded"

    actor_id: UUID
    character_name: str | None = Field(default=None, max_length=255)
    role_type: str = Field(default="supporting", max_length=50)
    screen_time_seconds: int | None = Field(default=None, ge=0, le=86400)


class SceneActorRemoved(SceneEvent):
    """An actor no longer appears in the scene."""

    event_type: ClassVar[str] = "SceneActorRemoved"

    actor_id: UUID


class DialogueEvent(SceneEvent):
    """A dialogue line of the scene, carried whole (added or revised): the scene_dialogues columns."""

    dialogue_id: UUID
    actor_id: UUID
    character_name: str | None = Field(default=None, max_length=255)
    dialogue_text: str = Field(min_length=1)
    start_time_offset: int | None = Field(default=None, ge=0, le=86400)
    duration_seconds: int | None = Field(default=None, ge=0, le=86400)
    is_memorable_quote: bool = False
    dialogue_type: DialogueType | None = None
    emotional_tone: str | None = Field(default=None, max_length=50)
    language: str = Field(default="ja", min_length=1, max_length=10)
    subtitle_text: str | None = None

    CONTENT_FIELDS: ClassVar[tuple[str, ...]] = (
        "actor_id",
        "character_name",
        "dialogue_text",
        "start_time_offset",
        "duration_seconds",
        "is_memorable_quote",
        "dialogue_type",
        "emotional_tone",
        "language",
        "subtitle_text",
    )


class DialogueAdded(DialogueEvent):
    """A dialogue line was added to the scene."""

    event_type: ClassVar[str] = "DialogueAdded"


class DialogueRevised(DialogueEvent):
    """A dialogue line changed (every field is carried, changed or not)."""

    event_type: ClassVar[str] = "DialogueRevised"


class DialogueRemoved(SceneEvent):
    """A dialogue line was removed from the scene."""

    event_type: ClassVar[str] = "DialogueRemoved"

    dialogue_id: UUID


class NestedSceneEvent(SceneEvent):
    """Bookkeeping on a parent scene's stream about one of its nested scenes.

    The parent's stream is where the nesting relation is decided: a nested scene is attached,
    moved and detached there first, so a retime or deletion of the parent and a change of the
    child are serialised by the parent's stream version (see ``commands.scene_handlers``).
    """

    child_scene_id: UUID


class NestedSceneAttached(NestedSceneEvent):
    """A nested scene was placed inside this scene."""

    event_type: ClassVar[str] = "NestedSceneAttached"

    start_time_seconds: int = Field(ge=0, le=86400)
    end_time_seconds: int = Field(ge=0, le=86400)


class NestedSceneMoved(NestedSceneEvent):
    """A nested scene of this scene got a new time range."""

    event_type: ClassVar[str] = "NestedSceneMoved"

    start_time_seconds: int = Field(ge=0, le=86400)
    end_time_seconds: int = Field(ge=0, le=86400)


class NestedSceneDetached(NestedSceneEvent):
    """A nested scene of this scene is gone (deleted, or its creation failed)."""

    event_type: ClassVar[str] = "NestedSceneDetached"


SCENE_EVENTS: tuple[type[SceneEvent], ...] = (
    SceneCreated,
    SceneRetimed,
    SceneReclassified,
    SceneDetailsEdited,
    SceneDeleted,
    SceneActorAdded,
    SceneActorRemoved,
    DialogueAdded,
    DialogueRevised,
    DialogueRemoved,
    NestedSceneAttached,
    NestedSceneMoved,
    NestedSceneDetached,
)


class ParallelGroupEvent(DomainEvent):
    """An event of a parallel scene group's stream; keyed by its movie, like the movie's scenes.

    Sharing the key puts a group's events in the same partition as its scenes' events, in
    the order they were written.
    """

    stream_type: ClassVar[str] = "parallel_group"

    movie_id: UUID

    def partition_key(self) -> str:
        """Parallel group events are keyed by movie id (ordered with the movie's scene events)."""
        return str(self.movie_id)


class ParallelGroupCreated(ParallelGroupEvent):
    """Scenes of a movie that run at the same time got a group (split screen, cross-cutting...)."""

    event_type: ClassVar[str] = "ParallelGroupCreated"

    group_name: str | None = Field(default=None, max_length=255)
    start_time_seconds: int = Field(ge=0, le=86400)
    end_time_seconds: int = Field(ge=0, le=86400)
    input_format: dict[str, str] = Field(default_factory=dict)
    relation_type: RelationType
    description: str | None = None
    narrative_purpose: str | None = None


class SceneAddedToParallelGroup(ParallelGroupEvent):
    """A scene became a member of the group."""

    event_type: ClassVar[str] = "SceneAddedToParallelGroup"

    scene_id: UUID
    display_position: DisplayPosition | None = None
    narrative_role: NarrativeRole | None = None


class SceneRemovedFromParallelGroup(ParallelGroupEvent):
    """A scene left the group."""

    event_type: ClassVar[str] = "SceneRemovedFromParallelGroup"

    scene_id: UUID


class ParallelGroupDissolved(ParallelGroupEvent):
    """The group was dissolved; its scenes stay."""

    event_type: ClassVar[str] = "ParallelGroupDissolved"


PARALLEL_GROUP_EVENTS: tuple[type[ParallelGroupEvent], ...] = (
    ParallelGroupCreated,
    SceneAddedToParallelGroup,
    SceneRemovedFromParallelGroup,
    ParallelGroupDissolved,
)
