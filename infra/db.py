"""asyncpg connection pools with JSON codecs, retried while the server comes up."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
from tenacity import retry, retry_if_exception_type, stop_after_delay, wait_exponential

TRANSIENT_PG_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.CannotConnectNowError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.TooManyConnectionsError,
    asyncpg.InterfaceError,
)
"""Errors worth retrying: the server is starting, restarting or briefly unreachable."""

SESSION_SETTINGS: dict[str, str] = {"jit": "off"}
"""Settings of every session we open. JIT compilation pays off for long analytic queries; ours
are short, and on a cost estimate over ``jit_above_cost`` (a movie stats recompute, a search
counting thousands of hits) it added 15-20 ms of compiling to each call."""


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Skip asyncpg's reset query (``RESET ALL``, ``UNLISTEN *``, ...) on release.

    Our code never leaves session state behind (settings are ``SET LOCAL`` inside
    transactions, no session advisory locks or LISTEN on pooled connections), so that extra
    round trip per checkout only cost throughput: a command checks out four connections.
    An open transaction is still rolled back by asyncpg before this runs.
    """


@retry(
    retry=retry_if_exception_type(TRANSIENT_PG_ERRORS),
    wait=wait_exponential(multiplier=0.1, max=2),
    stop=stop_after_delay(30),
    reraise=True,
)
async def create_pool(dsn: str, *, min_size: int = 1, max_size: int = 10, **kwargs: Any) -> asyncpg.Pool:  # noqa: ANN401  passed to asyncpg
    """Open a pool on ``dsn`` whose connections decode json/jsonb to Python objects."""
    server_settings = {**SESSION_SETTINGS, **kwargs.pop("server_settings", {})}
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_keep_session,
        server_settings=server_settings,
        **kwargs,
    )
    if pool is None:  # pragma: no cover  asyncpg types say Optional; it never is here
        raise RuntimeError(f"could not open a pool on {dsn}")
    return pool
