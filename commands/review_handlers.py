"""Review service command handlers: check the users and targets named, let the aggregate decide, append."""

from __future__ import annotations

from uuid import UUID

from commands import review as model
from commands import scene as scene_model
from commands.authorization import ADMIN, is_system, require_role
from commands.base import Command, CommandResult, Handler, HandlerDeps, execute, load, require_alive, route
from commands.movie_handlers import require_movie_open
from commands.ports import NO_STREAM, EventStore
from commands.review import (
    AnonymizeReview,
    ChangeRating,
    DeleteReview,
    DismissRecommendation,
    GiveRating,
    MakeRecommendation,
    PostReview,
    ReactToReview,
    RestoreReview,
    ReviseReview,
    WithdrawRating,
    WithdrawReaction,
    WithdrawRecommendation,
)
from commands.scene import SceneState
from events.base import EventMetadata
from events.movie import MovieRegistered, MovieRemoved
from events.user import UserDeactivated, UserErased, UserRegistered


async def require_active_user(store: EventStore, user_id: UUID, *, field_name: str) -> None:
    """Reject a command naming a user who never registered, was deactivated or erased."""
    await require_alive(
        store,
        user_id,
        created=(UserRegistered,),
        removed=(UserDeactivated, UserErased),
        field_name=field_name,
        entity="user",
    )


async def load_target(store: EventStore, movie_id: UUID | None, scene_id: UUID | None) -> SceneState | None:
    """Check the named movie exists and return the named scene's state for the aggregate to judge."""
    if movie_id is not None:
        await require_alive(
            store,
            movie_id,
            created=(MovieRegistered,),
            removed=(MovieRemoved,),
            field_name="movie_id",
            entity="movie",
        )
    if scene_id is None:
        return None
    scene, _ = await load(store, scene_id, scene_model.replay)
    return scene


async def handle_post_review(cmd: PostReview, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Post a review by an active user about an existing movie and/or scene."""
    store = deps.event_store
    await require_active_user(store, cmd.user_id, field_name="user_id")
    scene = await load_target(store, cmd.movie_id, cmd.scene_id)
    if cmd.movie_id is not None:
        await require_movie_open(store, cmd.movie_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        decide=lambda state: model.post_review(cmd, existing=state, scene=scene, actor=metadata.user_id),
        expected_version=NO_STREAM,
    )


async def handle_revise_review(
    cmd: ReviseReview, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Revise a review (its author only)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        decide=lambda state: model.revise_review(cmd, state, actor=metadata.user_id),
        expected_version=cmd.expected_version,
    )


async def handle_restore_review(
    cmd: RestoreReview, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Restore a deleted review (admins and the system only: it undoes a deletion)."""
    require_role(metadata, frozenset({ADMIN}), "restore deleted reviews")
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        decide=lambda state: model.restore_review(cmd, state),
        expected_version=None,
    )


async def handle_delete_review(
    cmd: DeleteReview, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Delete a review (its author only)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        # The system (the movie-removal saga) deletes on no author's behalf.
        decide=lambda state: model.delete_review(
            cmd, state, actor=None if is_system(metadata) else metadata.user_id
        ),
        expected_version=cmd.expected_version,
    )


async def handle_anonymize_review(
    cmd: AnonymizeReview, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Drop a review's author link: its author, an admin or the system (the user-erasure saga) may."""
    privileged = is_system(metadata) or metadata.user_role == ADMIN
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        decide=lambda state: model.anonymize_review(
            cmd, state, actor=metadata.user_id, privileged=privileged
        ),
        expected_version=None,
    )


async def handle_react_to_review(
    cmd: ReactToReview, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Add an active user's reaction to a review."""
    await require_active_user(deps.event_store, cmd.user_id, field_name="user_id")
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        decide=lambda state: model.react_to_review(cmd, state, actor=metadata.user_id),
        expected_version=None,
    )


async def handle_withdraw_reaction(
    cmd: WithdrawReaction, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Take back a reaction (a deactivated user may still withdraw theirs)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.review_id,
        replay=model.replay_review,
        decide=lambda state: model.withdraw_reaction(cmd, state, actor=metadata.user_id),
        expected_version=None,
    )


async def handle_give_rating(cmd: GiveRating, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Rate a movie or a scene; a second rating of the same target by the same user is refused."""
    store = deps.event_store
    await require_active_user(store, cmd.user_id, field_name="user_id")
    scene = await load_target(store, cmd.movie_id, cmd.scene_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.rating_id,
        replay=model.replay_rating,
        decide=lambda state: model.give_rating(cmd, existing=state, scene=scene, actor=metadata.user_id),
        expected_version=NO_STREAM,
    )


async def handle_change_rating(
    cmd: ChangeRating, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Change a rating's stars (its user only)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.rating_id,
        replay=model.replay_rating,
        decide=lambda state: model.change_rating(cmd, state, actor=metadata.user_id),
        expected_version=cmd.expected_version,
    )


async def handle_withdraw_rating(
    cmd: WithdrawRating, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Withdraw a rating (its user only)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.rating_id,
        replay=model.replay_rating,
        decide=lambda state: model.withdraw_rating(cmd, state, actor=metadata.user_id),
        expected_version=cmd.expected_version,
    )


async def handle_make_recommendation(
    cmd: MakeRecommendation, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Recommend an existing movie or scene to an active user, or to everyone."""
    store = deps.event_store
    await require_active_user(store, cmd.recommender_id, field_name="recommender_id")
    if cmd.recipient_id is not None and cmd.recipient_id != cmd.recommender_id:
        await require_active_user(store, cmd.recipient_id, field_name="recipient_id")
    scene = await load_target(store, cmd.movie_id, cmd.scene_id)
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.recommendation_id,
        replay=model.replay_recommendation,
        decide=lambda state: model.make_recommendation(
            cmd, existing=state, scene=scene, actor=metadata.user_id
        ),
        expected_version=NO_STREAM,
    )


async def handle_dismiss_recommendation(
    cmd: DismissRecommendation, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Dismiss a recommendation (its recipient only)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.recommendation_id,
        replay=model.replay_recommendation,
        decide=lambda state: model.dismiss_recommendation(cmd, state, actor=metadata.user_id),
        expected_version=None,
    )


async def handle_withdraw_recommendation(
    cmd: WithdrawRecommendation, deps: HandlerDeps, metadata: EventMetadata
) -> CommandResult:
    """Withdraw a recommendation (its recommender only)."""
    return await execute(
        cmd,
        deps,
        metadata,
        stream_id=cmd.recommendation_id,
        replay=model.replay_recommendation,
        decide=lambda state: model.withdraw_recommendation(cmd, state, actor=metadata.user_id),
        expected_version=None,
    )


REVIEW_HANDLERS: dict[type[Command], Handler] = dict(
    [
        route(PostReview, handle_post_review),
        route(ReviseReview, handle_revise_review),
        route(DeleteReview, handle_delete_review),
        route(RestoreReview, handle_restore_review),
        route(AnonymizeReview, handle_anonymize_review),
        route(ReactToReview, handle_react_to_review),
        route(WithdrawReaction, handle_withdraw_reaction),
        route(GiveRating, handle_give_rating),
        route(ChangeRating, handle_change_rating),
        route(WithdrawRating, handle_withdraw_rating),
        route(MakeRecommendation, handle_make_recommendation),
        route(DismissRecommendation, handle_dismiss_recommendation),
        route(WithdrawRecommendation, handle_withdraw_recommendation),
    ],
)
