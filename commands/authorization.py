"""Role rules for write commands: who may create and change scenes, and act on a user's own data.

Pure functions over the acting user's id and role (as :class:`events.base.EventMetadata` carries
them), raising :class:`PermissionDeniedError` (403 over HTTP), so that the command handlers can
call the same rules once they take them over from the HTTP layer.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from commands.errors import PermissionDeniedError
from events.base import EventMetadata

SCENE_WRITERS: Final = frozenset({"contributor", "professional", "admin"})
"""Roles that may create scenes and change the ones they created (viewers only read)."""

ADMIN: Final = "admin"


def require_role(metadata: EventMetadata, allowed: frozenset[str], action: str) -> None:
    """Reject the command unless the acting user's role is one of ``allowed``."""
    if metadata.user_role not in allowed:
        role = metadata.user_role or "an anonymous reader"
        raise PermissionDeniedError("role", f"{role} may not {action}")


def require_scene_writer(metadata: EventMetadata) -> None:
    """Reject a scene command from a viewer (or an anonymous reader)."""
    require_role(metadata, SCENE_WRITERS, "create or change scenes")


def require_scene_owner(metadata: EventMetadata, created_by: UUID | None) -> None:
    """Reject a change to a scene by anyone but its creator, unless the acting user is an admin.

    A scene without a recorded creator (created before sign-in existed) is changed by admins only.
    """
    require_scene_writer(metadata)
    if metadata.user_role == ADMIN:
        return
    if created_by is None or created_by != metadata.user_id:
        raise PermissionDeniedError("scene_id", "only the scene's creator or an admin may change it")


def require_self_or_admin(metadata: EventMetadata, user_id: UUID, field: str = "user_id") -> None:
    """Reject acting on another user's data (watch list, profile, ...) unless an admin."""
    if metadata.user_role == ADMIN and metadata.user_id is not None:
        return
    if metadata.user_id != user_id:
        raise PermissionDeniedError(field, "a user may act only on their own account")


def require_self(metadata: EventMetadata, user_id: UUID, field: str = "user_id") -> None:
    """Reject acting in another user's name (watch lists, interactions): not even admins may."""
    if metadata.user_id is None or metadata.user_id != user_id:
        raise PermissionDeniedError(field, "a user acts only in their own name")


def require_admin(metadata: EventMetadata, action: str) -> None:
    """Reject the command unless an admin gives it."""
    require_role(metadata, frozenset({ADMIN}), action)
