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
