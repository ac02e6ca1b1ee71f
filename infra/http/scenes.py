"""HTTP routes of the Scene service: its commands (same handlers as CLI and Kafka) and reads."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from commands.base import Command, CommandResult
from commands.handlers import CommandBus
from commands.parallel import (
    AddSceneToParallelGroup,
    CreateParallelGroup,
    DissolveParallelGroup,
    RemoveSceneFromParallelGroup,
)
from commands.scene import (
    MAX_TAGS,
    AddDialogue,
    AddSceneActor,
    CharacterName,
    CreateScene,
    DeleteScene,
    Description,
    DialogueText,
    EditSceneDetails,
    EmotionalTone,
    Language,
    ReclassifyScene,
    RemoveDialogue,
    RemoveSceneActor,
    RetimeScene,
    ReviseDialogue,
    RoleType,
    Seconds,
    Subtitle,
    Tag,
)
from events.scene import DialogueType, DisplayPosition, NarrativeRole
from infra.http.common import Correlation, Idempotency, UserId, UserRole, request_metadata
from read_models.engines import ReadEngines
from read_models.scenes import (
    DialogueView,
    MovieSceneStatsView,
    ParallelGroupView,
    SceneQueries,
    SceneView,
)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetimeBody(_Body):
    """New time range of a scene."""

    start: str
    end: str
    expected_version: int | None = Field(default=None, ge=1)


class ReclassifyBody(_Body):
    """New classification of a scene."""

    classification: str
    expected_version: int | None = Field(default=None, ge=1)


class EditBody(_Body):
    """Detail changes of a scene; fields left out stay as they are."""

    description: Description | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    emotional_tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    expected_version: int | None = Field(default=None, ge=1)


class AddActorBody(_Body):
    """An actor to cast in a scene."""

    actor_id: UUID
    character_name: CharacterName | None = None
    role_type: RoleType = "supporting"
    screen_time_seconds: Seconds | None = None
    expected_version: int | None = Field(default=None, ge=1)


class AddDialogueBody(_Body):
    """A dialogue line to add; without ``dialogue_id`` one is derived from the command id."""

    dialogue_id: UUID | None = None
    actor_id: UUID
    character_name: CharacterName | None = None
    dialogue_text: DialogueText
    start_time_offset: Seconds | None = None
    duration_seconds: Seconds | None = None
    is_memorable_quote: bool = False
    dialogue_type: DialogueType | None = None
    emotional_tone: EmotionalTone | None = None
    language: Language = "ja"
    subtitle_text: Subtitle | None = None
    expected_version: int | None = Field(default=None, ge=1)


class ReviseDialogueBody(_Body):
    """Dialogue changes: fields left out stay as they are, a nullable field sent as null is cleared."""

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


class AddMemberBody(_Body):
    """A scene to add to a parallel group."""

    scene_id: UUID
    display_position: DisplayPosition | None = None
    narrative_role: NarrativeRole | None = None
    expected_version: int | None = Field(default=None, ge=1)


class DialogueCommandResult(CommandResult):
    """A handled dialogue command and the id of its dialogue line."""

    dialogue_id: UUID


def scene_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: C901, PLR0915  one closure per route
    """Routes of the Scene service."""
    router = APIRouter(tags=["scenes"])
    scenes = SceneQueries(engines["scene"])

    async def dispatch(
        cmd: Command,
        request: Request,
        user_id: UUID | None,
        user_role: str | None,
        correlation_id: UUID | None,
    ) -> CommandResult:
        return await bus.dispatch(cmd, request_metadata(request, user_id, user_role, correlation_id))

    def _command_id(key: UUID | None) -> UUID:
        return key or uuid4()

    @router.post("/scenes", status_code=202)
    async def create_scene(
        cmd: CreateScene,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
    ) -> CommandResult:
        """Create a scene. The command id in the body makes retries safe."""
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.put("/scenes/{scene_id}/time", status_code=202)
    async def retime_scene(
        scene_id: UUID,
        body: RetimeBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Move a scene to a new time range."""
        cmd = RetimeScene(command_id=_command_id(idempotency_key), scene_id=scene_id, **body.model_dump())
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.put("/scenes/{scene_id}/classification", status_code=202)
    async def reclassify_scene(
        scene_id: UUID,
        body: ReclassifyBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Give a scene a new classification."""
        cmd = ReclassifyScene(
            command_id=_command_id(idempotency_key),
            scene_id=scene_id,
            **body.model_dump(),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.patch("/scenes/{scene_id}", status_code=202)
    async def edit_scene(
        scene_id: UUID,
        body: EditBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Change a scene's description, tags or emotional tags."""
        cmd = EditSceneDetails(
            command_id=_command_id(idempotency_key),
            scene_id=scene_id,
            **body.model_dump(),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.delete("/scenes/{scene_id}", status_code=202)
    async def delete_scene(
        scene_id: UUID,
        request: Request,
        expected_version: Annotated[int | None, Query(ge=1)] = None,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Delete a scene."""
        cmd = DeleteScene(
            command_id=_command_id(idempotency_key),
            scene_id=scene_id,
            expected_version=expected_version,
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.post("/scenes/{scene_id}/actors", status_code=202)
    async def add_scene_actor(
        scene_id: UUID,
        body: AddActorBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Cast an existing actor in a scene (once per actor; screen time within the scene)."""
        cmd = AddSceneActor(command_id=_command_id(idempotency_key), scene_id=scene_id, **body.model_dump())
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.delete("/scenes/{scene_id}/actors/{actor_id}", status_code=202)
    async def remove_scene_actor(
        scene_id: UUID,
        actor_id: UUID,
        request: Request,
        expected_version: Annotated[int | None, Query(ge=1)] = None,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Take an actor out of a scene."""
        cmd = RemoveSceneActor(
            command_id=_command_id(idempotency_key),
            scene_id=scene_id,
            actor_id=actor_id,
            expected_version=expected_version,
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.post("/scenes/{scene_id}/dialogues", status_code=202)
    async def add_dialogue(
        scene_id: UUID,
        body: AddDialogueBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> DialogueCommandResult:
        """Add a dialogue line spoken by an existing actor, inside the scene's time range."""
        command_id = _command_id(idempotency_key)
        # Derived from the command id, a retry under the same Idempotency-Key names the same line.
        dialogue_id = body.dialogue_id or uuid5(command_id, "dialogue")
        fields = body.model_dump(exclude={"dialogue_id"})
        cmd = AddDialogue(command_id=command_id, scene_id=scene_id, dialogue_id=dialogue_id, **fields)
        result = await dispatch(cmd, request, user_id, user_role, correlation_id)
        return DialogueCommandResult(**result.model_dump(), dialogue_id=dialogue_id)

    @router.patch("/scenes/{scene_id}/dialogues/{dialogue_id}", status_code=202)
    async def revise_dialogue(
        scene_id: UUID,
        dialogue_id: UUID,
        body: ReviseDialogueBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> DialogueCommandResult:
        """Change a dialogue line's given fields."""
        cmd = ReviseDialogue(
            command_id=_command_id(idempotency_key),
            scene_id=scene_id,
            dialogue_id=dialogue_id,
            **body.model_dump(exclude_unset=True),
        )
        result = await dispatch(cmd, request, user_id, user_role, correlation_id)
        return DialogueCommandResult(**result.model_dump(), dialogue_id=dialogue_id)

    @router.delete("/scenes/{scene_id}/dialogues/{dialogue_id}", status_code=202)
    async def remove_dialogue(
        scene_id: UUID,
        dialogue_id: UUID,
        request: Request,
        expected_version: Annotated[int | None, Query(ge=1)] = None,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> DialogueCommandResult:
        """Remove a dialogue line."""
        cmd = RemoveDialogue(
            command_id=_command_id(idempotency_key),
            scene_id=scene_id,
            dialogue_id=dialogue_id,
            expected_version=expected_version,
        )
        result = await dispatch(cmd, request, user_id, user_role, correlation_id)
        return DialogueCommandResult(**result.model_dump(), dialogue_id=dialogue_id)

    @router.post("/parallel-groups", status_code=202)
    async def create_parallel_group(
        cmd: CreateParallelGroup,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
    ) -> CommandResult:
        """Create a parallel scene group on an existing movie; the body's command id makes retries safe."""
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.post("/parallel-groups/{group_id}/members", status_code=202)
    async def add_parallel_member(
        group_id: UUID,
        body: AddMemberBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Add a live scene of the group's movie, overlapping the group's time range."""
        cmd = AddSceneToParallelGroup(
            command_id=_command_id(idempotency_key), group_id=group_id, **body.model_dump()
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.delete("/parallel-groups/{group_id}/members/{scene_id}", status_code=202)
    async def remove_parallel_member(
        group_id: UUID,
        scene_id: UUID,
        request: Request,
        expected_version: Annotated[int | None, Query(ge=1)] = None,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Take a scene out of a parallel group."""
        cmd = RemoveSceneFromParallelGroup(
            command_id=_command_id(idempotency_key),
            group_id=group_id,
            scene_id=scene_id,
            expected_version=expected_version,
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.delete("/parallel-groups/{group_id}", status_code=202)
    async def dissolve_parallel_group(
        group_id: UUID,
        request: Request,
        expected_version: Annotated[int | None, Query(ge=1)] = None,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Dissolve a parallel group (its scenes stay)."""
        cmd = DissolveParallelGroup(
            command_id=_command_id(idempotency_key), group_id=group_id, expected_version=expected_version
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.get("/scenes/{scene_id}")
    async def get_scene(scene_id: UUID) -> SceneView:
        """One scene from the read model, with its cast and dialogue lines."""
        scene = await scenes.get(scene_id)
        if scene is None:
            raise HTTPException(status_code=404, detail=f"scene {scene_id} not found")
        return scene

    @router.get("/movies/{movie_id}/scenes")
    async def movie_scenes(
        movie_id: UUID,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[SceneView]:
        """Return a movie's scenes ordered by start time, each with its cast and dialogue lines."""
        return await scenes.by_movie(movie_id, limit=limit, offset=offset)

    @router.get("/scenes/{scene_id}/dialogues")
    async def scene_dialogues(scene_id: UUID) -> list[DialogueView]:
        """Return a scene's dialogue lines in time order."""
        found = await scenes.dialogues(scene_id)
        if found is None:
            raise HTTPException(status_code=404, detail=f"scene {scene_id} not found")
        return found

    @router.get("/movies/{movie_id}/scene-stats")
    async def movie_scene_stats(movie_id: UUID) -> MovieSceneStatsView:
        """Return a movie's scene statistics (zeros for a known movie without scenes)."""
        stats = await scenes.movie_stats(movie_id)
        if stats is None:
            raise HTTPException(status_code=404, detail=f"no scene statistics for movie {movie_id}")
        return stats

    @router.get("/movies/{movie_id}/parallel-groups")
    async def movie_parallel_groups(movie_id: UUID) -> list[ParallelGroupView]:
        """Return a movie's parallel scene groups with their members."""
        return await scenes.parallel_groups(movie_id)

    @router.get("/parallel-groups/{group_id}")
    async def get_parallel_group(group_id: UUID) -> ParallelGroupView:
        """One parallel scene group with its members."""
        group = await scenes.parallel_group(group_id)
        if group is None:
            raise HTTPException(status_code=404, detail=f"parallel group {group_id} not found")
        return group

    return router
