"""HTTP routes of the User service: sign-up, account, profile, preferences, watch list, interactions."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID, uuid4

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from commands.base import Command, CommandResult
from commands.classification import LEVEL1_LETTERS
from commands.handlers import CommandBus
from commands.user import (
    DEFAULT_LANGUAGE,
    DEFAULT_TIMEZONE,
    MAX_FAVOURITE_GENRES,
    MAX_PREFERRED_LANGUAGES,
    MAX_TAGS,
    MAX_WATCHED_SCENES,
    AddMovieToWatchList,
    Bio,
    ChangePassword,
    ChangeUserRole,
    DeactivateUser,
    DisplayName,
    Language,
    Notes,
    Password,
    RecordSceneInteraction,
    RegisterUser,
    RemoveMovieFromWatchList,
    SetUserPreferences,
    Tag,
    TimeZone,
    UpdateUserProfile,
    UpdateWatchListEntry,
    Url,
    VerifyUser,
    WithdrawSceneInteraction,
)
from events.user import InteractionType, UserRole, WatchStatus
from infra.http.common import Correlation, Idempotency, UserId, request_metadata
from infra.http.common import UserRole as UserRoleHeader
from read_models.engines import ReadEngines
from read_models.users import InteractionView, UserQueries, UserView, WatchListEntryView


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegisterBody(_Body):
    """A sign-up. There is no role: every account starts as a viewer (see ``PUT /users/{id}/role``)."""

    user_id: UUID = Field(default_factory=uuid4)
    email: str = Field(max_length=320)
    password: Password
    display_name: DisplayName | None = None
    avatar_url: Url | None = None
    language: Language = DEFAULT_LANGUAGE
    timezone: TimeZone = DEFAULT_TIMEZONE


class PasswordBody(_Body):
    """The current password and the new one."""

    current_password: Password
    new_password: Password


class RoleBody(_Body):
    """A user's new role."""

    role: UserRole


class ProfileBody(_Body):
    """Profile changes: only the fields given change; null (or "") clears a field."""

    display_name: DisplayName | None = None
    avatar_url: Url | None = None
    bio: Bio | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    country: str | None = Field(default=None, max_length=2)
    favourite_genre_ids: tuple[UUID, ...] | None = Field(default=None, max_length=MAX_FAVOURITE_GENRES)


class PreferencesBody(_Body):
    """All preferences (replaced whole); ``language`` and ``timezone`` left out keep their values."""

    language: Language | None = None
    timezone: TimeZone | None = None
    preferred_languages: tuple[Language, ...] = Field(default=(), max_length=MAX_PREFERRED_LANGUAGES)
    show_spoilers: bool = False
    preferred_level1_classes: tuple[str, ...] = Field(default=(), max_length=len(LEVEL1_LETTERS))
    email_notifications: bool = True
    push_notifications: bool = False
    notify_watch_list_updates: bool = True
    notify_review_replies: bool = True


class WatchListAddBody(_Body):
    """A movie to put on the watch list."""

    movie_id: UUID
    status: WatchStatus = "want_to_watch"
    priority: int = Field(default=5, ge=1, le=10)
    notes: Notes | None = None
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)


class WatchListUpdateBody(_Body):
    """Watch-list entry changes: only the fields given change; null clears notes and the last scene."""

    status: WatchStatus | None = None
    priority: int | None = Field(default=None, ge=1, le=10)
    watched_scenes_count: int | None = Field(default=None, ge=0, le=MAX_WATCHED_SCENES)
    last_watched_scene_id: UUID | None = None
    notes: Notes | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)


class InteractionBody(_Body):
    """An interaction with a scene."""

    scene_id: UUID
    interaction_type: InteractionType
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


def user_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: C901, PLR0915  one closure per route
    """Routes of the User service."""
    router = APIRouter(tags=["users"])
    queries = UserQueries(engines["user"])

    async def dispatch(
        cmd: Command,
        request: Request,
        user_id: UUID | None,
        user_role: str | None,
        correlation_id: UUID | None,
    ) -> CommandResult:
        return await bus.dispatch(cmd, request_metadata(request, user_id, user_role, correlation_id))

    def _command_id(key: UUID | None) -> UUID:
        return key or uuid4()

    @router.post("/users", status_code=202)
    async def register_user(
        body: RegisterBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Sign a user up (409 when the e-mail address is taken). The answer names the new user's id."""
        cmd = RegisterUser(command_id=_command_id(idempotency_key), **body.model_dump())
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.get("/users/{target_id}")
    async def get_user(target_id: UUID) -> UserView:
        """One user with profile and preferences (never the password hash)."""
        user = await queries.get(target_id)
        if user is None:
            raise HTTPException(status_code=404, detail=f"user {target_id} not found")
        return user

    @router.put("/users/{target_id}/password", status_code=202)
    async def change_password(
        target_id: UUID,
        body: PasswordBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Change a user's password (the current one must match)."""
        cmd = ChangePassword(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            current_password=body.current_password,
            new_password=body.new_password,
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.put("/users/{target_id}/role", status_code=202)
    async def change_role(
        target_id: UUID,
        body: RoleBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Give a user another role."""
        cmd = ChangeUserRole(command_id=_command_id(idempotency_key), user_id=target_id, role=body.role)
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.post("/users/{target_id}/verify", status_code=202)
    async def verify_user(
        target_id: UUID,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Mark a user's account verified."""
        cmd = VerifyUser(command_id=_command_id(idempotency_key), user_id=target_id)
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.post("/users/{target_id}/deactivate", status_code=202)
    async def deactivate_user(
        target_id: UUID,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Deactivate a user; later commands on them are rejected."""
        cmd = DeactivateUser(command_id=_command_id(idempotency_key), user_id=target_id)
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.patch("/users/{target_id}/profile", status_code=202)
    async def update_profile(
        target_id: UUID,
        body: ProfileBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Change the fields of a user's profile that the body names."""
        cmd = UpdateUserProfile(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            **body.model_dump(exclude_unset=True),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.put("/users/{target_id}/preferences", status_code=202)
    async def set_preferences(
        target_id: UUID,
        body: PreferencesBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Replace a user's preferences."""
        cmd = SetUserPreferences(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            **body.model_dump(),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.get("/users/{target_id}/watch-list")
    async def get_watch_list(
        target_id: UUID,
        status: WatchStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[WatchListEntryView]:
        """Return a user's watch list, highest priority first; ``status`` filters it."""
        return await queries.watch_list(target_id, status=status, limit=limit, offset=offset)

    @router.get("/users/{target_id}/watch-list/{movie_id}")
    async def get_watch_list_entry(target_id: UUID, movie_id: UUID) -> WatchListEntryView:
        """One entry of a user's watch list."""
        entry = await queries.watch_list_entry(target_id, movie_id)
        if entry is None:
            raise HTTPException(status_code=404, detail=f"movie {movie_id} is not on the watch list")
        return entry

    @router.post("/users/{target_id}/watch-list", status_code=202)
    async def add_to_watch_list(
        target_id: UUID,
        body: WatchListAddBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Put a movie on a user's watch list."""
        cmd = AddMovieToWatchList(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            **body.model_dump(),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.patch("/users/{target_id}/watch-list/{movie_id}", status_code=202)
    async def update_watch_list_entry(
        target_id: UUID,
        movie_id: UUID,
        body: WatchListUpdateBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Change the fields of a watch-list entry that the body names."""
        cmd = UpdateWatchListEntry(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            movie_id=movie_id,
            **body.model_dump(exclude_unset=True),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.delete("/users/{target_id}/watch-list/{movie_id}", status_code=202)
    async def remove_from_watch_list(
        target_id: UUID,
        movie_id: UUID,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Take a movie off a user's watch list."""
        cmd = RemoveMovieFromWatchList(
            command_id=_command_id(idempotency_key), user_id=target_id, movie_id=movie_id
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.get("/users/{target_id}/interactions")
    async def get_interactions(
        target_id: UUID,
        scene_id: UUID | None = None,
        interaction_type: InteractionType | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> list[InteractionView]:
        """Return a user's scene interactions, newest first, filtered by scene and type when given."""
        return await queries.interactions(
            target_id, scene_id=scene_id, interaction_type=interaction_type, limit=limit, offset=offset
        )

    @router.post("/users/{target_id}/interactions", status_code=202)
    async def record_interaction(
        target_id: UUID,
        body: InteractionBody,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Record a user's interaction with a scene."""
        cmd = RecordSceneInteraction(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            **body.model_dump(),
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    @router.delete("/users/{target_id}/interactions/{scene_id}/{interaction_type}", status_code=202)
    async def withdraw_interaction(
        target_id: UUID,
        scene_id: UUID,
        interaction_type: InteractionType,
        request: Request,
        user_id: UserId = None,
        user_role: UserRoleHeader = None,
        correlation_id: Correlation = None,
        idempotency_key: Idempotency = None,
    ) -> CommandResult:
        """Withdraw a user's interaction with a scene."""
        cmd = WithdrawSceneInteraction(
            command_id=_command_id(idempotency_key),
            user_id=target_id,
            scene_id=scene_id,
            interaction_type=interaction_type,
        )
        return await dispatch(cmd, request, user_id, user_role, correlation_id)

    return router
