"""HTTP log-in: an e-mail address and password against the stored hash give a short-lived token."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from commands.errors import DomainError
from commands.handlers import CommandBus
from commands.passwords import MAX_PASSWORD_LENGTH, hash_password, verify_password
from commands.user import RecordLogin
from events.base import EventMetadata
from infra.auth import ROLES, TokenAuthority, default_authority
from infra.http.common import RequestBody
from read_models.engines import ReadEngines
from read_models.users import UserQueries

_REFUSED = "wrong e-mail address or password"
"""One answer for every refusal, so a caller cannot tell which part was wrong or if the user exists."""


class LoginBody(RequestBody):
    """Credentials of a user of the User service."""

    email: str = Field(max_length=320)
    # No minimum: a too-short password is simply wrong, and saying so would tell it apart.
    password: str = Field(max_length=MAX_PASSWORD_LENGTH)


class TokenResponse(BaseModel):
    """A bearer access token and how many seconds it stays valid."""

    model_config = ConfigDict(frozen=True)

    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105  the OAuth2 token type, not a secret
    expires_in: int


def _refused() -> HTTPException:
    return HTTPException(status_code=401, detail=_REFUSED, headers={"WWW-Authenticate": "Bearer"})


def auth_router(bus: CommandBus, engines: ReadEngines, authority: TokenAuthority | None = None) -> APIRouter:
    """Routes of log-in (``authority`` defaults to the process's, which the API's routes verify with)."""
    router = APIRouter(tags=["auth"])
    users = UserQueries(engines["user"])
    # Checked against when the address is unknown, so that answering takes as long as for a
    # known one; built on first use, not at import or start-up (hashing costs ~50 ms).
    decoy: list[str] = []

    @router.post("/auth/login")
    async def login(body: LoginBody) -> TokenResponse:
        """Log in; 401 with the same message for an unknown address, a wrong password or an inactive user."""
        issuer = authority or default_authority()
        credentials = await users.credentials_by_email(body.email)
        if not decoy:
            decoy.append(await asyncio.to_thread(hash_password, "decoy-password-never-matches"))
        stored = credentials.password_hash if credentials else decoy[0]
        # scrypt is deliberately slow: off the event loop, so one log-in does not stall other requests.
        matches = await asyncio.to_thread(verify_password, body.password, stored)
        # A role this code does not know (a newer writer's) gets no token rather than a guessed one.
        role = next((r for r in ROLES if credentials and r == credentials.role), None)
        if credentials is None or not matches or not credentials.is_active or role is None:
            raise _refused()
        token = issuer.issue(credentials.id, role)
        try:
            await bus.dispatch(
                RecordLogin(user_id=credentials.id), EventMetadata(user_id=credentials.id, user_role=role)
            )
        except DomainError:
            # Deactivated since the read model was projected: the event store has the last word.
            raise _refused() from None
        return TokenResponse(access_token=token, expires_in=int(issuer.lifetime.total_seconds()))

    return router
