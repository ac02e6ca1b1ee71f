"""The User service: accounts, profiles, preferences, watch lists and scene interactions."""

from __future__ import annotations

from commands.user_handlers import USER_HANDLERS
from events.user import USER_EVENTS
from infra.services.base import ProjectionSpec, ServiceSpec
from projections.runner import Projection
from projections.users import USER_BATCH_HANDLERS, USER_COMMUTING
from projections.users import USER_HANDLERS as USER_APPLY

USERS_PROJECTION = Projection(
    name="users", handlers=USER_APPLY, batch_handlers=USER_BATCH_HANDLERS, commuting=USER_COMMUTING
)

SERVICE = ServiceSpec(
    name="user",
    topic="users.events",
    stream_types=("user",),
    event_classes=USER_EVENTS,
    command_handlers=USER_HANDLERS,
    # scenes.events: the scene lifecycle behind watch_lists.total_scenes_count.
    projections=(ProjectionSpec(USERS_PROJECTION, topics=("users.events", "scenes.events")),),
)
