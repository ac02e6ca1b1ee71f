"""Events of the User service. The User service may add more; these are shared contracts."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from events.base import DomainEvent

UserRole = Literal["viewer", "contributor", "professional", "admin"]


class UserEvent(DomainEvent):
    """An event of one user's stream (keyed by the user id)."""

    stream_type: ClassVar[str] = "user"


class UserRegistered(UserEvent):
    """A user signed up. The password arrives hashed (never in clear text)."""

    event_type: ClassVar[str] = "UserRegistered"

    email: str = Field(max_length=255)
    password_hash: str = Field(max_length=255)
    display_name: str | None = Field(default=None, max_length=100)
    avatar_url: str | None = Field(default=None, max_length=500)
    role: UserRole = "viewer"
    language: str = Field(default="ja", max_length=10)
    timezone: str = Field(default="Asia/Tokyo", max_length=50)


class UserDeactivated(UserEvent):
    """A user can no longer act (``is_active`` false); their data stays."""

    event_type: ClassVar[str] = "UserDeactivated"
