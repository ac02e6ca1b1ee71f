"""The user-erasure saga (right to erasure): the user's activity, then their reviews, then the account.

Steps, in order:

1. ``clear-activity``: the User service removes the whole watch list and every scene
   interaction (undo: ``RestoreUserActivity`` puts them back as they were, from the user's own
   stream: the plan stored in the saga log names only the user, never what they wrote).
2. per review, ``anonymize-review:<id>``: the Review service drops the author link; the text,
   the rating and every average computed from it stay. No undo: an anonymous review is what
   the user asked for, and re-running the saga finishes the erasure.
3. ``erase-user``: the pivot, last on purpose. Its append deletes the user's data key (see
   :mod:`infra.pii`), after which nothing of the above could be undone any more.

The reviews are those the Review read model lists for the user when the saga is planned. A
review posted in the moment before that (not projected yet) keeps its author link, now to an
erased account with no personal data; running the saga again is refused (the user is gone),
and such a review can be anonymized on its own with ``AnonymizeReview``.
"""

from __future__ import annotations

from typing import Final
from uuid import UUID

from commands import user as user_model
from commands.base import load
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.review import AnonymizeReview
from commands.user import ClearUserActivity, EraseUser, RestoreUserActivity
from events.base import Message
from sagas.definition import PlanContext, SagaDefinition, Step

MAX_REVIEWS: Final = 10_000
"""Reviews one saga anonymizes at most: one step each, and a plan is stored whole."""

_REVIEWS_OF = "SELECT id FROM reviews WHERE user_id = $1 ORDER BY created_at, id LIMIT $2"


class UserErasureRequest(Message):
    """The user to erase."""

    user_id: UUID


async def plan_user_erasure(request: UserErasureRequest, ctx: PlanContext) -> list[Step]:
    """Return the steps erasing ``request.user_id``: activity, reviews, then the account."""
    user_id = request.user_id
    state, _ = await load(ctx.event_store, user_id, user_model.replay)
    if state is None:
        raise StreamNotFoundError("user_id", "user", user_id)
    if state.erased:
        raise InvalidCommandError("user_id", f"user {user_id} was erased already")
    reviews = ctx.pools.get("review")
    if reviews is None:
        raise InvalidCommandError("user_id", "the Review read model is needed to find the user's reviews")
    rows = await reviews.fetch(_REVIEWS_OF, user_id, MAX_REVIEWS + 1)
    if len(rows) > MAX_REVIEWS:
        raise InvalidCommandError("user_id", f"more than {MAX_REVIEWS} reviews: anonymize some first")
    return [
        Step(
            "clear-activity",
            action=ClearUserActivity(user_id=user_id),
            compensation=(RestoreUserActivity(user_id=user_id),),
        ),
        *(Step(f"anonymize-review:{r['id']}", action=AnonymizeReview(review_id=r["id"])) for r in rows),
        Step("erase-user", action=EraseUser(user_id=user_id)),
    ]


USER_ERASURE = SagaDefinition(
    saga_type="user_erasure",
    input_model=UserErasureRequest,
    plan=plan_user_erasure,
    description="erase a user: remove their watch list and interactions, anonymize their reviews, "
    "then make their personal data unrecoverable",
)
