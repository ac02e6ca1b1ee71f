"""The Scene service: scenes on a movie's timeline with their cast, dialogues and parallel groups."""

from __future__ import annotations

from commands.parallel_handlers import PARALLEL_GROUP_HANDLERS
from commands.scene_handlers import SCENE_HANDLERS
from events.scene import PARALLEL_GROUP_EVENTS, SCENE_EVENTS, upcast_scene_details_edited_v1
from infra.services.base import ProjectionSpec, ServiceSpec
from projections.runner import Projection
from projections.scene_caches import CACHE_BATCH_HANDLERS, CACHE_COMMUTING, CACHE_HANDLERS
from projections.scenes import (
    SCENE_BATCH_HANDLERS,
    SCENE_COMMUTING,
    STATS_DEFERRAL,
    recompute_touched_stats,
)
from projections.scenes import SCENE_HANDLERS as SCENE_APPLY

SCENES_PROJECTION = Projection(
    name="scenes",
    handlers=SCENE_APPLY,
    after_batch=recompute_touched_stats,
    deferral=STATS_DEFERRAL,
    batch_handlers=SCENE_BATCH_HANDLERS,
    commuting=SCENE_COMMUTING,
)
"""scenes, scene_actors, scene_dialogues, parallel groups and movie_scene_stats."""

SCENE_CACHES_PROJECTION = Projection(
    name="scene_caches",
    handlers=CACHE_HANDLERS,
    batch_handlers=CACHE_BATCH_HANDLERS,
    commuting=CACHE_COMMUTING,
)
"""external_movies_cache and external_actors_cache."""

SERVICE = ServiceSpec(
    name="scene",
    topic="scenes.events",
    # Parallel group streams share the topic (and the movie id key) with the scenes they group.
    stream_types=("scene", "parallel_group"),
    event_classes=(*SCENE_EVENTS, *PARALLEL_GROUP_EVENTS),
    command_handlers={**SCENE_HANDLERS, **PARALLEL_GROUP_HANDLERS},
    projections=(
        ProjectionSpec(SCENES_PROJECTION, topics=("scenes.events",)),
        ProjectionSpec(SCENE_CACHES_PROJECTION, topics=("movies.events", "actors.events")),
    ),
    upcasters={("SceneDetailsEdited", 1): upcast_scene_details_edited_v1},
    # The search first: its /scenes/search would otherwise be taken for /scenes/{scene_id}.
)
