"""Events of the Scene service: a scene's life from creation to deletion."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from events.base import DomainEvent

SceneType = Literal["primary", "nested", "parallel"]


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
    """A scene's description, tags or emotional tags changed; carries all three as they now are."""

    event_type: ClassVar[str] = "SceneDetailsEdited"

    description: str | None = None
    tags: tuple[str, ...] = ()
    emotional_tags: tuple[str, ...] = ()


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


SCENE_EVENTS: tuple[type[SceneEvent], ...] = (
    SceneCreated,
    SceneRetimed,
    SceneReclassified,
    SceneDetailsEdited,
    SceneDeleted,
    SceneActorAdded,
    SceneActorRemoved,
)
