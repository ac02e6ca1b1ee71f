"""Access control on the real stack: log-in, bearer tokens, role checks on writes, and row-level security."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import SecretStr

from commands.errors import PermissionDeniedError
from commands.review import PostReview
from commands.scene import CreateScene
from commands.user import AddMovieToWatchList, DeactivateUser, RegisterUser
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.scene import SceneCreated
from events.user import UserRole
from infra.api import create_app
from infra.auth import Identity, TokenAuthority, bearer_headers, default_authority
from infra.bootstrap import System
from read_models.reviews import ReviewQueries
from read_models.scenes import SceneQueries
from read_models.users import UserQueries
from tests.conftest import eventually

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential
SECRET = "integration-test token secret, 32+ bytes"  # noqa: S105  test input, not a credential


@pytest.fixture(autouse=True)
def _auth_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The API's token secret, known to the tests: the process's authority is rebuilt around it."""
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


@pytest.fixture(name="client")
async def fx_client(live: System) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process; each request says who acts through its own token (or none)."""
    app = create_app(live.bus, live.engines, live.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def _as(user_id: UUID, role: UserRole = "viewer") -> dict[str, str]:
    return bearer_headers(user_id, role)


async def _append(live: System, event: DomainEvent) -> None:
    await live.event_store.append(
        [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
    )


async def _movie(live: System, *, public: bool = True) -> UUID:
    """A movie, once the Scene service's cache knows whether it is public."""
    movie = uuid4()
    await _append(live, MovieRegistered(stream_id=movie, stream_version=1, title="羅生門", is_public=public))

    async def cached() -> bool:
        found = await live.pools["scene"].fetchval(
            "SELECT is_public FROM external_movies_cache WHERE id = $1", movie
        )
        return found is not None

    await eventually(cached)
    return movie


async def _scene(live: System, movie: UUID, creator: UUID, role: UserRole = "professional") -> UUID:
    """A scene created by ``creator``, once it is in the read model."""
    cmd = CreateScene(movie_id=movie, start="10", end="20", classification="D1")
    await live.bus.dispatch(cmd, EventMetadata(user_id=creator, user_role=role))
    await eventually(lambda: live.scenes.get(cmd.scene_id))
    return cmd.scene_id


async def _user(live: System, *, email: str | None = None) -> UUID:
    """A registered user (a viewer) with ``PASSWORD``, once in the read model."""
    cmd = RegisterUser(email=email or f"{uuid4().hex}@example.jp", password=SecretStr(PASSWORD))
    await live.bus.dispatch(cmd)
    await eventually(lambda: UserQueries(live.engines["user"]).get(cmd.user_id))
    return cmd.user_id


async def _movie_scene_ids(client: httpx.AsyncClient, movie: UUID, headers: dict[str, str]) -> set[str]:
    response = await client.get(f"/movies/{movie}/scenes", headers=headers)
    assert response.status_code == 200, response.text
    return {s["id"] for s in response.json()}


# --- log-in -------------------------------------------------------------------------------------


async def test_login_gives_a_token_for_the_user_and_role(live: System, client: httpx.AsyncClient) -> None:
    email = f"{uuid4().hex}@example.jp"
    user = await _user(live, email=email)
    response = await client.post("/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["token_type"], body["expires_in"]) == ("bearer", 900)
    assert default_authority().verify(body["access_token"]) == Identity(user_id=user, role="viewer")


async def test_login_is_recorded_on_the_user(live: System, client: httpx.AsyncClient) -> None:
    email = f"{uuid4().hex}@example.jp"
    user = await _user(live, email=email)
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200

    async def logged_in() -> bool:
        view = await UserQueries(live.engines["user"]).get(user)
        return view is not None and view.last_login_at is not None

    assert await eventually(logged_in)


async def test_login_refuses_a_wrong_password_and_an_unknown_address_alike(
    live: System, client: httpx.AsyncClient
) -> None:
    email = f"{uuid4().hex}@example.jp"
    await _user(live, email=email)
    wrong = await client.post("/auth/login", json={"email": email, "password": "not the password"})
    unknown = await client.post("/auth/login", json={"email": f"x{email}", "password": PASSWORD})
    assert (wrong.status_code, unknown.status_code) == (401, 401)
    assert wrong.json() == unknown.json()
    assert "access_token" not in wrong.text


async def test_an_inactive_user_cannot_log_in(live: System, client: httpx.AsyncClient) -> None:
    email = f"{uuid4().hex}@example.jp"
    user = await _user(live, email=email)
    await live.bus.dispatch(DeactivateUser(user_id=user))

    async def inactive() -> bool:
        view = await UserQueries(live.engines["user"]).get(user)
        return view is not None and not view.is_active

    await eventually(inactive)
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 401


async def test_an_expired_token_does_not_sign_in(live: System, client: httpx.AsyncClient) -> None:
    user, movie = await _user(live), await _movie(live)
    # Signed with the API's secret but issued 16 minutes ago.
    expired = TokenAuthority(SECRET, clock=lambda: datetime.now(UTC) - timedelta(minutes=16))
    body = {"user_id": str(user), "movie_id": str(movie), "content": "x", "rating": 3}
    response = await client.post("/reviews", json=body, headers=bearer_headers(user, "viewer", expired))
    assert response.status_code == 401


# --- scenes: role checks on writes ---------------------------------------------------------------


async def test_a_viewer_cannot_create_a_scene(live: System, client: httpx.AsyncClient) -> None:
    movie = await _movie(live)
    body = {"movie_id": str(movie), "start": "10", "end": "20", "classification": "L2"}
    response = await client.post("/scenes", json=body, headers=_as(uuid4(), "viewer"))
    assert response.status_code == 403
    assert response.json()["detail"][0]["loc"] == ["body", "role"]


async def test_an_anonymous_caller_cannot_create_a_scene(live: System, client: httpx.AsyncClient) -> None:
    movie = await _movie(live)
    body = {"movie_id": str(movie), "start": "10", "end": "20", "classification": "L2"}
    response = await client.post("/scenes", json=body)
    assert response.status_code == 401


async def test_a_contributor_creates_a_scene_in_their_own_name(
    live: System, client: httpx.AsyncClient
) -> None:
    movie, me = await _movie(live), uuid4()
    body = {"movie_id": str(movie), "start": "10", "end": "20", "classification": "L2"}
    response = await client.post("/scenes", json=body, headers=_as(me, "contributor"))
    assert response.status_code == 202, response.text
    scene = await eventually(lambda: live.scenes.get(UUID(response.json()["stream_id"])))
    assert scene.created_by == me


async def test_a_professional_cannot_retime_someone_elses_scene(
    live: System, client: httpx.AsyncClient
) -> None:
    movie = await _movie(live)
    scene = await _scene(live, movie, creator=uuid4())
    body = {"start": "11", "end": "21"}
    refused = await client.put(f"/scenes/{scene}/time", json=body, headers=_as(uuid4(), "professional"))
    assert refused.status_code == 403
    assert refused.json()["detail"][0]["loc"] == ["body", "scene_id"]


async def test_the_creator_and_an_admin_may_change_a_scene(live: System, client: httpx.AsyncClient) -> None:
    movie, me = await _movie(live), uuid4()
    scene = await _scene(live, movie, creator=me)
    own = await client.patch(f"/scenes/{scene}", json={"description": "雨"}, headers=_as(me, "professional"))
    admin = await client.patch(f"/scenes/{scene}", json={"description": "雪"}, headers=_as(uuid4(), "admin"))
    assert (own.status_code, admin.status_code) == (202, 202)


async def test_ownership_is_checked_on_the_stream_before_the_read_model_has_the_scene(
    live: System, client: httpx.AsyncClient
) -> None:
    # The check used to read the read model and let a scene it did not have yet through.
    movie = await _movie(live)
    cmd = CreateScene(movie_id=movie, start="10", end="20", classification="D1")
    await live.bus.dispatch(cmd, EventMetadata(user_id=uuid4(), user_role="professional"))
    body = {"start": "11", "end": "21"}
    refused = await client.put(
        f"/scenes/{cmd.scene_id}/time", json=body, headers=_as(uuid4(), "professional")
    )
    assert refused.status_code == 403


async def test_a_command_without_a_role_cannot_create_a_scene_whatever_its_entry_point(live: System) -> None:
    movie = await _movie(live)
    cmd = CreateScene(movie_id=movie, start="10", end="20", classification="D1")
    with pytest.raises(PermissionDeniedError):
        await live.bus.dispatch(cmd)
    assert await live.event_store.read_stream(cmd.scene_id) == []


# --- scenes: row-level security ------------------------------------------------------------------


async def test_the_same_scene_query_shows_each_role_what_it_may_see(
    live: System, client: httpx.AsyncClient
) -> None:
    hidden = await _movie(live, public=False)
    pro = uuid4()
    own = await _scene(live, hidden, creator=pro)
    others = await _scene(live, hidden, creator=uuid4())
    callers: tuple[tuple[UserRole, UUID], ...] = (
        ("viewer", uuid4()),
        ("contributor", uuid4()),
        ("professional", pro),
        ("admin", uuid4()),
    )
    seen = {role: await _movie_scene_ids(client, hidden, _as(user, role)) for role, user in callers}
    assert seen == {
        "viewer": set(),
        "contributor": set(),
        "professional": {str(own)},
        "admin": {str(own), str(others)},
    }


async def test_scenes_of_a_public_movie_are_visible_to_anyone(
    live: System, client: httpx.AsyncClient
) -> None:
    movie = await _movie(live)
    scene = await _scene(live, movie, creator=uuid4())
    assert await _movie_scene_ids(client, movie, {}) == {str(scene)}
    assert (await client.get(f"/scenes/{scene}")).status_code == 200


async def test_a_hidden_scene_and_its_lines_are_404_for_a_viewer(
    live: System, client: httpx.AsyncClient
) -> None:
    movie = await _movie(live, public=False)
    scene = await _scene(live, movie, creator=uuid4())
    viewer, admin = _as(uuid4(), "viewer"), _as(uuid4(), "admin")
    assert (await client.get(f"/scenes/{scene}", headers=viewer)).status_code == 404
    assert (await client.get(f"/scenes/{scene}/dialogues", headers=viewer)).status_code == 404
    assert (await client.get(f"/scenes/{scene}", headers=admin)).status_code == 200


async def test_a_scene_of_a_movie_not_yet_cached_is_hidden_from_viewers(live: System) -> None:
    movie, scene = uuid4(), uuid4()  # no MovieRegistered: the cache never hears of this movie
    await _append(
        live,
        SceneCreated(
            stream_id=scene,
            stream_version=1,
            movie_id=movie,
            start_time_seconds=10,
            end_time_seconds=20,
            level1_classification="D",
            level2_classification="D1",
        ),
    )
    await eventually(lambda: live.scenes.get(scene))
    queries = SceneQueries(live.engines["scene"])
    assert await queries.get(scene, identity=Identity(uuid4(), "viewer")) is None
    assert await queries.get(scene, identity=Identity(uuid4(), "admin")) is not None


# --- reviews --------------------------------------------------------------------------------------


async def _private_review(live: System) -> PostReview:
    author, movie = await _user(live), await _movie(live)
    cmd = PostReview(user_id=author, movie_id=movie, content="秘密", rating=2, is_public=False)
    await live.bus.dispatch(cmd, EventMetadata(user_id=author, user_role="viewer"))
    await eventually(lambda: ReviewQueries(live.engines["review"]).get(cmd.review_id, viewer=author))
    return cmd


async def test_a_private_review_is_visible_to_its_author_only(
    live: System, client: httpx.AsyncClient
) -> None:
    cmd = await _private_review(live)
    path = f"/reviews/{cmd.review_id}"
    statuses = [
        (await client.get(path, headers=headers)).status_code
        for headers in (_as(cmd.user_id), _as(uuid4()), _as(uuid4(), "admin"), {})
    ]
    assert statuses == [200, 404, 404, 404]


async def test_a_movies_reviews_include_the_callers_private_one_only(
    live: System, client: httpx.AsyncClient
) -> None:
    cmd = await _private_review(live)
    path = f"/movies/{cmd.movie_id}/reviews"
    own = (await client.get(path, headers=_as(cmd.user_id))).json()
    other = (await client.get(path, headers=_as(uuid4()))).json()
    assert ([r["id"] for r in own], other) == ([str(cmd.review_id)], [])


async def test_a_direct_sql_session_as_a_viewer_cannot_read_a_private_review(live: System) -> None:
    cmd = await _private_review(live)
    query = "SELECT count(*) FROM reviews WHERE id = $1"
    async with live.pools["review"].acquire() as conn, conn.transaction():
        assert await conn.fetchval(query, cmd.review_id) == 1  # the owner of the table sees it
        await conn.execute("SET LOCAL ROLE sceneledger_viewer")
        assert await conn.fetchval(query, cmd.review_id) == 0  # no user set: nobody's own
        await conn.execute("SELECT set_config('app.current_user_id', $1, true)", str(uuid4()))
        assert await conn.fetchval(query, cmd.review_id) == 0
        await conn.execute("SELECT set_config('app.current_user_id', $1, true)", str(cmd.user_id))
        assert await conn.fetchval(query, cmd.review_id) == 1


async def test_a_review_cannot_be_posted_in_someone_elses_name(
    live: System, client: httpx.AsyncClient
) -> None:
    author, movie = await _user(live), await _movie(live)
    body = {"user_id": str(author), "movie_id": str(movie), "content": "偽", "rating": 1}
    response = await client.post("/reviews", json=body, headers=_as(uuid4()))
    assert response.status_code == 403


# --- watch lists and accounts ------------------------------------------------------------------------


async def test_a_watch_list_is_visible_to_its_owner_and_admins(
    live: System, client: httpx.AsyncClient
) -> None:
    owner, movie = await _user(live), await _movie(live)
    await live.bus.dispatch(AddMovieToWatchList(user_id=owner, movie_id=movie))
    await eventually(lambda: UserQueries(live.engines["user"]).watch_list_entry(owner, movie))
    path = f"/users/{owner}/watch-list"
    counts = [
        len((await client.get(path, headers=headers)).json())
        for headers in (_as(owner), _as(uuid4()), {}, _as(uuid4(), "admin"))
    ]
    assert counts == [1, 0, 0, 1]
    assert (await client.get(f"{path}/{movie}", headers=_as(uuid4()))).status_code == 404


async def test_a_watch_list_is_written_in_ones_own_name_only(live: System, client: httpx.AsyncClient) -> None:
    owner, movie = await _user(live), await _movie(live)
    path, body = f"/users/{owner}/watch-list", {"movie_id": str(movie)}
    other = await client.post(path, json=body, headers=_as(uuid4(), "admin"))
    anonymous = await client.post(path, json=body)
    own = await client.post(path, json=body, headers=_as(owner))
    assert (other.status_code, anonymous.status_code, own.status_code) == (403, 401, 202)


async def test_a_user_cannot_make_themselves_an_admin(live: System, client: httpx.AsyncClient) -> None:
    user = await _user(live)
    path, body = f"/users/{user}/role", {"role": "admin"}
    assert (await client.put(path, json=body, headers=_as(user))).status_code == 403
    assert (await client.put(path, json=body, headers=_as(uuid4(), "admin"))).status_code == 202
