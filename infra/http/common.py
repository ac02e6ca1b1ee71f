"""What every HTTP route shares: the acting user's headers, the command id, paging and 404s."""

from __future__ import annotations

from typing import Annotated, TypeVar
from uuid import UUID, uuid4

from fastapi import Depends, Header, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict

from events.base import EventMetadata

T = TypeVar("T")

UserId = Annotated[UUID | None, Header(alias="X-User-Id", description="acting user")]
UserRole = Annotated[str | None, Header(alias="X-User-Role", description="acting user's role")]
Correlation = Annotated[UUID | None, Header(alias="X-Correlation-Id", description="correlates a workflow")]
Idempotency = Annotated[UUID | None, Header(alias="Idempotency-Key", description="retries apply once")]

ExpectedVersion = Annotated[int | None, Query(ge=1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Offset = Annotated[int, Query(ge=0)]


def acting_metadata(
    request: Request,
    x_user_id: UserId = None,
    x_user_role: UserRole = None,
    x_correlation_id: Correlation = None,
) -> EventMetadata:
    """Return the metadata that the request's events will carry: who acts, from where, in which workflow."""
    return EventMetadata(
        correlation_id=x_correlation_id,
        user_id=x_user_id,
        user_role=x_user_role,
        client_addr=request.client.host if request.client else None,
    )


def command_id(idempotency_key: Idempotency = None) -> UUID:
    """Return the command id: the client's Idempotency-Key, so that a retry applies once, or a fresh one."""
    return idempotency_key or uuid4()


Acting = Annotated[EventMetadata, Depends(acting_metadata)]
CommandId = Annotated[UUID, Depends(command_id)]


class RequestBody(BaseModel):
    """A request body: unknown fields are rejected, and it does not change once parsed."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def found(value: T | None, detail: str) -> T:
    """Return a read model's answer, or answer 404 with ``detail`` when there is none."""
    if value is None:
        raise HTTPException(status_code=404, detail=detail)
    return value
