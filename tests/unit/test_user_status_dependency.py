"""The identity dependency refuses a valid token whose user is no longer active (401), on any route."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi import FastAPI

from infra.auth import bearer_headers, default_authority
from infra.http.common import Caller

pytestmark = pytest.mark.unit

SECRET = "unit-test secret, at least 32 bytes long"  # noqa: S105  test input, not a credential


@pytest.fixture(autouse=True)
def _auth_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


class _Inactive:
    """Says that the given users are deactivated, and counts the questions."""

    def __init__(self, *inactive: UUID) -> None:
        self.inactive = set(inactive)
        self.asked: list[UUID] = []

    async def is_active(self, user_id: UUID) -> bool:
        self.asked.append(user_id)
        return user_id not in self.inactive


def _app(status: _Inactive | None) -> FastAPI:
    app = FastAPI()
    if status is not None:
        app.state.user_status = status

    @app.get("/who")
    async def who(caller: Caller) -> dict[str, Any]:
        return {"user_id": str(caller.user_id), "role": caller.role}

    return app


async def _get(app: FastAPI, headers: dict[str, str]) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.get("/who", headers=headers)


async def test_a_deactivated_users_valid_token_is_401() -> None:
    user = uuid4()
    response = await _get(_app(_Inactive(user)), bearer_headers(user, "admin"))
    assert response.status_code == 401
    assert "deactivated" in response.json()["detail"]


async def test_an_active_users_token_names_them() -> None:
    user = uuid4()
    status = _Inactive(uuid4())
    response = await _get(_app(status), bearer_headers(user, "professional"))
    assert response.json() == {"user_id": str(user), "role": "professional"}
    assert status.asked == [user]


async def test_no_token_is_anonymous_without_asking() -> None:
    status = _Inactive()
    response = await _get(_app(status), {})
    assert response.json() == {"user_id": "None", "role": "viewer"}
    assert status.asked == []


async def test_an_app_without_the_check_does_not_trust_tokens() -> None:
    with pytest.raises(RuntimeError, match="user status"):
        await _get(_app(None), bearer_headers(uuid4(), "admin"))
