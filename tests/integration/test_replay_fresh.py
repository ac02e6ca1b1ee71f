"""A rebuild into a new schema skips its checkpoint reads and writes the same read model and checkpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from uuid import uuid4

import asyncpg
import pytest

from infra.bootstrap import System
from infra.db import create_pool
from infra.replay import _DEFERRED_LONGEST_FIRST, ReplayEngine, compare_schemas
from infra.services import ALL_SERVICES, build_registry
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from projections.runner import BatchOutcome, Delivery, ProjectionRunner
from tests.integration.test_projection_runner import _created, _retimed, delivery
from tests.integration.test_replay import _scenario, fx_system

pytestmark = pytest.mark.integration

__all__ = ["fx_system"]  # the fixture, imported for its registration

SPECS = [spec for spec in ALL_SERVICES if spec.projections]


@pytest.fixture(name="pool")
async def fx_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.dsn_for("scene"), max_size=4)
    yield pool
    await pool.close()


async def _checkpoints(conn: asyncpg.Connection, schema: str) -> list[tuple[object, ...]]:
    rows = await conn.fetch(
        f'SELECT projection, stream_id, stream_version, position FROM "{schema}".projection_stream_versions '
        "ORDER BY projection, stream_id"
    )
    return [tuple(r) for r in rows]


def _record_fresh_flags(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record the ``fresh`` flag of every batch the runners are handed (and still handle them)."""
    flags: list[bool] = []
    original = ProjectionRunner.handle_batch

    async def recording(
        self: ProjectionRunner, deliveries: Sequence[Delivery], *, settle: bool = True, fresh: bool = False
    ) -> BatchOutcome:
        flags.append(fresh)
        return await original(self, deliveries, settle=settle, fresh=fresh)

    monkeypatch.setattr(ProjectionRunner, "handle_batch", recording)
    return flags


async def test_a_fresh_build_writes_the_read_model_and_checkpoints_of_a_checked_build(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenario(system)
    engine = ReplayEngine(system.settings, build_registry(), batch_size=7)
    original = ProjectionRunner.handle_batch
    fresh_flags = _record_fresh_flags(monkeypatch)
    for spec in SPECS:
        await engine.build_only(spec, "public_fresh")
    assert fresh_flags
    assert all(fresh_flags)  # really the fresh path

    async def checked(
        self: ProjectionRunner,
        deliveries: Sequence[Delivery],
        *,
        settle: bool = True,
        fresh: bool = False,  # noqa: ARG001  what is tested: the build without it
    ) -> BatchOutcome:
        return await original(self, deliveries, settle=settle)

    monkeypatch.setattr(ProjectionRunner, "handle_batch", checked)
    for spec in SPECS:
        await engine.build_only(spec, "public_checked")

    for spec in SPECS:
        conn = await asyncpg.connect(system.settings.dsn_for(spec.name))
        try:
            assert [d.describe() for d in await compare_schemas(conn, "public_checked", "public_fresh")] == []
            checkpoints = await _checkpoints(conn, "public_fresh")
            assert checkpoints == await _checkpoints(conn, "public_checked")
        finally:
            await conn.close()
        await engine.drop_schema(spec, "public_fresh")
        await engine.drop_schema(spec, "public_checked")


async def test_a_resumed_build_is_not_fresh(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    await _scenario(system)
    engine = ReplayEngine(system.settings, build_registry(), batch_size=7)
    scene = SPECS[0]
    await engine.build_only(scene, "public_resumed")  # to the head: checkpoints written
    fresh_flags = _record_fresh_flags(monkeypatch)
    conn = await asyncpg.connect(system.settings.dsn_for(scene.name))
    try:
        # As if the first run had committed a batch and died before moving its cursor.
        await conn.execute("UPDATE public_resumed.replay_progress SET tx_id = '0', position = 0, events = 0")
        await engine.build_only(scene, "public_resumed")
        assert fresh_flags
        assert not any(fresh_flags)
        assert [d.describe() for d in await compare_schemas(conn, "public", "public_resumed")] == []
    finally:
        await conn.close()
        await engine.drop_schema(scene, "public_resumed")


async def test_a_fresh_batch_after_a_dead_letter_parks_the_stream(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    poison = _created(uuid4(), level2="X9")  # breaks the read model's classification CHECK
    first = await runner.handle_batch([delivery(poison)], fresh=True)
    assert len(first.dead_lettered) == 1

    later = await runner.handle_batch([delivery(_retimed(poison))], fresh=True)

    assert later.applied == 0
    assert len(later.dead_lettered) == 1  # parked behind the first, not applied
    parked = await pool.fetchval(
        "SELECT parked_behind IS NOT NULL FROM projection_dead_letters "
        "WHERE projection = $1 AND stream_id = $2 AND stream_version = 2",
        SCENES_PROJECTION.name,
        poison.stream_id,
    )
    assert parked is True


async def test_a_fresh_batch_writes_each_streams_last_checkpoint(pool: asyncpg.Pool) -> None:
    runner = ProjectionRunner(pool, SCENES_PROJECTION)
    created = _created(uuid4())
    await runner.handle_batch([delivery(created, position=10)], fresh=True)  # new stream: COPY
    await runner.handle_batch([delivery(_retimed(created), position=11)], fresh=True)  # known: upsert
    row = await pool.fetchrow(
        "SELECT stream_version, position FROM projection_stream_versions "
        "WHERE projection = $1 AND stream_id = $2",
        SCENES_PROJECTION.name,
        created.stream_id,
    )
    assert row is not None
    assert (row["stream_version"], row["position"]) == (2, 11)
    scene = await pool.fetchrow(
        "SELECT start_time_seconds, version FROM scenes WHERE id = $1", created.stream_id
    )
    assert scene is not None
    assert (scene["start_time_seconds"], scene["version"]) == (30, 2)


async def test_deferred_indexes_are_restored_longest_first(pool: asyncpg.Pool) -> None:
    """GIN before GiST before b-tree work on tables of a size, a large table's before a small one's."""
    schema = f"t_order_{uuid4().hex[:12]}"
    async with pool.acquire() as conn:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        try:
            await conn.execute(f'SET search_path = "{schema}"')
            await conn.execute(
                "CREATE TABLE big (id INT PRIMARY KEY, t TEXT[]);"
                "INSERT INTO big SELECT g, ARRAY['x'] FROM generate_series(1, 20000) g;"
                "CREATE TABLE small (id INT PRIMARY KEY, big_id INT, t TEXT[]);"
                "INSERT INTO small SELECT g, g, ARRAY['x'] FROM generate_series(1, 10) g;"
                "CREATE TABLE replay_deferred_indexes (name TEXT PRIMARY KEY, definition TEXT NOT NULL);"
            )
            definitions = {
                "a_small_gin": f"CREATE INDEX a_small_gin ON {schema}.small USING gin (t)",
                "b_big_btree": f"CREATE INDEX b_big_btree ON {schema}.big USING btree (id)",
                "c_big_gist": f"CREATE INDEX c_big_gist ON {schema}.big USING gist (int4range(id, id))",
                "d_small_fkey": "ALTER TABLE small ADD CONSTRAINT d_small_fkey FOREIGN KEY (big_id) "
                "REFERENCES big(id)",
                "e_big_gin": f"CREATE INDEX e_big_gin ON {schema}.big USING gin (t)",
            }
            await conn.executemany(
                "INSERT INTO replay_deferred_indexes VALUES ($1, $2)", list(definitions.items())
            )
            order = [r["name"] for r in await conn.fetch(_DEFERRED_LONGEST_FIRST)]
        finally:
            await conn.execute("RESET search_path")
            await conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
    assert order == ["e_big_gin", "c_big_gist", "b_big_btree", "a_small_gin", "d_small_fkey"]
