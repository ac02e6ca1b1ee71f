"""HTTP routes of the Scene service: its commands (same handlers as CLI and Kafka) and reads."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from commands.base import Command, CommandResult
from commands.handlers import CommandBus
from commands.scene import (
    MAX_TAGS,
    CreateScene,
    DeleteScene,
    Description,
    EditSceneDetails,
    ReclassifyScene,
    RetimeScene,
    Tag,
)
from infra.http.common import Correlation, Idempotency, UserId, UserRole, request_metadata
from read_models.engines import ReadEngines
from read_models.scenes import SceneQueries, SceneView


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


def scene_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: C901  one closure per route
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

    @router.get("/scenes/{scene_id}")
    async def get_scene(scene_id: UUID) -> SceneView:
        """One scene from the read model."""
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
        """Return a movie's scenes ordered by start time."""
        return await scenes.by_movie(movie_id, limit=limit, offset=offset)

    return router
