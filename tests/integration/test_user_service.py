"""The User service on the real stack: commands and HTTP → event log → Kafka → user_service tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from commands.passwords import verify_password
from commands.user import (
    AddMovieToWatchList,
    ChangePassword,
    ChangeUserRole,
    DeactivateUser,
    RecordLogin,
    RegisterUser,
    VerifyUser,
)
from events.base import EventMetadata
from events.movie import MovieRegistered
from events.scene import SceneCreated, SceneDeleted
from events.user import UserRegistered
from infra.api import create_app
from infra.auth import bearer_headers
from infra.bootstrap import System
from read_models.users import UserQueries, UserView, WatchListEntryView
from tests.conftest import eventually

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential


@pytest.fixture(name="client")
async def fx_client(live: System) -> AsyncIterator[httpx.AsyncClient]:
    """The API in-process, called as an admin unless a request sends the acting user's own token."""
    app = create_app(live.bus, live.engines, live.services)
    transport = httpx.ASGITransport(app=app)
    admin = bearer_headers(uuid4(), "admin")
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=admin) as client:
        yield client


def _as(user_id: UUID) -> dict[str, str]:
    """The user's own token: watch lists and interactions are written in one's own name only."""
    return bearer_headers(user_id, "viewer")


def _queries(live: System) -> UserQueries:
    return UserQueries(live.engines["user"])


def _email() -> str:
    return f"{uuid4().hex}@example.jp"


async def _user_at(live: System, user_id: UUID, version: int = 1) -> UserView | None:
    user = await _queries(live).get(user_id)
    return user if user and user.version >= version else None


async def _register(live: System, email: str | None = None) -> UUID:
    cmd = RegisterUser(email=email or _email(), password=SecretStr(PASSWORD))
    await live.bus.dispatch(cmd)
    await eventually(lambda: _user_at(live, cmd.user_id))
    return cmd.user_id


async def _sign_up(client: httpx.AsyncClient, live: System) -> UUID:
    response = await client.post("/users", json={"email": _email(), "password": PASSWORD})
    assert response.status_code == 202, response.text
    user_id = UUID(response.json()["stream_id"])
    await eventually(lambda: _user_at(live, user_id))
    return user_id


async def _movie(live: System) -> UUID:
    movie_id = uuid4()
    await live.event_store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="x")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return movie_id


async def _scene(live: System, movie_id: UUID) -> UUID:
    scene_id = uuid4()
    created = SceneCreated(
        stream_id=scene_id,
        stream_version=1,
        movie_id=movie_id,
        start_time_seconds=0,
        end_time_seconds=60,
        level1_classification="L",
        level2_classification="L2",
    )
    await live.event_store.append([created], expected_version=0, metadata=EventMetadata())
    return scene_id


async def _delete_scene(live: System, scene_id: UUID, movie_id: UUID) -> None:
    await live.event_store.append(
        [SceneDeleted(stream_id=scene_id, stream_version=2, movie_id=movie_id)],
        expected_version=1,
        metadata=EventMetadata(),
    )


async def _entry(live: System, user_id: UUID, movie_id: UUID) -> WatchListEntryView | None:
    return await _queries(live).watch_list_entry(user_id, movie_id)


async def _total(live: System, user_id: UUID, movie_id: UUID, expected: int) -> bool:
    entry = await _entry(live, user_id, movie_id)
    return entry is not None and entry.total_scenes_count == expected


async def _row(live: System, sql: str, *args: Any) -> asyncpg.Record | None:
    return await live.pools["user"].fetchrow(sql, *args)


# --- users ------------------------------------------------------------------------------------


async def test_registered_user_appears_with_the_designs_defaults(live: System) -> None:
    user_id = await _register(live, email="  Ann.Lee@Example.JP ")
    user = await _queries(live).get(user_id)
    assert user is not None
    assert user.email == "ann.lee@example.jp"
    assert (user.role, user.is_verified, user.is_active) == ("viewer", False, True)
    assert (user.language, user.timezone, user.last_login_at) == ("ja", "Asia/Tokyo", None)


async def test_registration_creates_the_profile_and_preferences_rows(live: System) -> None:
    user_id = await _register(live)
    user = await _queries(live).get(user_id)
    assert user is not None
    assert user.profile.favourite_genre_ids == []
    assert (user.preferences.show_spoilers, user.preferences.email_notifications) == (False, True)


async def test_read_model_keeps_only_a_scrypt_hash_of_the_password(live: System) -> None:
    user_id = await _register(live)
    row = await _row(live, "SELECT password_hash FROM users WHERE id = $1", user_id)
    assert row is not None
    assert row["password_hash"].startswith("scrypt$")
    assert verify_password(PASSWORD, row["password_hash"])


async def test_clear_password_never_reaches_the_event_log(live: System) -> None:
    user_id = await _register(live)
    data = await live.event_pool.fetchval(
        "SELECT event_data::text FROM saga_events WHERE stream_id = $1", user_id
    )
    assert PASSWORD not in data
    # The hash itself is personal data: sealed in the log, read back by the event store.
    assert "scrypt$" not in data
    [recorded] = await live.event_store.read_stream(user_id)
    assert isinstance(recorded.event, UserRegistered)
    assert verify_password(PASSWORD, recorded.event.password_hash)


async def test_get_user_never_returns_the_password_hash(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    row = await _row(live, "SELECT password_hash FROM users WHERE id = $1", user_id)
    assert row is not None
    response = await client.get(f"/users/{user_id}")
    assert response.status_code == 200
    assert response.json()["id"] == str(user_id)
    assert row["password_hash"] not in response.text
    assert "password" not in response.text
    assert "scrypt" not in response.text


async def test_sign_up_with_a_taken_email_is_a_conflict(live: System, client: httpx.AsyncClient) -> None:
    email = _email()
    first = await client.post("/users", json={"email": email, "password": PASSWORD})
    assert first.status_code == 202
    second = await client.post("/users", json={"email": email.upper(), "password": PASSWORD})
    assert second.status_code == 409
    assert (
        await live.event_pool.fetchval(
            "SELECT count(*) FROM unique_claims WHERE scope = 'user_email' AND key = $1", email
        )
        == 1
    )


async def test_read_model_rejects_a_second_user_with_the_same_email(live: System) -> None:
    user_id = await _register(live)
    user = await _queries(live).get(user_id)
    assert user is not None
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.pools["user"].execute(
            "INSERT INTO users (email, password_hash) VALUES ($1, 'h')", user.email
        )


async def test_read_model_rejects_an_unknown_role(live: System) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["user"].execute(
            "INSERT INTO users (email, password_hash, role) VALUES ($1, 'h', 'superuser')", _email()
        )


async def test_get_unknown_user_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.get(f"/users/{uuid4()}")
    assert response.status_code == 404


async def test_credentials_by_email_serve_a_later_log_in(live: System) -> None:
    email = _email()
    user_id = await _register(live, email=email)
    creds = await _queries(live).credentials_by_email(f" {email.upper()} ")
    assert creds is not None
    assert (creds.id, creds.role, creds.is_active) == (user_id, "viewer", True)
    assert verify_password(PASSWORD, creds.password_hash)
    assert creds.password_hash not in repr(creds)


async def test_credentials_of_an_unknown_email_are_none(live: System) -> None:
    assert await _queries(live).credentials_by_email(_email()) is None


async def test_changed_password_reaches_the_read_model(live: System) -> None:
    email = _email()
    user_id = await _register(live, email=email)
    await live.bus.dispatch(
        ChangePassword(
            user_id=user_id, current_password=SecretStr(PASSWORD), new_password=SecretStr("a new secret")
        )
    )
    await eventually(lambda: _user_at(live, user_id, version=2))
    creds = await _queries(live).credentials_by_email(email)
    assert creds is not None
    assert verify_password("a new secret", creds.password_hash)


async def test_role_verification_and_login_reach_the_read_model(live: System) -> None:
    user_id = await _register(live)
    await live.bus.dispatch(ChangeUserRole(user_id=user_id, role="professional"))
    await live.bus.dispatch(VerifyUser(user_id=user_id))
    await live.bus.dispatch(RecordLogin(user_id=user_id))
    user = await eventually(lambda: _user_at(live, user_id, version=4))
    assert (user.role, user.is_verified) == ("professional", True)
    assert user.last_login_at is not None


async def test_deactivation_reaches_the_read_model(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    response = await client.post(f"/users/{user_id}/deactivate")
    assert response.status_code == 202
    user = await eventually(lambda: _user_at(live, user_id, version=2))
    assert not user.is_active


async def test_deactivated_user_cannot_add_to_the_watch_list(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _register(live)
    await live.bus.dispatch(DeactivateUser(user_id=user_id))
    response = await client.post(
        f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(await _movie(live))}
    )
    assert response.status_code == 422
    assert "deactivated" in response.text


# --- user_profiles ----------------------------------------------------------------------------


async def test_profile_patch_reaches_users_and_user_profiles(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    genre = uuid4()
    response = await client.patch(
        f"/users/{user_id}/profile",
        json={
            "display_name": "Ann",
            "bio": "noir",
            "birth_year": 1990,
            "country": "jp",
            "favourite_genre_ids": [str(genre)],
        },
    )
    assert response.status_code == 202
    user = await eventually(lambda: _user_at(live, user_id, version=2))
    assert user.display_name == "Ann"
    assert (user.profile.bio, user.profile.birth_year, user.profile.country) == ("noir", 1990, "JP")
    assert user.profile.favourite_genre_ids == [genre]


async def test_profile_schema_rejects_a_bad_country(live: System) -> None:
    user_id = await _register(live)
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["user"].execute(
            "UPDATE user_profiles SET country = 'jp' WHERE user_id = $1", user_id
        )


# --- user_preferences -------------------------------------------------------------------------


async def test_preferences_put_reaches_users_and_user_preferences(
    live: System, client: httpx.AsyncClient
) -> None:
    user_id = await _sign_up(client, live)
    response = await client.put(
        f"/users/{user_id}/preferences",
        json={
            "language": "en",
            "timezone": "Europe/Paris",
            "preferred_languages": ["en", "ja"],
            "show_spoilers": True,
            "preferred_level1_classes": ["L", "D"],
            "email_notifications": False,
        },
    )
    assert response.status_code == 202
    user = await eventually(lambda: _user_at(live, user_id, version=2))
    assert (user.language, user.timezone) == ("en", "Europe/Paris")
    prefs = user.preferences
    assert (prefs.preferred_languages, prefs.preferred_level1_classes) == (["en", "ja"], ["L", "D"])
    assert (prefs.show_spoilers, prefs.email_notifications) == (True, False)


async def test_preferences_with_a_bad_level1_class_are_rejected(
    client: httpx.AsyncClient, live: System
) -> None:
    user_id = await _sign_up(client, live)
    response = await client.put(f"/users/{user_id}/preferences", json={"preferred_level1_classes": ["X"]})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "preferred_level1_classes"]


async def test_preferences_schema_rejects_a_bad_level1_class(live: System) -> None:
    user_id = await _register(live)
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["user"].execute(
            "UPDATE user_preferences SET preferred_level1_classes = '{X}' WHERE user_id = $1", user_id
        )


# --- watch_lists ------------------------------------------------------------------------------


async def test_watch_list_entry_is_added_with_the_designs_defaults(
    live: System, client: httpx.AsyncClient
) -> None:
    user_id = await _sign_up(client, live)
    movie_id = await _movie(live)
    response = await client.post(
        f"/users/{user_id}/watch-list",
        headers=_as(user_id),
        json={"movie_id": str(movie_id), "tags": ["noir"], "notes": "with Bo"},
    )
    assert response.status_code == 202
    entry = await eventually(lambda: _entry(live, user_id, movie_id))
    assert (entry.status, entry.priority, entry.watched_scenes_count) == ("want_to_watch", 5, 0)
    assert (entry.tags, entry.notes, entry.total_scenes_count) == (["noir"], "with Bo", 0)


async def test_watch_list_of_an_unknown_movie_is_rejected(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    response = await client.post(
        f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(uuid4())}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "movie_id"]


async def test_watch_list_filters_by_status(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    wanted, watching = await _movie(live), await _movie(live)
    await client.post(f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(wanted)})
    await client.post(
        f"/users/{user_id}/watch-list",
        headers=_as(user_id),
        json={"movie_id": str(watching), "status": "watching"},
    )
    await eventually(lambda: _entry(live, user_id, watching))
    response = await client.get(
        f"/users/{user_id}/watch-list", headers=_as(user_id), params={"status": "watching"}
    )
    assert response.status_code == 200
    assert [e["movie_id"] for e in response.json()] == [str(watching)]


async def test_watch_list_is_ordered_by_priority(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    low, high = await _movie(live), await _movie(live)
    await client.post(
        f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(low), "priority": 9}
    )
    await client.post(
        f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(high), "priority": 1}
    )
    await eventually(lambda: _entry(live, user_id, high))
    response = await client.get(f"/users/{user_id}/watch-list", headers=_as(user_id))
    assert [e["movie_id"] for e in response.json()] == [str(high), str(low)]


async def test_watch_list_progress_reaches_the_read_model(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    movie_id = await _movie(live)
    scene_id = await _scene(live, movie_id)
    await client.post(f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(movie_id)})
    response = await client.patch(
        f"/users/{user_id}/watch-list/{movie_id}",
        headers=_as(user_id),
        json={"status": "watching", "watched_scenes_count": 1, "last_watched_scene_id": str(scene_id)},
    )
    assert response.status_code == 202, response.text

    async def watching() -> WatchListEntryView | None:
        entry = await _entry(live, user_id, movie_id)
        return entry if entry and entry.status == "watching" else None

    entry = await eventually(watching)
    assert (entry.watched_scenes_count, entry.last_watched_scene_id) == (1, scene_id)


async def test_last_watched_scene_of_another_movie_is_rejected(
    live: System, client: httpx.AsyncClient
) -> None:
    user_id = await _sign_up(client, live)
    movie_id = await _movie(live)
    other_scene = await _scene(live, uuid4())
    await client.post(f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(movie_id)})
    response = await client.patch(
        f"/users/{user_id}/watch-list/{movie_id}",
        headers=_as(user_id),
        json={"last_watched_scene_id": str(other_scene)},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "last_watched_scene_id"]


async def test_removed_watch_list_entry_leaves_the_read_model(
    live: System, client: httpx.AsyncClient
) -> None:
    user_id = await _sign_up(client, live)
    movie_id = await _movie(live)
    await client.post(f"/users/{user_id}/watch-list", headers=_as(user_id), json={"movie_id": str(movie_id)})
    await eventually(lambda: _entry(live, user_id, movie_id))
    response = await client.delete(f"/users/{user_id}/watch-list/{movie_id}", headers=_as(user_id))
    assert response.status_code == 202

    async def gone() -> bool:
        return await _entry(live, user_id, movie_id) is None

    await eventually(gone)


async def test_total_scenes_count_follows_scenes_created_after_the_entry(live: System) -> None:
    user_id = await _register(live)
    movie_id = await _movie(live)
    await live.bus.dispatch(AddMovieToWatchList(user_id=user_id, movie_id=movie_id))
    await eventually(lambda: _total(live, user_id, movie_id, 0))
    first = await _scene(live, movie_id)
    await _scene(live, movie_id)
    await _scene(live, uuid4())  # another movie's scene does not count
    await eventually(lambda: _total(live, user_id, movie_id, 2))
    await _delete_scene(live, first, movie_id)
    await eventually(lambda: _total(live, user_id, movie_id, 1))


async def test_total_scenes_count_includes_scenes_projected_before_the_entry(live: System) -> None:
    user_id = await _register(live)
    movie_id = await _movie(live)
    gone = await _scene(live, movie_id)
    await _scene(live, movie_id)
    await _scene(live, movie_id)
    await _delete_scene(live, gone, movie_id)

    async def indexed() -> bool:
        rows = await live.pools["user"].fetch(
            "SELECT scene_id FROM user_movie_scene_index WHERE movie_id = $1", movie_id
        )
        return len(rows) == 2

    await eventually(indexed)
    await live.bus.dispatch(AddMovieToWatchList(user_id=user_id, movie_id=movie_id))
    await eventually(lambda: _total(live, user_id, movie_id, 2))


async def test_watch_list_schema_rejects_a_second_entry_for_the_movie(live: System) -> None:
    user_id = await _register(live)
    movie_id = await _movie(live)
    await live.bus.dispatch(AddMovieToWatchList(user_id=user_id, movie_id=movie_id))
    await eventually(lambda: _entry(live, user_id, movie_id))
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.pools["user"].execute(
            "INSERT INTO watch_lists (user_id, movie_id) VALUES ($1, $2)", user_id, movie_id
        )


@pytest.mark.parametrize(
    ("column", "value"), [("priority", 11), ("status", "'maybe'"), ("watched_scenes_count", -1)]
)
async def test_watch_list_schema_enforces_the_designs_checks(
    live: System, column: str, value: object
) -> None:
    user_id = await _register(live)
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["user"].execute(
            f"INSERT INTO watch_lists (user_id, movie_id, {column}) VALUES ($1, $2, {value})",
            user_id,
            uuid4(),
        )


# --- user_scene_interactions ------------------------------------------------------------------


async def _interactions(client: httpx.AsyncClient, user_id: UUID, **params: str) -> list[dict[str, Any]]:
    response = await client.get(f"/users/{user_id}/interactions", headers=_as(user_id), params=params)
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.json()
    return result


async def test_interaction_reaches_the_read_model(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    scene_id = await _scene(live, uuid4())
    response = await client.post(
        f"/users/{user_id}/interactions",
        headers=_as(user_id),
        json={"scene_id": str(scene_id), "interaction_type": "comment", "metadata": {"text": "名場面"}},
    )
    assert response.status_code == 202, response.text
    [interaction] = await eventually(lambda: _interactions(client, user_id))
    assert (interaction["scene_id"], interaction["interaction_type"]) == (str(scene_id), "comment")
    assert interaction["metadata"] == {"text": "名場面"}


async def test_interaction_with_an_unknown_scene_is_rejected(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    response = await client.post(
        f"/users/{user_id}/interactions",
        headers=_as(user_id),
        json={"scene_id": str(uuid4()), "interaction_type": "like"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "scene_id"]


async def test_same_interaction_twice_is_rejected(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    body = {"scene_id": str(await _scene(live, uuid4())), "interaction_type": "like"}
    assert (
        await client.post(f"/users/{user_id}/interactions", headers=_as(user_id), json=body)
    ).status_code == 202
    response = await client.post(f"/users/{user_id}/interactions", headers=_as(user_id), json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "interaction_type"]


async def test_interactions_filter_by_type(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    scene_id = str(await _scene(live, uuid4()))
    for kind in ("view", "like"):
        await client.post(
            f"/users/{user_id}/interactions",
            headers=_as(user_id),
            json={"scene_id": scene_id, "interaction_type": kind},
        )

    async def both() -> bool:
        return len(await _interactions(client, user_id)) == 2

    await eventually(both)
    [liked] = await _interactions(client, user_id, interaction_type="like")
    assert liked["interaction_type"] == "like"


async def test_withdrawn_interaction_leaves_the_read_model(live: System, client: httpx.AsyncClient) -> None:
    user_id = await _sign_up(client, live)
    scene_id = await _scene(live, uuid4())
    await client.post(
        f"/users/{user_id}/interactions",
        headers=_as(user_id),
        json={"scene_id": str(scene_id), "interaction_type": "favorite"},
    )
    await eventually(lambda: _interactions(client, user_id))
    response = await client.delete(f"/users/{user_id}/interactions/{scene_id}/favorite", headers=_as(user_id))
    assert response.status_code == 202

    async def gone() -> bool:
        return await _interactions(client, user_id) == []

    await eventually(gone)


async def test_interaction_schema_rejects_an_unknown_type(live: System) -> None:
    user_id = await _register(live)
    with pytest.raises(asyncpg.CheckViolationError):
        await live.pools["user"].execute(
            "INSERT INTO user_scene_interactions (user_id, scene_id, interaction_type) "
            "VALUES ($1, $2, 'dislike')",
            user_id,
            uuid4(),
        )


async def test_interaction_schema_rejects_a_duplicate(live: System) -> None:
    user_id = await _register(live)
    scene_id = uuid4()
    insert = (
        "INSERT INTO user_scene_interactions (user_id, scene_id, interaction_type) VALUES ($1, $2, 'view')"
    )
    await live.pools["user"].execute(insert, user_id, scene_id)
    with pytest.raises(asyncpg.UniqueViolationError):
        await live.pools["user"].execute(insert, user_id, scene_id)
