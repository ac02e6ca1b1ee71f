"""Movie commands → saga_events → Kafka → movie_service read model, with scene and review statistics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest

from commands.movie import (
    GENRES,
    AssignMovieGenres,
    RecordProductionInfo,
    RegisterMovie,
    RemoveMovie,
    ReviseMovieDetails,
)
from commands.scene import CreateScene, DeleteScene
from events.base import DomainEvent, EventMetadata
from events.review import ReviewDeleted, ReviewPosted, ReviewRevised
from events.scene import SceneCreated
from infra.api import create_app
from infra.auth import bearer_headers
from infra.bootstrap import System
from read_models.movies import MovieDetailView, MovieQueries
from tests.acting import AS_SYSTEM
from tests.conftest import eventually

pytestmark = pytest.mark.integration

DRAMA = GENRES["Drama"].id
ROMANCE = GENRES["Romance"].id


@pytest.fixture(name="api")
async def fx_api(live: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(live.bus, live.engines, live.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def _queries(live: System) -> MovieQueries:
    return MovieQueries(live.engines["movie"])


async def _movie(live: System, movie_id: UUID, version: int = 1) -> MovieDetailView | None:
    movie = await _queries(live).get(movie_id)
    return movie if movie and movie.version >= version else None


async def _registered(live: System, **fields: object) -> RegisterMovie:
    cmd = RegisterMovie.model_validate({"title": f"映画 {uuid4().hex[:8]}", **fields})
    await live.bus.dispatch(cmd, AS_SYSTEM)
    await eventually(lambda: _movie(live, cmd.movie_id))
    return cmd


async def _append(live: System, event: DomainEvent) -> None:
    await live.event_store.append(
        [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
    )


def _posted(
    review_id: UUID, movie_id: UUID | None, rating: int, scene_id: UUID | None = None
) -> ReviewPosted:
    return ReviewPosted(
        stream_id=review_id,
        stream_version=1,
        user_id=uuid4(),
        movie_id=movie_id,
        scene_id=scene_id,
        content="良かった",
        rating=rating,
    )


async def _figures(live: System, movie_id: UUID) -> tuple[int, float | None, int] | None:
    movie = await _queries(live).get(movie_id)
    return (movie.total_scenes_count, movie.avg_rating, movie.ratings_count) if movie else None


async def _figures_become(live: System, movie_id: UUID, expected: tuple[int, float | None, int]) -> None:
    async def check() -> bool:
        return await _figures(live, movie_id) == expected

    await eventually(check)


async def _dead_letters(live: System, *stream_ids: UUID) -> int:
    count = await live.pools["movie"].fetchval(
        "SELECT count(*) FROM projection_dead_letters WHERE projection = 'movies' "
        "AND stream_id = ANY($1::uuid[])",
        list(stream_ids),
    )
    return int(count)


# --- commands → read model ----------------------------------------------------------------


async def test_http_registered_movie_is_visible(live: System, api: httpx.AsyncClient) -> None:
    body = {"title": "東京物語", "director": "小津安二郎", "release_date": "1953-11-03", "country": "日本"}
    response = await api.post("/movies", json=body)
    assert response.status_code == 202
    movie_id = response.json()["stream_id"]
    await eventually(lambda: _movie(live, UUID(movie_id)))
    got = (await api.get(f"/movies/{movie_id}")).json()
    assert (got["title"], got["director"], got["release_year"], got["release_date"]) == (
        "東京物語",
        "小津安二郎",
        1953,
        "1953-11-03",
    )
    assert (got["is_public"], got["language"], got["total_scenes_count"], got["ratings_count"]) == (
        True,
        "ja",
        0,
        0,
    )
    assert (got["avg_rating"], got["genres"], got["production"]) == (None, [], None)


async def test_revision_changes_given_fields_and_keeps_the_rest(live: System) -> None:
    cmd = await _registered(live, director="小津安二郎", country="日本", duration_minutes=136)
    await live.bus.dispatch(
        ReviseMovieDetails(movie_id=cmd.movie_id, duration_minutes=135, country=None), AS_SYSTEM
    )
    movie = await eventually(lambda: _movie(live, cmd.movie_id, version=2))
    assert (movie.duration_minutes, movie.country, movie.director, movie.title) == (
        135,
        None,
        "小津安二郎",
        cmd.title,
    )


async def test_http_patch_tells_a_left_out_field_from_a_null_one(
    live: System, api: httpx.AsyncClient
) -> None:
    cmd = await _registered(live, director="小津安二郎", country="日本")
    response = await api.patch(f"/movies/{cmd.movie_id}", json={"country": None})
    assert response.status_code == 202
    movie = await eventually(lambda: _movie(live, cmd.movie_id, version=2))
    assert (movie.country, movie.director) == (None, "小津安二郎")


async def test_genres_are_listed_primary_first(live: System, api: httpx.AsyncClient) -> None:
    cmd = await _registered(live)
    body = {"genre_ids": [str(DRAMA), str(ROMANCE)], "primary_genre_id": str(ROMANCE)}
    assert (await api.put(f"/movies/{cmd.movie_id}/genres", json=body)).status_code == 202
    movie = await eventually(lambda: _movie(live, cmd.movie_id, version=2))
    assert [(g.name_en, g.is_primary) for g in movie.genres] == [("Romance", True), ("Drama", False)]
    assert movie.genres[0].color_code == "#f97316"


async def test_reassigned_genres_replace_the_old_ones(live: System) -> None:
    cmd = await _registered(live)
    await live.bus.dispatch(
        AssignMovieGenres(movie_id=cmd.movie_id, genre_ids=(DRAMA,), primary_genre_id=DRAMA), AS_SYSTEM
    )
    await live.bus.dispatch(
        AssignMovieGenres(movie_id=cmd.movie_id, genre_ids=(ROMANCE,), primary_genre_id=ROMANCE), AS_SYSTEM
    )
    movie = await eventually(lambda: _movie(live, cmd.movie_id, version=3))
    assert [(g.name_en, g.is_primary) for g in movie.genres] == [("Romance", True)]


async def test_http_unknown_genre_is_422_naming_the_field(live: System, api: httpx.AsyncClient) -> None:
    cmd = await _registered(live)
    body = {"genre_ids": [str(uuid4())], "primary_genre_id": None}
    response = await api.put(f"/movies/{cmd.movie_id}/genres", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "genre_ids"]


async def test_production_info_is_shown_with_the_movie(live: System, api: httpx.AsyncClient) -> None:
    cmd = await _registered(live)
    body = {
        "production_companies": ["松竹"],
        "filming_locations": ["尾道", "東京"],
        "filming_start_date": "1953-07-01",
        "filming_end_date": "1953-10-01",
        "aspect_ratio": "1.37:1",
    }
    assert (await api.put(f"/movies/{cmd.movie_id}/production", json=body)).status_code == 202
    await eventually(lambda: _movie(live, cmd.movie_id, version=2))
    production = (await api.get(f"/movies/{cmd.movie_id}")).json()["production"]
    assert production["production_companies"] == ["松竹"]
    assert production["filming_locations"] == ["尾道", "東京"]
    assert (production["filming_end_date"], production["aspect_ratio"]) == ("1953-10-01", "1.37:1")


async def test_removed_movie_is_gone_with_its_genres_and_production(
    live: System, api: httpx.AsyncClient
) -> None:
    cmd = await _registered(live)
    await live.bus.dispatch(
        AssignMovieGenres(movie_id=cmd.movie_id, genre_ids=(DRAMA,), primary_genre_id=DRAMA), AS_SYSTEM
    )
    await live.bus.dispatch(RecordProductionInfo(movie_id=cmd.movie_id, studio="大船"), AS_SYSTEM)
    # Removal runs the movie-removal saga, which only an admin may start.
    admin = bearer_headers(uuid4(), "admin")
    assert (await api.delete(f"/movies/{cmd.movie_id}", headers=admin)).status_code == 202

    async def gone() -> bool:
        return await _queries(live).get(cmd.movie_id) is None

    await eventually(gone)
    pool = live.pools["movie"]
    assert await pool.fetchval("SELECT count(*) FROM movie_genres WHERE movie_id = $1", cmd.movie_id) == 0
    assert await pool.fetchval("SELECT count(*) FROM production_info WHERE movie_id = $1", cmd.movie_id) == 0
    assert (await api.get(f"/movies/{cmd.movie_id}")).status_code == 404


async def test_http_command_on_removed_movie_is_404(live: System, api: httpx.AsyncClient) -> None:
    cmd = await _registered(live)
    await live.bus.dispatch(RemoveMovie(movie_id=cmd.movie_id), AS_SYSTEM)
    response = await api.patch(f"/movies/{cmd.movie_id}", json={"title": "x"})
    assert response.status_code == 404
    assert response.json()["detail"][0]["loc"] == ["body", "movie_id"]


async def test_search_by_title_year_and_director(live: System, api: httpx.AsyncClient) -> None:
    marker = uuid4().hex[:10]
    hit = await _registered(live, title=f"晩春 {marker}", release_year=1949, director=f"小津 {marker}")
    await _registered(live, title=f"麦秋 {marker}", release_year=1951, director=f"小津 {marker}")
    await _registered(live, title=f"晩春 {marker}", release_year=1949, director="someone else")
    response = await api.get("/movies", params={"title": f"晩春 {marker}", "year": 1949, "director": marker})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()] == [str(hit.movie_id)]


async def test_search_takes_like_wildcards_literally(live: System) -> None:
    marker = uuid4().hex[:10]
    await _registered(live, title=f"100% {marker}")
    await _registered(live, title=f"100x {marker}")
    found = await _queries(live).search(title=f"100% {marker}")
    assert [m.title for m in found] == [f"100% {marker}"]


async def test_genres_route_lists_the_designs_genres(api: httpx.AsyncClient) -> None:
    genres = (await api.get("/genres")).json()
    assert {(g["name"], g["name_en"], g["color_code"]) for g in genres} == {
        (g.name, g.name_en, g.color_code) for g in GENRES.values()
    }
    assert {UUID(g["id"]) for g in genres} == {g.id for g in GENRES.values()}


# --- statistics from other services' events -------------------------------------------------


async def test_total_scenes_count_follows_scene_creation_and_deletion(live: System) -> None:
    cmd = await _registered(live)
    first = CreateScene(movie_id=cmd.movie_id, start="1:00", end="1:30", classification="L2")
    second = CreateScene(movie_id=cmd.movie_id, start="2:00", end="2:30", classification="A1")
    await live.bus.dispatch(first, AS_SYSTEM)
    await live.bus.dispatch(second, AS_SYSTEM)
    await _figures_become(live, cmd.movie_id, (2, None, 0))
    await live.bus.dispatch(DeleteScene(scene_id=first.scene_id), AS_SYSTEM)
    await _figures_become(live, cmd.movie_id, (1, None, 0))


async def test_scenes_projected_before_their_movie_are_counted(live: System) -> None:
    movie_id, scene_id = uuid4(), uuid4()
    await _append(
        live,
        SceneCreated(
            stream_id=scene_id,
            stream_version=1,
            movie_id=movie_id,
            start_time_seconds=10,
            end_time_seconds=20,
            level1_classification="L",
            level2_classification="L2",
        ),
    )

    async def indexed() -> bool:
        row = await live.pools["movie"].fetchval(
            "SELECT movie_id FROM movie_scene_index WHERE scene_id = $1", scene_id
        )
        return bool(row == movie_id)

    await eventually(indexed)
    await live.bus.dispatch(RegisterMovie(movie_id=movie_id, title="後から来た映画"), AS_SYSTEM)
    await _figures_become(live, movie_id, (1, None, 0))


async def test_ratings_follow_review_posts_revisions_and_deletions(live: System) -> None:
    cmd = await _registered(live)
    good, bad = uuid4(), uuid4()
    await _append(live, _posted(good, cmd.movie_id, 5))
    await _append(live, _posted(bad, cmd.movie_id, 2))
    await _figures_become(live, cmd.movie_id, (0, 3.5, 2))
    await _append(
        live,
        ReviewRevised(
            stream_id=bad,
            stream_version=2,
            user_id=uuid4(),
            movie_id=cmd.movie_id,
            content="見直した",
            rating=4,
        ),
    )
    await _figures_become(live, cmd.movie_id, (0, 4.5, 2))
    await _append(
        live, ReviewDeleted(stream_id=good, stream_version=2, user_id=uuid4(), movie_id=cmd.movie_id)
    )
    await _figures_become(live, cmd.movie_id, (0, 4.0, 1))


async def test_average_rating_is_rounded_to_two_places(live: System) -> None:
    cmd = await _registered(live)
    for rating in (5, 4, 4):
        await _append(live, _posted(uuid4(), cmd.movie_id, rating))
    await _figures_become(live, cmd.movie_id, (0, 4.33, 3))


async def test_reviews_of_a_scene_do_not_rate_the_movie(live: System) -> None:
    cmd = await _registered(live)
    await _append(live, _posted(uuid4(), cmd.movie_id, 1, scene_id=uuid4()))
    await _append(live, _posted(uuid4(), cmd.movie_id, 5))
    await _figures_become(live, cmd.movie_id, (0, 5.0, 1))


async def test_reviews_projected_before_their_movie_are_counted(live: System) -> None:
    movie_id, review_id = uuid4(), uuid4()
    await _append(live, _posted(review_id, movie_id, 3))

    async def indexed() -> bool:
        rating = await live.pools["movie"].fetchval(
            "SELECT rating FROM movie_review_ratings WHERE review_id = $1", review_id
        )
        return bool(rating == 3)

    await eventually(indexed)
    await live.bus.dispatch(RegisterMovie(movie_id=movie_id, title="後から来た映画"), AS_SYSTEM)
    await _figures_become(live, movie_id, (0, 3.0, 1))


async def test_a_scene_deleted_after_its_movie_is_removed_leaves_no_index_row(live: System) -> None:
    cmd = await _registered(live)
    scene = CreateScene(movie_id=cmd.movie_id, start="1", end="2", classification="O1")
    await live.bus.dispatch(scene, AS_SYSTEM)
    await _figures_become(live, cmd.movie_id, (1, None, 0))
    await live.bus.dispatch(RemoveMovie(movie_id=cmd.movie_id), AS_SYSTEM)
    await live.bus.dispatch(DeleteScene(scene_id=scene.scene_id), AS_SYSTEM)

    async def unindexed() -> bool:
        count = await live.pools["movie"].fetchval(
            "SELECT count(*) FROM movie_scene_index WHERE scene_id = $1", scene.scene_id
        )
        return bool(count == 0)

    await eventually(unindexed)
    assert await _queries(live).get(cmd.movie_id) is None
    assert await _dead_letters(live, cmd.movie_id, scene.scene_id) == 0


# --- the schema enforces the rules too --------------------------------------------------------


async def test_schema_rejects_a_release_date_outside_the_release_year(live: System) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["movie"].execute(
            "INSERT INTO movies (title, release_year, release_date) VALUES ('x', 1950, '1953-11-03')"
        )


async def test_schema_rejects_genres_without_a_primary(live: System) -> None:
    movie_id = uuid4()
    pool = live.pools["movie"]
    await pool.execute("INSERT INTO movies (id, title) VALUES ($1, 'x')", movie_id)
    with pytest.raises(asyncpg.CheckViolationError, match="no primary genre"):
        await pool.execute(
            "INSERT INTO movie_genres (movie_id, genre_id, is_primary) VALUES ($1, $2, false)",
            movie_id,
            DRAMA,
        )


async def test_schema_rejects_two_primary_genres(live: System) -> None:
    movie_id = uuid4()
    pool = live.pools["movie"]
    await pool.execute("INSERT INTO movies (id, title) VALUES ($1, 'x')", movie_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await pool.execute(
            "INSERT INTO movie_genres (movie_id, genre_id, is_primary) "
            "SELECT $1, g, true FROM unnest($2::uuid[]) AS g",
            movie_id,
            [DRAMA, ROMANCE],
        )


async def test_schema_rejects_filming_that_ends_before_it_starts(live: System) -> None:
    movie_id = uuid4()
    pool = live.pools["movie"]
    await pool.execute("INSERT INTO movies (id, title) VALUES ($1, 'x')", movie_id)
    with pytest.raises(asyncpg.CheckViolationError):
        await pool.execute(
            "INSERT INTO production_info (movie_id, filming_start_date, filming_end_date) "
            "VALUES ($1, '1953-07-01', '1953-06-30')",
            movie_id,
        )
