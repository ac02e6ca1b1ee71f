"""Events of the User service. The User service may add more; these are shared contracts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar, Final, Literal
from uuid import UUID

from pydantic import Field, JsonValue

from events.base import DomainEvent

UserRole = Literal["viewer", "contributor", "professional", "admin"]

ERASED_EMAIL: Final = "erased@erased.invalid"
"""What ``UserRegistered.email`` reads as once the user was erased.

``.invalid`` is reserved (RFC 2606) and refused at sign-up, so no real address looks like it.
"""
ERASED_PASSWORD_HASH: Final = "erased"  # noqa: S105  a marker no password matches, not a secret
"""What a password hash reads as once the user was erased: no password ever matches it."""


class UserEvent(DomainEvent):
    """An event of one user's stream (keyed by the user id).

    Personal data is marked, not handled, here: ``personal_fields`` names the fields that
    identify the person ``personal_data_subject`` names, each with the value it reads as once
    that person was erased. The event store keeps those fields encrypted with a key of the
    subject's own and deletes the key on an event whose class sets ``erases_personal_data``
    (crypto-shredding, see :mod:`infra.pii`); events here always hold clear values.
    """

    stream_type: ClassVar[str] = "user"
    personal_data_subject: ClassVar[str] = "stream_id"
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {}
    erases_personal_data: ClassVar[bool] = False


class UserRegistered(UserEvent):
    """A user signed up. The password arrives hashed (never in clear text)."""

    event_type: ClassVar[str] = "UserRegistered"
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {
        "email": ERASED_EMAIL,
        "password_hash": ERASED_PASSWORD_HASH,
        "display_name": None,
        "avatar_url": None,
    }

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


# Events added by the User service (the two above are the shared contract).

WatchStatus = Literal["want_to_watch", "watching", "watched", "dropped"]
InteractionType = Literal["view", "like", "favorite", "share", "comment"]


class UserPasswordChanged(UserEvent):
    """A user's password changed; like registration, only its hash is carried."""

    event_type: ClassVar[str] = "UserPasswordChanged"
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {"password_hash": ERASED_PASSWORD_HASH}

    password_hash: str = Field(max_length=255)


class UserRoleChanged(UserEvent):
    """A user was given another role."""

    event_type: ClassVar[str] = "UserRoleChanged"

    role: UserRole


class UserVerified(UserEvent):
    """A user's account was verified (``is_verified`` true)."""

    event_type: ClassVar[str] = "UserVerified"


class UserLoggedIn(UserEvent):
    """A user logged in; ``occurred_at`` is the log-in time."""

    event_type: ClassVar[str] = "UserLoggedIn"


class UserProfileUpdated(UserEvent):
    """A user's public profile changed; carries every profile field as it now is."""

    event_type: ClassVar[str] = "UserProfileUpdated"
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {
        "display_name": None,
        "avatar_url": None,
        "bio": None,
        "birth_year": None,
        "country": None,
    }

    display_name: str | None = Field(default=None, max_length=100)
    avatar_url: str | None = Field(default=None, max_length=500)
    bio: str | None = Field(default=None, max_length=2000)
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    country: str | None = Field(default=None, min_length=2, max_length=2)
    favourite_genre_ids: tuple[UUID, ...] = ()


class UserPreferencesSet(UserEvent):
    """A user's settings and preferences were replaced; carries all of them as they now are."""

    event_type: ClassVar[str] = "UserPreferencesSet"

    language: str = Field(max_length=10)
    timezone: str = Field(max_length=50)
    preferred_languages: tuple[str, ...] = ()
    show_spoilers: bool = False
    preferred_level1_classes: tuple[str, ...] = ()
    email_notifications: bool = True
    push_notifications: bool = False
    notify_watch_list_updates: bool = True
    notify_review_replies: bool = True


class MovieAddedToWatchList(UserEvent):
    """A movie was put on the user's watch list (one entry per movie)."""

    event_type: ClassVar[str] = "MovieAddedToWatchList"
    # Notes and tags are whatever the user wrote: treated as personal.
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {"notes": None, "tags": []}

    entry_id: UUID
    movie_id: UUID
    status: WatchStatus = "want_to_watch"
    priority: int = Field(default=5, ge=1, le=10)
    notes: str | None = None
    tags: tuple[str, ...] = ()


class WatchListEntryUpdated(UserEvent):
    """A watch-list entry changed; carries every field of the entry as it now is."""

    event_type: ClassVar[str] = "WatchListEntryUpdated"
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {"notes": None, "tags": []}

    movie_id: UUID
    status: WatchStatus
    priority: int = Field(ge=1, le=10)
    watched_scenes_count: int = Field(ge=0)
    last_watched_scene_id: UUID | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()


class MovieRemovedFromWatchList(UserEvent):
    """A movie left the user's watch list."""

    event_type: ClassVar[str] = "MovieRemovedFromWatchList"

    movie_id: UUID


class SceneInteractionRecorded(UserEvent):
    """A user viewed, liked, favourited, shared or commented on a scene (once per kind and scene)."""

    event_type: ClassVar[str] = "SceneInteractionRecorded"
    # Free-form (a comment's text, a device, ...): treated as personal.
    personal_fields: ClassVar[Mapping[str, JsonValue]] = {"metadata": {}}

    interaction_id: UUID
    scene_id: UUID
    interaction_type: InteractionType
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class SceneInteractionWithdrawn(UserEvent):
    """A user took back an interaction with a scene (an unlike, an unfavourite, ...)."""

    event_type: ClassVar[str] = "SceneInteractionWithdrawn"

    scene_id: UUID
    interaction_type: InteractionType


class UserActivityCleared(UserEvent):
    """A user's whole watch list and every scene interaction were removed at once (before erasure).

    The entries themselves are in the user's earlier events, so a compensation can put them back.
    """

    event_type: ClassVar[str] = "UserActivityCleared"

    watch_list_entries: int = Field(ge=0)
    interactions: int = Field(ge=0)


class UserErased(UserEvent):
    """A user's personal data was made unrecoverable (right to erasure).

    Appending it deletes the user's data key, so every personal field of the user's earlier
    events reads as its erased value from then on; the account is gone for good.
    """

    event_type: ClassVar[str] = "UserErased"
    erases_personal_data: ClassVar[bool] = True


USER_EVENTS: tuple[type[UserEvent], ...] = (
    UserRegistered,
    UserDeactivated,
    UserPasswordChanged,
    UserRoleChanged,
    UserVerified,
    UserLoggedIn,
    UserProfileUpdated,
    UserPreferencesSet,
    MovieAddedToWatchList,
    WatchListEntryUpdated,
    MovieRemovedFromWatchList,
    SceneInteractionRecorded,
    SceneInteractionWithdrawn,
    UserActivityCleared,
    UserErased,
)
