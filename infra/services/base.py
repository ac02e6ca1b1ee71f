"""How a service is declared: its database, topic, events, commands, projections and routes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from fastapi import APIRouter

from commands.base import Command, Handler
from commands.handlers import CommandBus
from events.base import DomainEvent
from events.registry import Upcaster
from projections.runner import Projection
from read_models.engines import ReadEngines


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
    routers: tuple[Callable[[CommandBus, ReadEngines], APIRouter], ...] = ()
