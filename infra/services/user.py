"""The User service (being built: events only so far)."""

from __future__ import annotations

from events.user import UserDeactivated, UserRegistered
from infra.services.base import ServiceSpec

SERVICE = ServiceSpec(
    name="user",
    topic="users.events",
    stream_types=("user",),
    event_classes=(UserRegistered, UserDeactivated),
    command_handlers={},
)
