"""The scenes projection keeps cast and lines right without their foreign keys to scenes (scene_service 0019).

A rebuild's fresh shadow may read the log without ``scene_actors_scene_id_fkey`` and
``scene_dialogues_scene_id_fkey`` (their per-row checks were a third of those inserts' server
time) and add them back, validated, at the end. So the projection must not rely on them: a cast
entry or line of a missing scene is rejected with the constraint's own error (dead-lettered as
with the constraint), and a scene's deletion takes its cast and lines along itself. Each test
applies the same deliveries to a schema with the constraints and to one without, by the batch
path and one by one, and expects the same tables and dead letters.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest

from events.base import DomainEvent
from events.scene import DialogueAdded, SceneActorAdded, SceneCreated, SceneDeleted
from infra.db import create_pool
from infra.replay import ReplayEngine, compare_schemas
from infra.services import build_registry, service
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from projections.runner import ProjectionRunner
from tests.integration.test_projection_runner import delivery

pytestmark = pytest.mark.integration

_CHILD_KEYS = {
    "scene_actors": "scene_actors_scene_id_fkey",
    "scene_dialogues": "scene_dialogues_scene_id_fkey",
}

_DEAD_LETTERS = (
    "SELECT projection, stream_id, stream_version, split_part(error, E'\\n', 1) AS error, "
    "parked_behind IS NULL AS head FROM projection_dead_letters"
)


@dataclasses.dataclass(frozen=True)
class _Schemas:
    kept: str
    bare: str
    pools: dict[str, asyncpg.Pool]


@pytest.fixture(name="schemas")
async def fx_schemas(settings: Settings) -> AsyncIterator[_Schemas]:
    """Two empty Scene read models: ``kept`` with the children's foreign keys, ``bare`` without them."""
    engine = ReplayEngine(settings, build_registry())
    spec = service("scene")
    suffix = uuid4().hex[:8]
    kept, bare = f"guard_kept_{suffix}", f"guard_bare_{suffix}"
    pools: dict[str, asyncpg.Pool] = {}
    try:
        for name in (kept, bare):
            await engine.create_schema(spec, name)
            pools[name] = await create_pool(
                settings.dsn_for("scene"), max_size=2, server_settings={"search_path": name}
            )
        for table, key in _CHILD_KEYS.items():
            # Whether a new schema has them is the rebuild's business: set each side as wanted.
            await pools[bare].execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {key}")
            if not await pools[kept].fetchval(
                "SELECT 1 FROM pg_constraint WHERE conname = $1 AND connamespace = $2::regnamespace",
                key,
                kept,
            ):
                await pools[kept].execute(
                    f"ALTER TABLE {table} ADD CONSTRAINT {key} FOREIGN KEY (scene_id) "
                    "REFERENCES scenes(id) ON DELETE CASCADE"
                )
        yield _Schemas(kept, bare, pools)
    finally:
        for pool in pools.values():
            await pool.close()
        for name in (kept, bare):
            await engine.drop_schema(spec, name)


def _scene(scene: UUID, movie: UUID) -> SceneCreated:
    return SceneCreated(
        stream_id=scene,
        stream_version=1,
        movie_id=movie,
        start_time_seconds=10,
        end_time_seconds=20,
        level1_classification="L",
        level2_classification="L2",
    )


def _cast_and_lines(scene: UUID, movie: UUID, first_version: int) -> list[DomainEvent]:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    events: list[DomainEvent] = []
    for i in range(2):
        events.append(
            SceneActorAdded(
                stream_id=scene,
                stream_version=first_version + 2 * i,
                movie_id=movie,
                actor_id=uuid4(),
                character_name=f"役 {i}",
                occurred_at=at,
            )
        )
        events.append(
            DialogueAdded(
                stream_id=scene,
                stream_version=first_version + 2 * i + 1,
                movie_id=movie,
                dialogue_id=uuid4(),
                actor_id=uuid4(),
                dialogue_text=f"台詞 {i}",
                start_time_offset=i,
                occurred_at=at,
            )
        )
    return events


async def _apply_both(schemas: _Schemas, events: list[DomainEvent], *, batch: bool) -> None:
    projection = (
        SCENES_PROJECTION
        if batch
        else dataclasses.replace(SCENES_PROJECTION, batch_handlers={}, commuting=frozenset())
    )
    deliveries = [delivery(e, position=i + 1) for i, e in enumerate(events)]
    for name in (schemas.kept, schemas.bare):
        await ProjectionRunner(schemas.pools[name], projection).handle_batch(deliveries)


async def _differences(settings: Settings, schemas: _Schemas) -> list[str]:
    conn = await asyncpg.connect(settings.dsn_for("scene"))
    try:
        found = [d.describe() for d in await compare_schemas(conn, schemas.kept, schemas.bare)]
    finally:
        await conn.close()
    kept = {tuple(r) for r in await schemas.pools[schemas.kept].fetch(_DEAD_LETTERS)}
    bare = {tuple(r) for r in await schemas.pools[schemas.bare].fetch(_DEAD_LETTERS)}
    if kept != bare:
        found.append(f"dead letters: with the keys only {kept - bare}, without only {bare - kept}")
    return found


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "one_by_one"])
async def test_cast_and_lines_of_a_missing_scene_are_dead_lettered_without_the_keys(
    settings: Settings, schemas: _Schemas, *, batch: bool
) -> None:
    movie, present, missing = uuid4(), uuid4(), uuid4()
    events = [
        _scene(present, movie),
        *_cast_and_lines(present, movie, 2),
        *_cast_and_lines(missing, movie, 1),  # the scene's creation never applied
    ]
    await _apply_both(schemas, events, batch=batch)
    bare = schemas.pools[schemas.bare]
    assert (
        await bare.fetchval("SELECT count(*) FROM projection_dead_letters WHERE stream_id = $1", missing) == 4
    )
    assert (
        await bare.fetchval(
            "SELECT (SELECT count(*) FROM scene_actors WHERE scene_id = $1)"
            " + (SELECT count(*) FROM scene_dialogues WHERE scene_id = $1)",
            missing,
        )
        == 0
    )
    assert await _differences(settings, schemas) == []


@pytest.mark.parametrize("batch", [True, False], ids=["batch", "one_by_one"])
async def test_a_deleted_scene_takes_its_cast_and_lines_along_without_the_keys(
    settings: Settings, schemas: _Schemas, *, batch: bool
) -> None:
    movie, deleted, kept = uuid4(), uuid4(), uuid4()
    events = [
        _scene(deleted, movie),
        *_cast_and_lines(deleted, movie, 2),
        SceneDeleted(stream_id=deleted, stream_version=6, movie_id=movie),
        _scene(kept, movie),
        *_cast_and_lines(kept, movie, 2),
    ]
    await _apply_both(schemas, events, batch=batch)
    bare = schemas.pools[schemas.bare]
    counts = await bare.fetchrow(
        "SELECT (SELECT count(*) FROM scene_actors WHERE scene_id = $1) AS gone_cast,"
        " (SELECT count(*) FROM scene_dialogues WHERE scene_id = $1) AS gone_lines,"
        " (SELECT count(*) FROM scene_actors WHERE scene_id = $2) AS cast,"
        " (SELECT count(*) FROM scene_dialogues WHERE scene_id = $2) AS lines",
        deleted,
        kept,
    )
    assert dict(counts) == {"gone_cast": 0, "gone_lines": 0, "cast": 2, "lines": 2}
    assert await _differences(settings, schemas) == []
