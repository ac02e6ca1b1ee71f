"""Reads acting as a caller (read_models/rls.py): role, user and isolation set first, gone afterwards.

The transaction is begun and its role set by one message on the driver's connection, outside
SQLAlchemy's own transaction handling, so these tests watch the one pooled connection of an
engine of pool size one: after a read that ended well, raised, failed in SQL, was cancelled or
lost its connection, the next checkout must be the owner, outside any transaction, with no user.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from infra.auth import Identity
from infra.bootstrap import System
from infra.db import SESSION_SETTINGS
from read_models.rls import acting, reading, transaction_driver

pytestmark = pytest.mark.integration

STATE = text(
    "SELECT current_user, current_user = session_user, current_setting('app.current_user_id', true), "
    "current_setting('app.current_role', true), current_setting('transaction_isolation'), "
    "app_current_user_id(), pg_backend_pid()"
)


class CallerError(Exception):
    """An error of the caller's, inside the read."""


@pytest.fixture(name="engine")
async def fx_engine(system: System) -> AsyncIterator[AsyncEngine]:
    """An engine on the Scene database with one pooled connection: each read reuses it."""
    engine = create_async_engine(
        system.engines["scene"].url,
        pool_size=1,
        max_overflow=0,
        connect_args={"server_settings": SESSION_SETTINGS},
    )
    yield engine
    await engine.dispose()


async def _state(conn: AsyncConnection) -> tuple[Any, ...]:
    return tuple((await conn.execute(STATE)).one())


async def _pooled_state(engine: AsyncEngine) -> tuple[Any, ...]:
    """The pooled connection's state at its next checkout, as a read of the system would find it."""
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        in_transaction = driver.is_in_transaction()
        state = await _state(conn)
        await conn.rollback()
    # A setting never set reads NULL; one set for a transaction that ended reads ''.
    return (state[1], state[2] or "", state[3] or "", in_transaction)


OWNER_STATE = (True, "", "", False)
"""At checkout: the owner (current user is the session's), no user or role set, no transaction."""


@pytest.mark.parametrize("isolation", ["READ COMMITTED", "REPEATABLE READ"])
async def test_statements_run_as_the_callers_role_user_and_isolation(
    engine: AsyncEngine, isolation: Any
) -> None:
    user = uuid4()
    async with acting(engine, Identity(user_id=user, role="professional"), isolation=isolation) as conn:
        state = await _state(conn)
    wanted = ("sceneledger_professional", False, str(user), "professional", isolation.lower(), user)
    assert state[:6] == wanted


async def test_an_anonymous_caller_has_no_user(engine: AsyncEngine) -> None:
    async with acting(engine, Identity(user_id=None, role="viewer")) as conn:
        state = await _state(conn)
    assert (state[0], state[2], state[5]) == ("sceneledger_viewer", "", None)


async def test_the_reads_statements_share_one_transaction(engine: AsyncEngine) -> None:
    async with reading(engine, Identity(user_id=uuid4(), role="viewer"), isolation="REPEATABLE READ") as conn:
        first = (await conn.execute(text("SELECT txid_current(), now()"))).one()
        driver: Any = (await conn.get_raw_connection()).driver_connection
        second = await driver.fetchrow("SELECT txid_current(), now()")
    assert tuple(first) == tuple(second)


async def test_after_a_read_the_connection_is_the_owners_again(engine: AsyncEngine) -> None:
    async with acting(engine, Identity(user_id=uuid4(), role="admin")) as conn:
        await _state(conn)
    assert await _pooled_state(engine) == OWNER_STATE


async def test_after_the_callers_error_the_connection_is_the_owners_again(engine: AsyncEngine) -> None:
    async def failing_read() -> None:
        async with acting(engine, Identity(user_id=uuid4(), role="contributor")) as conn:
            await _state(conn)
            raise CallerError

    with pytest.raises(CallerError):
        await failing_read()
    assert await _pooled_state(engine) == OWNER_STATE


async def test_after_a_failed_statement_the_connection_is_the_owners_again(engine: AsyncEngine) -> None:
    with pytest.raises(DBAPIError):
        async with acting(engine, Identity(user_id=uuid4(), role="viewer")) as conn:
            await conn.execute(text("SELECT 1 / 0"))
    assert await _pooled_state(engine) == OWNER_STATE


async def test_a_cancelled_read_never_hands_its_connection_out_acting(engine: AsyncEngine) -> None:
    started = asyncio.Event()

    async def slow_read() -> None:
        async with acting(engine, Identity(user_id=uuid4(), role="viewer")) as conn:
            started.set()
            await conn.execute(text("SELECT pg_sleep(30)"))

    task = asyncio.create_task(slow_read())
    await started.wait()
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await _pooled_state(engine) == OWNER_STATE


async def test_a_lost_connection_is_dropped_not_pooled(engine: AsyncEngine, db: asyncpg.Pool) -> None:
    async def read_losing_its_connection() -> None:
        async with acting(engine, Identity(user_id=uuid4(), role="viewer")) as conn:
            pid = (await _state(conn))[6]
            await db.execute("SELECT pg_terminate_backend($1)", pid)
            await asyncio.sleep(0.2)
            await conn.execute(text("SELECT 1"))

    with pytest.raises(DBAPIError):
        await read_losing_its_connection()
    assert await _pooled_state(engine) == OWNER_STATE


async def test_a_user_id_that_is_not_a_uuid_is_refused_before_anything_is_sent(engine: AsyncEngine) -> None:
    forged: Any = "00000000-0000-0000-0000-000000000001', true), set_config('role', 'sceneledger_admin"
    with pytest.raises(AttributeError):
        async with acting(engine, Identity(user_id=forged, role="viewer")):
            pass
    assert await _pooled_state(engine) == OWNER_STATE


async def test_an_unknown_role_is_refused_before_anything_is_sent(engine: AsyncEngine) -> None:
    forged: Any = "admin', true), set_config('role', 'postgres"
    with pytest.raises(KeyError):
        async with acting(engine, Identity(user_id=UUID(int=1), role=forged)):
            pass
    assert await _pooled_state(engine) == OWNER_STATE


@pytest.mark.parametrize(("generic_plans", "custom_plans"), [(True, 0), (False, 5)])
async def test_a_read_asking_for_generic_plans_never_plans_per_run(
    engine: AsyncEngine, generic_plans: bool, custom_plans: int
) -> None:
    """PostgreSQL plans a prepared statement's first five runs with their values, unless told not to."""
    marker = uuid4().hex
    sql = f"SELECT count(*) FROM scenes WHERE movie_id = $1 /* {marker} */"
    identity = Identity(user_id=uuid4(), role="viewer")
    for _ in range(7):
        async with acting(engine, identity, generic_plans=generic_plans) as conn:
            driver: Any = transaction_driver(conn)
            await driver.fetchval(sql, uuid4())
    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        plans = await driver.fetchval(
            "SELECT custom_plans FROM pg_prepared_statements WHERE statement LIKE $1", f"%{marker}%"
        )
        await conn.rollback()
    assert plans == custom_plans
