"""User command routes over HTTP, on the in-memory event store (reads are integration tests)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from commands.base import HandlerDeps
from commands.handlers import CommandBus
from events.user import UserErased, UserProfileUpdated
from infra.api import create_app
from infra.auth import bearer_headers
from infra.memory_event_store import InMemoryEventStore
from infra.services import service
from tests.acting import EveryUserActive

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential


@pytest.fixture(name="store")
def fx_store() -> InMemoryEventStore:
    return InMemoryEventStore()


@pytest.fixture(name="client")
async def fx_client(store: InMemoryEventStore) -> AsyncIterator[httpx.AsyncClient]:
    bus = CommandBus(HandlerDeps(event_store=store), service("user").command_handlers)
    # Never connected: these tests only send commands, which go to the in-memory store.
    engine = create_async_engine("postgresql+asyncpg://unused@127.0.0.1:9/unused")
    app = create_app(bus, {"user": engine}, [service("user")])
    app.state.user_status = EveryUserActive()  # the engine is never connected
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client
    await engine.dispose()


async def _sign_up(client: httpx.AsyncClient, email: str | None = None) -> httpx.Response:
    return await client.post(
        "/users", json={"email": email or f"{uuid4().hex}@example.jp", "password": PASSWORD}
    )


async def test_sign_up_is_accepted_and_names_the_new_user(client: httpx.AsyncClient) -> None:
    user_id = uuid4()
    response = await client.post(
        "/users", json={"user_id": str(user_id), "email": "ann@example.jp", "password": PASSWORD}
    )
    assert response.status_code == 202
    assert response.json()["stream_id"] == str(user_id)


async def test_sign_up_answer_has_neither_password_nor_hash(client: httpx.AsyncClient) -> None:
    response = await _sign_up(client)
    assert PASSWORD not in response.text
    assert "scrypt" not in response.text


async def test_sign_up_with_a_taken_email_is_a_conflict(client: httpx.AsyncClient) -> None:
    await _sign_up(client, "bo@example.jp")
    response = await _sign_up(client, "Bo@Example.jp")
    assert response.status_code == 409
    assert response.json()["detail"][0]["loc"] == ["body", "user_email"]


async def test_sign_up_with_a_short_password_is_rejected_without_echoing_it(
    client: httpx.AsyncClient,
) -> None:
    short = "tiny-pw"
    response = await client.post("/users", json={"email": "cy@example.jp", "password": short})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]
    assert short not in response.text


async def test_sign_up_cannot_choose_a_role(client: httpx.AsyncClient, store: InMemoryEventStore) -> None:
    response = await client.post(
        "/users", json={"email": "dee@example.jp", "password": PASSWORD, "role": "admin"}
    )
    assert response.status_code == 422
    assert store.all_events == []


async def test_profile_patch_changes_only_the_fields_it_names(
    client: httpx.AsyncClient, store: InMemoryEventStore
) -> None:
    user_id = UUID((await _sign_up(client)).json()["stream_id"])
    own = bearer_headers(user_id, "viewer")
    await client.patch(f"/users/{user_id}/profile", json={"bio": "films", "country": "jp"}, headers=own)
    response = await client.patch(f"/users/{user_id}/profile", json={"display_name": "Ann"}, headers=own)
    assert response.status_code == 202
    [*_, last] = await store.read_stream(user_id)
    assert isinstance(last.event, UserProfileUpdated)
    assert (last.event.display_name, last.event.bio, last.event.country) == ("Ann", "films", "JP")


async def test_watch_list_add_of_an_unknown_movie_is_unprocessable(client: httpx.AsyncClient) -> None:
    user_id = (await _sign_up(client)).json()["stream_id"]
    response = await client.post(
        f"/users/{user_id}/watch-list",
        json={"movie_id": str(uuid4())},
        headers=bearer_headers(UUID(user_id), "viewer"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "movie_id"]


async def test_watch_list_patch_of_a_movie_not_on_the_list_is_not_found(client: httpx.AsyncClient) -> None:
    user_id = (await _sign_up(client)).json()["stream_id"]
    response = await client.patch(
        f"/users/{user_id}/watch-list/{uuid4()}",
        json={"priority": 1},
        headers=bearer_headers(UUID(user_id), "viewer"),
    )
    assert response.status_code == 404


async def test_command_on_an_unknown_user_is_not_found(client: httpx.AsyncClient) -> None:
    response = await client.post(f"/users/{uuid4()}/deactivate", headers=bearer_headers(uuid4(), "admin"))
    assert response.status_code == 404


async def test_a_user_may_erase_their_own_account(
    client: httpx.AsyncClient, store: InMemoryEventStore
) -> None:
    user_id = UUID((await _sign_up(client)).json()["stream_id"])
    response = await client.post(f"/users/{user_id}/erase", headers=bearer_headers(user_id, "viewer"))
    assert response.status_code == 202
    [*_, last] = await store.read_stream(user_id)
    assert isinstance(last.event, UserErased)


async def test_a_user_may_not_erase_someone_elses_account(
    client: httpx.AsyncClient, store: InMemoryEventStore
) -> None:
    user_id = UUID((await _sign_up(client)).json()["stream_id"])
    response = await client.post(f"/users/{user_id}/erase", headers=bearer_headers(uuid4(), "viewer"))
    assert response.status_code == 403
    assert len(await store.read_stream(user_id)) == 1
