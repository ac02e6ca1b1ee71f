"""A deactivated user's token stops working at once (not when it expires), on the real stack."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from uuid import UUID, uuid4

import httpx
import pytest
from pydantic import SecretStr

from commands.user import DeactivateUser, RegisterUser
from infra.api import create_app
from infra.auth import default_authority
from infra.bootstrap import System
from infra.http.user_status import UserStatus
from read_models.users import UserQueries
from tests.conftest import eventually

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential
SECRET = "integration-test token secret, 32+ bytes"  # noqa: S105  test input, not a credential


@pytest.fixture(autouse=True)
def _auth_secret(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("SCENELEDGER_AUTH_SECRET", SECRET)
    default_authority.cache_clear()
    yield
    default_authority.cache_clear()


@pytest.fixture(name="client")
async def fx_client(live: System) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(live.bus, live.engines, live.services)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


async def _signed_in_user(live: System, client: httpx.AsyncClient) -> tuple[UUID, dict[str, str]]:
    """A registered user, logged in through the API: their id and bearer header."""
    email = f"{uuid4().hex}@example.jp"
    cmd = RegisterUser(email=email, password=SecretStr(PASSWORD))
    await live.bus.dispatch(cmd)
    await eventually(lambda: UserQueries(live.engines["user"]).get(cmd.user_id))
    response = await client.post("/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return cmd.user_id, {"Authorization": f"Bearer {response.json()['access_token']}"}


async def _deactivate(live: System, user: UUID) -> None:
    await live.bus.dispatch(DeactivateUser(user_id=user))

    async def inactive() -> bool:
        view = await UserQueries(live.engines["user"]).get(user)
        return view is not None and not view.is_active

    await eventually(inactive)


async def test_an_active_users_token_works(live: System, client: httpx.AsyncClient) -> None:
    user, headers = await _signed_in_user(live, client)
    response = await client.get(f"/users/{user}/watch-list", headers=headers)
    assert response.status_code == 200, response.text


async def test_a_deactivated_users_token_is_refused_on_a_read(
    live: System, client: httpx.AsyncClient
) -> None:
    user, headers = await _signed_in_user(live, client)
    await _deactivate(live, user)

    async def refused() -> bool:
        return (await client.get("/scenes/search", headers=headers)).status_code == 401

    # At most the status memory's few seconds after the read model has the deactivation.
    await eventually(refused)
    response = await client.get("/scenes/search", headers=headers)
    assert "deactivated" in response.json()["detail"]


async def test_a_deactivated_users_token_is_refused_on_a_write(
    live: System, client: httpx.AsyncClient
) -> None:
    user, headers = await _signed_in_user(live, client)
    await _deactivate(live, user)
    body = {"user_id": str(user), "movie_id": str(uuid4()), "content": "x", "rating": 3}

    async def refused() -> bool:
        return (await client.post("/reviews", json=body, headers=headers)).status_code == 401

    await eventually(refused)


async def test_the_same_request_without_a_token_still_reads_as_anonymous(
    live: System, client: httpx.AsyncClient
) -> None:
    user, _ = await _signed_in_user(live, client)
    await _deactivate(live, user)
    assert (await client.get("/scenes/search")).status_code == 200


async def test_the_status_is_remembered_for_the_ttl_only(live: System) -> None:
    user, now = uuid4(), [0.0]
    await live.bus.dispatch(
        RegisterUser(user_id=user, email=f"{user.hex}@example.jp", password=SecretStr(PASSWORD))
    )
    await eventually(lambda: UserQueries(live.engines["user"]).get(user))
    status = UserStatus(live.engines["user"], ttl=2.0, clock=lambda: now[0])
    assert await status.is_active(user)
    await _deactivate(live, user)
    now[0] = 1.9
    assert await status.is_active(user)  # remembered: no lookup within the TTL
    now[0] = 2.0
    assert not await status.is_active(user)


async def test_a_user_the_read_model_does_not_know_is_let_through(live: System) -> None:
    assert await UserStatus(live.engines["user"]).is_active(uuid4())
