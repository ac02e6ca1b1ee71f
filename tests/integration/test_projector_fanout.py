"""One consumer per topic: a batch fanned out to every projection of the topic, on the real databases."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import cast
from uuid import uuid4

import asyncpg
import pytest
from faststream.kafka import KafkaBroker

from events.scene import SceneCreated
from infra.db import create_pool
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from infra.workers import DelayedSettle, ProjectorTarget, project_batch
from projections.runner import Delivery, ProjectionRunner
from tests.integration.projection_probes import ProbeProjection, RecordingRunner
from tests.integration.test_projection_runner import delivery

pytestmark = pytest.mark.integration


@pytest.fixture(name="pool")
async def fx_pool(settings: Settings) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(settings.dsn_for("scene"), max_size=4)
    yield pool
    await pool.close()


class _Broker:
    """Stands in for the broker: records the dead letters published."""

    def __init__(self) -> None:
        self.published: list[tuple[str, dict[str, str]]] = []

    async def publish(self, value: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]) -> None:  # noqa: ARG002
        self.published.append((topic, headers))


def _created() -> SceneCreated:
    return SceneCreated(
        stream_id=uuid4(),
        stream_version=1,
        movie_id=uuid4(),
        start_time_seconds=10,
        end_time_seconds=20,
        level1_classification="L",
        level2_classification="L2",
    )


def _target(runner: ProjectionRunner) -> ProjectorTarget:
    # Settled at once, so that no settle is left pending when the test ends.
    later = DelayedSettle(runner, quiet=0, max_wait=0) if runner.projection.deferral is not None else None
    return ProjectorTarget(runner, ("scenes.events",), later)


async def _fan_out(
    targets: Sequence[ProjectorTarget], batch: Sequence[Delivery], *, backlog: bool = False
) -> _Broker:
    broker = _Broker()
    await project_batch(cast("KafkaBroker", broker), targets, batch, backlog=backlog)
    return broker


async def test_every_projection_of_the_topic_applies_the_batch(pool: asyncpg.Pool) -> None:
    scenes, probe = RecordingRunner(pool, SCENES_PROJECTION), ProbeProjection()
    events = [_created(), _created()]
    await _fan_out(
        [_target(scenes), _target(ProjectionRunner(pool, probe.projection()))], [delivery(e) for e in events]
    )
    assert probe.applied == events
    assert scenes.outcomes[0].applied == 2
    found = await pool.fetchval(
        "SELECT count(*) FROM scenes WHERE id = ANY($1::uuid[])", [e.stream_id for e in events]
    )
    assert found == 2


async def test_a_failed_projection_fails_the_batch_and_its_redelivery_is_a_no_op_for_the_others(
    pool: asyncpg.Pool,
) -> None:
    scenes, probe = RecordingRunner(pool, SCENES_PROJECTION), ProbeProjection(failures=[RuntimeError("bug")])
    targets = [_target(scenes), _target(ProjectionRunner(pool, probe.projection()))]
    batch = [delivery(_created())]
    with pytest.raises(RuntimeError, match="bug"):
        await _fan_out(targets, batch)
    assert scenes.outcomes[0].applied == 1  # committed although the batch failed

    await _fan_out(targets, batch)  # the redelivery

    assert (scenes.outcomes[1].applied, scenes.outcomes[1].duplicates) == (0, 1)
    assert len(probe.applied) == 1


async def test_a_transient_failure_is_retried_for_that_projection_alone(pool: asyncpg.Pool) -> None:
    scenes, probe = (
        RecordingRunner(pool, SCENES_PROJECTION),
        ProbeProjection(failures=[OSError("connection reset")]),
    )
    await _fan_out(
        [_target(scenes), _target(ProjectionRunner(pool, probe.projection()))], [delivery(_created())]
    )
    assert len(scenes.outcomes) == 1
    assert len(probe.applied) == 1


async def test_a_dead_letter_is_published_with_the_projection_that_refused_it(pool: asyncpg.Pool) -> None:
    scenes, probe = (
        RecordingRunner(pool, SCENES_PROJECTION),
        ProbeProjection(failures=[ValueError("poison")] * 2),
    )  # fast path, then careful
    broker = await _fan_out(
        [_target(scenes), _target(ProjectionRunner(pool, probe.projection()))], [delivery(_created())]
    )
    assert [(topic, headers["x-projection"]) for topic, headers in broker.published] == [
        ("test.scenes.events.dlq", probe.name)
    ]
    assert scenes.outcomes[0].applied == 1


async def test_a_backlog_defers_only_the_projections_with_a_deferral(pool: asyncpg.Pool) -> None:
    probe = ProbeProjection()
    scenes, other = RecordingRunner(pool, SCENES_PROJECTION), RecordingRunner(pool, probe.projection())
    await _fan_out([_target(scenes), _target(other)], [delivery(_created())], backlog=True)
    await asyncio.sleep(0.2)  # the deferred work's settle
    assert (scenes.settles, other.settles) == ([False], [True])
