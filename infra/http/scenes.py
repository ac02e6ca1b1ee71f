"""HTTP routes of the Scene service: its commands (same handlers as CLI and Kafka) and reads."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid5

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from commands.authorization import require_scene_writer
from commands.base import CommandResult
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
from infra.http.common import (
    Acting,
    Caller,
    CommandId,
    ExpectedVersion,
    Limit,
    Offset,
    RequestBody,
    SignedIn,
    found,
)
from read_models.engines import ReadEngines
from read_models.scene_trees import MAX_TREE_DEPTH, MovieSceneTree, SceneTreeNode, SceneTreeQueries
from read_models.scenes import (
    DialogueView,
    MovieSceneStatsView,
    ParallelGroupView,
    SceneQueries,
    SceneView,
)

TreeDepth = Annotated[int, Query(ge=0, le=MAX_TREE_DEPTH, description="levels of nested scenes to include")]


class RetimeBody(RequestBody):
    """New time range of a scene."""

    start: str
    end: str
    expected_version: int | None = Field(default=None, ge=1)


class ReclassifyBody(RequestBody):
    """New classification of a scene."""

    classification: str
    expected_version: int | None = Field(default=None, ge=1)


class EditBody(RequestBody):
    """Detail changes of a scene; fields left out stay as they are."""

    description: Description | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    emotional_tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)
    expected_version: int | None = Field(default=None, ge=1)


class AddActorBody(RequestBody):
    """An actor to cast in a scene."""

    actor_id: UUID
    character_name: CharacterName | None = None
    role_type: RoleType = "supporting"
    screen_time_seconds: Seconds | None = None
    expected_version: int | None = Field(default=None, ge=1)


class AddDialogueBody(RequestBody):
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


class ReviseDialogueBody(RequestBody):
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


class AddMemberBody(RequestBody):
    """A scene to add to a parallel group."""

    scene_id: UUID
    display_position: DisplayPosition | None = None
    narrative_role: NarrativeRole | None = None
    expected_version: int | None = Field(default=None, ge=1)


class DialogueCommandResult(CommandResult):
    """A handled dialogue command and the id of its dialogue line."""

    dialogue_id: UUID


async def signed_in_only(_: SignedIn) -> None:
    """401 without a valid token: writes need a user (the handlers then judge the user's rights)."""


def scene_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: C901, PLR0915  one closure per route
    """Routes of the Scene service."""
    router = APIRouter(tags=["scenes"])
    scenes = SceneQueries(engines["scene"])
    trees = SceneTreeQueries(engines["scene"])

    async def scene_writer(_: SignedIn, meta: Acting) -> None:
        """401 without a token; 403 for a viewer (the handlers check the role again for every entry point)."""
        require_scene_writer(meta)

    # Scene commands check the role and the scene's ownership in their handlers (on the
    # scene's own stream), for every entry point; over HTTP a request must still sign in first.
    signed_in = [Depends(signed_in_only)]
    writer = [Depends(scene_writer)]

    @router.post("/scenes", status_code=202, dependencies=signed_in)
    async def create_scene(cmd: CreateScene, meta: Acting) -> CommandResult:
        """Create a scene. The command id in the body makes retries safe."""
        return await bus.dispatch(cmd, meta)

    @router.put("/scenes/{scene_id}/time", status_code=202, dependencies=signed_in)
    async def retime_scene(
        scene_id: UUID,
        body: RetimeBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Move a scene to a new time range."""
        cmd = RetimeScene(command_id=command_id, scene_id=scene_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.put("/scenes/{scene_id}/classification", status_code=202, dependencies=signed_in)
    async def reclassify_scene(
        scene_id: UUID,
        body: ReclassifyBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Give a scene a new classification."""
        cmd = ReclassifyScene(command_id=command_id, scene_id=scene_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.patch("/scenes/{scene_id}", status_code=202, dependencies=signed_in)
    async def edit_scene(
        scene_id: UUID,
        body: EditBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change a scene's description, tags or emotional tags."""
        cmd = EditSceneDetails(command_id=command_id, scene_id=scene_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/scenes/{scene_id}", status_code=202, dependencies=signed_in)
    async def delete_scene(
        scene_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Delete a scene."""
        cmd = DeleteScene(command_id=command_id, scene_id=scene_id, expected_version=expected_version)
        return await bus.dispatch(cmd, meta)

    @router.post("/scenes/{scene_id}/actors", status_code=202, dependencies=signed_in)
    async def add_scene_actor(
        scene_id: UUID,
        body: AddActorBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Cast an existing actor in a scene (once per actor; screen time within the scene)."""
        cmd = AddSceneActor(command_id=command_id, scene_id=scene_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/scenes/{scene_id}/actors/{actor_id}", status_code=202, dependencies=signed_in)
    async def remove_scene_actor(
        scene_id: UUID,
        actor_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Take an actor out of a scene."""
        cmd = RemoveSceneActor(
            command_id=command_id,
            scene_id=scene_id,
            actor_id=actor_id,
            expected_version=expected_version,
        )
        return await bus.dispatch(cmd, meta)

    @router.post("/scenes/{scene_id}/dialogues", status_code=202, dependencies=signed_in)
    async def add_dialogue(
        scene_id: UUID,
        body: AddDialogueBody,
        meta: Acting,
        command_id: CommandId,
    ) -> DialogueCommandResult:
        """Add a dialogue line spoken by an existing actor, inside the scene's time range."""
        # Derived from the command id, a retry under the same Idempotency-Key names the same line.
        dialogue_id = body.dialogue_id or uuid5(command_id, "dialogue")
        fields = body.model_dump(exclude={"dialogue_id"})
        cmd = AddDialogue(command_id=command_id, scene_id=scene_id, dialogue_id=dialogue_id, **fields)
        result = await bus.dispatch(cmd, meta)
        return DialogueCommandResult(**result.model_dump(), dialogue_id=dialogue_id)

    @router.patch("/scenes/{scene_id}/dialogues/{dialogue_id}", status_code=202, dependencies=signed_in)
    async def revise_dialogue(
        scene_id: UUID,
        dialogue_id: UUID,
        body: ReviseDialogueBody,
        meta: Acting,
        command_id: CommandId,
    ) -> DialogueCommandResult:
        """Change a dialogue line's given fields."""
        cmd = ReviseDialogue(
            command_id=command_id,
            scene_id=scene_id,
            dialogue_id=dialogue_id,
            **body.model_dump(exclude_unset=True),
        )
        result = await bus.dispatch(cmd, meta)
        return DialogueCommandResult(**result.model_dump(), dialogue_id=dialogue_id)

    @router.delete("/scenes/{scene_id}/dialogues/{dialogue_id}", status_code=202, dependencies=signed_in)
    async def remove_dialogue(
        scene_id: UUID,
        dialogue_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> DialogueCommandResult:
        """Remove a dialogue line."""
        cmd = RemoveDialogue(
            command_id=command_id,
            scene_id=scene_id,
            dialogue_id=dialogue_id,
            expected_version=expected_version,
        )
        result = await bus.dispatch(cmd, meta)
        return DialogueCommandResult(**result.model_dump(), dialogue_id=dialogue_id)

    @router.post("/parallel-groups", status_code=202, dependencies=writer)
    async def create_parallel_group(cmd: CreateParallelGroup, meta: Acting) -> CommandResult:
        """Create a parallel scene group on an existing movie; the body's command id makes retries safe."""
        return await bus.dispatch(cmd, meta)

    @router.post("/parallel-groups/{group_id}/members", status_code=202, dependencies=writer)
    async def add_parallel_member(
        group_id: UUID,
        body: AddMemberBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Add a live scene of the group's movie, overlapping the group's time range."""
        cmd = AddSceneToParallelGroup(command_id=command_id, group_id=group_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/parallel-groups/{group_id}/members/{scene_id}", status_code=202, dependencies=writer)
    async def remove_parallel_member(
        group_id: UUID,
        scene_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Take a scene out of a parallel group."""
        cmd = RemoveSceneFromParallelGroup(
            command_id=command_id,
            group_id=group_id,
            scene_id=scene_id,
            expected_version=expected_version,
        )
        return await bus.dispatch(cmd, meta)

    @router.delete("/parallel-groups/{group_id}", status_code=202, dependencies=writer)
    async def dissolve_parallel_group(
        group_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Dissolve a parallel group (its scenes stay)."""
        cmd = DissolveParallelGroup(
            command_id=command_id, group_id=group_id, expected_version=expected_version
        )
        return await bus.dispatch(cmd, meta)

    @router.get("/scenes/{scene_id}")
    async def get_scene(scene_id: UUID, caller: Caller) -> SceneView:
        """One scene with its cast and dialogue lines (404 when not visible to the caller)."""
        return found(await scenes.get(scene_id, identity=caller), f"scene {scene_id} not found")

    @router.get("/movies/{movie_id}/scenes")
    async def movie_scenes(
        movie_id: UUID, caller: Caller, limit: Limit = 100, offset: Offset = 0
    ) -> list[SceneView]:
        """Return a movie's scenes the caller may see, ordered by start time, with cast and lines."""
        return await scenes.by_movie(movie_id, limit=limit, offset=offset, identity=caller)

    @router.get("/scenes/{scene_id}/dialogues")
    async def scene_dialogues(scene_id: UUID, caller: Caller) -> list[DialogueView]:
        """Return a scene's dialogue lines in time order (404 when the scene is not visible to the caller)."""
        return found(await scenes.dialogues(scene_id, identity=caller), f"scene {scene_id} not found")

    @router.get("/scenes/{scene_id}/tree")
    async def scene_tree(scene_id: UUID, caller: Caller, depth: TreeDepth = MAX_TREE_DEPTH) -> SceneTreeNode:
        """Return a scene with its nested scenes (and theirs, ``depth`` levels down) the caller may see."""
        tree = await trees.scene_tree(scene_id, max_depth=depth, identity=caller)
        return found(tree, f"scene {scene_id} not found")

    @router.get("/movies/{movie_id}/scene-tree")
    async def movie_scene_tree(
        movie_id: UUID, caller: Caller, depth: TreeDepth = MAX_TREE_DEPTH
    ) -> MovieSceneTree:
        """Return a movie's visible scenes as trees of nested scenes, the roots ordered by start time."""
        tree = await trees.movie_tree(movie_id, max_depth=depth, identity=caller)
        return found(tree, f"movie {movie_id} not found")

    @router.get("/movies/{movie_id}/scene-stats")
    async def movie_scene_stats(movie_id: UUID, caller: Caller) -> MovieSceneStatsView:
        """Return a movie's scene statistics (zeros for a known movie without scenes).

        A private movie's statistics count scenes the caller may not see: 404 except for admins.
        """
        stats = await scenes.movie_stats(movie_id, identity=caller)
        return found(stats, f"no scene statistics for movie {movie_id}")

    @router.get("/movies/{movie_id}/parallel-groups")
    async def movie_parallel_groups(movie_id: UUID, caller: Caller) -> list[ParallelGroupView]:
        """Return a movie's parallel scene groups the caller may see, with their visible members."""
        return await scenes.parallel_groups(movie_id, identity=caller)

    @router.get("/parallel-groups/{group_id}")
    async def get_parallel_group(group_id: UUID, caller: Caller) -> ParallelGroupView:
        """One parallel scene group with its visible members (404 when not visible to the caller)."""
        group = await scenes.parallel_group(group_id, identity=caller)
        return found(group, f"parallel group {group_id} not found")

    return router
