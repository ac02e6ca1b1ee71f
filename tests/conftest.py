"""Shared fixtures: real PostgreSQL and Kafka endpoints, and isolated namespaces per test run."""

from __future__ import annotations

import asyncio
import os
import secrets
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

import pytest

from infra.settings import SERVICE_DATABASES, Settings

T = TypeVar("T")

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _missing_service(reason: str) -> None:
    # In CI a missing service is a failure, never a skip: a green run must have run the tests.
    if IN_CI:
        pytest.fail(f"required service unavailable in CI: {reason}")
    pytest.skip(f"service unavailable: {reason}")


@pytest.fixture(name="endpoints", scope="session")
def fx_endpoints() -> Iterator[tuple[str, str]]:
    """(pg_dsn, kafka_bootstrap): from the environment, Docker, or the local stack (started here)."""
    from infra import stack  # noqa: PLC0415  only integration tests need the stack module

    env = stack.env_endpoints()
    if env is not None:
        yield env.pg_dsn, env.kafka_bootstrap
        return
    if stack.docker_available():
        with stack.testcontainers_endpoints() as ep:
            yield ep.pg_dsn, ep.kafka_bootstrap
        return
    try:
        ep = stack.start_local_stack()
    except stack.PrerequisiteMissing as exc:
        _missing_service(str(exc))
        return
    yield ep.pg_dsn, ep.kafka_bootstrap


async def _drop_namespace(settings: Settings) -> None:
    from infra.migrate import drop_databases  # noqa: PLC0415  keeps unit-test collection free of infra

    assert settings.pg_dsn
    await drop_databases(settings.pg_dsn, [settings.database_name(s) for s in SERVICE_DATABASES])
    if settings.kafka_bootstrap:
        await _drop_topics(settings)


async def _drop_topics(settings: Settings) -> None:
    # A long-lived local broker otherwise gathers every test run's topics (thousands of
    # partitions) until it runs out of heap. Cleanup is not the behaviour under test: a broker
    # that is already gone is reported by the tests that need it, not here.
    from aiokafka.errors import KafkaError  # noqa: PLC0415  only integration tests reach this

    from infra.topics import delete_namespace_topics  # noqa: PLC0415  keeps unit collection light

    try:
        await asyncio.wait_for(delete_namespace_topics(settings), timeout=30)
    except (KafkaError, OSError, TimeoutError) as exc:
        warnings.warn(f"could not delete the topics of {settings.namespace}: {exc!r}", stacklevel=1)


async def make_namespace(endpoints: tuple[str, str], **overrides: object) -> Settings:
    """Settings for a brand-new namespace: its own databases (migrated) and topics."""
    from infra.bootstrap import prepare  # noqa: PLC0415  keeps unit-test collection free of infra

    settings = Settings(
        pg_dsn=endpoints[0],
        kafka_bootstrap=endpoints[1],
        namespace=f"t{secrets.token_hex(4)}",
        **overrides,  # type: ignore[arg-type]
    )
    await prepare(settings)
    return settings


@pytest.fixture(name="settings", scope="session")
async def fx_settings(endpoints: tuple[str, str]) -> AsyncIterator[Settings]:
    """One namespace shared by the tests of a session (tests use random ids, never truncate)."""
    settings = await make_namespace(endpoints)
    yield settings
    await _drop_namespace(settings)


@pytest.fixture(name="fresh_settings")
async def fx_fresh_settings(endpoints: tuple[str, str]) -> AsyncIterator[Settings]:
    """A namespace of this test's own, for tests that watch a whole log (relay, replay)."""
    settings = await make_namespace(endpoints)
    yield settings
    await _drop_namespace(settings)


async def eventually(
    check: Callable[[], Awaitable[T | bool | None]],
    *,
    timeout: float = 20.0,  # noqa: ASYNC109  a polling deadline, not a cancellation scope
    interval: float = 0.05,
) -> T:
    """Await ``check()`` until it returns something truthy, or fail after ``timeout`` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await check()
        if result:
            return result  # type: ignore[return-value]  # truthy: a T, or True for boolean checks
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"condition not met within {timeout}s")
        await asyncio.sleep(interval)
