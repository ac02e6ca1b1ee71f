"""The services of SceneLedger, declared once each; everything else iterates over them."""

from __future__ import annotations

from collections.abc import Mapping

from commands.base import Command, Handler
from events.registry import EventRegistry
from infra.services.actor import SERVICE as ACTOR
from infra.services.base import ProjectionSpec, ServiceSpec
from infra.services.movie import SERVICE as MOVIE
from infra.services.review import SERVICE as REVIEW
from infra.services.saga import SAGAS
from infra.services.scene import SERVICE as SCENE
from infra.services.user import SERVICE as USER

ALL_SERVICES: tuple[ServiceSpec, ...] = (SCENE, MOVIE, ACTOR, USER, REVIEW)


def service(name: str) -> ServiceSpec:
    """Return the service called ``name``."""
    for spec in ALL_SERVICES:
        if spec.name == name:
            return spec
    raise KeyError(f"no service {name!r}")


def build_registry() -> EventRegistry:
    """Return a registry of every event class of every service, with their upcasters."""
    classes = [*(cls for spec in ALL_SERVICES for cls in spec.event_classes), *SAGAS.event_classes]
    upcasters = {key: fn for spec in ALL_SERVICES for key, fn in spec.upcasters.items()}
    return EventRegistry(classes=classes, upcasters=upcasters)


def topic_by_stream_type() -> dict[str, str]:
    """Return which topic each stream type's events are published to."""
    topics = {stream_type: spec.topic for spec in ALL_SERVICES for stream_type in spec.stream_types}
    return {**topics, **dict.fromkeys(SAGAS.stream_types, SAGAS.topic)}


def command_handlers() -> Mapping[type[Command], Handler]:
    """Return the routing table of every command."""
    handlers = {cmd: handler for spec in ALL_SERVICES for cmd, handler in spec.command_handlers.items()}
    return {**handlers, **SAGAS.command_handlers}


__all__ = [
    "ALL_SERVICES",
    "ProjectionSpec",
    "ServiceSpec",
    "build_registry",
    "command_handlers",
    "service",
    "topic_by_stream_type",
]
