"""HTTP routes of the User service: sign-up, account, profile, preferences, watch list, interactions."""

from __future__ import annotations

from uuid import UUID, uuid4

from fastapi import APIRouter, Depends
from pydantic import Field, JsonValue

from commands.authorization import require_admin, require_self, require_self_or_admin
from commands.base import CommandResult
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
    EraseUser,
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
from infra.http.auth import auth_router
from infra.http.common import Acting, Caller, CommandId, Limit, Offset, RequestBody, found, signed_in
from read_models.engines import ReadEngines
from read_models.users import InteractionView, UserQueries, UserView, WatchListEntryView


class RegisterBody(RequestBody):
    """A sign-up. There is no role: every account starts as a viewer (see ``PUT /users/{id}/role``)."""

    user_id: UUID = Field(default_factory=uuid4)
    email: str = Field(max_length=320)
    password: Password
    display_name: DisplayName | None = None
    avatar_url: Url | None = None
    language: Language = DEFAULT_LANGUAGE
    timezone: TimeZone = DEFAULT_TIMEZONE


class PasswordBody(RequestBody):
    """The current password and the new one."""

    current_password: Password
    new_password: Password


class RoleBody(RequestBody):
    """A user's new role."""

    role: UserRole


class ProfileBody(RequestBody):
    """Profile changes: only the fields given change; null (or "") clears a field."""

    display_name: DisplayName | None = None
    avatar_url: Url | None = None
    bio: Bio | None = None
    birth_year: int | None = Field(default=None, ge=1900, le=2100)
    country: str | None = Field(default=None, max_length=2)
    favourite_genre_ids: tuple[UUID, ...] | None = Field(default=None, max_length=MAX_FAVOURITE_GENRES)


class PreferencesBody(RequestBody):
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


class WatchListAddBody(RequestBody):
    """A movie to put on the watch list."""

    movie_id: UUID
    status: WatchStatus = "want_to_watch"
    priority: int = Field(default=5, ge=1, le=10)
    notes: Notes | None = None
    tags: tuple[Tag, ...] = Field(default=(), max_length=MAX_TAGS)


class WatchListUpdateBody(RequestBody):
    """Watch-list entry changes: only the fields given change; null clears notes and the last scene."""

    status: WatchStatus | None = None
    priority: int | None = Field(default=None, ge=1, le=10)
    watched_scenes_count: int | None = Field(default=None, ge=0, le=MAX_WATCHED_SCENES)
    last_watched_scene_id: UUID | None = None
    notes: Notes | None = None
    tags: tuple[Tag, ...] | None = Field(default=None, max_length=MAX_TAGS)


class InteractionBody(RequestBody):
    """An interaction with a scene."""

    scene_id: UUID
    interaction_type: InteractionType
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


def user_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: C901, PLR0915  one closure per route
    """Routes of the User service, and log-in (``POST /auth/login``), which checks its users."""
    router = APIRouter(tags=["users"])
    queries = UserQueries(engines["user"])
    router.include_router(auth_router(bus, engines))
    # Every change to an account needs a logged-in user (401 otherwise); sign-up does not.
    needs_login = [Depends(signed_in)]

    @router.post("/users", status_code=202)
    async def register_user(body: RegisterBody, meta: Acting, command_id: CommandId) -> CommandResult:
        """Sign a user up (409 when the e-mail address is taken). The answer names the new user's id."""
        cmd = RegisterUser(command_id=command_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.get("/users/{target_id}")
    async def get_user(target_id: UUID) -> UserView:
        """One user with profile and preferences (never the password hash)."""
        return found(await queries.get(target_id), f"user {target_id} not found")

    @router.put("/users/{target_id}/password", status_code=202, dependencies=needs_login)
    async def change_password(
        target_id: UUID,
        body: PasswordBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change a user's password (the current one must match)."""
        require_self_or_admin(meta, target_id)
        cmd = ChangePassword(
            command_id=command_id,
            user_id=target_id,
            current_password=body.current_password,
            new_password=body.new_password,
        )
        return await bus.dispatch(cmd, meta)

    @router.put("/users/{target_id}/role", status_code=202, dependencies=needs_login)
    async def change_role(
        target_id: UUID,
        body: RoleBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Give a user another role."""
        require_admin(meta, "change roles")
        cmd = ChangeUserRole(command_id=command_id, user_id=target_id, role=body.role)
        return await bus.dispatch(cmd, meta)

    @router.post("/users/{target_id}/verify", status_code=202, dependencies=needs_login)
    async def verify_user(target_id: UUID, meta: Acting, command_id: CommandId) -> CommandResult:
        """Mark a user's account verified."""
        require_admin(meta, "verify accounts")
        cmd = VerifyUser(command_id=command_id, user_id=target_id)
        return await bus.dispatch(cmd, meta)

    @router.post("/users/{target_id}/deactivate", status_code=202, dependencies=needs_login)
    async def deactivate_user(target_id: UUID, meta: Acting, command_id: CommandId) -> CommandResult:
        """Deactivate a user; later commands on them are rejected."""
        require_self_or_admin(meta, target_id)
        cmd = DeactivateUser(command_id=command_id, user_id=target_id)
        return await bus.dispatch(cmd, meta)

    @router.post("/users/{target_id}/erase", status_code=202, dependencies=needs_login)
    async def erase_user(target_id: UUID, meta: Acting, command_id: CommandId) -> CommandResult:
        """Erase a user for good (the user themself or an admin): their personal data becomes unrecoverable.

        Only the account: the ``user_erasure`` saga also removes the watch list and interactions
        and anonymizes the user's reviews first.
        """
        require_self_or_admin(meta, target_id)
        cmd = EraseUser(command_id=command_id, user_id=target_id)
        return await bus.dispatch(cmd, meta)

    @router.patch("/users/{target_id}/profile", status_code=202, dependencies=needs_login)
    async def update_profile(
        target_id: UUID,
        body: ProfileBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change the fields of a user's profile that the body names."""
        require_self_or_admin(meta, target_id)
        cmd = UpdateUserProfile(
            command_id=command_id,
            user_id=target_id,
            **body.model_dump(exclude_unset=True),
        )
        return await bus.dispatch(cmd, meta)

    @router.put("/users/{target_id}/preferences", status_code=202, dependencies=needs_login)
    async def set_preferences(
        target_id: UUID,
        body: PreferencesBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Replace a user's preferences."""
        require_self_or_admin(meta, target_id)
        cmd = SetUserPreferences(command_id=command_id, user_id=target_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.get("/users/{target_id}/watch-list")
    async def get_watch_list(
        target_id: UUID,
        caller: Caller,
        status: WatchStatus | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[WatchListEntryView]:
        """Return a user's watch list, highest priority first; ``status`` filters it.

        Row-level security shows it to its owner and admins only: to anyone else it is empty.
        """
        return await queries.watch_list(target_id, status=status, limit=limit, offset=offset, identity=caller)

    @router.get("/users/{target_id}/watch-list/{movie_id}")
    async def get_watch_list_entry(target_id: UUID, movie_id: UUID, caller: Caller) -> WatchListEntryView:
        """One entry of a user's watch list (404 for anyone but its owner and admins)."""
        return found(
            await queries.watch_list_entry(target_id, movie_id, identity=caller),
            f"movie {movie_id} is not on the watch list",
        )

    @router.post("/users/{target_id}/watch-list", status_code=202, dependencies=needs_login)
    async def add_to_watch_list(
        target_id: UUID,
        body: WatchListAddBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Put a movie on a user's watch list."""
        require_self(meta, target_id)
        cmd = AddMovieToWatchList(command_id=command_id, user_id=target_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.patch("/users/{target_id}/watch-list/{movie_id}", status_code=202, dependencies=needs_login)
    async def update_watch_list_entry(
        target_id: UUID,
        movie_id: UUID,
        body: WatchListUpdateBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change the fields of a watch-list entry that the body names."""
        require_self(meta, target_id)
        cmd = UpdateWatchListEntry(
            command_id=command_id,
            user_id=target_id,
            movie_id=movie_id,
            **body.model_dump(exclude_unset=True),
        )
        return await bus.dispatch(cmd, meta)

    @router.delete("/users/{target_id}/watch-list/{movie_id}", status_code=202, dependencies=needs_login)
    async def remove_from_watch_list(
        target_id: UUID,
        movie_id: UUID,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Take a movie off a user's watch list."""
        require_self(meta, target_id)
        cmd = RemoveMovieFromWatchList(command_id=command_id, user_id=target_id, movie_id=movie_id)
        return await bus.dispatch(cmd, meta)

    @router.get("/users/{target_id}/interactions")
    async def get_interactions(
        target_id: UUID,
        caller: Caller,
        scene_id: UUID | None = None,
        interaction_type: InteractionType | None = None,
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[InteractionView]:
        """Return a user's scene interactions, newest first, filtered by scene and type when given.

        Row-level security shows them to their owner and admins only: to anyone else none.
        """
        return await queries.interactions(
            target_id,
            scene_id=scene_id,
            interaction_type=interaction_type,
            limit=limit,
            offset=offset,
            identity=caller,
        )

    @router.post("/users/{target_id}/interactions", status_code=202, dependencies=needs_login)
    async def record_interaction(
        target_id: UUID,
        body: InteractionBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Record a user's interaction with a scene."""
        require_self(meta, target_id)
        cmd = RecordSceneInteraction(command_id=command_id, user_id=target_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete(
        "/users/{target_id}/interactions/{scene_id}/{interaction_type}",
        status_code=202,
        dependencies=needs_login,
    )
    async def withdraw_interaction(
        target_id: UUID,
        scene_id: UUID,
        interaction_type: InteractionType,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Withdraw a user's interaction with a scene."""
        require_self(meta, target_id)
        cmd = WithdrawSceneInteraction(
            command_id=command_id,
            user_id=target_id,
            scene_id=scene_id,
            interaction_type=interaction_type,
        )
        return await bus.dispatch(cmd, meta)

    return router
