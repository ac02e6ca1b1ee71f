"""Actor commands and other services' events → the actor read model, on the real PostgreSQL and Kafka."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from commands.actor import (
    AddFilmographyEntry,
    CastCharacter,
    RegisterActor,
    RelateActors,
    RemoveActor,
    RemoveFilmographyEntry,
    ReviseActorProfile,
    ReviseFilmographyEntry,
    UnrelateActors,
)
from events.actor import (
    ActorProfileRevised,
    ActorRegistered,
    ActorRemoved,
    ActorsRelated,
    ActorsUnrelated,
)
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.review import ReviewDeleted, ReviewPosted, ReviewRevised
from events.scene import SceneActorAdded, SceneActorRemoved, SceneCreated, SceneDeleted
from infra.api import create_app
from infra.bootstrap import System
from projections.actors import ACTOR_HANDLERS as ACTOR_APPLY
from read_models.actors import ActorQueries, ActorView, FilmographyView
from tests.conftest import eventually

pytestmark = pytest.mark.integration

T = TypeVar("T")


def _queries(live: System) -> ActorQueries:
    return ActorQueries(live.engines["actor"])


async def _append(live: System, *events: DomainEvent) -> None:
    await live.event_store.append(
        list(events), expected_version=events[0].stream_version - 1, metadata=EventMetadata()
    )


async def _movie(live: System) -> UUID:
    movie_id = uuid4()
    await _append(live, MovieRegistered(stream_id=movie_id, stream_version=1, title="x"))
    return movie_id


async def _register(live: System, **fields: object) -> UUID:
    cmd = RegisterActor.model_validate({"name": f"俳優{uuid4().hex[:8]}", **fields})
    await live.bus.dispatch(cmd)
    return cmd.actor_id


async def _actor_when(
    live: System, actor_id: UUID, check: Callable[[ActorView], bool] | None = None
) -> ActorView:
    async def probe() -> ActorView | None:
        actor = await _queries(live).get(actor_id)
        return actor if actor is not None and (check is None or check(actor)) else None

    return await eventually(probe)


async def _entry_when(
    live: System, actor_id: UUID, movie_id: UUID, check: Callable[[FilmographyView], bool] | None = None
) -> FilmographyView:
    async def probe() -> FilmographyView | None:
        entry = await _queries(live).entry(actor_id, movie_id)
        return entry if entry is not None and (check is None or check(entry)) else None

    return await eventually(probe)


async def _until(probe: Callable[[], Awaitable[T]], check: Callable[[T], bool]) -> T:
    """Poll ``probe`` until ``check`` holds; the value may be falsy (``None``, ``[]``)."""

    async def wrapped() -> tuple[T] | None:
        value = await probe()
        return (value,) if check(value) else None

    [value] = await eventually(wrapped)
    return value


async def _scene_with(live: System, movie_id: UUID, *actor_ids: UUID) -> UUID:
    scene_id = uuid4()
    events: list[DomainEvent] = [
        SceneCreated(
            stream_id=scene_id,
            stream_version=1,
            movie_id=movie_id,
            start_time_seconds=0,
            end_time_seconds=10,
            level1_classification="L",
            level2_classification="L2",
        ),
    ]
    events += [
        SceneActorAdded(stream_id=scene_id, stream_version=v, movie_id=movie_id, actor_id=a)
        for v, a in enumerate(actor_ids, start=2)
    ]
    await _append(live, *events)
    return scene_id


def _review(movie_id: UUID | None, rating: int, *, scene_id: UUID | None = None) -> ReviewPosted:
    return ReviewPosted(
        stream_id=uuid4(),
        stream_version=1,
        user_id=uuid4(),
        movie_id=movie_id,
        scene_id=scene_id,
        content="よかった",
        rating=rating,
    )


# --- actors ---


async def test_registered_actor_appears_with_profile_and_empty_figures(live: System) -> None:
    actor_id = await _register(
        live, name_kana="やまだ たろう", birth_date=date(1980, 4, 1), height_cm=170, agency="A"
    )
    actor = await _actor_when(live, actor_id)
    assert (actor.name_kana, actor.birth_date, actor.height_cm, actor.agency) == (
        "やまだ たろう",
        date(1980, 4, 1),
        170,
        "A",
    )
    assert (actor.total_movies_count, actor.total_scenes_count, actor.avg_rating) == (0, 0, None)


async def test_profile_revision_changes_only_the_given_fields(live: System) -> None:
    actor_id = await _register(live, agency="A", height_cm=170)
    await live.bus.dispatch(ReviseActorProfile(actor_id=actor_id, agency="B"))
    actor = await _actor_when(live, actor_id, lambda a: a.version == 2)
    assert (actor.agency, actor.height_cm) == ("B", 170)


async def test_removed_actor_leaves_the_read_model_with_their_filmography(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    await _entry_when(live, actor_id, movie)
    await live.bus.dispatch(RemoveActor(actor_id=actor_id))
    await _until(lambda: _queries(live).get(actor_id), lambda a: a is None)
    assert await _queries(live).entry(actor_id, movie) is None


async def test_search_by_name_part_and_furigana_prefix(live: System) -> None:
    tag = uuid4().hex[:8]
    wanted = await _register(live, name=f"佐藤{tag}", name_kana="さとう")
    await _register(live, name=f"佐藤{tag}二", name_kana="さいとう")
    await _actor_when(live, wanted)

    async def found() -> list[UUID]:
        return [a.id for a in await _queries(live).search(name=tag, kana="さと")]

    assert await _until(found, lambda ids: len(ids) == 1) == [wanted]


async def test_read_model_rejects_a_second_actor_with_the_same_name_and_birth_date(live: System) -> None:
    name = f"重複{uuid4().hex[:8]}"
    await live.pools["actor"].execute("INSERT INTO actors (name, birth_date) VALUES ($1, '1990-01-01')", name)
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.pools["actor"].execute(
            "INSERT INTO actors (name, birth_date) VALUES ($1, '1990-01-01')", name
        )


# --- filmography ---


async def test_filmography_entry_appears_and_counts_as_a_movie(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(
        AddFilmographyEntry(
            actor_id=actor_id,
            movie_id=movie,
            character_name="主人公",
            role_type="lead",
            billing_order=1,
            screen_time_minutes=95,
            notes="初主演",
            award_nominations=("新人賞",),
        ),
    )
    entry = await _entry_when(live, actor_id, movie)
    assert (entry.character_name, entry.role_type, entry.billing_order, entry.screen_time_minutes) == (
        "主人公",
        "lead",
        1,
        95,
    )
    assert (entry.notes, entry.award_nominations, entry.total_scenes) == ("初主演", ["新人賞"], 0)
    actor = await _actor_when(live, actor_id, lambda a: a.total_movies_count == 1)
    assert actor.version == 2


async def test_filmography_revision_keeps_fields_left_out(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(
        AddFilmographyEntry(actor_id=actor_id, movie_id=movie, character_name="A", billing_order=3)
    )
    await live.bus.dispatch(ReviseFilmographyEntry(actor_id=actor_id, movie_id=movie, billing_order=1))
    entry = await _entry_when(live, actor_id, movie, lambda e: e.billing_order == 1)
    assert entry.character_name == "A"


async def test_removed_entry_no_longer_counts(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    await _actor_when(live, actor_id, lambda a: a.total_movies_count == 1)
    await live.bus.dispatch(RemoveFilmographyEntry(actor_id=actor_id, movie_id=movie))
    actor = await _actor_when(live, actor_id, lambda a: a.version == 3)
    assert actor.total_movies_count == 0
    assert await _queries(live).entry(actor_id, movie) is None


async def test_filmography_is_ordered_by_billing_then_by_addition(live: System) -> None:
    actor_id = await _register(live)
    unbilled, second, first = await _movie(live), await _movie(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=unbilled))
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=second, billing_order=2))
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=first, billing_order=1))
    entries = await _until(lambda: _queries(live).filmography(actor_id), lambda es: len(es) == 3)
    assert [e.movie_id for e in entries] == [first, second, unbilled]


async def test_read_model_rejects_an_unknown_role_type(live: System) -> None:
    actor_id = await _register(live)
    await _actor_when(live, actor_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["actor"].execute(
            "INSERT INTO filmography (actor_id, movie_id, role_type) VALUES ($1, $2, 'extra')",
            actor_id,
            uuid4(),
        )


# --- relationships ---


async def test_relationship_is_seen_from_both_actors_until_withdrawn(live: System) -> None:
    a, b = await _register(live), await _register(live)
    await live.bus.dispatch(
        RelateActors(actor_id=a, related_actor_id=b, relation_type="mentor", since_year=2001)
    )
    [seen_by_b] = await _until(lambda: _queries(live).relationships(b), lambda rs: len(rs) == 1)
    assert (seen_by_b.actor_id, seen_by_b.related_actor_id, seen_by_b.relation_type) == (a, b, "mentor")
    assert seen_by_b.since_year == 2001
    await live.bus.dispatch(UnrelateActors(actor_id=b, related_actor_id=a, relation_type="mentor"))
    assert await _until(lambda: _queries(live).relationships(a), lambda rs: rs == []) == []


async def test_removing_an_actor_drops_relationships_recorded_by_others(live: System) -> None:
    a, b = await _register(live), await _register(live)
    await live.bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="rival"))
    await _until(lambda: _queries(live).relationships(a), lambda rs: len(rs) == 1)
    await live.bus.dispatch(RemoveActor(actor_id=b))
    assert await _until(lambda: _queries(live).relationships(a), lambda rs: rs == []) == []


async def test_read_model_rejects_the_reverse_pair_of_the_same_type(live: System) -> None:
    a, b = await _register(live), await _register(live)
    await live.bus.dispatch(RelateActors(actor_id=a, related_actor_id=b, relation_type="spouse"))
    await _until(lambda: _queries(live).relationships(a), lambda rs: len(rs) == 1)
    await _actor_when(live, b)
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.pools["actor"].execute(
            "INSERT INTO actor_relationships (actor_id, related_actor_id, relation_type) "
            "VALUES ($1, $2, 'spouse')",
            b,
            a,
        )


async def test_read_model_rejects_a_self_relationship(live: System) -> None:
    a = await _register(live)
    await _actor_when(live, a)
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["actor"].execute(
            "INSERT INTO actor_relationships (actor_id, related_actor_id, relation_type) "
            "VALUES ($1, $1, 'rival')",
            a,
        )


# --- character roles ---


async def test_character_roles_track_a_franchise_across_actors(live: System) -> None:
    character = f"怪盗{uuid4().hex[:8]}"
    first, second = await _register(live), await _register(live)
    movie_1, movie_2 = await _movie(live), await _movie(live)
    for actor_id, movie in ((first, movie_1), (second, movie_2)):
        await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
        await live.bus.dispatch(
            CastCharacter(actor_id=actor_id, movie_id=movie, character_name=character, is_main=True)
        )
    roles = await _until(lambda: _queries(live).played_by(character), lambda rs: len(rs) == 2)
    assert {(r.actor_id, r.movie_id, r.is_main) for r in roles} == {
        (first, movie_1, True),
        (second, movie_2, True),
    }


async def test_removing_the_entry_removes_its_character_roles(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    await live.bus.dispatch(CastCharacter(actor_id=actor_id, movie_id=movie, character_name="X"))
    await _until(lambda: _queries(live).characters(actor_id), lambda rs: len(rs) == 1)
    await live.bus.dispatch(RemoveFilmographyEntry(actor_id=actor_id, movie_id=movie))
    assert await _until(lambda: _queries(live).characters(actor_id), lambda rs: rs == []) == []


# --- scene counts ---


async def test_scene_appearances_count_for_the_entry_and_the_actor(live: System) -> None:
    actor_id, movie, other_movie = await _register(live), await _movie(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    await _scene_with(live, movie, actor_id)
    await _scene_with(live, movie, actor_id)
    await _scene_with(live, other_movie, actor_id)
    actor = await _actor_when(live, actor_id, lambda a: a.total_scenes_count == 3)
    assert actor.total_movies_count == 1
    entry = await _entry_when(live, actor_id, movie)
    assert entry.total_scenes == 2


async def test_scene_added_before_the_actor_and_the_entry_is_counted(live: System) -> None:
    actor_id, movie = uuid4(), await _movie(live)
    await _scene_with(live, movie, actor_id)
    # The scene is indexed while the actor does not exist yet.
    await _until(
        lambda: live.pools["actor"].fetchval(
            "SELECT count(*) FROM actor_scene_index WHERE actor_id = $1", actor_id
        ),
        lambda n: n == 1,
    )
    await live.bus.dispatch(RegisterActor(actor_id=actor_id, name=f"遅延{uuid4().hex[:8]}"))
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    actor = await _actor_when(live, actor_id, lambda a: a.version == 2)
    assert (actor.total_scenes_count, actor.total_movies_count) == (1, 1)
    entry = await _entry_when(live, actor_id, movie)
    assert entry.total_scenes == 1


async def test_actor_removed_from_a_scene_is_no_longer_counted(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    scene = await _scene_with(live, movie, actor_id)
    await _entry_when(live, actor_id, movie, lambda e: e.total_scenes == 1)
    await _append(
        live, SceneActorRemoved(stream_id=scene, stream_version=3, movie_id=movie, actor_id=actor_id)
    )
    entry = await _entry_when(live, actor_id, movie, lambda e: e.total_scenes == 0)
    assert entry.total_scenes == 0
    actor = await _actor_when(live, actor_id, lambda a: a.total_scenes_count == 0)
    assert actor.total_scenes_count == 0


async def test_deleted_scene_is_no_longer_counted_for_any_of_its_actors(live: System) -> None:
    a, b, movie = await _register(live), await _register(live), await _movie(live)
    await _scene_with(live, movie, a)
    gone = await _scene_with(live, movie, a, b)
    await _actor_when(live, a, lambda x: x.total_scenes_count == 2)
    await _actor_when(live, b, lambda x: x.total_scenes_count == 1)
    await _append(live, SceneDeleted(stream_id=gone, stream_version=4, movie_id=movie))
    assert (await _actor_when(live, a, lambda x: x.total_scenes_count == 1)).total_scenes_count == 1
    assert (await _actor_when(live, b, lambda x: x.total_scenes_count == 0)).total_scenes_count == 0


# --- average rating ---


async def test_avg_rating_averages_the_movie_reviews_of_the_filmography(live: System) -> None:
    actor_id, movie_1, movie_2 = await _register(live), await _movie(live), await _movie(live)
    for movie in (movie_1, movie_2):
        await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    await _append(live, _review(movie_1, 5))
    await _append(live, _review(movie_1, 4))
    await _append(live, _review(movie_2, 2))
    await _append(live, _review(movie_2, 1, scene_id=uuid4()))  # a scene review: not counted
    await _append(live, _review(uuid4(), 1))  # another movie's review: not counted
    actor = await _actor_when(live, actor_id, lambda a: a.avg_rating == 3.67)
    assert actor.avg_rating == 3.67


async def test_revised_and_deleted_reviews_change_the_average(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    kept, gone = _review(movie, 2), _review(movie, 5)
    await _append(live, kept)
    await _append(live, gone)
    await _actor_when(live, actor_id, lambda a: a.avg_rating == 3.5)
    await _append(
        live,
        ReviewRevised(
            stream_id=kept.stream_id,
            stream_version=2,
            user_id=kept.user_id,
            movie_id=movie,
            content="見直した",
            rating=4,
        ),
    )
    await _actor_when(live, actor_id, lambda a: a.avg_rating == 4.5)
    await _append(
        live, ReviewDeleted(stream_id=gone.stream_id, stream_version=2, user_id=gone.user_id, movie_id=movie)
    )
    actor = await _actor_when(live, actor_id, lambda a: a.avg_rating == 4.0)
    assert actor.avg_rating == 4.0


async def test_reviews_posted_before_the_entry_count_once_it_is_added(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await _append(live, _review(movie, 3))
    await _until(
        lambda: live.pools["actor"].fetchval(
            "SELECT count(*) FROM actor_movie_ratings WHERE movie_id = $1", movie
        ),
        lambda n: n == 1,
    )
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    actor = await _actor_when(live, actor_id, lambda a: a.avg_rating is not None)
    assert actor.avg_rating == 3.0


async def test_avg_rating_is_null_again_when_the_last_rated_movie_leaves(live: System) -> None:
    actor_id, movie = await _register(live), await _movie(live)
    await live.bus.dispatch(AddFilmographyEntry(actor_id=actor_id, movie_id=movie))
    await _append(live, _review(movie, 5))
    await _actor_when(live, actor_id, lambda a: a.avg_rating == 5.0)
    await live.bus.dispatch(RemoveFilmographyEntry(actor_id=actor_id, movie_id=movie))
    actor = await _actor_when(live, actor_id, lambda a: a.version == 3)
    assert actor.avg_rating is None


# --- HTTP ---


async def _client(live: System) -> httpx.AsyncClient:
    app = create_app(live.bus, live.engines, live.services)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_http_register_then_read_the_profile(live: System) -> None:
    name = f"HTTP{uuid4().hex[:8]}"
    async with await _client(live) as client:
        posted = await client.post("/actors", json={"name": name, "birth_date": "1985-05-05"})
        assert posted.status_code == 202
        actor_id = posted.json()["stream_id"]

        async def profile() -> httpx.Response | None:
            got = await client.get(f"/actors/{actor_id}")
            return got if got.status_code == 200 else None

        got = await eventually(profile)
        assert got.json()["name"] == name
        assert got.json()["avg_rating"] is None
        again = await client.post("/actors", json={"name": name, "birth_date": "1985-05-05"})
        assert again.status_code == 409


async def test_http_unknown_actor_is_404(live: System) -> None:
    async with await _client(live) as client:
        assert (await client.get(f"/actors/{uuid4()}")).status_code == 404
        assert (await client.get(f"/actors/{uuid4()}/filmography")).status_code == 404
        patched = await client.patch(f"/actors/{uuid4()}", json={"agency": "X"})
        assert patched.status_code == 404


async def test_http_filmography_for_an_unknown_movie_is_422(live: System) -> None:
    actor_id = await _register(live)
    async with await _client(live) as client:
        posted = await client.post(f"/actors/{actor_id}/filmography", json={"movie_id": str(uuid4())})
    assert posted.status_code == 422
    assert posted.json()["detail"][0]["loc"] == ["body", "movie_id"]


async def test_http_patch_clears_a_field_given_as_null(live: System) -> None:
    actor_id = await _register(live, agency="A", height_cm=180)
    async with await _client(live) as client:
        patched = await client.patch(f"/actors/{actor_id}", json={"agency": None})
        assert patched.status_code == 202
    actor = await _actor_when(live, actor_id, lambda a: a.version == 2)
    assert (actor.agency, actor.height_cm) == (None, 180)


# --- cross-stream order inside the actor projection (apply functions on one connection) ---


@contextlib.asynccontextmanager
async def _rolled_back(live: System) -> AsyncIterator[asyncpg.Connection]:
    """A connection to the actor database inside a transaction that is rolled back at the end."""
    async with live.pools["actor"].acquire() as conn:
        transaction = conn.transaction()
        await transaction.start()
        try:
            yield conn
        finally:
            await transaction.rollback()


async def _apply(conn: asyncpg.Connection, *events: DomainEvent) -> None:
    for event in events:
        await ACTOR_APPLY[type(event)](conn, event)


def _at(minutes: int) -> datetime:
    return datetime(2030, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes)


async def test_newer_holder_of_a_name_and_birth_date_wins_when_applied_first(live: System) -> None:
    # A renamed away from (name, 1990-01-01) at minute 1 and B took it at minute 2, but B's
    # registration is applied before A's revision: B keeps the key, A is set right afterwards.
    name, a, b = f"同名{uuid4().hex[:8]}", uuid4(), uuid4()
    birth = date(1990, 1, 1)
    async with _rolled_back(live) as conn:
        await _apply(
            conn,
            ActorRegistered(stream_id=a, stream_version=1, name=name, birth_date=birth, occurred_at=_at(0)),
            ActorRegistered(stream_id=b, stream_version=1, name=name, birth_date=birth, occurred_at=_at(2)),
        )
        assert await conn.fetchval("SELECT birth_date FROM actors WHERE id = $1", b) == birth
        await _apply(
            conn,
            ActorProfileRevised(
                stream_id=a, stream_version=2, name="改名", birth_date=birth, occurred_at=_at(1)
            ),
        )
        row = await conn.fetchrow("SELECT name, birth_date FROM actors WHERE id = $1", a)
        assert (row["name"], row["birth_date"]) == ("改名", birth)


async def test_stale_holder_of_a_name_and_birth_date_waits_for_its_own_revision(live: System) -> None:
    # B registered (name, 1990-01-01) at minute 0 and renamed at minute 1; A took the key at
    # minute 2 and is applied first. B's stale registration must not take A's key.
    name, a, b = f"同名{uuid4().hex[:8]}", uuid4(), uuid4()
    birth = date(1990, 1, 1)
    async with _rolled_back(live) as conn:
        await _apply(
            conn,
            ActorRegistered(stream_id=a, stream_version=1, name=name, birth_date=birth, occurred_at=_at(2)),
            ActorRegistered(stream_id=b, stream_version=1, name=name, birth_date=birth, occurred_at=_at(0)),
        )
        assert await conn.fetchval("SELECT birth_date FROM actors WHERE id = $1", a) == birth
        assert await conn.fetchval("SELECT birth_date FROM actors WHERE id = $1", b) is None
        await _apply(
            conn,
            ActorProfileRevised(
                stream_id=b, stream_version=2, name="改名", birth_date=birth, occurred_at=_at(1)
            ),
        )
        assert await conn.fetchval("SELECT birth_date FROM actors WHERE id = $1", b) == birth


async def test_newer_relationship_of_a_pair_wins_over_a_withdrawn_mirror(live: System) -> None:
    # A related to B at minute 1 and withdrew it at minute 2; B related to A at minute 3 and
    # is applied before A's withdrawal: B's row stays, A's withdrawal then removes nothing.
    a, b = uuid4(), uuid4()
    async with _rolled_back(live) as conn:
        await _apply(
            conn,
            ActorRegistered(stream_id=a, stream_version=1, name="A", occurred_at=_at(0)),
            ActorRegistered(stream_id=b, stream_version=1, name="B", occurred_at=_at(0)),
            ActorsRelated(
                stream_id=a, stream_version=2, related_actor_id=b, relation_type="spouse", occurred_at=_at(1)
            ),
            ActorsRelated(
                stream_id=b, stream_version=2, related_actor_id=a, relation_type="spouse", occurred_at=_at(3)
            ),
            ActorsUnrelated(
                stream_id=a, stream_version=3, related_actor_id=b, relation_type="spouse", occurred_at=_at(2)
            ),
        )
        rows = await conn.fetch(
            "SELECT actor_id FROM actor_relationships WHERE actor_id = ANY($1::uuid[])", [a, b]
        )
        assert [r["actor_id"] for r in rows] == [b]


async def test_relationship_applied_after_the_other_actors_removal_is_dropped(live: System) -> None:
    a, b = uuid4(), uuid4()
    async with _rolled_back(live) as conn:
        await _apply(
            conn,
            ActorRegistered(stream_id=a, stream_version=1, name="A", occurred_at=_at(0)),
            ActorRegistered(stream_id=b, stream_version=1, name="B", occurred_at=_at(0)),
            ActorRemoved(stream_id=b, stream_version=2, occurred_at=_at(2)),
            ActorsRelated(
                stream_id=a, stream_version=2, related_actor_id=b, relation_type="rival", occurred_at=_at(1)
            ),
        )
        count = await conn.fetchval("SELECT count(*) FROM actor_relationships WHERE actor_id = $1", a)
        assert count == 0
