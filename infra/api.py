"""HTTP API: scene commands (the same handlers as CLI and Kafka) and the scene read endpoints."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import FastAPI, Header, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from commands.errors import ConcurrencyConflictError, DomainError, StreamNotFoundError
from commands.handlers import CommandBus, CommandResult
from commands.scene import (
    MAX_TAGS,
    Command,
    CreateScene,
    DeleteScene,
    Description,
    EditSceneDetails,
    ReclassifyScene,
    RetimeScene,
    Tag,
)
from events.base import EventMetadata
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


UserId = Annotated[UUID | None, Header(alias="X-User-Id", description="acting user")]
UserRole = Annotated[str | None, Header(alias="X-User-Role", description="acting user's role")]
Correlation = Annotated[UUID | None, Header(alias="X-Correlation-Id", description="correlates a workflow")]
Idempotency = Annotated[UUID | None, Header(alias="Idempotency-Key", description="retries apply once")]


def _error(status: int, field: str, reason: str, kind: str) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": [{"loc": ["body", field], "msg": reason, "type": kind}]},
    )


def create_app(bus: CommandBus, scenes: SceneQueries) -> FastAPI:  # noqa: C901  one closure per route
    """Build the FastAPI application around an already wired command bus and read model."""
    app = FastAPI(title="SceneLedger", version="0.1.0")

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, StreamNotFoundError) and exc.field == "scene_id":
            return _error(404, exc.field, exc.reason, "not_found")
        if isinstance(exc, ConcurrencyConflictError):
            return _error(409, exc.field, exc.reason, "conflict")
        return _error(422, exc.field, exc.reason, "domain_error")

    async def dispatch(
        cmd: Command,
        request: Request,
        user_id: UUID | None,
        user_role: str | None,
        correlation_id: UUID | None,
    ) -> CommandResult:
        metadata = EventMetadata(
            correlation_id=correlation_id,
            user_id=user_id,
            user_role=user_role,
            client_addr=request.client.host if request.client else None,
        )
        return await bus.dispatch(cmd, metadata)

    def _command_id(key: UUID | None) -> UUID:
        return key or uuid4()

    @app.post("/scenes", status_code=202)
    async def create_scene(
        cmd: CreateScene,
        request: Request,
        user_id: UserId = None,
        user_role: UserRole = None,
        correlation_id: Correlation = None,
    ) -> CommandResult:
        """Create a scene. The command id in the body makes retries safe."""
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @app.put("/scenes/{scene_id}/time", status_code=202)
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

    @app.put("/scenes/{scene_id}/classification", status_code=202)
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

    @app.patch("/scenes/{scene_id}", status_code=202)
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

    @app.delete("/scenes/{scene_id}", status_code=202)
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

    @app.get("/scenes/{scene_id}")
    async def get_scene(scene_id: UUID) -> SceneView:
        """One scene from the read model."""
        scene = await scenes.get(scene_id)
        if scene is None:
            raise HTTPException(status_code=404, detail=f"scene {scene_id} not found")
        return scene

    @app.get("/movies/{movie_id}/scenes")
    async def movie_scenes(
        movie_id: UUID,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[SceneView]:
        """Return a movie's scenes ordered by start time."""
        return await scenes.by_movie(movie_id, limit=limit, offset=offset)

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness of the API process."""
        return {"status": "ok"}

    return app
