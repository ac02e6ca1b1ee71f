"""HTTP routes of the Review service: reviews and their reactions, ratings, recommendations."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query
from pydantic import Field

from commands.base import CommandResult
from commands.handlers import CommandBus
from commands.review import (
    ChangeRating,
    Content,
    DeleteReview,
    DismissRecommendation,
    GiveRating,
    MakeRecommendation,
    PostReview,
    ReactToReview,
    ReviseReview,
    Stars,
    Title,
    WithdrawRating,
    WithdrawReaction,
    WithdrawRecommendation,
)
from events.review import ReactionKind, ReviewType
from infra.http.common import (
    Acting,
    Caller,
    CommandId,
    ExpectedVersion,
    Offset,
    RequestBody,
    SignedInUserId,
    found,
    signed_in,
)
from read_models.engines import ReadEngines
from read_models.reviews import (
    RatingQueries,
    RatingSummary,
    RatingView,
    RecommendationQueries,
    RecommendationView,
    ReviewQueries,
    ReviewView,
)

# Every write is someone's own (the commands check that the acting user is the author, rater,
# recipient, ...), so each needs a logged-in user: 401 without a valid token.
_NEEDS_LOGIN = [Depends(signed_in)]
Limit = Annotated[int, Query(ge=1, le=200)]  # review pages are shorter than the other services'


class ReviseBody(RequestBody):
    """Changes to a review; fields left out stay as they are, an empty title clears it."""

    title: Title | None = None
    content: Content | None = None
    rating: Stars | None = None
    review_type: ReviewType | None = None
    is_public: bool | None = None
    is_spoiler: bool | None = None
    expected_version: int | None = Field(default=None, ge=1)


class ChangeRatingBody(RequestBody):
    """A rating's new number of stars."""

    rating: Stars
    expected_version: int | None = Field(default=None, ge=1)


def _review_commands(router: APIRouter, bus: CommandBus) -> None:
    @router.post("/reviews", status_code=202, dependencies=_NEEDS_LOGIN)
    async def post_review(cmd: PostReview, meta: Acting) -> CommandResult:
        """Post a review. The command id in the body makes retries safe."""
        return await bus.dispatch(cmd, meta)

    @router.patch("/reviews/{review_id}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def revise_review(
        review_id: UUID,
        body: ReviseBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Revise a review (its author only)."""
        cmd = ReviseReview(command_id=command_id, review_id=review_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/reviews/{review_id}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def delete_review(
        review_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Delete a review (its author only)."""
        cmd = DeleteReview(command_id=command_id, review_id=review_id, expected_version=expected_version)
        return await bus.dispatch(cmd, meta)

    @router.put("/reviews/{review_id}/reactions/{kind}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def react(
        review_id: UUID,
        kind: ReactionKind,
        user_id: SignedInUserId,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Like, mark helpful or report a review as the acting user (again: no change)."""
        cmd = ReactToReview(command_id=command_id, review_id=review_id, user_id=user_id, kind=kind)
        return await bus.dispatch(cmd, meta)

    @router.delete("/reviews/{review_id}/reactions/{kind}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def withdraw_reaction(
        review_id: UUID,
        kind: ReactionKind,
        user_id: SignedInUserId,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Take back the acting user's reaction (none there: no change)."""
        cmd = WithdrawReaction(command_id=command_id, review_id=review_id, user_id=user_id, kind=kind)
        return await bus.dispatch(cmd, meta)


def _review_reads(router: APIRouter, queries: ReviewQueries) -> None:
    # Row-level security decides what each caller sees: public reviews, and their own private ones.
    @router.get("/reviews/{review_id}")
    async def get_review(review_id: UUID, caller: Caller) -> ReviewView:
        """Return one review; a private one only to its author."""
        return found(await queries.get(review_id, identity=caller), f"review {review_id} not found")

    @router.get("/movies/{movie_id}/reviews")
    async def movie_reviews(
        movie_id: UUID, caller: Caller, limit: Limit = 50, offset: Offset = 0
    ) -> list[ReviewView]:
        """Return a movie's reviews, newest first: public ones and the acting user's own."""
        return await queries.by_movie(movie_id, identity=caller, limit=limit, offset=offset)

    @router.get("/scenes/{scene_id}/reviews")
    async def scene_reviews(
        scene_id: UUID, caller: Caller, limit: Limit = 50, offset: Offset = 0
    ) -> list[ReviewView]:
        """Return a scene's reviews, newest first: public ones and the acting user's own."""
        return await queries.by_scene(scene_id, identity=caller, limit=limit, offset=offset)


def _rating_routes(router: APIRouter, bus: CommandBus, queries: RatingQueries) -> None:
    @router.post("/ratings", status_code=202, dependencies=_NEEDS_LOGIN)
    async def give_rating(cmd: GiveRating, meta: Acting) -> CommandResult:
        """Rate a movie or a scene (one rating per user and target)."""
        return await bus.dispatch(cmd, meta)

    @router.patch("/ratings/{rating_id}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def change_rating(
        rating_id: UUID,
        body: ChangeRatingBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change a rating's stars (its user only)."""
        cmd = ChangeRating(command_id=command_id, rating_id=rating_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/ratings/{rating_id}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def withdraw_rating(
        rating_id: UUID,
        meta: Acting,
        command_id: CommandId,
        expected_version: ExpectedVersion = None,
    ) -> CommandResult:
        """Withdraw a rating (its user only)."""
        cmd = WithdrawRating(command_id=command_id, rating_id=rating_id, expected_version=expected_version)
        return await bus.dispatch(cmd, meta)

    # Declared before /ratings/{rating_id}, which would otherwise take "summary" for an id.
    @router.get("/ratings/summary")
    async def rating_summary(movie_id: UUID | None = None, scene_id: UUID | None = None) -> RatingSummary:
        """Return the count and mean of a movie's or a scene's ratings (give exactly one of the two)."""
        if (movie_id is None) == (scene_id is None):
            raise HTTPException(status_code=422, detail="give exactly one of movie_id, scene_id")
        return await queries.summary(movie_id=movie_id, scene_id=scene_id)

    @router.get("/ratings/{rating_id}")
    async def get_rating(rating_id: UUID) -> RatingView:
        """Return one rating."""
        return found(await queries.get(rating_id), f"rating {rating_id} not found")

    @router.get("/ratings")
    async def find_ratings(
        user_id: UUID | None = None,
        movie_id: UUID | None = None,
        scene_id: UUID | None = None,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[RatingView]:
        """Return the ratings matching every filter given, newest first."""
        return await queries.find(
            user_id=user_id, movie_id=movie_id, scene_id=scene_id, limit=limit, offset=offset
        )


def _recommendation_routes(router: APIRouter, bus: CommandBus, queries: RecommendationQueries) -> None:
    @router.post("/recommendations", status_code=202, dependencies=_NEEDS_LOGIN)
    async def make_recommendation(cmd: MakeRecommendation, meta: Acting) -> CommandResult:
        """Recommend a movie or a scene to one user or to everyone."""
        return await bus.dispatch(cmd, meta)

    @router.put("/recommendations/{recommendation_id}/dismissal", status_code=202, dependencies=_NEEDS_LOGIN)
    async def dismiss_recommendation(
        recommendation_id: UUID,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Dismiss a recommendation addressed to the acting user."""
        cmd = DismissRecommendation(command_id=command_id, recommendation_id=recommendation_id)
        return await bus.dispatch(cmd, meta)

    @router.delete("/recommendations/{recommendation_id}", status_code=202, dependencies=_NEEDS_LOGIN)
    async def withdraw_recommendation(
        recommendation_id: UUID,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Withdraw a recommendation (its recommender only)."""
        cmd = WithdrawRecommendation(command_id=command_id, recommendation_id=recommendation_id)
        return await bus.dispatch(cmd, meta)

    @router.get("/recommendations/{recommendation_id}")
    async def get_recommendation(recommendation_id: UUID, caller: Caller) -> RecommendationView:
        """Return one recommendation; one addressed to a user only to that user and its sender."""
        return found(
            await queries.get(recommendation_id, viewer=caller.user_id),
            f"recommendation {recommendation_id} not found",
        )

    @router.get("/recommendations")
    async def recommendations_for_me(
        caller: Caller,
        include_dismissed: bool = False,
        limit: Limit = 50,
        offset: Offset = 0,
    ) -> list[RecommendationView]:
        """Return what is recommended to the acting user (anonymously: to everyone), newest first."""
        return await queries.inbox(
            viewer=caller.user_id, include_dismissed=include_dismissed, limit=limit, offset=offset
        )


def review_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:
    """Routes of the Review service."""
    router = APIRouter(tags=["reviews"])
    engine = engines["review"]
    _review_commands(router, bus)
    _review_reads(router, ReviewQueries(engine))
    _rating_routes(router, bus, RatingQueries(engine))
    _recommendation_routes(router, bus, RecommendationQueries(engine))
    return router
