"""A dead-lettered event with sealed personal fields is opened with its key when an operator retries it."""

from __future__ import annotations

import asyncio
import secrets
from typing import Any
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner, Result

from events.base import EventMetadata
from events.user import UserRegistered
from infra.bootstrap import System
from infra.ops_cli import ops_app
from tests.conftest import eventually

pytestmark = pytest.mark.integration


async def _cli(live: System, *args: str) -> Result:
    settings = live.settings
    env = {
        "SCENELEDGER_PG_DSN": settings.pg_dsn,
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
        "SCENELEDGER_NAMESPACE": settings.namespace,
    }
    runner = CliRunner()
    return await asyncio.to_thread(lambda: runner.invoke(ops_app, list(args), env=env))


async def _letters(live: System, user: UUID) -> list[Any]:
    return list(
        await live.pools["user"].fetch(
            "SELECT * FROM projection_dead_letters WHERE projection = 'users' AND stream_id = $1",
            user,
        )
    )


async def test_retried_dead_letter_of_a_sealed_user_event_applies_its_clear_values(live: System) -> None:
    user, squatter = uuid4(), uuid4()
    email = f"dlq-{secrets.token_hex(4)}@example.com"
    # A row that is not the user's holds the address in the read model: the sign-up cannot apply.
    await live.pools["user"].execute(
        "INSERT INTO users (id, email, password_hash) VALUES ($1, $2, 'x')", squatter, email
    )
    await live.event_store.append(
        [
            UserRegistered(
                stream_id=user,
                stream_version=1,
                email=email,
                password_hash="scrypt$h",  # noqa: S106  a stand-in hash, never checked
                display_name="鈴木",
            )
        ],
        expected_version=0,
        metadata=EventMetadata(),
    )
    letters = await eventually(lambda: _letters(live, user))
    # The dead letter keeps the record as it came from Kafka: sealed, no address in clear.
    assert email.encode() not in bytes(letters[0]["value"])

    await live.pools["user"].execute("DELETE FROM users WHERE id = $1", squatter)
    result = await _cli(live, "dlq", "retry", f"user:{letters[0]['id']}")

    assert result.exit_code == 0, result.output
    row = await live.pools["user"].fetchrow("SELECT email, display_name FROM users WHERE id = $1", user)
    assert row is not None
    assert (row["email"], row["display_name"]) == (email, "鈴木")
