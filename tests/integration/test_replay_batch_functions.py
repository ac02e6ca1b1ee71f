"""The rebuild's batch work gives the one-by-one read model: scene touches once per batch, deferred figures.

A rebuild applies every batch with ``settle=False`` (figures only marked) and settles once at
the end; the scenes projection writes its version/update-time touches once per scene per batch
(``touch_scenes``) instead of in each cast, line and nesting batch function.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from events.actor import ActorRegistered, FilmographyEntryAdded
from events.base import DomainEvent
from events.scene import SceneActorAdded
from infra.db import create_pool
from infra.services import service
from infra.services.actor import ACTORS_PROJECTION
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from projections.runner import Delivery, ProjectionRunner
from projections.scenes import touch_scenes
from tests.integration.test_projection_batch_path import (
    ON_A_DATABASE,
    SERVICES,
    Pools,
    Schemas,
    _differences,
    _Scenario,
    fx_schemas,
    scenario_batches,
)
from tests.integration.test_projection_runner import delivery

pytestmark = pytest.mark.integration

__all__ = ["fx_schemas"]  # the fixture, imported for the tests of this module


async def _apply_deferred(pools: Pools, deliveries: list[Delivery], cuts: list[tuple[int, int]]) -> None:
    """Apply like a rebuild: batch path, every batch with ``settle=False``, one settle at the end."""
    for name in SERVICES:
        for p in service(name).projections:
            runner = ProjectionRunner(pools[name], p.projection)
            mine = [d for d in deliveries if d.topic in p.topics]
            for lo, hi in cuts:
                if part := list(mine[lo:hi]):
                    await runner.handle_batch(part, settle=False)
            await runner.settle()


async def _apply_one_by_one(pools: Pools, deliveries: list[Delivery], cuts: list[tuple[int, int]]) -> None:
    for name in SERVICES:
        for p in service(name).projections:
            projection = dataclasses.replace(p.projection, batch_handlers={}, commuting=frozenset())
            runner = ProjectionRunner(pools[name], projection)
            mine = [d for d in deliveries if d.topic in p.topics]
            for lo, hi in cuts:
                if part := list(mine[lo:hi]):
                    await runner.handle_batch(part)


@settings(ON_A_DATABASE, max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(10, 120), poisons=st.integers(0, 2))
async def test_deferred_batches_settled_once_build_the_one_by_one_read_models(
    settings: Settings, schemas: Schemas, seed: int, steps: int, poisons: int
) -> None:
    deliveries, cuts = scenario_batches(seed, steps, poisons)
    await _apply_one_by_one(schemas.one, deliveries, cuts)
    await _apply_deferred(schemas.many, deliveries, cuts)
    assert await _differences(settings, schemas.one_name, schemas.many_name) == []


_SCENES = "SELECT id, version, updated_at FROM scenes ORDER BY id"


@settings(ON_A_DATABASE, max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(5, 80))
async def test_touch_scenes_writes_what_the_events_applied_in_order_leave(
    schemas: Schemas, seed: int, steps: int
) -> None:
    rng = random.Random(seed)
    scenario = _Scenario(rng)
    for _ in range(steps):
        scenario.step()
    events = [e for e in scenario.events if SCENES_PROJECTION.handles(e)]
    async with schemas.one["scene"].acquire() as conn, conn.transaction():
        for e in events:  # the one-by-one functions, each with its own touch
            await SCENES_PROJECTION.handlers[type(e)](conn, e)
        before = [tuple(r) for r in await conn.fetch(_SCENES)]
        await touch_scenes(conn, events)
        assert [tuple(r) for r in await conn.fetch(_SCENES)] == before


@pytest.fixture(name="actor_pool")
async def fx_actor_pool(quiet: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(quiet.dsn_for("actor"), max_size=2)
    yield pool
    await pool.close()


def _actor_events(movie: UUID) -> tuple[UUID, list[DomainEvent]]:
    actor = uuid4()
    return actor, [
        ActorRegistered(stream_id=actor, stream_version=1, name="三船敏郎"),
        FilmographyEntryAdded(stream_id=actor, stream_version=2, movie_id=movie),
        # Cast in two scenes (their first events here: the runner checks only the versions).
        SceneActorAdded(stream_id=uuid4(), stream_version=1, movie_id=movie, actor_id=actor),
        SceneActorAdded(stream_id=uuid4(), stream_version=1, movie_id=movie, actor_id=actor),
    ]


_FIGURES = (
    "SELECT a.total_movies_count, a.total_scenes_count, f.total_scenes "
    "FROM actors a JOIN filmography f ON f.actor_id = a.id WHERE a.id = $1"
)
_STALE = "SELECT count(*) FROM actor_figures_stale WHERE actor_id = $1"


async def test_deferred_actor_batch_marks_the_actor_and_leaves_its_figures(actor_pool: asyncpg.Pool) -> None:
    actor, events = _actor_events(uuid4())
    await ProjectionRunner(actor_pool, ACTORS_PROJECTION).handle_batch(
        [delivery(e) for e in events], settle=False
    )
    assert tuple(await actor_pool.fetchrow(_FIGURES, actor)) == (0, 0, 0)
    assert (
        await actor_pool.fetchval("SELECT count(*) FROM actor_figures_stale WHERE actor_id = $1", actor) == 1
    )


async def test_settling_gives_the_actor_figures_of_an_eager_batch(actor_pool: asyncpg.Pool) -> None:
    movie = uuid4()
    eager, eager_events = _actor_events(movie)
    deferred, deferred_events = _actor_events(movie)
    runner = ProjectionRunner(actor_pool, ACTORS_PROJECTION)
    await runner.handle_batch([delivery(e) for e in eager_events])
    await runner.handle_batch([delivery(e) for e in deferred_events], settle=False)
    await runner.settle()
    assert tuple(await actor_pool.fetchrow(_FIGURES, deferred)) == (1, 2, 2)
    assert tuple(await actor_pool.fetchrow(_FIGURES, eager)) == (1, 2, 2)
    assert (
        await actor_pool.fetchval("SELECT count(*) FROM actor_figures_stale WHERE actor_id = $1", deferred)
        == 0
    )


async def test_an_eager_batch_settles_the_actors_left_stale(actor_pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(actor_pool, ACTORS_PROJECTION)
    deferred, deferred_events = _actor_events(uuid4())
    await runner.handle_batch([delivery(e) for e in deferred_events], settle=False)
    _, other = _actor_events(uuid4())
    await runner.handle_batch([delivery(e) for e in other])
    assert tuple(await actor_pool.fetchrow(_FIGURES, deferred)) == (1, 2, 2)


@pytest.mark.parametrize("settle", [True, False])
async def test_an_actor_registered_after_its_cast_counts_it(actor_pool: asyncpg.Pool, settle: bool) -> None:
    actor, movie = uuid4(), uuid4()
    runner = ProjectionRunner(actor_pool, ACTORS_PROJECTION)
    cast = SceneActorAdded(stream_id=uuid4(), stream_version=1, movie_id=movie, actor_id=actor)
    await runner.handle_batch([delivery(cast)])
    registered = ActorRegistered(stream_id=actor, stream_version=1, name="原節子")
    await runner.handle_batch([delivery(registered)], settle=settle)
    await runner.settle()
    assert await actor_pool.fetchval("SELECT total_scenes_count FROM actors WHERE id = $1", actor) == 1
