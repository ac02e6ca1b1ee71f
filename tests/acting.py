"""Who test commands act as: the system itself, in tests that are not about authorization."""

from __future__ import annotations

from typing import Final
from uuid import UUID

from commands.authorization import SYSTEM_ROLE
from events.base import EventMetadata

AS_SYSTEM: Final = EventMetadata(user_role=SYSTEM_ROLE)
"""Metadata of a command given by the system (sagas, operators): allowed every command."""


class EveryUserActive:
    """A user status check for apps without a user read model (unit tests): every user is active."""

    async def is_active(self, user_id: UUID) -> bool:  # noqa: ARG002  the same answer for everyone
        """Every user is active."""
        return True
