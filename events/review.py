"""Events of the Review service. The Review service may add more; these three are shared contracts."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from events.base import DomainEvent

ReviewType = Literal["general", "professional", "analysis"]


class ReviewEvent(DomainEvent):
    """An event of one review's stream. Every review event names what the review is about."""

    stream_type: ClassVar[str] = "review"

    user_id: UUID
    movie_id: UUID | None = None
    scene_id: UUID | None = None


class ReviewContent(DomainEvent):
    """What a review says, carried whole by posting and each revision."""

    title: str | None = Field(default=None, max_length=255)
    content: str = Field(min_length=1)
    rating: int = Field(ge=1, le=5)
    review_type: ReviewType = "general"
    is_public: bool = True
    is_spoiler: bool = False


class ReviewPosted(ReviewEvent, ReviewContent):
    """A user reviewed a movie or a scene."""

    event_type: ClassVar[str] = "ReviewPosted"


class ReviewRevised(ReviewEvent, ReviewContent):
    """A review's content changed (all fields carried)."""

    event_type: ClassVar[str] = "ReviewRevised"


class ReviewDeleted(ReviewEvent):
    """A review was withdrawn."""

    event_type: ClassVar[str] = "ReviewDeleted"


class ReviewAnonymized(ReviewEvent):
    """A review lost its author link (its author was erased); what it says and its rating stay.

    ``user_id`` names the former author (the shared ``ReviewEvent`` contract); the read model
    shows the review without an author from here on.
    """

    event_type: ClassVar[str] = "ReviewAnonymized"


ReactionKind = Literal["like", "helpful", "report"]


class ReviewReactionAdded(ReviewEvent):
    """A user liked a review, found it helpful, or reported it.

    ``user_id`` stays the review's author (the shared ``ReviewEvent`` contract); the reacting
    user is ``by_user_id``.
    """

    event_type: ClassVar[str] = "ReviewReactionAdded"

    by_user_id: UUID
    kind: ReactionKind


class ReviewReactionWithdrawn(ReviewEvent):
    """A user took back a reaction to a review (``by_user_id`` as in ``ReviewReactionAdded``)."""

    event_type: ClassVar[str] = "ReviewReactionWithdrawn"

    by_user_id: UUID
    kind: ReactionKind


class RatingEvent(DomainEvent):
    """An event of one star rating's stream: a user's 1-5 rating of one movie or one scene.

    Keyed by the rating user: a withdrawn rating and the same user's new rating of the same
    target are two streams, and must reach the read model in that order.
    """

    stream_type: ClassVar[str] = "rating"

    user_id: UUID
    movie_id: UUID | None = None
    scene_id: UUID | None = None

    def partition_key(self) -> str:
        """Rating events are keyed by the rating user (per-user order on Kafka)."""
        return str(self.user_id)


class RatingGiven(RatingEvent):
    """A user rated a movie or a scene without writing a review."""

    event_type: ClassVar[str] = "RatingGiven"

    rating: int = Field(ge=1, le=5)


class RatingChanged(RatingEvent):
    """A user gave a rated target a different number of stars."""

    event_type: ClassVar[str] = "RatingChanged"

    rating: int = Field(ge=1, le=5)


class RatingWithdrawn(RatingEvent):
    """A user took back a rating; they may rate the target again."""

    event_type: ClassVar[str] = "RatingWithdrawn"


class RecommendationEvent(DomainEvent):
    """An event of one recommendation's stream: a user recommends a movie or a scene.

    ``recipient_id`` is the user it is addressed to, or ``None`` for everyone. Keyed by the
    recommender, for the same reason as ratings (a withdrawn one and its successor in order).
    """

    stream_type: ClassVar[str] = "recommendation"

    recommender_id: UUID
    recipient_id: UUID | None = None
    movie_id: UUID | None = None
    scene_id: UUID | None = None

    def partition_key(self) -> str:
        """Recommendation events are keyed by the recommender (per-user order on Kafka)."""
        return str(self.recommender_id)


class RecommendationMade(RecommendationEvent):
    """A user recommended a movie or a scene, with a reason and a score."""

    event_type: ClassVar[str] = "RecommendationMade"

    reason: str = Field(min_length=1, max_length=1000)
    score: int = Field(ge=1, le=5)


class RecommendationDismissed(RecommendationEvent):
    """The recipient of a recommendation set it aside."""

    event_type: ClassVar[str] = "RecommendationDismissed"


class RecommendationWithdrawn(RecommendationEvent):
    """The recommender took a recommendation back."""

    event_type: ClassVar[str] = "RecommendationWithdrawn"
