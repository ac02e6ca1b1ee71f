"""The Actor service (being built: events only so far)."""

from __future__ import annotations

from events.actor import ActorProfileRevised, ActorRegistered, ActorRemoved
from infra.services.base import ServiceSpec

SERVICE = ServiceSpec(
    name="actor",
    topic="actors.events",
    stream_types=("actor",),
    event_classes=(ActorRegistered, ActorProfileRevised, ActorRemoved),
    command_handlers={},
)
