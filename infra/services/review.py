"""The Review service (being built: events only so far)."""

from __future__ import annotations

from events.review import ReviewDeleted, ReviewPosted, ReviewRevised
from infra.services.base import ServiceSpec

SERVICE = ServiceSpec(
    name="review",
    topic="reviews.events",
    stream_types=("review",),
    event_classes=(ReviewPosted, ReviewRevised, ReviewDeleted),
    command_handlers={},
)
