"""The Review service's read model: reviews with their reaction counters, ratings, recommendations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

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
    ReviewEvent,
    ReviewPosted,
    ReviewReactionAdded,
    ReviewReactionWithdrawn,
    ReviewRevised,
)

_POST = """
INSERT INTO reviews (
    id, user_id, movie_id, scene_id, title, content, rating, review_type, is_public, is_spoiler,
    created_at, updated_at, version
) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11, $12)
ON CONFLICT (id) DO UPDATE SET
    user_id = EXCLUDED.user_id, movie_id = EXCLUDED.movie_id, scene_id = EXCLUDED.scene_id,
    title = EXCLUDED.title, content = EXCLUDED.content, rating = EXCLUDED.rating,
    review_type = EXCLUDED.review_type, is_public = EXCLUDED.is_public,
    is_spoiler = EXCLUDED.is_spoiler, created_at = EXCLUDED.created_at,
    updated_at = EXCLUDED.updated_at, version = EXCLUDED.version
"""

# Counters are derived from review_likes every time, so a replay or any order of reactions
# leaves the same figures.
_RECOUNT = """
UPDATE reviews r SET
    likes_count = c.likes, helpful_count = c.helpful, report_count = c.reports, version = $2
FROM (
    SELECT count(*) FILTER (WHERE kind = 'like') AS likes,
           count(*) FILTER (WHERE kind = 'helpful') AS helpful,
           count(*) FILTER (WHERE kind = 'report') AS reports
    FROM review_likes WHERE review_id = $1
) c
WHERE r.id = $1
"""


async def _posted(conn: asyncpg.Connection, e: ReviewPosted) -> None:
    await conn.execute(
        _POST,
        e.stream_id,
        e.user_id,
        e.movie_id,
        e.scene_id,
        e.title,
        e.content,
        e.rating,
        e.review_type,
        e.is_public,
        e.is_spoiler,
        e.occurred_at,
        e.stream_version,
    )


async def _revised(conn: asyncpg.Connection, e: ReviewRevised) -> None:
    await conn.execute(
        "UPDATE reviews SET title = $2, content = $3, rating = $4, review_type = $5, is_public = $6, "
        "is_spoiler = $7, updated_at = $8, version = $9 WHERE id = $1",
        e.stream_id,
        e.title,
        e.content,
        e.rating,
        e.review_type,
        e.is_public,
        e.is_spoiler,
        e.occurred_at,
        e.stream_version,
    )


async def _deleted(conn: asyncpg.Connection, e: ReviewDeleted) -> None:
    await conn.execute("DELETE FROM reviews WHERE id = $1", e.stream_id)


async def _anonymized(conn: asyncpg.Connection, e: ReviewAnonymized) -> None:
    # The text and the rating stay (and so do every average computed from them); the author goes.
    await conn.execute(
        "UPDATE reviews SET user_id = NULL, version = $2 WHERE id = $1", e.stream_id, e.stream_version
    )


async def _recount(conn: asyncpg.Connection, e: ReviewEvent) -> None:
    await conn.execute(_RECOUNT, e.stream_id, e.stream_version)


async def _reaction_added(conn: asyncpg.Connection, e: ReviewReactionAdded) -> None:
    await conn.execute(
        "INSERT INTO review_likes (review_id, user_id, kind, created_at) VALUES ($1, $2, $3, $4) "
        "ON CONFLICT (review_id, user_id, kind) DO NOTHING",
        e.stream_id,
        e.by_user_id,
        e.kind,
        e.occurred_at,
    )
    await _recount(conn, e)


async def _reaction_withdrawn(conn: asyncpg.Connection, e: ReviewReactionWithdrawn) -> None:
    await conn.execute(
        "DELETE FROM review_likes WHERE review_id = $1 AND user_id = $2 AND kind = $3",
        e.stream_id,
        e.by_user_id,
        e.kind,
    )
    await _recount(conn, e)


async def _rating_given(conn: asyncpg.Connection, e: RatingGiven) -> None:
    await conn.execute(
        "INSERT INTO ratings (id, user_id, movie_id, scene_id, rating, created_at, updated_at, version) "
        "VALUES ($1, $2, $3, $4, $5, $6, $6, $7) "
        "ON CONFLICT (id) DO UPDATE SET user_id = EXCLUDED.user_id, movie_id = EXCLUDED.movie_id, "
        "scene_id = EXCLUDED.scene_id, rating = EXCLUDED.rating, created_at = EXCLUDED.created_at, "
        "updated_at = EXCLUDED.updated_at, version = EXCLUDED.version",
        e.stream_id,
        e.user_id,
        e.movie_id,
        e.scene_id,
        e.rating,
        e.occurred_at,
        e.stream_version,
    )


async def _rating_changed(conn: asyncpg.Connection, e: RatingChanged) -> None:
    await conn.execute(
        "UPDATE ratings SET rating = $2, updated_at = $3, version = $4 WHERE id = $1",
        e.stream_id,
        e.rating,
        e.occurred_at,
        e.stream_version,
    )


async def _rating_withdrawn(conn: asyncpg.Connection, e: RatingWithdrawn) -> None:
    await conn.execute("DELETE FROM ratings WHERE id = $1", e.stream_id)


async def _recommended(conn: asyncpg.Connection, e: RecommendationMade) -> None:
    await conn.execute(
        "INSERT INTO recommendations (id, recommender_id, recipient_id, movie_id, scene_id, reason, "
        "score, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, $9) "
        "ON CONFLICT (id) DO UPDATE SET recommender_id = EXCLUDED.recommender_id, "
        "recipient_id = EXCLUDED.recipient_id, movie_id = EXCLUDED.movie_id, "
        "scene_id = EXCLUDED.scene_id, reason = EXCLUDED.reason, score = EXCLUDED.score, "
        "dismissed_at = NULL, created_at = EXCLUDED.created_at, updated_at = EXCLUDED.updated_at, "
        "version = EXCLUDED.version",
        e.stream_id,
        e.recommender_id,
        e.recipient_id,
        e.movie_id,
        e.scene_id,
        e.reason,
        e.score,
        e.occurred_at,
        e.stream_version,
    )


async def _recommendation_dismissed(conn: asyncpg.Connection, e: RecommendationDismissed) -> None:
    await conn.execute(
        "UPDATE recommendations SET dismissed_at = $2, updated_at = $2, version = $3 WHERE id = $1",
        e.stream_id,
        e.occurred_at,
        e.stream_version,
    )


async def _recommendation_withdrawn(conn: asyncpg.Connection, e: RecommendationWithdrawn) -> None:
    await conn.execute("DELETE FROM recommendations WHERE id = $1", e.stream_id)


ApplyFn = Callable[[asyncpg.Connection, Any], Awaitable[None]]

REVIEW_APPLY: dict[type[DomainEvent], ApplyFn] = {
    ReviewPosted: _posted,
    ReviewRevised: _revised,
    ReviewDeleted: _deleted,
    ReviewAnonymized: _anonymized,
    ReviewReactionAdded: _reaction_added,
    ReviewReactionWithdrawn: _reaction_withdrawn,
    RatingGiven: _rating_given,
    RatingChanged: _rating_changed,
    RatingWithdrawn: _rating_withdrawn,
    RecommendationMade: _recommended,
    RecommendationDismissed: _recommendation_dismissed,
    RecommendationWithdrawn: _recommendation_withdrawn,
}
"""Apply function of each event the ``reviews`` projection handles."""
