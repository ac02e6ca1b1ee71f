"""The Scene service: scenes on a movie's timeline, their read model and routes."""

from __future__ import annotations

from commands.scene_handlers import SCENE_HANDLERS
from events.scene import SCENE_EVENTS
from infra.http.scenes import scene_router
from infra.services.base import ProjectionSpec, ServiceSpec
from projections.runner import Projection
from projections.scenes import SCENE_HANDLERS as SCENE_APPLY

SCENES_PROJECTION = Projection(name="scenes", handlers=SCENE_APPLY)

SERVICE = ServiceSpec(
    name="scene",
    topic="scenes.events",
    stream_types=("scene",),
    event_classes=SCENE_EVENTS,
    command_handlers=SCENE_HANDLERS,
    projections=(ProjectionSpec(SCENES_PROJECTION, topics=("scenes.events",)),),
    router=scene_router,
)
