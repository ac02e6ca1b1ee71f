"""What every HTTP route shares: the acting user's headers and the request's metadata."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Header, Request

from events.base import EventMetadata

UserId = Annotated[UUID | None, Header(alias="X-User-Id", description="acting user")]
UserRole = Annotated[str | None, Header(alias="X-User-Role", description="acting user's role")]
Correlation = Annotated[UUID | None, Header(alias="X-Correlation-Id", description="correlates a workflow")]
Idempotency = Annotated[UUID | None, Header(alias="Idempotency-Key", description="retries apply once")]


def request_metadata(
    request: Request,
    user_id: UUID | None,
    user_role: str | None,
    correlation_id: UUID | None,
) -> EventMetadata:
    """Return the metadata that the request's events will carry."""
    return EventMetadata(
        correlation_id=correlation_id,
        user_id=user_id,
        user_role=user_role,
        client_addr=request.client.host if request.client else None,
    )
