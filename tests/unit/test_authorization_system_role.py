"""The system's own role in the authorization rules: allowed everything, and a missing role refused."""

from __future__ import annotations

from uuid import uuid4

import pytest

from commands.authorization import (
    SYSTEM_ROLE,
    require_admin,
    require_scene_owner,
    require_scene_writer,
    require_self,
    require_self_or_admin,
)
from commands.errors import PermissionDeniedError
from events.base import EventMetadata
from infra.auth import ROLES

pytestmark = pytest.mark.unit

SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)


def test_the_system_passes_every_rule() -> None:
    require_scene_writer(SYSTEM)
    require_scene_owner(SYSTEM, created_by=uuid4())
    require_scene_owner(SYSTEM, created_by=None)
    require_admin(SYSTEM, "change roles")
    require_self(SYSTEM, uuid4())
    require_self_or_admin(SYSTEM, uuid4())


def test_no_user_role_is_the_system_role() -> None:
    # A token can only name a user role, so no HTTP request can act as the system.
    assert SYSTEM_ROLE not in ROLES


def test_a_command_without_a_role_is_refused_naming_what_to_send() -> None:
    with pytest.raises(PermissionDeniedError) as err:
        require_scene_writer(EventMetadata())
    assert err.value.field == "role"
    assert "user_role" in err.value.reason
    assert SYSTEM_ROLE in err.value.reason


def test_a_role_the_rules_do_not_know_is_refused() -> None:
    with pytest.raises(PermissionDeniedError, match="cli may not"):
        require_scene_writer(EventMetadata(user_role="cli"))
