"""Signed short-lived access tokens (JWT, HS256): who acts, with which role, until when."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Final, get_args
from uuid import UUID

import jwt
import structlog
from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.user import UserRole

log = structlog.get_logger(__name__)

ALGORITHM: Final = "HS256"
TOKEN_LIFETIME: Final = timedelta(minutes=15)
ROLES: Final[tuple[UserRole, ...]] = get_args(UserRole)
_MIN_SECRET_BYTES: Final = 32
"""RFC 7518 asks an HS256 key to be at least as long as the hash output."""


class AuthSettings(BaseSettings):
    """The token secret, from ``SCENELEDGER_AUTH_SECRET`` (kept apart from :mod:`infra.settings`)."""

    model_config = SettingsConfigDict(env_prefix="SCENELEDGER_AUTH_", frozen=True, extra="ignore")

    secret: SecretStr | None = None


class InvalidTokenError(Exception):
    """A token that is malformed, tampered with, expired or names no valid user and role."""


@dataclass(frozen=True, slots=True)
class Identity:
    """Who a request acts as: ``user_id`` ``None`` is an anonymous reader with the viewer role."""

    user_id: UUID | None
    role: UserRole

    @property
    def authenticated(self) -> bool:
        """Whether a verified token named the user."""
        return self.user_id is not None


ANONYMOUS: Final = Identity(user_id=None, role="viewer")


def _utc_now() -> datetime:
    return datetime.now(UTC)


class TokenAuthority:
    """Issues and verifies access tokens with one secret; claims ``sub``, ``role``, ``iat``, ``exp``.

    ``clock`` dates the tokens issued; verification checks ``exp`` against the real time.
    """

    def __init__(
        self,
        secret: str,
        *,
        lifetime: timedelta = TOKEN_LIFETIME,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        if len(secret.encode()) < _MIN_SECRET_BYTES:
            raise ValueError(f"the token secret must be at least {_MIN_SECRET_BYTES} bytes long")
        self._secret = secret
        self.lifetime = lifetime
        self._clock = clock

    def issue(self, user_id: UUID, role: UserRole) -> str:
        """Return a token for ``user_id`` acting as ``role``, valid for :attr:`lifetime`."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        now = self._clock()
        claims = {"sub": str(user_id), "role": role, "iat": now, "exp": now + self.lifetime}
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Identity:
        """Return the identity a token names; raise :class:`InvalidTokenError` for any bad token."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],  # never the token's own "alg": no "none", no key confusion
                options={"require": ["sub", "role", "exp", "iat"]},
            )
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(str(exc)) from exc
        role = claims["role"]
        if role not in ROLES:
            raise InvalidTokenError(f"unknown role {role!r}")
        try:
            user_id = UUID(claims["sub"])
        except (TypeError, ValueError) as exc:
            raise InvalidTokenError("the token's subject is not a user id") from exc
        return Identity(user_id=user_id, role=role)


@cache
def default_authority() -> TokenAuthority:
    """Return this process's authority: ``SCENELEDGER_AUTH_SECRET``, else a random per-process secret.

    A random secret means tokens die with the process and are not accepted by other API
    processes, which is why it is logged as a warning.
    """
    configured = AuthSettings().secret
    if configured is None:
        log.warning("auth.random_secret", hint="set SCENELEDGER_AUTH_SECRET to share tokens across processes")
        return TokenAuthority(secrets.token_urlsafe(48))
    return TokenAuthority(configured.get_secret_value())


def bearer_headers(user_id: UUID, role: UserRole, authority: TokenAuthority | None = None) -> dict[str, str]:
    """Return an ``Authorization`` header with a fresh token (for clients and tests of this process)."""
    token = (authority or default_authority()).issue(user_id, role)
    return {"Authorization": f"Bearer {token}"}
