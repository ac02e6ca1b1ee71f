"""The HTTP application: every service's routes, domain errors mapped to status codes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from commands.errors import (
    ConcurrencyConflictError,
    DomainError,
    PermissionDeniedError,
    StreamNotFoundError,
    UniqueKeyTakenError,
)
from commands.handlers import CommandBus
from infra.http.routes import SERVICE_ROUTERS
from infra.http.sagas import saga_router
from infra.http.user_status import UserStatus
from infra.metrics import ops_router
from infra.services import ServiceSpec
from read_models.engines import ReadEngines


def _error(status: int, field: str, reason: str, kind: str, where: str = "body") -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content={"detail": [{"loc": [where, field], "msg": reason, "type": kind}]},
    )


NUL_REASON = "must not contain the NUL character (U+0000)"

Next = Callable[[Request], Awaitable[Response]]


async def _refuse_nul_in_query(request: Request, call_next: Next) -> Response:
    # PostgreSQL text cannot hold U+0000: a query parameter carrying one is bad input (422),
    # not a server error. Bodies are checked by every message model.
    for name, value in request.query_params.multi_items():
        if "\x00" in value:
            return _error(422, name, NUL_REASON, "value_error", "query")
    return await call_next(request)


def create_app(bus: CommandBus, engines: ReadEngines, services: Sequence[ServiceSpec]) -> FastAPI:
    """Build the FastAPI application around an already wired command bus and read engines."""
    app = FastAPI(title="SceneLedger", version="0.1.0")
    # Every authenticated request checks that its user is still active (infra.http.user_status).
    app.state.user_status = UserStatus(engines["user"])

    app.middleware("http")(_refuse_nul_in_query)

    @app.exception_handler(DomainError)
    async def domain_error(_: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, StreamNotFoundError) and not exc.referenced:
            return _error(404, exc.field, exc.reason, "not_found")
        if isinstance(exc, PermissionDeniedError):
            return _error(403, exc.field, exc.reason, "forbidden")
        if isinstance(exc, ConcurrencyConflictError | UniqueKeyTakenError):
            return _error(409, exc.field, exc.reason, "conflict")
        return _error(422, exc.field, exc.reason, "domain_error")

    for spec in services:
        for router in SERVICE_ROUTERS[spec.name]:
            app.include_router(router(bus, engines))
    if "event_store" in engines:  # the operators' routes read the log as well as the read models
        app.include_router(ops_router(bus, engines))
        app.include_router(saga_router(bus, engines))

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness of the API process."""
        return {"status": "ok"}

    return app
