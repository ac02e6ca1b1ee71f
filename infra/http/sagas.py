"""HTTP routes of the sagas: their progress (``GET /sagas``, ``GET /sagas/{id}``) and starting one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any
from uuid import UUID

import asyncpg
from fastapi import APIRouter, Query

from commands.base import CommandResult
from commands.handlers import CommandBus
from infra.http.common import Acting, CommandId, Limit, found
from infra.services import build_registry
from read_models.engines import ReadEngines
from sagas.commands import RequestSaga
from sagas.queries import SagaDetail, SagaQueries, SagaSummary
from sagas.scene_creation import SceneCreationRequest
from sagas.state import SagaStatus


def saga_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:
    """Routes of the sagas; ``engines`` must include ``event_store`` (the sagas live in the log)."""
    router = APIRouter(tags=["sagas"])
    registry = build_registry()

    @asynccontextmanager
    async def queries() -> AsyncIterator[SagaQueries]:
        async with engines["event_store"].connect() as conn:
            raw = await conn.get_raw_connection()
            driver: asyncpg.Connection = raw.driver_connection
            yield SagaQueries(driver, registry)

    @router.get("/sagas")
    async def list_sagas(
        status: Annotated[SagaStatus | None, Query()] = None,
        saga_type: Annotated[str | None, Query(alias="type", max_length=100)] = None,
        limit: Limit = 100,
    ) -> list[SagaSummary]:
        """Sagas, the most recently active first; ``status=stuck`` lists those waiting for an operator."""
        async with queries() as q:
            return await q.list(status=status, saga_type=saga_type, limit=limit)

    @router.get("/sagas/{saga_id}")
    async def get_saga(saga_id: UUID) -> SagaDetail:
        """One saga: its input, where each step stands, and every transition with its time and error."""
        async with queries() as q:
            return found(await q.get(saga_id), f"saga {saga_id} not found")

    @router.post("/sagas/scene-creation", status_code=202)
    async def request_scene_creation(
        body: SceneCreationRequest, meta: Acting, command_id: CommandId
    ) -> CommandResult:
        """Create a scene with its cast as a saga; follow it at ``GET /sagas/{stream_id}``.

        The Idempotency-Key header is the saga's id: a retried request starts it once.
        """
        data: dict[str, Any] = body.model_dump(mode="json")
        cmd = RequestSaga(command_id=command_id, saga_id=command_id, saga_type="scene_creation", input=data)
        return await bus.dispatch(cmd, meta)

    return router
