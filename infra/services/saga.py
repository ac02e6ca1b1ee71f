"""The saga streams: not a service with a database, but a stream type with its own topic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from commands.base import Command, Handler
from events.base import DomainEvent
from events.saga import SAGA_EVENTS
from sagas.commands import SAGA_HANDLERS


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """Stream types published to a topic by the relay, with the event classes they hold."""

    topic: str
    stream_types: tuple[str, ...]
    event_classes: tuple[type[DomainEvent], ...]
    command_handlers: Mapping[type[Command], Handler]


SAGAS = StreamSpec(
    topic="sagas.events",
    stream_types=("saga",),
    event_classes=SAGA_EVENTS,
    command_handlers=SAGA_HANDLERS,
)
"""Saga transitions: the saga runner consumes them (keyed by saga id: one saga's stay in order)."""
