"""Reads under row-level security: a transaction that acts as the request's user and role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from typing import Any, Final, Literal, get_args
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from events.user import UserRole
from infra.auth import ROLES, Identity

DATABASE_ROLES: Final[dict[str, str]] = {role: f"sceneledger_{role}" for role in ROLES}
"""The NOLOGIN database role of each application role (created by the RLS migrations)."""

Isolation = Literal["READ COMMITTED", "REPEATABLE READ"]

_BEGIN_AS: Final[dict[tuple[str, str], str]] = {
    (role, isolation): (
        f"BEGIN ISOLATION LEVEL {isolation}; "
        f"SELECT set_config('app.current_role', '{role}', true), "
        f"set_config('role', '{database_role}', true), "
        "set_config('app.current_user_id', '{user_id}', true)"
    )
    for role, database_role in DATABASE_ROLES.items()
    for isolation in get_args(Isolation)
}
"""The transaction's start and its acting user and role, one simple-protocol message each
(role, isolation); only the user id is filled in per call (``_begin_as``)."""

_GENERIC_PLANS: Final = ", set_config('plan_cache_mode', 'force_generic_plan', true)"
"""Appended for a read whose prepared statements are to run on their generic plan from the first."""


def _begin_as(
    role: UserRole, user_id: UUID | None, isolation: Isolation, *, generic_plans: bool = False
) -> str:
    """Return the message that begins a transaction acting as ``role`` and ``user_id``.

    The simple query protocol takes no parameters, so the values are in the text; none comes
    from the client as text: the role and isolation pick a statement of the fixed table above,
    and the user id is written from a UUID (hex digits and dashes only). A role or isolation
    outside the table raises KeyError before anything is sent.
    """
    user = "" if user_id is None else str(UUID(int=user_id.int))
    begin = _BEGIN_AS[role, isolation].replace("{user_id}", user)
    return begin + _GENERIC_PLANS if generic_plans else begin


async def _end(conn: AsyncConnection, driver: Any, statement: str) -> None:  # noqa: ANN401  asyncpg's
    """End the transaction by ``statement``; if that fails, drop the connection from the pool.

    The pool's reset on return knows nothing of a transaction begun on the driver: a connection
    still in one (a lost connection, a cancelled statement) must never be handed out again,
    still acting as the request's role.
    """
    try:
        await driver.execute(statement)
    except BaseException:
        await conn.invalidate()
        raise
    if driver.is_in_transaction():
        await conn.invalidate()


def transaction_driver(conn: AsyncConnection) -> Any:  # noqa: ANN401  asyncpg's connection
    """Return the driver's connection under ``conn`` when a transaction is open on it, else ``None``.

    In an ``acting`` read the transaction is open from the start: a statement sent to the
    driver directly runs in it (the same snapshot, role and settings, so the same policies) and
    skips SQLAlchemy's execution layer, about half a millisecond of client CPU for a search
    page. Outside a transaction (an owner's read before its first statement) it returns
    ``None``: the driver alone would run the statement outside the read's transaction.
    """
    sync = conn.sync_connection
    if sync is None or sync.closed or sync.invalidated:
        return None
    driver: Any = sync.connection.driver_connection
    return driver if driver is not None and driver.is_in_transaction() else None


@asynccontextmanager
async def acting(
    engine: AsyncEngine,
    identity: Identity,
    *,
    isolation: Isolation = "READ COMMITTED",
    generic_plans: bool = False,
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection inside a transaction that acts as ``identity``: its queries see what RLS allows.

    ``SET LOCAL`` and ``set_config(..., true)`` end with the transaction, so the pooled
    connection goes back as the owner with no user set.

    The transaction is begun and its role set in one round trip (one simple-protocol message,
    ``_begin_as``), then ended by COMMIT (ROLLBACK on an error): three round trips for a
    one-statement read instead of four. SQLAlchemy runs the connection in autocommit mode
    meanwhile, so it sends no BEGIN of its own: its statements, and the driver's, run in this
    transaction. The role is set before the caller's first statement is sent, so every
    statement is planned and run under the policies.

    ``generic_plans`` sets ``plan_cache_mode`` to ``force_generic_plan`` for the transaction: its
    prepared statements are planned once per connection and role, not at each run. PostgreSQL
    otherwise compares the generic plan's cost with the first five runs' custom plans and may
    keep planning each run for good (the scene search under the policies, see
    ``read_models/search.py``).
    """
    begin = _begin_as(identity.role, identity.user_id, isolation, generic_plans=generic_plans)
    async with engine.connect() as raw:
        conn = await raw.execution_options(isolation_level="AUTOCOMMIT")
        driver: Any = (await conn.get_raw_connection()).driver_connection
        try:
            await driver.execute(begin)
            yield conn
        except BaseException:
            # The caller's error is the one to raise; a failed ROLLBACK has dropped the connection.
            with suppress(Exception):
                await _end(conn, driver, "ROLLBACK")
            raise
        await _end(conn, driver, "COMMIT")


@asynccontextmanager
async def reading(
    engine: AsyncEngine,
    identity: Identity | None,
    *,
    isolation: Isolation = "READ COMMITTED",
    generic_plans: bool = False,
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection for a read: under RLS as ``identity``, or as the owner when it is ``None``.

    ``None`` is for the system's own reads (CLI, projections' checks, tests), never for a request.
    ``generic_plans`` applies to a read under RLS (``acting``); the owner's reads keep the default.
    """
    if identity is not None:
        async with acting(engine, identity, isolation=isolation, generic_plans=generic_plans) as conn:
            yield conn
        return
    async with engine.connect() as raw:
        yield await raw.execution_options(isolation_level=isolation)
