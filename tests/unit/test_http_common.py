"""The dependencies every HTTP route shares: acting metadata, command id, 404 for a missing read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI, Header, HTTPException

from infra.http.common import Acting, CommandId, found

pytestmark = pytest.mark.unit

RequiredUser = Annotated[UUID, Header(alias="X-User-Id", description="acting user (required here)")]


def _app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(meta: Acting, command_id: CommandId) -> dict[str, Any]:
        return {"meta": meta.model_dump(mode="json"), "command_id": str(command_id)}

    @app.post("/mine")
    async def mine(user_id: RequiredUser, meta: Acting) -> dict[str, Any]:
        return {"user_id": str(user_id), "meta_user_id": str(meta.user_id)}

    return app


@pytest.fixture(name="client")
async def fx_client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=_app(), client=("203.0.113.7", 4711))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


async def test_headers_become_the_events_metadata(client: httpx.AsyncClient) -> None:
    user, correlation = uuid4(), uuid4()
    response = await client.post(
        "/echo",
        headers={"X-User-Id": str(user), "X-User-Role": "editor", "X-Correlation-Id": str(correlation)},
    )
    assert response.status_code == 200
    meta = response.json()["meta"]
    assert meta["user_id"] == str(user)
    assert meta["user_role"] == "editor"
    assert meta["correlation_id"] == str(correlation)
    assert meta["client_addr"] == "203.0.113.7"


async def test_no_headers_means_an_anonymous_request(client: httpx.AsyncClient) -> None:
    meta = (await client.post("/echo")).json()["meta"]
    assert meta["user_id"] is None
    assert meta["user_role"] is None


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


async def test_malformed_header_is_rejected(client: httpx.AsyncClient) -> None:
    response = await client.post("/echo", headers={"X-User-Id": "not-a-uuid"})
    assert response.status_code == 422


async def test_a_route_may_require_the_acting_user(client: httpx.AsyncClient) -> None:
    assert (await client.post("/mine")).status_code == 422
    user = uuid4()
    body = (await client.post("/mine", headers={"X-User-Id": str(user)})).json()
    assert body == {"user_id": str(user), "meta_user_id": str(user)}


def test_openapi_names_the_headers_once_each() -> None:
    operations = _app().openapi()["paths"]
    echo = operations["/echo"]["post"]["parameters"]
    assert [(p["in"], p["name"], p["required"]) for p in echo] == [
        ("header", "X-User-Id", False),
        ("header", "X-User-Role", False),
        ("header", "X-Correlation-Id", False),
        ("header", "Idempotency-Key", False),
    ]
    mine = operations["/mine"]["post"]["parameters"]
    assert [(p["name"], p["required"]) for p in mine] == [
        ("X-User-Id", True),
        ("X-User-Role", False),
        ("X-Correlation-Id", False),
    ]


def test_found_returns_the_value() -> None:
    assert found(0, "never raised") == 0


def test_found_answers_404_for_none() -> None:
    with pytest.raises(HTTPException) as raised:
        found(None, "scene 1 not found")
    assert raised.value.status_code == 404
    assert raised.value.detail == "scene 1 not found"
