"""Reads under row-level security: a transaction that acts as the request's user and role."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final, Literal

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from infra.auth import ROLES, Identity

DATABASE_ROLES: Final[dict[str, str]] = {role: f"sceneledger_{role}" for role in ROLES}
"""The NOLOGIN database role of each application role (created by the RLS migrations)."""

Isolation = Literal["READ COMMITTED", "REPEATABLE READ"]


@asynccontextmanager
async def acting(
    engine: AsyncEngine, identity: Identity, *, isolation: Isolation = "READ COMMITTED"
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection inside a transaction that acts as ``identity``: its queries see what RLS allows.

    ``SET LOCAL`` and ``set_config(..., true)`` end with the transaction, so the pooled
    connection goes back as the owner with no user set.
    """
    # The role name comes from the fixed table above, never the client.
    role = DATABASE_ROLES[identity.role]
    user_id = str(identity.user_id) if identity.user_id is not None else ""
    async with engine.connect() as raw:
        conn = await raw.execution_options(isolation_level=isolation)
        async with conn.begin():
            # One round trip: set_config('role', ..., true) is SET LOCAL ROLE (same membership check).
            await conn.execute(
                text(
                    "SELECT set_config('app.current_user_id', :user_id, true), "
                    "set_config('app.current_role', :role, true), set_config('role', :db_role, true)"
                ),
                {"user_id": user_id, "role": identity.role, "db_role": role},
            )
            yield conn


@asynccontextmanager
async def reading(
    engine: AsyncEngine, identity: Identity | None, *, isolation: Isolation = "READ COMMITTED"
) -> AsyncIterator[AsyncConnection]:
    """Yield a connection for a read: under RLS as ``identity``, or as the owner when it is ``None``.

    ``None`` is for the system's own reads (CLI, projections' checks, tests), never for a request.
    """
    if identity is not None:
        async with acting(engine, identity, isolation=isolation) as conn:
            yield conn
        return
    async with engine.connect() as raw:
        yield await raw.execution_options(isolation_level=isolation)
