"""The Review service: reviews and their reactions, star ratings and recommendations."""

from __future__ import annotations

from commands.review_handlers import REVIEW_HANDLERS
from events.base import DomainEvent
from events.review import (
    RatingChanged,
    RatingGiven,
    RatingWithdrawn,
    RecommendationDismissed,
    RecommendationMade,
    RecommendationWithdrawn,
    ReviewAnonymized,
    ReviewDeleted,
    ReviewPosted,
    ReviewReactionAdded,
    ReviewReactionWithdrawn,
    ReviewRevised,
)
from infra.services.base import ProjectionSpec, ServiceSpec
from projections.reviews import REVIEW_APPLY
from projections.runner import Projection

REVIEW_SERVICE_EVENTS: tuple[type[DomainEvent], ...] = (
    ReviewPosted,
    ReviewRevised,
    ReviewDeleted,
    ReviewAnonymized,
    ReviewReactionAdded,
    ReviewReactionWithdrawn,
    RatingGiven,
    RatingChanged,
    RatingWithdrawn,
    RecommendationMade,
    RecommendationDismissed,
    RecommendationWithdrawn,
)

REVIEWS_PROJECTION = Projection(name="reviews", handlers=REVIEW_APPLY)

SERVICE = ServiceSpec(
    name="review",
    topic="reviews.events",
    stream_types=("review", "rating", "recommendation"),
    event_classes=REVIEW_SERVICE_EVENTS,
    command_handlers=REVIEW_HANDLERS,
    projections=(ProjectionSpec(REVIEWS_PROJECTION, topics=("reviews.events",)),),
)
