"""How a service is declared: its database, topic, events, commands and projections.

Its HTTP routes are the API's wiring (:mod:`infra.http.routes`): declaring a service loads no web
framework, so the commands that run none (replay, ops) start without one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from commands.base import Command, Handler
from events.base import DomainEvent
from events.registry import Upcaster
from projections.runner import Projection


@dataclass(frozen=True, slots=True)
class ProjectionSpec:
    """A projection into the service's database and the event topics it consumes."""

    projection: Projection
    topics: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """Everything the bootstrap needs to know about one service."""

    name: str
    """Short name, also the key of its database settings: ``scene``, ``movie``, ..."""
    topic: str
    """The Kafka topic its events go to: ``scenes.events``, ..."""
    stream_types: tuple[str, ...]
    """The stream types whose events go to ``topic``."""
    event_classes: tuple[type[DomainEvent], ...]
    command_handlers: Mapping[type[Command], Handler]
    projections: tuple[ProjectionSpec, ...] = ()
    upcasters: Mapping[tuple[str, int], Upcaster] = field(default_factory=dict)
