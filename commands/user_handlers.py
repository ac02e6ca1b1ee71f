"""User command handlers: hash passwords, check references, let the pure aggregate decide, append."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from uuid import UUID

from commands import passwords
from commands import scene as scene_model
from commands import user as model
from commands.authorization import require_self_or_admin
from commands.base import (
    Command,
    CommandResult,
    Decision,
    Handler,
    HandlerDeps,
    execute,
    load,
    require_alive,
    route,
)
from commands.ports import NO_STREAM
from commands.scene import SceneState
from commands.user import (
    AddMovieToWatchList,
    ChangePassword,
    ChangeUserRole,
    ClearUserActivity,
    DeactivateUser,
    EraseUser,
    RecordLogin,
    RecordSceneInteraction,
    RegisterUser,
    RemoveMovieFromWatchList,
    RestoreUserActivity,
    RestoreWatchListEntry,
    SetUserPreferences,
    UpdateUserProfile,
    UpdateWatchListEntry,
    UserState,
    VerifyUser,
    WithdrawSceneInteraction,
)
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered, MovieRemoved
from events.scene import SceneCreated, SceneDeleted

Decide = Callable[[UserState | None], Decision | Sequence[DomainEvent]]


async def _on_user(
    cmd: Command,
    deps: HandlerDeps,
    metadata: EventMetadata,
    user_id: UUID,
    decide: Decide,
) -> CommandResult:
    # Commands on an existing user re-run on a concurrent write: the aggregate re-checks
    # every rule against the fresh state, so no caller-supplied version is needed.
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=user_id,
        replay=model.replay,
        decide=decide,
        expected_version=None,
    )


async def handle_register_user(
    cmd: RegisterUser, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Sign a user up: hash the password (fresh salt) here, claim the e-mail address in the append."""
    # scrypt releases the GIL: hashing in a thread keeps the event loop serving others.
    password_hash = await asyncio.to_thread(passwords.hash_password, cmd.password.get_secret_value())
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.user_id,
        replay=model.replay,
        decide=lambda state: model.register_user(cmd, state, password_hash=password_hash),
        expected_version=NO_STREAM,
    )


async def handle_change_password(
    cmd: ChangePassword, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Replace a password: both passwords are hashed here, off the event loop; the aggregate decides."""
    new_password = cmd.new_password.get_secret_value()
    passwords.check_password(new_password, field="new_password")
    state, _ = await load(deps.event_store, cmd.user_id, model.replay)
    verified_against: str | None = None
    if state is not None and await asyncio.to_thread(
        passwords.verify_password, cmd.current_password.get_secret_value(), state.password_hash
    ):
        verified_against = state.password_hash
    new_hash = await asyncio.to_thread(passwords.hash_password, new_password)
    return await _on_user(
        cmd,
        deps,
        metadata,
        cmd.user_id,
        lambda s: model.change_password(cmd, s, new_hash=new_hash, verified_against=verified_against),
    )


async def handle_change_user_role(
    cmd: ChangeUserRole, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Give a user another role."""
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.change_user_role(cmd, s))


async def handle_verify_user(cmd: VerifyUser, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Mark a user verified."""
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.verify_user(cmd, s))


async def handle_record_login(cmd: RecordLogin, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Note a log-in."""
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.record_login(cmd, s))


async def handle_deactivate_user(
    cmd: DeactivateUser, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Deactivate a user."""
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.deactivate_user(cmd, s))


async def handle_erase_user(cmd: EraseUser, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Erase a user: the user themself, an admin or the system (the user-erasure saga) may.

    The event store deletes the user's data key in the append (see :mod:`infra.pii`) and the
    e-mail claim is released with it.
    """
    require_self_or_admin(metadata, cmd.user_id)
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.erase_user(cmd, s))


async def handle_clear_user_activity(
    cmd: ClearUserActivity, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Remove a user's watch list and interactions: the user themself, an admin or the system may."""
    require_self_or_admin(metadata, cmd.user_id)
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.clear_user_activity(cmd, s))


async def handle_restore_user_activity(
    cmd: RestoreUserActivity, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Undo the last clear of a user's activity: the user themself, an admin or the system may."""
    require_self_or_admin(metadata, cmd.user_id)
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.restore_user_activity(cmd, s))


async def handle_restore_watch_list_entry(
    cmd: RestoreWatchListEntry, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Undo the last removal of a movie from a user's watch list: the user, an admin or the system."""
    require_self_or_admin(metadata, cmd.user_id)
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.restore_watch_list_entry(cmd, s))


async def handle_update_user_profile(
    cmd: UpdateUserProfile, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Change a user's profile."""
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.update_user_profile(cmd, s))


async def handle_set_user_preferences(
    cmd: SetUserPreferences, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Replace a user's preferences."""
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.set_user_preferences(cmd, s))


async def handle_add_movie_to_watch_list(
    cmd: AddMovieToWatchList, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Put a movie on a watch list; the movie must exist."""
    await require_alive(
        deps.event_store,
        cmd.movie_id,
        created=(MovieRegistered,),
        removed=(MovieRemoved,),
        field_name="movie_id",
        entity="movie",
    )
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.add_movie_to_watch_list(cmd, s))


async def handle_update_watch_list_entry(
    cmd: UpdateWatchListEntry, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Change a watch-list entry; a new last watched scene is loaded for the aggregate to check."""
    last_scene: SceneState | None = None
    if cmd.last_watched_scene_id is not None:
        last_scene, _ = await load(deps.event_store, cmd.last_watched_scene_id, scene_model.replay)
    return await _on_user(
        cmd,
        deps,
        metadata,
        cmd.user_id,
        lambda s: model.update_watch_list_entry(cmd, s, last_scene=last_scene),
    )


async def handle_remove_movie_from_watch_list(
    cmd: RemoveMovieFromWatchList, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Take a movie off a watch list."""
    return await _on_user(
        cmd, deps, metadata, cmd.user_id, lambda s: model.remove_movie_from_watch_list(cmd, s)
    )


async def handle_record_scene_interaction(
    cmd: RecordSceneInteraction, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Record an interaction with a scene; the scene must exist."""
    await require_alive(
        deps.event_store,
        cmd.scene_id,
        created=(SceneCreated,),
        removed=(SceneDeleted,),
        field_name="scene_id",
        entity="scene",
    )
    return await _on_user(cmd, deps, metadata, cmd.user_id, lambda s: model.record_scene_interaction(cmd, s))


async def handle_withdraw_scene_interaction(
    cmd: WithdrawSceneInteraction, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Withdraw an interaction."""
    return await _on_user(
        cmd, deps, metadata, cmd.user_id, lambda s: model.withdraw_scene_interaction(cmd, s)
    )


USER_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(RegisterUser, handle_register_user),
        route(ChangePassword, handle_change_password),
        route(ChangeUserRole, handle_change_user_role),
        route(VerifyUser, handle_verify_user),
        route(RecordLogin, handle_record_login),
        route(DeactivateUser, handle_deactivate_user),
        route(UpdateUserProfile, handle_update_user_profile),
        route(SetUserPreferences, handle_set_user_preferences),
        route(AddMovieToWatchList, handle_add_movie_to_watch_list),
        route(UpdateWatchListEntry, handle_update_watch_list_entry),
        route(RemoveMovieFromWatchList, handle_remove_movie_from_watch_list),
        route(RecordSceneInteraction, handle_record_scene_interaction),
        route(WithdrawSceneInteraction, handle_withdraw_scene_interaction),
        route(ClearUserActivity, handle_clear_user_activity),
        route(RestoreUserActivity, handle_restore_user_activity),
        route(RestoreWatchListEntry, handle_restore_watch_list_entry),
        route(EraseUser, handle_erase_user),
    ],
)
