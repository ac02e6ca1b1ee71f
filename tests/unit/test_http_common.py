"""The dependencies every HTTP route shares: acting metadata from the token, command id, 404s."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI, HTTPException

from infra.auth import TokenAuthority, bearer_headers, default_authority
from infra.http.common import Acting, CommandId, SignedInUserId, found
from tests.acting import EveryUserActive

pytestmark = pytest.mark.unit

SECRET = "unit-test secret, at least 32 bytes long"  # noqa: S105  test input, not a credential


@pytest.fixture(autouse=True)
def _auth_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process's token secret, known to the tests; the cached authority is rebuilt around it."""
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


def _app() -> FastAPI:
    app = FastAPI()
    app.state.user_status = EveryUserActive()

    @app.post("/echo")
    async def echo(meta: Acting, command_id: CommandId) -> dict[str, Any]:
        return {"meta": meta.model_dump(mode="json"), "command_id": str(command_id)}

    @app.post("/mine")
    async def mine(user_id: SignedInUserId, meta: Acting) -> dict[str, Any]:
        return {"user_id": str(user_id), "meta_user_id": str(meta.user_id)}

    return app


@pytest.fixture(name="client")
async def fx_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_the_token_and_headers_become_the_events_metadata(client: httpx.AsyncClient) -> None:
    user, correlation = uuid4(), uuid4()
    response = await client.post(
        "/echo",
        headers={**bearer_headers(user, "professional"), "X-Correlation-Id": str(correlation)},
    )
    assert response.status_code == 200
    meta = response.json()["meta"]
    assert meta["user_id"] == str(user)
    assert meta["user_role"] == "professional"
    assert meta["correlation_id"] == str(correlation)
    assert meta["client_addr"] == "203.0.113.7"


async def test_no_token_means_an_anonymous_request(client: httpx.AsyncClient) -> None:
    meta = (await client.post("/echo")).json()["meta"]
    assert meta["user_id"] is None
    assert meta["user_role"] is None


async def test_identity_headers_are_no_longer_trusted(client: httpx.AsyncClient) -> None:
    headers = {"X-User-Id": str(uuid4()), "X-User-Role": "admin"}
    meta = (await client.post("/echo", headers=headers)).json()["meta"]
    assert (meta["user_id"], meta["user_role"]) == (None, None)


async def test_idempotency_key_is_the_command_id(client: httpx.AsyncClient) -> None:
    key = uuid4()
    response = await client.post("/echo", headers={"Idempotency-Key": str(key)})
    assert response.json()["command_id"] == str(key)


async def test_without_idempotency_key_each_request_gets_a_fresh_command_id(
    client: httpx.AsyncClient,
) -> None:
    first = (await client.post("/echo")).json()["command_id"]
    second = (await client.post("/echo")).json()["command_id"]
    assert UUID(first) != UUID(second)


async def test_a_token_signed_with_another_secret_reads_as_anonymous(client: httpx.AsyncClient) -> None:
    forged = bearer_headers(uuid4(), "admin", TokenAuthority("another secret of at least 32 bytes!"))
    meta = (await client.post("/echo", headers=forged)).json()["meta"]
    assert (meta["user_id"], meta["user_role"]) == (None, None)


async def test_an_expired_token_reads_as_anonymous(client: httpx.AsyncClient) -> None:
    past = TokenAuthority(SECRET, clock=lambda: datetime.now(UTC) - timedelta(minutes=16))
    meta = (await client.post("/echo", headers=bearer_headers(uuid4(), "admin", past))).json()["meta"]
    assert meta["user_id"] is None


async def test_malformed_authorization_reads_as_anonymous(client: httpx.AsyncClient) -> None:
    meta = (await client.post("/echo", headers={"Authorization": "Bearer not-a-token"})).json()["meta"]
    assert meta["user_id"] is None


async def test_a_route_may_require_a_signed_in_user(client: httpx.AsyncClient) -> None:
    refused = await client.post("/mine")
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"
    user = uuid4()
    body = (await client.post("/mine", headers=bearer_headers(user, "viewer"))).json()
    assert body == {"user_id": str(user), "meta_user_id": str(user)}


def test_openapi_names_the_headers_once_each_and_the_bearer_scheme() -> None:
    document = _app().openapi()
    echo = document["paths"]["/echo"]["post"]
    assert [(p["in"], p["name"], p["required"]) for p in echo["parameters"]] == [
        ("header", "X-Correlation-Id", False),
        ("header", "Idempotency-Key", False),
    ]
    assert echo["security"] == [{"HTTPBearer": []}]
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


def test_found_returns_the_value() -> None:
    assert found(0, "never raised") == 0


def test_found_answers_404_for_none() -> None:
    with pytest.raises(HTTPException) as raised:
        found(None, "scene 1 not found")
    assert raised.value.status_code == 404
    assert raised.value.detail == "scene 1 not found"
