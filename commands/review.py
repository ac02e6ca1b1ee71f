"""Review service commands and its pure aggregates: reviews (with reactions), ratings, recommendations.

Each ``decide`` function validates a command against the state its events left and returns the
events to append (or a :class:`commands.base.Decision` when a unique key is taken or freed). What
other services own (users, movies, scenes) is loaded by the handlers and passed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import singledispatch
from typing import Annotated
from uuid import UUID, uuid4

from pydantic import Field, StringConstraints

from commands.base import Command, Decision
from commands.errors import InvalidCommandError, PermissionDeniedError, StreamNotFoundError
from commands.ports import UniqueClaim
from commands.scene import SceneState
from events.base import DomainEvent
from events.review import (
    RatingChanged,
    RatingEvent,
    RatingGiven,
    RatingWithdrawn,
    ReactionKind,
    RecommendationDismissed,
    RecommendationEvent,
    RecommendationMade,
    RecommendationWithdrawn,
    ReviewAnonymized,
    ReviewDeleted,
    ReviewEvent,
    ReviewPosted,
    ReviewReactionAdded,
    ReviewReactionWithdrawn,
    ReviewRevised,
    ReviewType,
)

MAX_CONTENT = 20_000
"""Longest review text accepted (the design's TEXT has no bound; an API needs one)."""

Title = Annotated[str, StringConstraints(strip_whitespace=True, max_length=255)]
Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_CONTENT)]
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=1000)]
Stars = Annotated[int, Field(ge=1, le=5)]

RATING_SCOPE = "rating"
RECOMMENDATION_SCOPE = "recommendation"


# --- Commands ---------------------------------------------------------------------------------


class PostReview(Command):
    """Write a review of a movie, of a scene, or of a scene of a given movie."""

    review_id: UUID = Field(default_factory=uuid4)
    user_id: UUID
    movie_id: UUID | None = None
    scene_id: UUID | None = None
    title: Title | None = None
    content: Content
    rating: Stars
    review_type: ReviewType = "general"
    is_public: bool = True
    is_spoiler: bool = False


class ReviseReview(Command):
    """Change a review's text, rating or settings; fields left out stay as they are.

    An empty title clears it.
    """

    review_id: UUID
    title: Title | None = None
    content: Content | None = None
    rating: Stars | None = None
    review_type: ReviewType | None = None
    is_public: bool | None = None
    is_spoiler: bool | None = None
    expected_version: int | None = Field(default=None, ge=1)


class DeleteReview(Command):
    """Withdraw a review (its reactions go with it)."""

    review_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class AnonymizeReview(Command):
    """Drop a review's author link (when its author is erased); the text and the rating stay."""

    review_id: UUID


class ReactToReview(Command):
    """Like a review, mark it helpful, or report it, as ``user_id``. Reacting twice is a no-op."""

    review_id: UUID
    user_id: UUID
    kind: ReactionKind


class WithdrawReaction(Command):
    """Take back a reaction of ``user_id``. Withdrawing one that is not there is a no-op."""

    review_id: UUID
    user_id: UUID
    kind: ReactionKind


class GiveRating(Command):
    """Rate one movie or one scene with 1-5 stars; one rating per user and target."""

    rating_id: UUID = Field(default_factory=uuid4)
    user_id: UUID
    movie_id: UUID | None = None
    scene_id: UUID | None = None
    rating: Stars


class ChangeRating(Command):
    """Give a rated target a different number of stars."""

    rating_id: UUID
    rating: Stars
    expected_version: int | None = Field(default=None, ge=1)


class WithdrawRating(Command):
    """Take a rating back; the user may rate the target again afterwards."""

    rating_id: UUID
    expected_version: int | None = Field(default=None, ge=1)


class MakeRecommendation(Command):
    """Recommend a movie or a scene to one user (``recipient_id``) or to everyone (``None``)."""

    recommendation_id: UUID = Field(default_factory=uuid4)
    recommender_id: UUID
    recipient_id: UUID | None = None
    movie_id: UUID | None = None
    scene_id: UUID | None = None
    reason: Reason
    score: Stars


class DismissRecommendation(Command):
    """Set aside a recommendation addressed to you. Dismissing twice is a no-op."""

    recommendation_id: UUID


class WithdrawRecommendation(Command):
    """Take back a recommendation you made."""

    recommendation_id: UUID


# --- Rules shared by the three aggregates -----------------------------------------------------


def check_target(
    movie_id: UUID | None,
    scene_id: UUID | None,
    scene: SceneState | None,
    *,
    what: str,
    exactly_one: bool = False,
) -> None:
    """Reject a missing target, a missing or deleted scene, or a scene of another movie.

    ``scene`` is the loaded state of ``scene_id`` (``None`` when it does not exist); the
    movie's existence is checked by the handler, which alone can read the Movie service's log.
    """
    if movie_id is None and scene_id is None:
        raise InvalidCommandError(
            "movie_id", f"a {what} is about a movie or a scene: give movie_id or scene_id"
        )
    if exactly_one and movie_id is not None and scene_id is not None:
        raise InvalidCommandError("scene_id", f"a {what} is of a movie or of a scene, not both")
    if scene_id is None:
        return
    if scene is None or scene.deleted:
        raise StreamNotFoundError("scene_id", "scene", scene_id, referenced=True)
    if movie_id is not None and scene.movie_id != movie_id:
        raise InvalidCommandError(
            "scene_id", f"scene {scene_id} belongs to movie {scene.movie_id}, not to movie {movie_id}"
        )


def _check_actor(actor: UUID | None, owner: UUID | None, field: str, rule: str) -> None:
    # No acting user means a trusted internal caller; who may act at all is access control's job.
    if actor is not None and actor != owner:
        raise PermissionDeniedError(field, rule)


# --- Review aggregate -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReviewState:
    """A review as its events left it, with the reactions it currently has."""

    review_id: UUID
    version: int
    user_id: UUID
    movie_id: UUID | None
    scene_id: UUID | None
    title: str | None
    content: str
    rating: int
    review_type: ReviewType
    is_public: bool
    is_spoiler: bool
    reactions: frozenset[tuple[UUID, ReactionKind]] = frozenset()
    deleted: bool = False
    anonymized: bool = False


def post_review(
    cmd: PostReview,
    *,
    existing: ReviewState | None,
    scene: SceneState | None,
    actor: UUID | None,
) -> list[ReviewEvent]:
    """Validate a new review and return its ``ReviewPosted``."""
    if existing is not None:
        raise InvalidCommandError("review_id", f"review {cmd.review_id} already exists")
    _check_actor(actor, cmd.user_id, "user_id", "a review is posted in its author's own name")
    check_target(cmd.movie_id, cmd.scene_id, scene, what="review")
    return [
        ReviewPosted(
            stream_id=cmd.review_id,
            stream_version=1,
            user_id=cmd.user_id,
            movie_id=cmd.movie_id,
            scene_id=cmd.scene_id,
            title=cmd.title or None,
            content=cmd.content,
            rating=cmd.rating,
            review_type=cmd.review_type,
            is_public=cmd.is_public,
            is_spoiler=cmd.is_spoiler,
        ),
    ]


def _live_review(state: ReviewState | None, review_id: UUID) -> ReviewState:
    if state is None or state.deleted:
        raise StreamNotFoundError("review_id", "review", review_id)
    return state


def revise_review(cmd: ReviseReview, state: ReviewState | None, *, actor: UUID | None) -> list[ReviewEvent]:
    """Apply the given changes; no event when nothing changes."""
    review = _live_review(state, cmd.review_id)
    _check_actor(actor, review.user_id, "user_id", "only the review's author may revise it")
    if review.anonymized:
        raise InvalidCommandError("review_id", f"review {cmd.review_id} is anonymous: no one may revise it")
    changes = (cmd.title, cmd.content, cmd.rating, cmd.review_type, cmd.is_public, cmd.is_spoiler)
    if all(value is None for value in changes):
        raise InvalidCommandError(
            "content",
            "give at least one of title, content, rating, review_type, is_public, is_spoiler to change",
        )
    revised = replace(
        review,
        title=review.title if cmd.title is None else (cmd.title or None),
        content=review.content if cmd.content is None else cmd.content,
        rating=review.rating if cmd.rating is None else cmd.rating,
        review_type=review.review_type if cmd.review_type is None else cmd.review_type,
        is_public=review.is_public if cmd.is_public is None else cmd.is_public,
        is_spoiler=review.is_spoiler if cmd.is_spoiler is None else cmd.is_spoiler,
    )
    if revised == review:
        return []
    return [
        ReviewRevised(
            stream_id=review.review_id,
            stream_version=review.version + 1,
            user_id=review.user_id,
            movie_id=review.movie_id,
            scene_id=review.scene_id,
            title=revised.title,
            content=revised.content,
            rating=revised.rating,
            review_type=revised.review_type,
            is_public=revised.is_public,
            is_spoiler=revised.is_spoiler,
        ),
    ]


def delete_review(cmd: DeleteReview, state: ReviewState | None, *, actor: UUID | None) -> list[ReviewEvent]:
    """Withdraw a live review (only its author may)."""
    review = _live_review(state, cmd.review_id)
    _check_actor(actor, review.user_id, "user_id", "only the review's author may delete it")
    return [
        ReviewDeleted(
            stream_id=review.review_id,
            stream_version=review.version + 1,
            user_id=review.user_id,
            movie_id=review.movie_id,
            scene_id=review.scene_id,
        ),
    ]


def anonymize_review(
    cmd: AnonymizeReview, state: ReviewState | None, *, actor: UUID | None, privileged: bool
) -> list[ReviewEvent]:
    """Drop the author link of a review: its author may, and an admin or the system (``privileged``).

    No event when it is already anonymous or was deleted (nothing left to link).
    """
    if state is None:
        raise StreamNotFoundError("review_id", "review", cmd.review_id)
    if not privileged and (actor is None or actor != state.user_id):
        raise PermissionDeniedError("user_id", "only the review's author or an admin may anonymize it")
    if state.deleted or state.anonymized:
        return []
    return [
        ReviewAnonymized(
            stream_id=state.review_id,
            stream_version=state.version + 1,
            user_id=state.user_id,
            movie_id=state.movie_id,
            scene_id=state.scene_id,
        ),
    ]


def react_to_review(
    cmd: ReactToReview, state: ReviewState | None, *, actor: UUID | None
) -> list[ReviewEvent]:
    """Add a reaction to a public review of someone else; no event when it is already there."""
    review = _live_review(state, cmd.review_id)
    _check_actor(actor, cmd.user_id, "user_id", "a user reacts in their own name")
    if cmd.user_id == review.user_id:
        raise InvalidCommandError("user_id", f"a user cannot {cmd.kind} their own review")
    if not review.is_public:
        raise InvalidCommandError("review_id", "only a public review can be reacted to")
    if (cmd.user_id, cmd.kind) in review.reactions:
        return []
    return [
        ReviewReactionAdded(
            stream_id=review.review_id,
            stream_version=review.version + 1,
            user_id=review.user_id,
            movie_id=review.movie_id,
            scene_id=review.scene_id,
            by_user_id=cmd.user_id,
            kind=cmd.kind,
        ),
    ]


def withdraw_reaction(
    cmd: WithdrawReaction, state: ReviewState | None, *, actor: UUID | None
) -> list[ReviewEvent]:
    """Remove a reaction; no event when it is not there."""
    review = _live_review(state, cmd.review_id)
    _check_actor(actor, cmd.user_id, "user_id", "a user withdraws only their own reactions")
    if (cmd.user_id, cmd.kind) not in review.reactions:
        return []
    return [
        ReviewReactionWithdrawn(
            stream_id=review.review_id,
            stream_version=review.version + 1,
            user_id=review.user_id,
            movie_id=review.movie_id,
            scene_id=review.scene_id,
            by_user_id=cmd.user_id,
            kind=cmd.kind,
        ),
    ]


@singledispatch
def apply_review(event: ReviewEvent, state: ReviewState | None) -> ReviewState:  # noqa: ARG001  the fallback
    """Return the review state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing_review(state: ReviewState | None, event: ReviewEvent) -> ReviewState:
    if state is None:
        raise TypeError(f"{event.event_type} before ReviewPosted in stream {event.stream_id}")
    return state


@apply_review.register
def _(event: ReviewPosted, state: ReviewState | None) -> ReviewState:  # noqa: ARG001  starts from nothing
    return ReviewState(
        review_id=event.stream_id,
        version=event.stream_version,
        user_id=event.user_id,
        movie_id=event.movie_id,
        scene_id=event.scene_id,
        title=event.title,
        content=event.content,
        rating=event.rating,
        review_type=event.review_type,
        is_public=event.is_public,
        is_spoiler=event.is_spoiler,
    )


@apply_review.register
def _(event: ReviewRevised, state: ReviewState | None) -> ReviewState:
    return replace(
        _existing_review(state, event),
        version=event.stream_version,
        title=event.title,
        content=event.content,
        rating=event.rating,
        review_type=event.review_type,
        is_public=event.is_public,
        is_spoiler=event.is_spoiler,
    )


@apply_review.register
def _(event: ReviewDeleted, state: ReviewState | None) -> ReviewState:
    return replace(_existing_review(state, event), version=event.stream_version, deleted=True)


@apply_review.register
def _(event: ReviewAnonymized, state: ReviewState | None) -> ReviewState:
    return replace(_existing_review(state, event), version=event.stream_version, anonymized=True)


@apply_review.register
def _(event: ReviewReactionAdded, state: ReviewState | None) -> ReviewState:
    review = _existing_review(state, event)
    return replace(
        review,
        version=event.stream_version,
        reactions=review.reactions | {(event.by_user_id, event.kind)},
    )


@apply_review.register
def _(event: ReviewReactionWithdrawn, state: ReviewState | None) -> ReviewState:
    review = _existing_review(state, event)
    return replace(
        review,
        version=event.stream_version,
        reactions=review.reactions - {(event.by_user_id, event.kind)},
    )


def replay_review(events: Sequence[DomainEvent]) -> ReviewState | None:
    """Fold a review stream's events into its state (``None`` for an empty stream)."""
    state: ReviewState | None = None
    for event in events:
        if isinstance(event, ReviewEvent):
            state = apply_review(event, state)
    return state


# --- Rating aggregate -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RatingState:
    """A star rating as its events left it."""

    rating_id: UUID
    version: int
    user_id: UUID
    movie_id: UUID | None
    scene_id: UUID | None
    rating: int
    withdrawn: bool = False


def rating_claim(user_id: UUID, movie_id: UUID | None, scene_id: UUID | None) -> UniqueClaim:
    """Return the unique key that makes a rating the only one of its user for its target."""
    return UniqueClaim(scope=RATING_SCOPE, key=f"{user_id}|{movie_id or scene_id}")


def give_rating(
    cmd: GiveRating,
    *,
    existing: RatingState | None,
    scene: SceneState | None,
    actor: UUID | None,
) -> Decision:
    """Validate a new rating and return its ``RatingGiven`` with the (user, target) claim."""
    if existing is not None:
        raise InvalidCommandError("rating_id", f"rating {cmd.rating_id} already exists")
    _check_actor(actor, cmd.user_id, "user_id", "a rating is given in the rating user's own name")
    check_target(cmd.movie_id, cmd.scene_id, scene, what="rating", exactly_one=True)
    event = RatingGiven(
        stream_id=cmd.rating_id,
        stream_version=1,
        user_id=cmd.user_id,
        movie_id=cmd.movie_id,
        scene_id=cmd.scene_id,
        rating=cmd.rating,
    )
    return Decision(events=[event], claims=[rating_claim(cmd.user_id, cmd.movie_id, cmd.scene_id)])


def _live_rating(state: RatingState | None, rating_id: UUID) -> RatingState:
    if state is None or state.withdrawn:
        raise StreamNotFoundError("rating_id", "rating", rating_id)
    return state


def change_rating(cmd: ChangeRating, state: RatingState | None, *, actor: UUID | None) -> list[RatingEvent]:
    """Change the stars of a rating; no event when they stay the same."""
    rating = _live_rating(state, cmd.rating_id)
    _check_actor(actor, rating.user_id, "user_id", "only the rating's user may change it")
    if cmd.rating == rating.rating:
        return []
    return [
        RatingChanged(
            stream_id=rating.rating_id,
            stream_version=rating.version + 1,
            user_id=rating.user_id,
            movie_id=rating.movie_id,
            scene_id=rating.scene_id,
            rating=cmd.rating,
        ),
    ]


def withdraw_rating(cmd: WithdrawRating, state: RatingState | None, *, actor: UUID | None) -> Decision:
    """Withdraw a rating and free its (user, target) claim."""
    rating = _live_rating(state, cmd.rating_id)
    _check_actor(actor, rating.user_id, "user_id", "only the rating's user may withdraw it")
    event = RatingWithdrawn(
        stream_id=rating.rating_id,
        stream_version=rating.version + 1,
        user_id=rating.user_id,
        movie_id=rating.movie_id,
        scene_id=rating.scene_id,
    )
    return Decision(events=[event], releases=[rating_claim(rating.user_id, rating.movie_id, rating.scene_id)])


@singledispatch
def apply_rating(event: RatingEvent, state: RatingState | None) -> RatingState:  # noqa: ARG001  the fallback
    """Return the rating state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing_rating(state: RatingState | None, event: RatingEvent) -> RatingState:
    if state is None:
        raise TypeError(f"{event.event_type} before RatingGiven in stream {event.stream_id}")
    return state


@apply_rating.register
def _(event: RatingGiven, state: RatingState | None) -> RatingState:  # noqa: ARG001  starts from nothing
    return RatingState(
        rating_id=event.stream_id,
        version=event.stream_version,
        user_id=event.user_id,
        movie_id=event.movie_id,
        scene_id=event.scene_id,
        rating=event.rating,
    )


@apply_rating.register
def _(event: RatingChanged, state: RatingState | None) -> RatingState:
    return replace(_existing_rating(state, event), version=event.stream_version, rating=event.rating)


@apply_rating.register
def _(event: RatingWithdrawn, state: RatingState | None) -> RatingState:
    return replace(_existing_rating(state, event), version=event.stream_version, withdrawn=True)


def replay_rating(events: Sequence[DomainEvent]) -> RatingState | None:
    """Fold a rating stream's events into its state (``None`` for an empty stream)."""
    state: RatingState | None = None
    for event in events:
        if isinstance(event, RatingEvent):
            state = apply_rating(event, state)
    return state


# --- Recommendation aggregate -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecommendationState:
    """A recommendation as its events left it."""

    recommendation_id: UUID
    version: int
    recommender_id: UUID
    recipient_id: UUID | None
    movie_id: UUID | None
    scene_id: UUID | None
    reason: str
    score: int
    dismissed: bool = False
    withdrawn: bool = False


def recommendation_claim(
    recommender_id: UUID, recipient_id: UUID | None, movie_id: UUID | None, scene_id: UUID | None
) -> UniqueClaim:
    """Return the unique key that stops a user recommending one thing to one audience twice."""
    audience = recipient_id or "*"
    return UniqueClaim(
        scope=RECOMMENDATION_SCOPE,
        key=f"{recommender_id}|{audience}|{movie_id or '-'}|{scene_id or '-'}",
    )


def make_recommendation(
    cmd: MakeRecommendation,
    *,
    existing: RecommendationState | None,
    scene: SceneState | None,
    actor: UUID | None,
) -> Decision:
    """Validate a new recommendation and return its ``RecommendationMade`` with its claim."""
    if existing is not None:
        raise InvalidCommandError(
            "recommendation_id", f"recommendation {cmd.recommendation_id} already exists"
        )
    _check_actor(actor, cmd.recommender_id, "recommender_id", "a recommendation is made in one's own name")
    if cmd.recipient_id is not None and cmd.recipient_id == cmd.recommender_id:
        raise InvalidCommandError("recipient_id", "a user cannot recommend something to themselves")
    check_target(cmd.movie_id, cmd.scene_id, scene, what="recommendation")
    event = RecommendationMade(
        stream_id=cmd.recommendation_id,
        stream_version=1,
        recommender_id=cmd.recommender_id,
        recipient_id=cmd.recipient_id,
        movie_id=cmd.movie_id,
        scene_id=cmd.scene_id,
        reason=cmd.reason,
        score=cmd.score,
    )
    claim = recommendation_claim(cmd.recommender_id, cmd.recipient_id, cmd.movie_id, cmd.scene_id)
    return Decision(events=[event], claims=[claim])


def _live_recommendation(state: RecommendationState | None, recommendation_id: UUID) -> RecommendationState:
    if state is None or state.withdrawn:
        raise StreamNotFoundError("recommendation_id", "recommendation", recommendation_id)
    return state


def dismiss_recommendation(
    cmd: DismissRecommendation, state: RecommendationState | None, *, actor: UUID | None
) -> list[RecommendationEvent]:
    """Dismiss a recommendation addressed to one user; no event when it already is dismissed."""
    rec = _live_recommendation(state, cmd.recommendation_id)
    if rec.recipient_id is None:
        raise InvalidCommandError(
            "recommendation_id", "a recommendation to everyone has no recipient to dismiss it"
        )
    _check_actor(actor, rec.recipient_id, "user_id", "only the recipient may dismiss a recommendation")
    if rec.dismissed:
        return []
    return [
        RecommendationDismissed(
            stream_id=rec.recommendation_id,
            stream_version=rec.version + 1,
            recommender_id=rec.recommender_id,
            recipient_id=rec.recipient_id,
            movie_id=rec.movie_id,
            scene_id=rec.scene_id,
        ),
    ]


def withdraw_recommendation(
    cmd: WithdrawRecommendation, state: RecommendationState | None, *, actor: UUID | None
) -> Decision:
    """Withdraw a recommendation (only its recommender may) and free its claim."""
    rec = _live_recommendation(state, cmd.recommendation_id)
    _check_actor(actor, rec.recommender_id, "user_id", "only the recommender may withdraw a recommendation")
    event = RecommendationWithdrawn(
        stream_id=rec.recommendation_id,
        stream_version=rec.version + 1,
        recommender_id=rec.recommender_id,
        recipient_id=rec.recipient_id,
        movie_id=rec.movie_id,
        scene_id=rec.scene_id,
    )
    claim = recommendation_claim(rec.recommender_id, rec.recipient_id, rec.movie_id, rec.scene_id)
    return Decision(events=[event], releases=[claim])


@singledispatch
def apply_recommendation(
    event: RecommendationEvent,
    state: RecommendationState | None,  # noqa: ARG001  the fallback
) -> RecommendationState:
    """Return the recommendation state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing_recommendation(
    state: RecommendationState | None, event: RecommendationEvent
) -> RecommendationState:
    if state is None:
        raise TypeError(f"{event.event_type} before RecommendationMade in stream {event.stream_id}")
    return state


@apply_recommendation.register
def _(
    event: RecommendationMade,
    state: RecommendationState | None,  # noqa: ARG001  starts from nothing
) -> RecommendationState:
    return RecommendationState(
        recommendation_id=event.stream_id,
        version=event.stream_version,
        recommender_id=event.recommender_id,
        recipient_id=event.recipient_id,
        movie_id=event.movie_id,
        scene_id=event.scene_id,
        reason=event.reason,
        score=event.score,
    )


@apply_recommendation.register
def _(event: RecommendationDismissed, state: RecommendationState | None) -> RecommendationState:
    return replace(_existing_recommendation(state, event), version=event.stream_version, dismissed=True)


@apply_recommendation.register
def _(event: RecommendationWithdrawn, state: RecommendationState | None) -> RecommendationState:
    return replace(_existing_recommendation(state, event), version=event.stream_version, withdrawn=True)


def replay_recommendation(events: Sequence[DomainEvent]) -> RecommendationState | None:
    """Fold a recommendation stream's events into its state (``None`` for an empty stream)."""
    state: RecommendationState | None = None
    for event in events:
        if isinstance(event, RecommendationEvent):
            state = apply_recommendation(event, state)
    return state


# --- Restoring a deleted review (compensation of the movie-removal saga) ---------------------


class RestoreReview(Command):
    """Bring a deleted review back as it was: its content and its reactions (a deletion's compensation)."""

    review_id: UUID


def restore_review(cmd: RestoreReview, state: ReviewState | None) -> list[ReviewEvent]:
    """Re-post a deleted review with its last content and reactions; nothing to do if it is live.

    An anonymized review stays anonymous: its author link is dropped again in the same append.
    """
    if state is None:
        raise StreamNotFoundError("review_id", "review", cmd.review_id)
    if not state.deleted:
        return []
    events: list[ReviewEvent] = [
        ReviewPosted(
            stream_id=state.review_id,
            stream_version=state.version + 1,
            user_id=state.user_id,
            movie_id=state.movie_id,
            scene_id=state.scene_id,
            title=state.title,
            content=state.content,
            rating=state.rating,
            review_type=state.review_type,
            is_public=state.is_public,
            is_spoiler=state.is_spoiler,
        )
    ]
    for by_user_id, kind in sorted(state.reactions, key=lambda r: (str(r[0]), r[1])):
        events.append(
            ReviewReactionAdded(
                stream_id=state.review_id,
                stream_version=state.version + len(events) + 1,
                user_id=state.user_id,
                movie_id=state.movie_id,
                scene_id=state.scene_id,
                by_user_id=by_user_id,
                kind=kind,
            )
        )
    if state.anonymized:
        events.append(
            ReviewAnonymized(
                stream_id=state.review_id,
                stream_version=state.version + len(events) + 1,
                user_id=state.user_id,
                movie_id=state.movie_id,
                scene_id=state.scene_id,
            )
        )
    return events
