"""Review service on the real stack: commands -> saga_events -> Kafka -> review_service read model."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from commands.errors import UniqueKeyTakenError
from commands.review import (
    ChangeRating,
    DeleteReview,
    DismissRecommendation,
    GiveRating,
    MakeRecommendation,
    PostReview,
    ReactToReview,
    ReviseReview,
    WithdrawRating,
    WithdrawReaction,
    WithdrawRecommendation,
)
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.scene import SceneCreated
from events.user import UserRegistered
from infra.api import create_app
from infra.auth import bearer_headers
from infra.bootstrap import System
from read_models.reviews import (
    RatingQueries,
    RatingView,
    RecommendationQueries,
    RecommendationView,
    ReviewQueries,
    ReviewView,
)
from tests.conftest import eventually

pytestmark = pytest.mark.integration

HASH = "$argon2id$test"  # a stand-in: these tests never check credentials


# The User, Movie and Scene services' own commands are built elsewhere: their events are
# appended directly, as those services would have written them.
async def _append(live: System, event: DomainEvent) -> None:
    await live.event_store.append(
        [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
    )


async def _user(live: System) -> UUID:
    uid = uuid4()
    await _append(
        live, UserRegistered(stream_id=uid, stream_version=1, email=f"{uid}@x.jp", password_hash=HASH)
    )
    return uid


async def _movie(live: System) -> UUID:
    mid = uuid4()
    await _append(live, MovieRegistered(stream_id=mid, stream_version=1, title="用心棒"))
    return mid


async def _scene(live: System, movie_id: UUID) -> UUID:
    sid = uuid4()
    await _append(
        live,
        SceneCreated(
            stream_id=sid,
            stream_version=1,
            movie_id=movie_id,
            start_time_seconds=10,
            end_time_seconds=20,
            level1_classification="D",
            level2_classification="D1",
        ),
    )
    return sid


def _reviews(live: System) -> ReviewQueries:
    return ReviewQueries(live.engines["review"])


def _ratings(live: System) -> RatingQueries:
    return RatingQueries(live.engines["review"])


def _recommendations(live: System) -> RecommendationQueries:
    return RecommendationQueries(live.engines["review"])


async def _post(live: System, **overrides: object) -> PostReview:
    fields: dict[str, object] = {"user_id": await _user(live), "content": "静かな傑作", "rating": 4}
    if "scene_id" not in overrides:
        fields["movie_id"] = await _movie(live)
    fields.update(overrides)
    cmd = PostReview.model_validate(fields)
    await live.bus.dispatch(cmd)
    return cmd


async def _review_at(
    live: System, review_id: UUID, version: int, viewer: UUID | None = None
) -> ReviewView | None:
    review = await _reviews(live).get(review_id, viewer=viewer)
    return review if review and review.version >= version else None


async def _stream_applied(live: System, stream_id: UUID, version: int) -> bool:
    applied = await live.pools["review"].fetchval(
        "SELECT stream_version FROM projection_stream_versions "
        "WHERE projection = 'reviews' AND stream_id = $1",
        stream_id,
    )
    return applied is not None and applied >= version


# --- reviews ----------------------------------------------------------------------------------


async def test_posted_review_appears_in_the_read_model(live: System) -> None:
    cmd = await _post(live, title="夜の場面", review_type="analysis", is_spoiler=True)
    review = await eventually(lambda: _review_at(live, cmd.review_id, 1))
    assert isinstance(review, ReviewView)
    assert (review.user_id, review.movie_id, review.scene_id) == (cmd.user_id, cmd.movie_id, None)
    assert (review.title, review.content, review.rating) == ("夜の場面", "静かな傑作", 4)
    assert (review.review_type, review.is_public, review.is_spoiler) == ("analysis", True, True)
    assert (review.likes_count, review.helpful_count, review.report_count) == (0, 0, 0)


async def test_review_events_are_published_with_the_review_id_as_key(live: System) -> None:
    cmd = await _post(live)
    row = await live.event_pool.fetchrow(
        "SELECT stream_type, partition_key FROM saga_events WHERE stream_id = $1", cmd.review_id
    )
    assert row is not None
    assert (row["stream_type"], row["partition_key"]) == ("review", str(cmd.review_id))


async def test_revision_changes_only_the_given_fields(live: System) -> None:
    cmd = await _post(live, title="題")
    await live.bus.dispatch(ReviseReview(review_id=cmd.review_id, rating=2, is_public=False))
    review = await eventually(lambda: _review_at(live, cmd.review_id, 2, viewer=cmd.user_id))
    assert isinstance(review, ReviewView)
    assert (review.rating, review.is_public, review.title, review.content) == (2, False, "題", "静かな傑作")
    assert review.updated_at >= review.created_at


async def test_deleted_review_leaves_the_read_model(live: System) -> None:
    cmd = await _post(live)
    await eventually(lambda: _review_at(live, cmd.review_id, 1))
    await live.bus.dispatch(DeleteReview(review_id=cmd.review_id))
    await eventually(lambda: _stream_applied(live, cmd.review_id, 2))
    assert await _reviews(live).get(cmd.review_id) is None


async def test_movie_reviews_are_newest_first(live: System) -> None:
    movie = await _movie(live)
    first = await _post(live, movie_id=movie)
    second = await _post(live, movie_id=movie)

    async def both() -> list[ReviewView] | None:
        found = await _reviews(live).by_movie(movie)
        return found if len(found) == 2 else None

    found = await eventually(both)
    assert [r.id for r in found] == [second.review_id, first.review_id]


async def test_movie_reviews_page_with_limit_and_offset(live: System) -> None:
    movie = await _movie(live)
    posted = [await _post(live, movie_id=movie) for _ in range(3)]
    await eventually(lambda: _review_at(live, posted[-1].review_id, 1))
    await eventually(lambda: _review_at(live, posted[0].review_id, 1))
    page = await _reviews(live).by_movie(movie, limit=1, offset=1)
    assert [r.id for r in page] == [posted[1].review_id]


async def test_a_private_review_is_listed_only_for_its_author(live: System) -> None:
    movie = await _movie(live)
    private = await _post(live, movie_id=movie, is_public=False)
    public = await _post(live, movie_id=movie)
    await eventually(lambda: _review_at(live, public.review_id, 1))
    await eventually(lambda: _review_at(live, private.review_id, 1, viewer=private.user_id))
    anonymous = await _reviews(live).by_movie(movie)
    other = await _reviews(live).by_movie(movie, viewer=public.user_id)
    author = await _reviews(live).by_movie(movie, viewer=private.user_id)
    assert [r.id for r in anonymous] == [public.review_id]
    assert [r.id for r in other] == [public.review_id]
    assert {r.id for r in author} == {public.review_id, private.review_id}


async def test_a_private_review_is_not_found_for_others(live: System) -> None:
    cmd = await _post(live, is_public=False)
    await eventually(lambda: _review_at(live, cmd.review_id, 1, viewer=cmd.user_id))
    assert await _reviews(live).get(cmd.review_id, viewer=uuid4()) is None


async def test_scene_reviews_list_reviews_of_that_scene(live: System) -> None:
    movie = await _movie(live)
    scene = await _scene(live, movie)
    of_scene = await _post(live, movie_id=movie, scene_id=scene)
    of_movie = await _post(live, movie_id=movie)
    await eventually(lambda: _review_at(live, of_movie.review_id, 1))
    found = await eventually(lambda: _reviews(live).by_scene(scene))
    assert [r.id for r in found] == [of_scene.review_id]


# --- review_likes and the counters ------------------------------------------------------------


async def _react(live: System, review_id: UUID, kind: str) -> UUID:
    fan = await _user(live)
    await live.bus.dispatch(
        ReactToReview.model_validate({"review_id": review_id, "user_id": fan, "kind": kind})
    )
    return fan


async def test_reactions_are_counted_per_kind(live: System) -> None:
    cmd = await _post(live)
    for kind in ("like", "like", "helpful", "report"):
        await _react(live, cmd.review_id, kind)
    review = await eventually(lambda: _review_at(live, cmd.review_id, 5))
    assert isinstance(review, ReviewView)
    assert (review.likes_count, review.helpful_count, review.report_count) == (2, 1, 1)


async def test_each_reaction_is_a_review_likes_row(live: System) -> None:
    cmd = await _post(live)
    fan = await _react(live, cmd.review_id, "like")
    await live.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=fan, kind="helpful"))
    await eventually(lambda: _review_at(live, cmd.review_id, 3))
    assert await _reviews(live).reactions_of(cmd.review_id, fan) == ["helpful", "like"]


async def test_withdrawn_reaction_is_uncounted(live: System) -> None:
    cmd = await _post(live)
    fan = await _react(live, cmd.review_id, "like")
    await _react(live, cmd.review_id, "like")
    await live.bus.dispatch(WithdrawReaction(review_id=cmd.review_id, user_id=fan, kind="like"))
    review = await eventually(lambda: _review_at(live, cmd.review_id, 4))
    assert isinstance(review, ReviewView)
    assert review.likes_count == 1
    assert await _reviews(live).reactions_of(cmd.review_id, fan) == []


async def test_deleting_a_review_deletes_its_reactions(live: System) -> None:
    cmd = await _post(live)
    await _react(live, cmd.review_id, "report")
    await eventually(lambda: _review_at(live, cmd.review_id, 2))
    await live.bus.dispatch(DeleteReview(review_id=cmd.review_id))
    await eventually(lambda: _stream_applied(live, cmd.review_id, 3))
    left = await live.pools["review"].fetchval(
        "SELECT count(*) FROM review_likes WHERE review_id = $1", cmd.review_id
    )
    assert left == 0


# --- ratings ----------------------------------------------------------------------------------


async def _rating_at(live: System, rating_id: UUID, version: int) -> RatingView | None:
    rating = await _ratings(live).get(rating_id)
    return rating if rating and rating.version >= version else None


async def test_given_rating_appears_in_the_read_model(live: System) -> None:
    user, movie = await _user(live), await _movie(live)
    cmd = GiveRating(user_id=user, movie_id=movie, rating=3)
    await live.bus.dispatch(cmd)
    rating = await eventually(lambda: _rating_at(live, cmd.rating_id, 1))
    assert isinstance(rating, RatingView)
    assert (rating.user_id, rating.movie_id, rating.scene_id, rating.rating) == (user, movie, None, 3)


async def test_rating_events_go_to_the_reviews_topic_keyed_by_user(live: System) -> None:
    user, movie = await _user(live), await _movie(live)
    cmd = GiveRating(user_id=user, movie_id=movie, rating=3)
    await live.bus.dispatch(cmd)
    row = await live.event_pool.fetchrow(
        "SELECT stream_type, partition_key FROM saga_events WHERE stream_id = $1", cmd.rating_id
    )
    assert row is not None
    assert (row["stream_type"], row["partition_key"]) == ("rating", str(user))


async def test_changed_rating_is_updated(live: System) -> None:
    user, movie = await _user(live), await _movie(live)
    cmd = GiveRating(user_id=user, movie_id=movie, rating=3)
    await live.bus.dispatch(cmd)
    await live.bus.dispatch(ChangeRating(rating_id=cmd.rating_id, rating=5))
    rating = await eventually(lambda: _rating_at(live, cmd.rating_id, 2))
    assert isinstance(rating, RatingView)
    assert rating.rating == 5


async def test_a_second_rating_of_the_same_movie_is_refused(live: System) -> None:
    user, movie = await _user(live), await _movie(live)
    first = GiveRating(user_id=user, movie_id=movie, rating=3)
    await live.bus.dispatch(first)
    with pytest.raises(UniqueKeyTakenError):
        await live.bus.dispatch(GiveRating(user_id=user, movie_id=movie, rating=1))
    await eventually(lambda: _rating_at(live, first.rating_id, 1))
    assert [r.id for r in await _ratings(live).find(user_id=user)] == [first.rating_id]


async def test_withdrawn_then_new_rating_leaves_only_the_new_one(live: System) -> None:
    user, movie = await _user(live), await _movie(live)
    first = GiveRating(user_id=user, movie_id=movie, rating=1)
    await live.bus.dispatch(first)
    await live.bus.dispatch(WithdrawRating(rating_id=first.rating_id))
    second = GiveRating(user_id=user, movie_id=movie, rating=5)
    await live.bus.dispatch(second)
    await eventually(lambda: _rating_at(live, second.rating_id, 1))
    assert await _ratings(live).get(first.rating_id) is None
    dead = await live.pools["review"].fetchval(
        "SELECT count(*) FROM projection_dead_letters WHERE stream_id = ANY($1::uuid[])",
        [first.rating_id, second.rating_id],
    )
    assert dead == 0


async def test_rating_summary_counts_and_averages(live: System) -> None:
    movie = await _movie(live)
    for stars in (2, 5):
        await live.bus.dispatch(GiveRating(user_id=await _user(live), movie_id=movie, rating=stars))

    async def both() -> bool:
        return (await _ratings(live).summary(movie_id=movie)).count == 2

    await eventually(both)
    summary = await _ratings(live).summary(movie_id=movie)
    assert summary.average == 3.5


async def test_a_scene_rating_is_found_by_scene(live: System) -> None:
    user, scene = await _user(live), await _scene(live, await _movie(live))
    cmd = GiveRating(user_id=user, scene_id=scene, rating=4)
    await live.bus.dispatch(cmd)
    await eventually(lambda: _rating_at(live, cmd.rating_id, 1))
    assert [r.id for r in await _ratings(live).find(scene_id=scene)] == [cmd.rating_id]


# --- recommendations --------------------------------------------------------------------------


async def _recommendation_at(
    live: System, rec_id: UUID, version: int, viewer: UUID | None
) -> RecommendationView | None:
    rec = await _recommendations(live).get(rec_id, viewer=viewer)
    return rec if rec and rec.version >= version else None


async def _recommend(live: System, *, to_everyone: bool = False) -> MakeRecommendation:
    cmd = MakeRecommendation(
        recommender_id=await _user(live),
        recipient_id=None if to_everyone else await _user(live),
        movie_id=await _movie(live),
        reason="台詞の間が絶妙",
        score=4,
    )
    await live.bus.dispatch(cmd)
    return cmd


async def test_recommendation_reaches_its_recipients_inbox(live: System) -> None:
    cmd = await _recommend(live)
    rec = await eventually(lambda: _recommendation_at(live, cmd.recommendation_id, 1, cmd.recipient_id))
    assert isinstance(rec, RecommendationView)
    assert (rec.recommender_id, rec.reason, rec.score, rec.dismissed_at) == (
        cmd.recommender_id,
        "台詞の間が絶妙",
        4,
        None,
    )
    inbox = await _recommendations(live).inbox(viewer=cmd.recipient_id)
    assert cmd.recommendation_id in [r.id for r in inbox]


async def test_a_directed_recommendation_is_hidden_from_others(live: System) -> None:
    cmd = await _recommend(live)
    await eventually(lambda: _recommendation_at(live, cmd.recommendation_id, 1, cmd.recipient_id))
    assert await _recommendations(live).get(cmd.recommendation_id, viewer=uuid4()) is None
    assert await _recommendations(live).get(cmd.recommendation_id) is None


async def test_a_recommendation_to_everyone_is_in_every_inbox(live: System) -> None:
    cmd = await _recommend(live, to_everyone=True)
    await eventually(lambda: _recommendation_at(live, cmd.recommendation_id, 1, None))
    inbox = await _recommendations(live).inbox(viewer=uuid4(), limit=200)
    assert cmd.recommendation_id in [r.id for r in inbox]


async def test_dismissed_recommendation_leaves_the_inbox(live: System) -> None:
    cmd = await _recommend(live)
    await live.bus.dispatch(
        DismissRecommendation(recommendation_id=cmd.recommendation_id),
        EventMetadata(user_id=cmd.recipient_id),
    )
    rec = await eventually(lambda: _recommendation_at(live, cmd.recommendation_id, 2, cmd.recipient_id))
    assert isinstance(rec, RecommendationView)
    assert rec.dismissed_at is not None
    # Recommendations to everyone made by other tests share the inbox: look for this one only.
    inbox = await _recommendations(live).inbox(viewer=cmd.recipient_id, limit=200)
    kept = await _recommendations(live).inbox(viewer=cmd.recipient_id, include_dismissed=True, limit=200)
    assert cmd.recommendation_id not in [r.id for r in inbox]
    assert cmd.recommendation_id in [r.id for r in kept]


async def test_withdrawn_recommendation_leaves_the_read_model(live: System) -> None:
    cmd = await _recommend(live)
    await live.bus.dispatch(WithdrawRecommendation(recommendation_id=cmd.recommendation_id))
    await eventually(lambda: _stream_applied(live, cmd.recommendation_id, 2))
    assert await _recommendations(live).get(cmd.recommendation_id, viewer=cmd.recipient_id) is None


# --- the schema enforces the same rules -------------------------------------------------------

_REVIEW = "INSERT INTO reviews (user_id, movie_id, scene_id, content, rating, review_type) VALUES "
_RATING = "INSERT INTO ratings (user_id, movie_id, scene_id, rating) VALUES "
_RECOMMENDATION = (
    "INSERT INTO recommendations (recommender_id, recipient_id, movie_id, reason, score, dismissed_at) "
    "VALUES "
)
_BAD_ROWS = {
    "review without target": _REVIEW + "($1, NULL, NULL, 'x', 3, 'general')",
    "review rating 6": _REVIEW + "($1, $1, NULL, 'x', 6, 'general')",
    "review without content": _REVIEW + "($1, $1, NULL, NULL, 3, 'general')",
    "unknown review type": _REVIEW + "($1, $1, NULL, 'x', 3, 'rant')",
    "reaction to no review": "INSERT INTO review_likes (review_id, user_id) VALUES ($1, $1)",
    "rating of two targets": _RATING + "($1, $1, $1, 3)",
    "rating without target": _RATING + "($1, NULL, NULL, 3)",
    "rating 0": _RATING + "($1, $1, NULL, 0)",
    "recommendation to oneself": _RECOMMENDATION + "($1, $1, $1, 'r', 3, NULL)",
    "recommendation without target": "INSERT INTO recommendations (recommender_id, reason, score) "
    "VALUES ($1, 'r', 3)",
    "dismissed public recommendation": _RECOMMENDATION + "($1, NULL, $1, 'r', 3, now())",
    "recommendation score 9": _RECOMMENDATION + "($1, NULL, $1, 'r', 9, NULL)",
    "recommendation with empty reason": _RECOMMENDATION + "($1, NULL, $1, '', 3, NULL)",
}


@pytest.mark.parametrize("sql", list(_BAD_ROWS.values()), ids=list(_BAD_ROWS))
async def test_read_model_rejects_rows_the_design_forbids(live: System, sql: str) -> None:
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await live.pools["review"].execute(sql, uuid4())


async def test_read_model_rejects_an_unknown_reaction_kind(live: System) -> None:
    pool = live.pools["review"]
    review = await pool.fetchval(
        "INSERT INTO reviews (user_id, movie_id, content, rating) VALUES ($1, $1, 'x', 3) RETURNING id",
        uuid4(),
    )
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO review_likes (review_id, user_id, kind) VALUES ($1, $2, 'love')", review, uuid4()
        )


async def test_read_model_keeps_one_reaction_per_user_and_kind(live: System) -> None:
    pool = live.pools["review"]
    review = await pool.fetchval(
        "INSERT INTO reviews (user_id, movie_id, content, rating) VALUES ($1, $1, 'x', 3) RETURNING id",
        uuid4(),
    )
    fan = uuid4()
    await pool.execute(
        "INSERT INTO review_likes (review_id, user_id, kind) VALUES ($1, $2, 'like')", review, fan
    )
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO review_likes (review_id, user_id, kind) VALUES ($1, $2, 'like')", review, fan
        )


async def test_read_model_keeps_one_rating_per_user_and_movie(live: System) -> None:
    pool = live.pools["review"]
    user, movie = uuid4(), uuid4()
    await pool.execute("INSERT INTO ratings (user_id, movie_id, rating) VALUES ($1, $2, 3)", user, movie)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute("INSERT INTO ratings (user_id, movie_id, rating) VALUES ($1, $2, 4)", user, movie)


async def test_read_model_keeps_one_public_recommendation_per_sender_and_target(live: System) -> None:
    pool = live.pools["review"]
    sender, movie = uuid4(), uuid4()
    insert = "INSERT INTO recommendations (recommender_id, movie_id, reason, score) VALUES ($1, $2, 'r', 3)"
    await pool.execute(insert, sender, movie)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(insert, sender, movie)


# --- HTTP -------------------------------------------------------------------------------------


@pytest.fixture(name="client")
async def fx_client(live: System) -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP application in-process, over the live system's bus and read model."""
    app = create_app(live.bus, live.engines, live.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def test_http_post_then_get_review(live: System, client: httpx.AsyncClient) -> None:
    user, movie = await _user(live), await _movie(live)
    body = {"user_id": str(user), "movie_id": str(movie), "content": "最高", "rating": 5}
    posted = await client.post("/reviews", json=body, headers=bearer_headers(user, "viewer"))
    assert posted.status_code == 202, posted.text
    review_id = posted.json()["stream_id"]

    async def fetched() -> httpx.Response | None:
        response = await client.get(f"/reviews/{review_id}")
        return response if response.status_code == 200 else None

    response = await eventually(fetched)
    assert response.json()["content"] == "最高"
    listed = await client.get(f"/movies/{movie}/reviews")
    assert [r["id"] for r in listed.json()] == [review_id]


async def test_http_post_about_an_unknown_movie_is_422(live: System, client: httpx.AsyncClient) -> None:
    user = await _user(live)
    body = {"user_id": str(user), "movie_id": str(uuid4()), "content": "x", "rating": 5}
    response = await client.post("/reviews", json=body, headers=bearer_headers(user, "viewer"))
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "movie_id"]


async def test_http_revise_by_another_user_is_refused(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _post(live)
    response = await client.patch(
        f"/reviews/{cmd.review_id}", json={"rating": 1}, headers=bearer_headers(uuid4(), "viewer")
    )
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "user_id"]


async def test_http_private_review_is_404_for_others(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _post(live, is_public=False)
    await eventually(lambda: _review_at(live, cmd.review_id, 1, viewer=cmd.user_id))
    own = await client.get(f"/reviews/{cmd.review_id}", headers=bearer_headers(cmd.user_id, "viewer"))
    other = await client.get(f"/reviews/{cmd.review_id}", headers=bearer_headers(uuid4(), "viewer"))
    assert (own.status_code, other.status_code) == (200, 404)


async def test_http_reaction_uses_the_acting_user(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _post(live)
    fan = await _user(live)
    response = await client.put(
        f"/reviews/{cmd.review_id}/reactions/helpful", headers=bearer_headers(fan, "viewer")
    )
    assert response.status_code == 202, response.text
    review = await eventually(lambda: _review_at(live, cmd.review_id, 2))
    assert isinstance(review, ReviewView)
    assert review.helpful_count == 1
    withdrawn = await client.delete(
        f"/reviews/{cmd.review_id}/reactions/helpful", headers=bearer_headers(fan, "viewer")
    )
    assert withdrawn.status_code == 202
    assert withdrawn.json()["stream_version"] == 3


async def test_http_reaction_needs_the_acting_user(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _post(live)
    response = await client.put(f"/reviews/{cmd.review_id}/reactions/like")
    assert response.status_code == 401


async def test_http_unknown_reaction_kind_is_422(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _post(live)
    response = await client.put(
        f"/reviews/{cmd.review_id}/reactions/love", headers=bearer_headers(uuid4(), "viewer")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "kind"]


async def test_http_liking_ones_own_review_is_422(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _post(live)
    response = await client.put(
        f"/reviews/{cmd.review_id}/reactions/like", headers=bearer_headers(cmd.user_id, "viewer")
    )
    assert response.status_code == 422


async def test_http_second_rating_is_409(live: System, client: httpx.AsyncClient) -> None:
    user, movie = await _user(live), await _movie(live)
    body = {"user_id": str(user), "movie_id": str(movie), "rating": 4}
    headers = bearer_headers(user, "viewer")
    assert (await client.post("/ratings", json=body, headers=headers)).status_code == 202
    assert (await client.post("/ratings", json=body, headers=headers)).status_code == 409


async def test_http_rating_summary(live: System, client: httpx.AsyncClient) -> None:
    user, movie = await _user(live), await _movie(live)
    cmd = GiveRating(user_id=user, movie_id=movie, rating=4)
    await live.bus.dispatch(cmd)
    await eventually(lambda: _rating_at(live, cmd.rating_id, 1))
    response = await client.get("/ratings/summary", params={"movie_id": str(movie)})
    assert response.status_code == 200
    assert (response.json()["count"], response.json()["average"]) == (1, 4.0)
    assert (await client.get("/ratings/summary")).status_code == 422


async def test_http_dismissal_by_the_recipient(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _recommend(live)
    path = f"/recommendations/{cmd.recommendation_id}/dismissal"
    refused = await client.put(path, headers=bearer_headers(cmd.recommender_id, "viewer"))
    accepted = await client.put(path, headers=bearer_headers(cmd.recipient_id or uuid4(), "viewer"))
    assert (refused.status_code, accepted.status_code) == (403, 202)
    rec = await eventually(lambda: _recommendation_at(live, cmd.recommendation_id, 2, cmd.recipient_id))
    assert isinstance(rec, RecommendationView)
    assert rec.dismissed_at is not None


async def test_http_inbox_of_the_acting_user(live: System, client: httpx.AsyncClient) -> None:
    cmd = await _recommend(live)
    await eventually(lambda: _recommendation_at(live, cmd.recommendation_id, 1, cmd.recipient_id))
    response = await client.get(
        "/recommendations", headers=bearer_headers(cmd.recipient_id or uuid4(), "viewer")
    )
    assert response.status_code == 200
    assert str(cmd.recommendation_id) in [r["id"] for r in response.json()]
