"""User erasure on the real stack: personal data sealed in the log and on Kafka, then unrecoverable."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import SecretStr

from commands.authorization import SYSTEM_ROLE
from commands.errors import UniqueKeyTakenError
from commands.review import AnonymizeReview, PostReview
from commands.user import (
    AddMovieToWatchList,
    ClearUserActivity,
    EraseUser,
    RegisterUser,
    UpdateUserProfile,
)
from events.base import EventMetadata
from events.movie import MovieRegistered
from events.user import UserProfileUpdated
from infra.api import create_app
from infra.auth import bearer_headers
from infra.bootstrap import System, build_broker, build_relay, open_system
from infra.pii import PersonalDataErasedError
from infra.publisher import KafkaPublisher
from infra.replay import ReplayEngine
from infra.services import build_registry, service
from infra.settings import Settings
from read_models.users import UserQueries, UserView
from tests.conftest import eventually
from tests.integration.conftest import header, read_topic

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential
SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)
BIO = "京都の映画好き"


class Person:
    """A user with recognisable personal data: what must not be found anywhere after erasure."""

    def __init__(self) -> None:
        tag = secrets.token_hex(6)
        self.email = f"hanako.{tag}@example.jp"
        self.name = f"山田花子-{tag}"
        self.bio = f"{BIO}-{tag}"
        self.notes = f"週末に観る-{tag}"

    def traces(self) -> tuple[str, ...]:
        """Every personal value given, as searched for in raw bytes."""
        return (self.email, self.name, self.bio, self.notes)


def _as(user_id: UUID) -> EventMetadata:
    return EventMetadata(user_id=user_id, user_role="viewer")


async def _user_at(live: System, user_id: UUID, version: int) -> UserView | None:
    user = await UserQueries(live.engines["user"]).get(user_id)
    return user if user and user.version >= version else None


async def _movie(live: System) -> UUID:
    movie_id = uuid4()
    await live.event_store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="x")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return movie_id


async def _person(live: System, person: Person, movie_id: UUID) -> UUID:
    """Register ``person`` with a profile and a watch-list entry; return their id once projected."""
    cmd = RegisterUser(email=person.email, password=SecretStr(PASSWORD), display_name=person.name)
    await live.bus.dispatch(cmd)
    user = cmd.user_id
    await live.bus.dispatch(UpdateUserProfile(user_id=user, bio=person.bio, birth_year=1990), _as(user))
    await live.bus.dispatch(
        AddMovieToWatchList(user_id=user, movie_id=movie_id, notes=person.notes), _as(user)
    )
    await eventually(lambda: _user_at(live, user, 3))
    return user


async def _erase(live: System, user: UUID, reviews: tuple[UUID, ...] = ()) -> None:
    """What the user-erasure saga does, in its order: activity, reviews, then the account."""
    await live.bus.dispatch(ClearUserActivity(user_id=user), SYSTEM)
    for review_id in reviews:
        await live.bus.dispatch(AnonymizeReview(review_id=review_id), SYSTEM)
    result = await live.bus.dispatch(EraseUser(user_id=user), SYSTEM)
    await eventually(lambda: _user_at(live, user, result.stream_version))


async def _raw_log(live: System, stream_id: UUID) -> str:
    rows = await live.event_pool.fetch(
        "SELECT event_data::text AS data FROM saga_events WHERE stream_id = $1 ORDER BY stream_version",
        stream_id,
    )
    assert rows
    return "\n".join(r["data"] for r in rows)


async def test_the_log_never_holds_personal_data_in_clear(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    raw = await _raw_log(live, user)
    assert [t for t in person.traces() if t in raw] == []
    assert "$pii" in raw


async def test_live_users_read_back_in_clear_from_the_log(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    view = await UserQueries(live.engines["user"]).get(user)
    assert view is not None
    assert (view.email, view.display_name, view.profile.bio) == (person.email, person.name, person.bio)


async def test_erasure_clears_the_user_read_model(live: System) -> None:
    person = Person()
    movie = await _movie(live)
    user = await _person(live, person, movie)
    await _erase(live, user)
    view = await UserQueries(live.engines["user"]).get(user)
    assert view is not None
    assert (view.email, view.display_name, view.avatar_url) == (None, None, None)
    assert (view.profile.bio, view.profile.birth_year) == (None, None)
    assert not view.is_active
    assert view.erased_at is not None
    assert await UserQueries(live.engines["user"]).watch_list(user) == []
    assert await UserQueries(live.engines["user"]).credentials_by_email(person.email) is None


async def test_erasure_deletes_the_users_key_with_the_append(live: System) -> None:
    user = await _person(live, Person(), await _movie(live))
    assert await live.event_pool.fetchval(
        "SELECT data_key FROM personal_data_keys WHERE subject_id = $1", user
    )
    await live.bus.dispatch(EraseUser(user_id=user), SYSTEM)
    row = await live.event_pool.fetchrow(
        "SELECT data_key, erased_at FROM personal_data_keys WHERE subject_id = $1", user
    )
    assert row is not None
    assert row["data_key"] is None
    assert row["erased_at"] is not None


async def test_the_erased_users_events_read_back_without_personal_data(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    await live.bus.dispatch(EraseUser(user_id=user), SYSTEM)
    events = await live.event_store.read_stream(user)
    dumped = "\n".join(r.event.model_dump_json() for r in events)
    assert [t for t in person.traces() if t in dumped] == []


async def test_the_email_is_free_again_after_erasure(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    with pytest.raises(UniqueKeyTakenError):
        await live.bus.dispatch(RegisterUser(email=person.email, password=SecretStr(PASSWORD)))
    await _erase(live, user)
    again = RegisterUser(email=person.email, password=SecretStr(PASSWORD))
    await live.bus.dispatch(again)
    view = await eventually(lambda: _user_at(live, again.user_id, 1))
    assert view.email == person.email


async def test_the_email_claim_is_gone_from_the_event_store_after_erasure(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    await live.bus.dispatch(EraseUser(user_id=user), SYSTEM)
    held = await live.event_pool.fetchval("SELECT count(*) FROM unique_claims WHERE stream_id = $1", user)
    assert held == 0


async def test_kafka_carries_no_personal_data_of_the_user(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    await _erase(live, user)
    records = await read_topic(
        live.settings.require_kafka(),
        live.settings.topic("users.events"),
        until=lambda recs: any(
            header(r, "ce_subject") == str(user) and (header(r, "ce_type") or "").endswith("UserErased")
            for r in recs
        ),
    )
    mine = b"\n".join(r.value or b"" for r in records if header(r, "ce_subject") == str(user))
    assert b"$pii" in mine
    assert [t for t in person.traces() if t.encode() in mine] == []


async def test_a_rebuild_of_the_users_projection_shows_the_user_erased(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    await _erase(live, user)
    engine = ReplayEngine(live.settings, build_registry())
    scratch = f"public_erasure_{secrets.token_hex(4)}"
    spec = service("user")
    try:
        await engine.build_only(spec, scratch)
        row = await live.pools["user"].fetchrow(
            f'SELECT email, password_hash, display_name, is_active, erased_at FROM "{scratch}".users '
            "WHERE id = $1",
            user,
        )
        profile = await live.pools["user"].fetchrow(
            f'SELECT bio, birth_year FROM "{scratch}".user_profiles WHERE user_id = $1', user
        )
        entries = await live.pools["user"].fetchval(
            f'SELECT count(*) FROM "{scratch}".watch_lists WHERE user_id = $1', user
        )
    finally:
        await engine.drop_schema(spec, scratch)
    assert row is not None
    assert profile is not None
    assert dict(row) | {"erased_at": None} == {
        "email": None,
        "password_hash": None,
        "display_name": None,
        "is_active": False,
        "erased_at": None,
    }
    assert row["erased_at"] is not None
    assert (profile["bio"], profile["birth_year"]) == (None, None)
    assert entries == 0


async def test_reviews_survive_anonymous_and_the_average_rating_stays(live: System) -> None:
    movie = await _movie(live)
    author = await _person(live, Person(), movie)
    other = await _person(live, Person(), movie)
    review = PostReview(user_id=author, movie_id=movie, content="静かな名作", rating=5)
    await live.bus.dispatch(review, _as(author))
    await live.bus.dispatch(PostReview(user_id=other, movie_id=movie, content="普通", rating=2), _as(other))

    async def average() -> float | None:
        value = await live.pools["movie"].fetchval("SELECT avg_rating FROM movies WHERE id = $1", movie)
        return float(value) if value is not None else None

    before = await eventually(lambda: _equals(average, 3.5))
    await _erase(live, author, (review.review_id,))

    async def anonymous() -> bool:
        row = await live.pools["review"].fetchrow(
            "SELECT user_id, content, rating FROM reviews WHERE id = $1", review.review_id
        )
        return (
            row is not None
            and row["user_id"] is None
            and (row["content"], row["rating"]) == ("静かな名作", 5)
        )

    await eventually(anonymous)
    assert await average() == before


async def _equals(read: Callable[[], Awaitable[float | None]], expected: float) -> float | None:
    value = await read()
    return value if value == expected else None


async def test_no_key_is_made_again_for_an_erased_user(live: System) -> None:
    user = await _person(live, Person(), await _movie(live))
    result = await live.bus.dispatch(EraseUser(user_id=user), SYSTEM)
    late = UserProfileUpdated(stream_id=user, stream_version=result.stream_version + 1, bio="late")
    with pytest.raises(PersonalDataErasedError):
        await live.event_store.append([late], expected_version=result.stream_version, metadata=SYSTEM)
    key = await live.event_pool.fetchval(
        "SELECT data_key FROM personal_data_keys WHERE subject_id = $1", user
    )
    assert key is None


@pytest.fixture(name="fresh")
async def fx_fresh(fresh_settings: Settings) -> AsyncIterator[System]:
    """A namespace of this test's own, with its relay and projectors: verify compares a whole database."""
    system = await open_system(fresh_settings)
    publisher = KafkaPublisher(fresh_settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    broker = build_broker(system, commands=False)
    await broker.start()
    yield system
    stop.set()
    await relay
    await broker.stop()
    await publisher.stop()
    await system.close()


async def test_a_rebuild_of_the_user_database_equals_the_live_one_after_erasures(fresh: System) -> None:
    movie = await _movie(fresh)
    erased = await _person(fresh, Person(), movie)
    kept = await _person(fresh, Person(), movie)
    await _erase(fresh, erased)
    await eventually(lambda: _user_at(fresh, kept, 3))
    report = await ReplayEngine(fresh.settings, build_registry()).verify(service("user"))
    assert report.events > 0
    assert [d.describe() for d in report.differences] == []


async def test_a_user_erased_over_http_reads_back_erased(live: System) -> None:
    person = Person()
    user = await _person(live, person, await _movie(live))
    app = create_app(live.bus, live.engines, live.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post(f"/users/{user}/erase", headers=bearer_headers(user, "viewer"))
        assert response.status_code == 202, response.text
        await eventually(lambda: _user_at(live, user, response.json()["stream_version"]))
        body = (await client.get(f"/users/{user}")).text
    assert [t for t in person.traces() if t in body] == []
    assert '"email":null' in body.replace(" ", "")
