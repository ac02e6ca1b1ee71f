"""Role rules for write commands: who may create and change scenes, and act on a user's own data.

Pure functions over the acting user's id and role (as :class:`events.base.EventMetadata` carries
them), raising :class:`PermissionDeniedError` (403 over HTTP). The command handlers call them,
so every entry point (HTTP, CLI, Kafka, sagas) gets the same rules.

Besides the users' roles there is :data:`SYSTEM_ROLE`, the system itself (sagas, operator CLI
commands), allowed everything. No HTTP request can carry it: the API takes the role from a
verified token, and tokens name user roles only. A command without any role is an anonymous
one, and is refused every write these rules guard.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from commands.errors import PermissionDeniedError
from events.base import EventMetadata

SYSTEM_ROLE: Final = "system"
"""The trusted internal role of the system itself (sagas, operator commands): allowed everything."""

SCENE_WRITERS: Final = frozenset({"contributor", "professional", "admin"})
"""Roles that may create scenes and change the ones they created (viewers only read)."""

ADMIN: Final = "admin"


def is_system(metadata: EventMetadata) -> bool:
    """Whether the system itself gives the command (see :data:`SYSTEM_ROLE`)."""
    return metadata.user_role == SYSTEM_ROLE


def require_role(metadata: EventMetadata, allowed: frozenset[str], action: str) -> None:
    """Reject the command unless the acting user's role is one of ``allowed`` (or it is the system's)."""
    if is_system(metadata) or metadata.user_role in allowed:
        return
    if metadata.user_role is None:
        raise PermissionDeniedError(
            "role",
            f"a command without an acting role may not {action}: give the user's role "
            f"(metadata user_role), or {SYSTEM_ROLE!r} for the system itself",
        )
    raise PermissionDeniedError("role", f"{metadata.user_role} may not {action}")


def require_scene_writer(metadata: EventMetadata) -> None:
    """Reject a scene command from a viewer (or an anonymous reader)."""
    require_role(metadata, SCENE_WRITERS, "create or change scenes")


def require_scene_owner(metadata: EventMetadata, created_by: UUID | None) -> None:
    """Reject a change to a scene by anyone but its creator, unless the acting user is an admin.

    A scene without a recorded creator (created before sign-in existed, or by the system) is
    changed by admins (and the system) only.
    """
    require_scene_writer(metadata)
    if metadata.user_role == ADMIN or is_system(metadata):
        return
    if created_by is None or created_by != metadata.user_id:
        raise PermissionDeniedError("scene_id", "only the scene's creator or an admin may change it")


def require_self_or_admin(metadata: EventMetadata, user_id: UUID, field: str = "user_id") -> None:
    """Reject acting on another user's data (watch list, profile, ...) unless an admin (or the system)."""
    if is_system(metadata) or (metadata.user_role == ADMIN and metadata.user_id is not None):
        return
    if metadata.user_id != user_id:
        raise PermissionDeniedError(field, "a user may act only on their own account")


def require_self(metadata: EventMetadata, user_id: UUID, field: str = "user_id") -> None:
    """Reject acting in another user's name (watch lists, interactions): not even admins may.

    The system may (a saga cleaning up after a user, an operator's repair).
    """
    if is_system(metadata):
        return
    if metadata.user_id is None or metadata.user_id != user_id:
        raise PermissionDeniedError(field, "a user acts only in their own name")


def require_admin(metadata: EventMetadata, action: str) -> None:
    """Reject the command unless an admin gives it."""
    require_role(metadata, frozenset({ADMIN}), action)
