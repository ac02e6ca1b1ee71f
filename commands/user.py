"""User commands and the pure User aggregate: account, profile, preferences, watch list, interactions.

A user's watch list and scene interactions live on the user's own stream, so "one entry per
movie" and "one interaction of a kind per scene" are plain aggregate state. Clear-text
passwords never reach this module's events: the handler hashes them and passes the hash in.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import singledispatch
from typing import Annotated, Final, TypeVar
from urllib.parse import urlsplit
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, JsonValue, SecretStr, StringConstraints

from commands.base import Command, Decision
from commands.classification import LEVEL1_LETTERS
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.ports import UniqueClaim
from commands.scene import SceneState
from events.base import DomainEvent
from events.user import (
    ERASED_EMAIL,
    ERASED_PASSWORD_HASH,
    InteractionType,
    MovieAddedToWatchList,
    MovieRemovedFromWatchList,
    SceneInteractionRecorded,
    SceneInteractionWithdrawn,
    UserActivityCleared,
    UserDeactivated,
    UserErased,
    UserEvent,
    UserLoggedIn,
    UserPasswordChanged,
    UserPreferencesSet,
    UserProfileUpdated,
    UserRegistered,
    UserRole,
    UserRoleChanged,
    UserVerified,
    WatchListEntryUpdated,
    WatchStatus,
)

T = TypeVar("T")

EMAIL_SCOPE: Final = "user_email"
"""Unique-claim scope of users' normalised e-mail addresses."""

MAX_EMAIL_LENGTH: Final = 255
MAX_LOCAL_PART_LENGTH: Final = 64
MAX_TAGS: Final = 50
MAX_PREFERRED_LANGUAGES: Final = 20
MAX_FAVOURITE_GENRES: Final = 50
MAX_METADATA_CHARS: Final = 10_000
"""Size bound of an interaction's metadata, serialised as JSON."""
MAX_WATCHED_SCENES: Final = 100_000
DEFAULT_LANGUAGE: Final = "ja"
DEFAULT_TIMEZONE: Final = "Asia/Tokyo"

_RESERVED_DOMAIN: Final = ".invalid"
_EMAIL: Final = re.compile(r"[^\s@]+@[^\s@.]+(?:\.[^\s@.]+)+")
_LANGUAGE: Final = re.compile(r"[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")

Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
Notes = Annotated[str, StringConstraints(max_length=10_000)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)]
Url = Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]
Bio = Annotated[str, StringConstraints(max_length=2000)]
Language = Annotated[str, StringConstraints(strip_whitespace=True, max_length=10)]
TimeZone = Annotated[str, StringConstraints(strip_whitespace=True, max_length=50)]
Password = Annotated[SecretStr, Field(description="clear-text password; hashed before anything is stored")]


# --- Commands ---------------------------------------------------------------------------------


class RegisterUser(Command):
    """Sign a user up. The password is hashed by the handler and never stored in clear."""

    user_id: UUID = Field(default_factory=uuid4)
    email: str = Field(max_length=320)
    password: Password
    display_name: DisplayName | None = None
    avatar_url: Url | None = None
    role: UserRole = "viewer"
    language: Language = DEFAULT_LANGUAGE
    timezone: TimeZone = DEFAULT_TIMEZONE


class ChangePassword(Command):
    """Replace a user's password; the current one must be given and match."""

    user_id: UUID
    current_password: Password
    new_password: Password


class ChangeUserRole(Command):
    """Give a user another role."""

    user_id: UUID
    role: UserRole


class VerifyUser(Command):
    """Mark a user's account as verified (a no-op when it already is)."""

    user_id: UUID


class RecordLogin(Command):
    """Note that a user logged in (sets ``last_login_at``)."""

    user_id: UUID


class DeactivateUser(Command):
    """Deactivate a user: every later command on the user is rejected; the data stays."""

    user_id: UUID


class UpdateUserProfile(Command):
    """Change a user's profile. Only the fields given change; a field given as null (or "") clears it."""

    user_id: UUID
    display_name: DisplayName | None = None
    avatar_url: Url | None = None
    bio: Bio | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    country: str | None = Field(default=None, max_length=2, description="ISO 3166-1 alpha-2 code")
    favourite_genre_ids: tuple[UUID, ...] | None = Field(default=None, max_length=MAX_FAVOURITE_GENRES)


PROFILE_FIELDS: Final = frozenset(
    {"display_name", "avatar_url", "bio", "birth_year", "country", "favourite_genre_ids"},
)


class SetUserPreferences(Command):
    """Replace a user's preferences. ``language`` and ``timezone`` left out keep their values."""

    user_id: UUID
    language: Language | None = None
    timezone: TimeZone | None = None
    preferred_languages: tuple[Language, ...] = Field(default=(), max_length=MAX_PREFERRED_LANGUAGES)
    show_spoilers: bool = False
    preferred_level1_classes: tuple[str, ...] = Field(
        default=(),
        max_length=len(LEVEL1_LETTERS),
        description="L-dialogue level 1 letters: A, R, C, S, D, L, O",
    )
    email_notifications: bool = True
    push_notifications: bool = False
    notify_watch_list_updates: bool = True
    notify_review_replies: bool = True


class AddMovieToWatchList(Command):
    """Put a movie (which must exist) on a user's watch list."""

    user_id: UUID
    movie_id: UUID
    entry_id: UUID = Field(default_factory=uuid4)
    status: WatchStatus = "want_to_watch"
    priority: int = Field(default=5, ge=1, le=10, description="1 (high) to 10 (low)")
    notes: Notes | None = None
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)


class UpdateWatchListEntry(Command):
    """Change a watch-list entry. Only the fields given change; null clears notes and the last scene."""

    user_id: UUID
    movie_id: UUID
    status: WatchStatus | None = None
    priority: int | None = Field(default=None, ge=1, le=10)
    watched_scenes_count: int | None = Field(default=None, ge=0, le=MAX_WATCHED_SCENES)
    last_watched_scene_id: UUID | None = None
    notes: Notes | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)


WATCH_LIST_FIELDS: Final = frozenset(
    {"status", "priority", "watched_scenes_count", "last_watched_scene_id", "notes", "tags"},
)


class RemoveMovieFromWatchList(Command):
    """Take a movie off a user's watch list."""

    user_id: UUID
    movie_id: UUID


class RecordSceneInteraction(Command):
    """Record that a user viewed, liked, favourited, shared or commented on a scene (which must exist)."""

    user_id: UUID
    scene_id: UUID
    interaction_type: InteractionType
    metadata: dict[str, JsonValue] = Field(default_factory=dict)
    interaction_id: UUID = Field(default_factory=uuid4)


class WithdrawSceneInteraction(Command):
    """Take back a recorded interaction (unlike, unfavourite, ...)."""

    user_id: UUID
    scene_id: UUID
    interaction_type: InteractionType


class ClearUserActivity(Command):
    """Remove a user's whole watch list and all their scene interactions (a deactivated user's too)."""

    user_id: UUID


class RestoreUserActivity(Command):
    """Put back what the user's last ``ClearUserActivity`` removed and is not there again (its undo)."""

    user_id: UUID


class RestoreWatchListEntry(Command):
    """Put back the entry for ``movie_id`` that the user's watch list last lost (a movie removal's undo).

    The entry comes back from the user's own stream (status, priority, notes, tags, progress), so
    whoever undoes a removal never has to carry the user's notes: they stay sealed in that stream.
    """

    user_id: UUID
    movie_id: UUID


class EraseUser(Command):
    """Erase a user (right to erasure): their personal data becomes unrecoverable, everywhere.

    The account is gone for good; their e-mail address is free again. Reviews are anonymized
    and the watch list and interactions removed beforehand by the user-erasure saga.
    """

    user_id: UUID


UserCommand = (
    RegisterUser
    | ChangePassword
    | ChangeUserRole
    | VerifyUser
    | RecordLogin
    | DeactivateUser
    | UpdateUserProfile
    | SetUserPreferences
    | AddMovieToWatchList
    | UpdateWatchListEntry
    | RemoveMovieFromWatchList
    | RecordSceneInteraction
    | WithdrawSceneInteraction
    | ClearUserActivity
    | RestoreUserActivity
    | RestoreWatchListEntry
    | EraseUser
)


# --- State ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    """A user's public profile."""

    display_name: str | None = None
    avatar_url: str | None = None
    bio: str | None = None
    birth_year: int | None = None
    country: str | None = None
    favourite_genre_ids: tuple[UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class Preferences:
    """A user's settings (language, time zone) and viewing and notification preferences."""

    language: str = DEFAULT_LANGUAGE
    timezone: str = DEFAULT_TIMEZONE
    preferred_languages: tuple[str, ...] = ()
    show_spoilers: bool = False
    preferred_level1_classes: tuple[str, ...] = ()
    email_notifications: bool = True
    push_notifications: bool = False
    notify_watch_list_updates: bool = True
    notify_review_replies: bool = True


@dataclass(frozen=True, slots=True)
class WatchListEntry:
    """One movie on a user's watch list."""

    entry_id: UUID
    movie_id: UUID
    status: WatchStatus = "want_to_watch"
    priority: int = 5
    watched_scenes_count: int = 0
    last_watched_scene_id: UUID | None = None
    notes: str | None = None
    tags: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class UserState:
    """A user as their events left them."""

    user_id: UUID
    version: int
    email: str
    password_hash: str
    role: UserRole
    profile: Profile
    preferences: Preferences
    is_verified: bool = False
    is_active: bool = True
    erased: bool = False
    last_login_at: datetime | None = None
    watch_list: Mapping[UUID, WatchListEntry] = field(default_factory=dict)
    """Entries by movie id."""
    interactions: Mapping[tuple[UUID, InteractionType], UUID] = field(default_factory=dict)
    """Interaction ids by (scene id, interaction type)."""
    interaction_metadata: Mapping[UUID, Mapping[str, JsonValue]] = field(default_factory=dict)
    """Metadata of the current interactions by interaction id."""
    cleared_watch_list: Mapping[UUID, WatchListEntry] = field(default_factory=dict)
    """What the last ``UserActivityCleared`` removed from the watch list (for its undo)."""
    cleared_interactions: Mapping[tuple[UUID, InteractionType], UUID] = field(default_factory=dict)
    """What the last ``UserActivityCleared`` removed of the interactions (for its undo)."""
    cleared_interaction_metadata: Mapping[UUID, Mapping[str, JsonValue]] = field(default_factory=dict)
    removed_watch_list: Mapping[UUID, WatchListEntry] = field(default_factory=dict)
    """The last entry each movie had before it was taken off the watch list (for its undo)."""


# --- Validation helpers -----------------------------------------------------------------------


def normalise_email(email: str) -> str:
    """Return ``email`` trimmed and lower-cased, or raise if it is not shaped like an address."""
    normalised = email.strip().lower()
    if not normalised:
        raise InvalidCommandError("email", "must not be empty")
    if normalised.endswith(_RESERVED_DOMAIN):
        # Erased users' e-mail reads as an address there (events.user.ERASED_EMAIL).
        raise InvalidCommandError("email", f"addresses ending in {_RESERVED_DOMAIN} cannot receive mail")
    if len(normalised) > MAX_EMAIL_LENGTH:
        raise InvalidCommandError("email", f"must be at most {MAX_EMAIL_LENGTH} characters long")
    local, _, _ = normalised.partition("@")
    if (
        not _EMAIL.fullmatch(normalised)
        or len(local) > MAX_LOCAL_PART_LENGTH
        or local.startswith(".")
        or local.endswith(".")
        or ".." in local
    ):
        raise InvalidCommandError("email", "is not an e-mail address (expected name@example.com)")
    return normalised


def _url(value: str | None, field_name: str) -> str | None:
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise InvalidCommandError(field_name, "must be an http(s) URL")
    return value


def _language(value: str, field_name: str) -> str:
    if not _LANGUAGE.fullmatch(value):
        raise InvalidCommandError(field_name, f"{value!r} is not a language code (e.g. 'ja', 'en-US')")
    return value


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidCommandError("timezone", f"{value!r} is not an IANA time zone") from None
    return value


def _country(value: str | None) -> str | None:
    if not value:
        return None
    code = value.strip().upper()
    if not _COUNTRY.fullmatch(code):
        raise InvalidCommandError("country", f"{value!r} is not an ISO 3166-1 alpha-2 code (e.g. 'JP')")
    return code


def _level1_classes(values: Sequence[str]) -> tuple[str, ...]:
    for value in values:
        if value not in LEVEL1_LETTERS:
            raise InvalidCommandError(
                "preferred_level1_classes",
                f"{value!r} is not a level 1 class; one of {', '.join(LEVEL1_LETTERS)}",
            )
    return _dedupe(values)


def _dedupe(values: Sequence[T]) -> tuple[T, ...]:
    return tuple(dict.fromkeys(values))


def _text(value: str | None) -> str | None:
    return value or None


def _existing(state: UserState | None, user_id: UUID) -> UserState:
    if state is None:
        raise StreamNotFoundError("user_id", "user", user_id)
    return state


def _not_erased(state: UserState | None, user_id: UUID) -> UserState:
    user = _existing(state, user_id)
    if user.erased:
        raise InvalidCommandError("user_id", f"user {user_id} was erased")
    return user


def _active(state: UserState | None, user_id: UUID) -> UserState:
    user = _not_erased(state, user_id)
    if not user.is_active:
        raise InvalidCommandError("user_id", f"user {user_id} is deactivated")
    return user


def _entry(user: UserState, movie_id: UUID) -> WatchListEntry:
    entry = user.watch_list.get(movie_id)
    if entry is None:
        raise StreamNotFoundError("movie_id", "watch-list entry for movie", movie_id)
    return entry


# --- Decisions --------------------------------------------------------------------------------


def register_user(cmd: RegisterUser, state: UserState | None, *, password_hash: str) -> Decision:
    """Validate a sign-up and return its ``UserRegistered`` with the claim of the e-mail address.

    ``password_hash`` is the hash of ``cmd.password`` (see :mod:`commands.passwords`).
    """
    if state is not None:
        raise InvalidCommandError("user_id", f"user {cmd.user_id} already exists")
    email = normalise_email(cmd.email)
    event = UserRegistered(
        stream_id=cmd.user_id,
        stream_version=1,
        email=email,
        password_hash=password_hash,
        display_name=_text(cmd.display_name),
        avatar_url=_url(cmd.avatar_url, "avatar_url"),
        role=cmd.role,
        language=_language(cmd.language, "language"),
        timezone=_timezone(cmd.timezone),
    )
    return Decision(events=[event], claims=[UniqueClaim(scope=EMAIL_SCOPE, key=email)])


def change_password(
    cmd: ChangePassword,
    state: UserState | None,
    *,
    new_hash: str,
    verified_against: str | None,
) -> list[UserEvent]:
    """Replace the password hash once the current password is confirmed.

    Hashing is slow, so the handler checks ``cmd.current_password`` beforehand and passes the
    stored hash it matched (``None`` when it matched none); a hash changed since then fails.
    """
    user = _active(state, cmd.user_id)
    if verified_against is None or verified_against != user.password_hash:
        raise InvalidCommandError("current_password", "does not match the user's password")
    return [
        UserPasswordChanged(stream_id=user.user_id, stream_version=user.version + 1, password_hash=new_hash)
    ]


def change_user_role(cmd: ChangeUserRole, state: UserState | None) -> list[UserEvent]:
    """Give the user another role; no event when it is already theirs."""
    user = _active(state, cmd.user_id)
    if cmd.role == user.role:
        return []
    return [UserRoleChanged(stream_id=user.user_id, stream_version=user.version + 1, role=cmd.role)]


def verify_user(cmd: VerifyUser, state: UserState | None) -> list[UserEvent]:
    """Mark the account verified; no event when it already is."""
    user = _active(state, cmd.user_id)
    if user.is_verified:
        return []
    return [UserVerified(stream_id=user.user_id, stream_version=user.version + 1)]


def record_login(cmd: RecordLogin, state: UserState | None) -> list[UserEvent]:
    """Note a log-in of an active user."""
    user = _active(state, cmd.user_id)
    return [UserLoggedIn(stream_id=user.user_id, stream_version=user.version + 1)]


def deactivate_user(cmd: DeactivateUser, state: UserState | None) -> list[UserEvent]:
    """Deactivate an active user."""
    user = _active(state, cmd.user_id)
    return [UserDeactivated(stream_id=user.user_id, stream_version=user.version + 1)]


def clear_user_activity(cmd: ClearUserActivity, state: UserState | None) -> list[UserEvent]:
    """Remove the whole watch list and every interaction; no event when there are none."""
    user = _not_erased(state, cmd.user_id)
    if not user.watch_list and not user.interactions:
        return []
    return [
        UserActivityCleared(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            watch_list_entries=len(user.watch_list),
            interactions=len(user.interactions),
        ),
    ]


def restore_watch_list_entry(cmd: RestoreWatchListEntry, state: UserState | None) -> list[UserEvent]:
    """Re-add, as it was, the entry the watch list last lost for a movie (no event if it is back)."""
    user = _not_erased(state, cmd.user_id)
    entry = user.removed_watch_list.get(cmd.movie_id)
    if entry is None or cmd.movie_id in user.watch_list:
        return []
    events: list[UserEvent] = [
        MovieAddedToWatchList(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            entry_id=entry.entry_id,
            movie_id=cmd.movie_id,
            status=entry.status,
            priority=entry.priority,
            notes=entry.notes,
            tags=entry.tags,
        ),
    ]
    if entry.watched_scenes_count or entry.last_watched_scene_id is not None:
        events.append(
            WatchListEntryUpdated(
                stream_id=user.user_id,
                stream_version=user.version + 2,
                movie_id=cmd.movie_id,
                status=entry.status,
                priority=entry.priority,
                watched_scenes_count=entry.watched_scenes_count,
                last_watched_scene_id=entry.last_watched_scene_id,
                notes=entry.notes,
                tags=entry.tags,
            ),
        )
    return events


def restore_user_activity(cmd: RestoreUserActivity, state: UserState | None) -> list[UserEvent]:
    """Re-add, as it was, what the last clear removed and is not there again (no event when nothing is)."""
    user = _not_erased(state, cmd.user_id)
    events: list[UserEvent] = []
    version = user.version

    def after() -> int:
        nonlocal version
        version += 1
        return version

    for movie_id, entry in user.cleared_watch_list.items():
        if movie_id in user.watch_list:
            continue
        events.append(
            MovieAddedToWatchList(
                stream_id=user.user_id,
                stream_version=after(),
                entry_id=entry.entry_id,
                movie_id=movie_id,
                status=entry.status,
                priority=entry.priority,
                notes=entry.notes,
                tags=entry.tags,
            ),
        )
        if entry.watched_scenes_count or entry.last_watched_scene_id is not None:
            events.append(
                WatchListEntryUpdated(
                    stream_id=user.user_id,
                    stream_version=after(),
                    movie_id=movie_id,
                    status=entry.status,
                    priority=entry.priority,
                    watched_scenes_count=entry.watched_scenes_count,
                    last_watched_scene_id=entry.last_watched_scene_id,
                    notes=entry.notes,
                    tags=entry.tags,
                ),
            )
    for (scene_id, interaction_type), interaction_id in user.cleared_interactions.items():
        if (scene_id, interaction_type) in user.interactions:
            continue
        events.append(
            SceneInteractionRecorded(
                stream_id=user.user_id,
                stream_version=after(),
                interaction_id=interaction_id,
                scene_id=scene_id,
                interaction_type=interaction_type,
                metadata=dict(user.cleared_interaction_metadata.get(interaction_id, {})),
            ),
        )
    return events


def erase_user(cmd: EraseUser, state: UserState | None) -> Decision:
    """Erase a user (deactivated or not) and free their e-mail address; no event when already erased."""
    user = _existing(state, cmd.user_id)
    if user.erased:
        return Decision(events=[])
    return Decision(
        events=[UserErased(stream_id=user.user_id, stream_version=user.version + 1)],
        releases=[UniqueClaim(scope=EMAIL_SCOPE, key=user.email)],
    )


def update_user_profile(cmd: UpdateUserProfile, state: UserState | None) -> list[UserEvent]:
    """Apply the given profile changes; no event when nothing changes."""
    user = _active(state, cmd.user_id)
    given = cmd.model_fields_set & PROFILE_FIELDS
    if not given:
        raise InvalidCommandError("display_name", f"give at least one of {', '.join(sorted(PROFILE_FIELDS))}")
    old = user.profile
    new = Profile(
        display_name=_text(cmd.display_name) if "display_name" in given else old.display_name,
        avatar_url=_url(cmd.avatar_url, "avatar_url") if "avatar_url" in given else old.avatar_url,
        bio=_text(cmd.bio) if "bio" in given else old.bio,
        birth_year=cmd.birth_year if "birth_year" in given else old.birth_year,
        country=_country(cmd.country) if "country" in given else old.country,
        favourite_genre_ids=(
            _dedupe(cmd.favourite_genre_ids or ())
            if "favourite_genre_ids" in given
            else old.favourite_genre_ids
        ),
    )
    if new == old:
        return []
    return [
        UserProfileUpdated(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            display_name=new.display_name,
            avatar_url=new.avatar_url,
            bio=new.bio,
            birth_year=new.birth_year,
            country=new.country,
            favourite_genre_ids=new.favourite_genre_ids,
        ),
    ]


def set_user_preferences(cmd: SetUserPreferences, state: UserState | None) -> list[UserEvent]:
    """Replace the preferences; no event when nothing changes."""
    user = _active(state, cmd.user_id)
    old = user.preferences
    new = Preferences(
        language=old.language if cmd.language is None else _language(cmd.language, "language"),
        timezone=old.timezone if cmd.timezone is None else _timezone(cmd.timezone),
        preferred_languages=_dedupe(
            [_language(lang, "preferred_languages") for lang in cmd.preferred_languages],
        ),
        show_spoilers=cmd.show_spoilers,
        preferred_level1_classes=_level1_classes(cmd.preferred_level1_classes),
        email_notifications=cmd.email_notifications,
        push_notifications=cmd.push_notifications,
        notify_watch_list_updates=cmd.notify_watch_list_updates,
        notify_review_replies=cmd.notify_review_replies,
    )
    if new == old:
        return []
    return [
        UserPreferencesSet(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            language=new.language,
            timezone=new.timezone,
            preferred_languages=new.preferred_languages,
            show_spoilers=new.show_spoilers,
            preferred_level1_classes=new.preferred_level1_classes,
            email_notifications=new.email_notifications,
            push_notifications=new.push_notifications,
            notify_watch_list_updates=new.notify_watch_list_updates,
            notify_review_replies=new.notify_review_replies,
        ),
    ]


def add_movie_to_watch_list(cmd: AddMovieToWatchList, state: UserState | None) -> list[UserEvent]:
    """Add a movie the user does not have on the list yet (the handler checked that it exists)."""
    user = _active(state, cmd.user_id)
    if cmd.movie_id in user.watch_list:
        raise InvalidCommandError("movie_id", f"movie {cmd.movie_id} is already on the watch list")
    return [
        MovieAddedToWatchList(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            entry_id=cmd.entry_id,
            movie_id=cmd.movie_id,
            status=cmd.status,
            priority=cmd.priority,
            notes=_text(cmd.notes),
            tags=_dedupe(cmd.tags),
        ),
    ]


def _check_last_scene(scene_id: UUID, scene: SceneState | None, movie_id: UUID) -> None:
    if scene is None or scene.deleted:
        raise StreamNotFoundError("last_watched_scene_id", "scene", scene_id, referenced=True)
    if scene.movie_id != movie_id:
        raise InvalidCommandError(
            "last_watched_scene_id",
            f"scene {scene_id} belongs to movie {scene.movie_id}, not {movie_id}",
        )


def _required(value: T | None, field_name: str) -> T:
    if value is None:
        raise InvalidCommandError(field_name, "cannot be cleared")
    return value


def update_watch_list_entry(
    cmd: UpdateWatchListEntry,
    state: UserState | None,
    *,
    last_scene: SceneState | None,
) -> list[UserEvent]:
    """Apply the given entry changes; no event when nothing changes.

    ``last_scene`` is the state of ``cmd.last_watched_scene_id`` when one is given: a new last
    scene must be a live scene of the entry's movie.
    """
    user = _active(state, cmd.user_id)
    old = _entry(user, cmd.movie_id)
    given = cmd.model_fields_set & WATCH_LIST_FIELDS
    if not given:
        raise InvalidCommandError("status", f"give at least one of {', '.join(sorted(WATCH_LIST_FIELDS))}")
    last_scene_id = (
        cmd.last_watched_scene_id if "last_watched_scene_id" in given else old.last_watched_scene_id
    )
    if last_scene_id is not None and last_scene_id != old.last_watched_scene_id:
        _check_last_scene(last_scene_id, last_scene, old.movie_id)
    new = replace(
        old,
        status=_required(cmd.status, "status") if "status" in given else old.status,
        priority=_required(cmd.priority, "priority") if "priority" in given else old.priority,
        watched_scenes_count=(
            _required(cmd.watched_scenes_count, "watched_scenes_count")
            if "watched_scenes_count" in given
            else old.watched_scenes_count
        ),
        last_watched_scene_id=last_scene_id,
        notes=_text(cmd.notes) if "notes" in given else old.notes,
        tags=_dedupe(cmd.tags or ()) if "tags" in given else old.tags,
    )
    if new == old:
        return []
    return [
        WatchListEntryUpdated(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            movie_id=new.movie_id,
            status=new.status,
            priority=new.priority,
            watched_scenes_count=new.watched_scenes_count,
            last_watched_scene_id=new.last_watched_scene_id,
            notes=new.notes,
            tags=new.tags,
        ),
    ]


def remove_movie_from_watch_list(cmd: RemoveMovieFromWatchList, state: UserState | None) -> list[UserEvent]:
    """Take a movie that is on the list off it."""
    user = _active(state, cmd.user_id)
    entry = _entry(user, cmd.movie_id)
    return [
        MovieRemovedFromWatchList(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            movie_id=entry.movie_id,
        ),
    ]


def record_scene_interaction(cmd: RecordSceneInteraction, state: UserState | None) -> list[UserEvent]:
    """Record an interaction not yet recorded for that scene (the handler checked the scene exists)."""
    user = _active(state, cmd.user_id)
    if (cmd.scene_id, cmd.interaction_type) in user.interactions:
        raise InvalidCommandError(
            "interaction_type",
            f"{cmd.interaction_type!r} is already recorded for scene {cmd.scene_id}; withdraw it first",
        )
    if len(json.dumps(cmd.metadata, ensure_ascii=False)) > MAX_METADATA_CHARS:
        raise InvalidCommandError("metadata", f"must be at most {MAX_METADATA_CHARS} characters as JSON")
    return [
        SceneInteractionRecorded(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            interaction_id=cmd.interaction_id,
            scene_id=cmd.scene_id,
            interaction_type=cmd.interaction_type,
            metadata=cmd.metadata,
        ),
    ]


def withdraw_scene_interaction(cmd: WithdrawSceneInteraction, state: UserState | None) -> list[UserEvent]:
    """Withdraw a recorded interaction (the scene may have been deleted since)."""
    user = _active(state, cmd.user_id)
    if (cmd.scene_id, cmd.interaction_type) not in user.interactions:
        raise StreamNotFoundError("scene_id", f"{cmd.interaction_type} interaction with scene", cmd.scene_id)
    return [
        SceneInteractionWithdrawn(
            stream_id=user.user_id,
            stream_version=user.version + 1,
            scene_id=cmd.scene_id,
            interaction_type=cmd.interaction_type,
        ),
    ]


# --- Evolution --------------------------------------------------------------------------------


@singledispatch
def apply(event: UserEvent, state: UserState | None) -> UserState:  # noqa: ARG001  the fallback
    """Return the user state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _after(state: UserState | None, event: UserEvent) -> UserState:
    if state is None:
        raise TypeError(f"{event.event_type} before UserRegistered in stream {event.stream_id}")
    return replace(state, version=event.stream_version)


@apply.register
def _(event: UserRegistered, state: UserState | None) -> UserState:  # noqa: ARG001  starts from nothing
    return UserState(
        user_id=event.stream_id,
        version=event.stream_version,
        email=event.email,
        password_hash=event.password_hash,
        role=event.role,
        profile=Profile(display_name=event.display_name, avatar_url=event.avatar_url),
        preferences=Preferences(language=event.language, timezone=event.timezone),
    )


@apply.register
def _(event: UserPasswordChanged, state: UserState | None) -> UserState:
    return replace(_after(state, event), password_hash=event.password_hash)


@apply.register
def _(event: UserRoleChanged, state: UserState | None) -> UserState:
    return replace(_after(state, event), role=event.role)


@apply.register
def _(event: UserVerified, state: UserState | None) -> UserState:
    return replace(_after(state, event), is_verified=True)


@apply.register
def _(event: UserLoggedIn, state: UserState | None) -> UserState:
    return replace(_after(state, event), last_login_at=event.occurred_at)


@apply.register
def _(event: UserDeactivated, state: UserState | None) -> UserState:
    return replace(_after(state, event), is_active=False)


@apply.register
def _(event: UserActivityCleared, state: UserState | None) -> UserState:
    user = _after(state, event)
    return replace(
        user,
        cleared_watch_list=user.watch_list,
        cleared_interactions=user.interactions,
        cleared_interaction_metadata=user.interaction_metadata,
        watch_list={},
        interactions={},
        interaction_metadata={},
    )


@apply.register
def _(event: UserErased, state: UserState | None) -> UserState:
    return replace(
        _after(state, event),
        email=ERASED_EMAIL,
        password_hash=ERASED_PASSWORD_HASH,
        profile=Profile(),
        is_active=False,
        erased=True,
        watch_list={},
        interactions={},
        interaction_metadata={},
        cleared_watch_list={},
        cleared_interactions={},
        cleared_interaction_metadata={},
    )


@apply.register
def _(event: UserProfileUpdated, state: UserState | None) -> UserState:
    profile = Profile(
        display_name=event.display_name,
        avatar_url=event.avatar_url,
        bio=event.bio,
        birth_year=event.birth_year,
        country=event.country,
        favourite_genre_ids=event.favourite_genre_ids,
    )
    return replace(_after(state, event), profile=profile)


@apply.register
def _(event: UserPreferencesSet, state: UserState | None) -> UserState:
    preferences = Preferences(
        language=event.language,
        timezone=event.timezone,
        preferred_languages=event.preferred_languages,
        show_spoilers=event.show_spoilers,
        preferred_level1_classes=event.preferred_level1_classes,
        email_notifications=event.email_notifications,
        push_notifications=event.push_notifications,
        notify_watch_list_updates=event.notify_watch_list_updates,
        notify_review_replies=event.notify_review_replies,
    )
    return replace(_after(state, event), preferences=preferences)


@apply.register
def _(event: MovieAddedToWatchList, state: UserState | None) -> UserState:
    user = _after(state, event)
    entry = WatchListEntry(
        entry_id=event.entry_id,
        movie_id=event.movie_id,
        status=event.status,
        priority=event.priority,
        notes=event.notes,
        tags=event.tags,
    )
    return replace(user, watch_list={**user.watch_list, event.movie_id: entry})


@apply.register
def _(event: WatchListEntryUpdated, state: UserState | None) -> UserState:
    user = _after(state, event)
    old = user.watch_list[event.movie_id]
    entry = replace(
        old,
        status=event.status,
        priority=event.priority,
        watched_scenes_count=event.watched_scenes_count,
        last_watched_scene_id=event.last_watched_scene_id,
        notes=event.notes,
        tags=event.tags,
    )
    return replace(user, watch_list={**user.watch_list, event.movie_id: entry})


@apply.register
def _(event: MovieRemovedFromWatchList, state: UserState | None) -> UserState:
    user = _after(state, event)
    removed = user.watch_list.get(event.movie_id)
    return replace(
        user,
        watch_list={k: v for k, v in user.watch_list.items() if k != event.movie_id},
        removed_watch_list=(
            {**user.removed_watch_list, event.movie_id: removed} if removed else user.removed_watch_list
        ),
    )


@apply.register
def _(event: SceneInteractionRecorded, state: UserState | None) -> UserState:
    user = _after(state, event)
    key = (event.scene_id, event.interaction_type)
    return replace(
        user,
        interactions={**user.interactions, key: event.interaction_id},
        interaction_metadata={**user.interaction_metadata, event.interaction_id: event.metadata},
    )


@apply.register
def _(event: SceneInteractionWithdrawn, state: UserState | None) -> UserState:
    user = _after(state, event)
    key = (event.scene_id, event.interaction_type)
    gone = user.interactions.get(key)
    return replace(
        user,
        interactions={k: v for k, v in user.interactions.items() if k != key},
        interaction_metadata={k: v for k, v in user.interaction_metadata.items() if k != gone},
    )


def replay(events: Sequence[DomainEvent]) -> UserState | None:
    """Fold a stream's events into its state (``None`` for an empty stream)."""
    state: UserState | None = None
    for event in events:
        if isinstance(event, UserEvent):
            state = apply(event, state)
    return state
