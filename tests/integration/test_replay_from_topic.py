"""`replay --from-topic`: consumer-group resets on the real Kafka, with the projectors stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError
from faststream.kafka import KafkaBroker
from typer.testing import CliRunner

from commands.actor import RegisterActor
from commands.movie import RegisterMovie
from commands.scene import AddDialogue, AddSceneActor, CreateScene, RetimeScene
from infra.bootstrap import System, build_broker, build_relay, open_system
from infra.publisher import KafkaPublisher
from infra.replay import BOOKKEEPING_TABLES
from infra.replay_cli import replay_app
from infra.services import ALL_SERVICES
from infra.settings import Settings
from infra.topic_reset import partitions_of
from infra.workers import projector_group
from tests.acting import AS_SYSTEM
from tests.conftest import eventually
from tests.integration.test_replay import _cli_env, _settle

pytestmark = pytest.mark.integration


@dataclass
class Stack:
    """A namespace with its relay running and a projector broker that tests stop and start."""

    system: System
    broker: KafkaBroker | None

    async def stop_projectors(self) -> None:
        """Stop the projectors and wait until their consumer groups have no member left."""
        if self.broker is not None:
            await self.broker.stop()
            self.broker = None
        settings = self.system.settings

        async def idle(topic: str) -> bool:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=settings.require_kafka(),
                group_id=_group(settings, topic),
                enable_auto_commit=False,
            )
            await consumer.start()
            try:
                parts = await partitions_of(settings, [settings.topic(topic)])
                consumer.assign(parts)
                beginning = await consumer.beginning_offsets(parts)
                current = {tp: (await consumer.committed(tp)) or beginning[tp] for tp in parts}
                # Refused by the broker while the group still has members.
                await consumer.commit(current)
            except CommitFailedError:
                return False
            finally:
                await consumer.stop()
            return True

        for topic in ("scenes.events", "movies.events", "actors.events"):
            await eventually(lambda t=topic: idle(t), timeout=60)  # type: ignore[misc]

    async def start_projectors(self) -> None:
        """Start a projector broker again."""
        self.broker = build_broker(self.system, commands=False)
        await self.broker.start()


@pytest.fixture(name="stack")
async def fx_stack(fresh_settings: Settings) -> AsyncIterator[Stack]:
    system = await open_system(fresh_settings)
    publisher = KafkaPublisher(fresh_settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    stack = Stack(system, None)
    await stack.start_projectors()
    yield stack
    stop.set()
    await relay
    if stack.broker is not None:
        await stack.broker.stop()
    await publisher.stop()
    await system.close()


async def _scenes(system: System) -> list[UUID]:
    movie, actor = uuid4(), uuid4()
    await system.bus.dispatch(RegisterMovie(movie_id=movie, title="東京物語"), AS_SYSTEM)
    await system.bus.dispatch(RegisterActor(actor_id=actor, name="原節子"), AS_SYSTEM)
    scenes = []
    for i in range(4):
        scene = uuid4()
        await system.bus.dispatch(
            CreateScene(scene_id=scene, movie_id=movie, start=f"{i * 200}", end="+40", classification="D2"),
            AS_SYSTEM,
        )
        await system.bus.dispatch(AddSceneActor(scene_id=scene, actor_id=actor), AS_SYSTEM)
        await system.bus.dispatch(
            AddDialogue(scene_id=scene, actor_id=actor, dialogue_text="ありがとう"), AS_SYSTEM
        )
        scenes.append(scene)
    await _settle(system)
    return scenes


async def _content(pool: asyncpg.Pool) -> dict[str, list[str]]:
    """Every read-model table's rows (as md5s), bookkeeping left out."""
    tables = [
        r["tablename"]
        for r in await pool.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        if r["tablename"] not in BOOKKEEPING_TABLES
    ]
    return {
        t: sorted(r[0] for r in await pool.fetch(f'SELECT md5(to_jsonb(x)::text) FROM "{t}" x'))
        for t in tables
    }


def _group(settings: Settings, topic: str) -> str:
    """The consumer group of ``topic`` in a projector process running every projection."""
    names = [p.projection.name for spec in ALL_SERVICES for p in spec.projections if topic in p.topics]
    return projector_group(settings, topic, names)


async def _group_offsets(settings: Settings) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """The committed offset and the end offset of each partition of ``scenes.events``."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.require_kafka(),
        group_id=_group(settings, "scenes.events"),
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = await partitions_of(settings, [settings.topic("scenes.events")])
        ends = await consumer.end_offsets(partitions)
        committed = {tp: (await consumer.committed(tp)) or 0 for tp in partitions}
    finally:
        await consumer.stop()
    return committed, ends


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(replay_app, ["replay", *args])
    return result.exit_code, result.output


async def test_reset_is_refused_while_the_projectors_run(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenes(stack.system)
    _cli_env(stack.system, monkeypatch)

    code, output = await asyncio.to_thread(_invoke, "--projection", "scenes", "--from-topic")

    assert code == 3, output
    assert "active members" in output
    assert await stack.system.pools["scene"].fetchval("SELECT count(*) FROM scenes") == 4


async def test_reset_to_earliest_rebuilds_the_service_from_its_topics(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenes(stack.system)
    pool = stack.system.pools["scene"]
    before = await _content(pool)
    await stack.stop_projectors()
    _cli_env(stack.system, monkeypatch)

    code, output = await asyncio.to_thread(_invoke, "--projection", "scenes", "--from-topic")

    assert code == 0, output
    assert "read models emptied" in output
    assert await pool.fetchval("SELECT count(*) FROM scenes") == 0
    await stack.start_projectors()
    await _settle(stack.system)
    assert await _content(pool) == before


async def test_reset_to_a_time_redelivers_from_then_and_keeps_the_read_model(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenes = await _scenes(stack.system)
    at = datetime.now(UTC)
    await stack.system.bus.dispatch(RetimeScene(scene_id=scenes[0], start="3000", end="+10"), AS_SYSTEM)
    await _settle(stack.system)
    pool = stack.system.pools["scene"]
    before = await _content(pool)
    await stack.stop_projectors()
    _cli_env(stack.system, monkeypatch)

    code, output = await asyncio.to_thread(
        _invoke, "--projection", "scenes", "--from-topic", "--to-offset", at.isoformat()
    )

    assert code == 0, output
    committed, ends = await _group_offsets(stack.system.settings)
    assert sum(ends[tp] - committed[tp] for tp in ends) == 1  # only the retime came after `at`
    recorded = {
        (r["topic"], r["partition"]): r["next_offset"]
        for r in await pool.fetch(
            "SELECT topic, partition, next_offset FROM projection_offsets WHERE projection = 'scenes'"
        )
    }
    assert all(
        recorded[(tp.topic, tp.partition)] == committed[tp]
        for tp in committed
        if (tp.topic, tp.partition) in recorded
    )
    await stack.start_projectors()
    await _settle(stack.system)
    assert await _content(pool) == before
    dead = await pool.fetchval("SELECT count(*) FROM projection_dead_letters")
    assert dead == 0


async def _commit_as(settings: Settings, group: str, offsets: dict[TopicPartition, int]) -> None:
    """Commit ``offsets`` for ``group`` from outside it (as an idle projector process left them)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.require_kafka(), group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(list(offsets))
        await consumer.commit(offsets)
    finally:
        await consumer.stop()


async def test_a_reset_leaves_the_groups_that_do_not_feed_the_projection(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenes(stack.system)
    at = datetime.now(UTC)
    await stack.stop_projectors()
    settings = stack.system.settings
    _, ends = await _group_offsets(settings)
    # A process that ran only the users projection: its own group of scenes.events.
    users_only = projector_group(settings, "scenes.events", ["users"])
    await _commit_as(settings, users_only, ends)
    _cli_env(stack.system, monkeypatch)

    code, output = await asyncio.to_thread(
        _invoke, "--projection", "scenes", "--from-topic", "--to-offset", at.isoformat()
    )

    assert code == 0, output
    assert _group(settings, "scenes.events") in output
    assert users_only not in output
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.require_kafka(), group_id=users_only, enable_auto_commit=False
    )
    await consumer.start()
    try:
        assert {tp: await consumer.committed(tp) for tp in ends} == ends
    finally:
        await consumer.stop()
