"""What every HTTP route shares: the acting user from the bearer token, the command id, paging and 404s."""

from __future__ import annotations

from typing import Annotated, TypeVar
from uuid import UUID, uuid4

from fastapi import Depends, Header, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from events.base import EventMetadata, Message
from infra.auth import ANONYMOUS, Identity, InvalidTokenError, default_authority
from infra.http.user_status import UserStatusCheck

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="access token from POST /auth/login")
Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
Correlation = Annotated[UUID | None, Header(alias="X-Correlation-Id", description="correlates a workflow")]
Idempotency = Annotated[UUID | None, Header(alias="Idempotency-Key", description="retries apply once")]

ExpectedVersion = Annotated[int | None, Query(ge=1)]
Limit = Annotated[int, Query(ge=1, le=1000)]
MAX_OFFSET = 1_000_000
"""Deeper pages than this go by keyset cursors; beyond bigint PostgreSQL would reject it anyway."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]


async def current_identity(request: Request, credentials: Bearer = None) -> Identity:
    """Return who the request acts as: the verified token's user and role, else an anonymous viewer.

    A missing, malformed, tampered or expired token reads as anonymous; routes that need a user
    answer 401 through :func:`signed_in`. A valid token of a user who has since been deactivated
    (or erased) is refused outright with 401, whatever the route: see
    :mod:`infra.http.user_status`, which the application installs as ``app.state.user_status``.
    """
    if credentials is None:
        return ANONYMOUS
    try:
        identity = default_authority().verify(credentials.credentials)
    except InvalidTokenError:
        return ANONYMOUS
    status: UserStatusCheck | None = getattr(request.app.state, "user_status", None)
    if status is None:
        # Fail closed: an application assembled without the check must not trust tokens blindly.
        raise RuntimeError("no user status check installed: set app.state.user_status (create_app does)")
    if identity.user_id is not None and not await status.is_active(identity.user_id):
        raise HTTPException(
            status_code=401,
            detail="this account is deactivated: its tokens no longer work",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        )
    return identity


Caller = Annotated[Identity, Depends(current_identity)]


def acting_metadata(
    request: Request,
    identity: Caller,
    x_correlation_id: Correlation = None,
) -> EventMetadata:
    """Return the metadata that the request's events will carry: who acts, from where, in which workflow."""
    return EventMetadata(
        correlation_id=x_correlation_id,
        user_id=identity.user_id,
        user_role=identity.role if identity.authenticated else None,
        client_addr=request.client.host if request.client else None,
    )


def _unauthorised() -> HTTPException:
    return HTTPException(
        status_code=401,
        detail="log in first: send Authorization: Bearer <token from POST /auth/login>",
        headers={"WWW-Authenticate": "Bearer"},
    )


def signed_in(identity: Caller) -> Identity:
    """Return the acting user, or answer 401 when the request carries no valid token."""
    if not identity.authenticated:
        raise _unauthorised()
    return identity


def signed_in_user_id(identity: Caller) -> UUID:
    """Return the acting user's id, or answer 401 when the request carries no valid token."""
    if identity.user_id is None:
        raise _unauthorised()
    return identity.user_id


def command_id(idempotency_key: Idempotency = None) -> UUID:
    """Return the command id: the client's Idempotency-Key, so that a retry applies once, or a fresh one."""
    return idempotency_key or uuid4()


Acting = Annotated[EventMetadata, Depends(acting_metadata)]
SignedIn = Annotated[Identity, Depends(signed_in)]
SignedInUserId = Annotated[UUID, Depends(signed_in_user_id)]
CommandId = Annotated[UUID, Depends(command_id)]


class RequestBody(Message):
    """A request body: unknown fields are rejected, no NUL characters, unchanged once parsed."""


def found(value: T | None, detail: str) -> T:
    """Return a read model's answer, or answer 404 with ``detail`` when there is none."""
    if value is None:
        raise HTTPException(status_code=404, detail=detail)
    return value
