"""The Actor service: actors, their filmography, relationships and character roles, with their figures."""

from __future__ import annotations

from commands.actor_handlers import ACTOR_HANDLERS
from events.actor import ACTOR_EVENTS
from infra.services.base import ProjectionSpec, ServiceSpec
from projections.actors import (
    ACTOR_BATCH_HANDLERS,
    ACTOR_COMMUTING,
    ACTOR_TOPICS,
    FIGURES_DEFERRAL,
    refresh_touched_figures,
)
from projections.actors import ACTOR_HANDLERS as ACTOR_APPLY
from projections.runner import Projection

ACTORS_PROJECTION = Projection(
    name="actors",
    handlers=ACTOR_APPLY,
    after_batch=refresh_touched_figures,
    deferral=FIGURES_DEFERRAL,
    batch_handlers=ACTOR_BATCH_HANDLERS,
    commuting=ACTOR_COMMUTING,
)

SERVICE = ServiceSpec(
    name="actor",
    topic="actors.events",
    stream_types=("actor",),
    event_classes=ACTOR_EVENTS,
    command_handlers=ACTOR_HANDLERS,
    projections=(ProjectionSpec(ACTORS_PROJECTION, topics=ACTOR_TOPICS),),
)
