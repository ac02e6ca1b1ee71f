"""Command → saga_events → Kafka → scenes read model, on the real PostgreSQL and Kafka."""

from __future__ import annotations

import json
from uuid import UUID, uuid4

import asyncpg
import pytest
from aiokafka import AIOKafkaProducer

from commands.errors import ConcurrencyConflictError
from commands.scene import CreateScene, ReclassifyScene, RetimeScene
from events.base import EventMetadata
from events.movie import MovieRegistered
from infra.bootstrap import System
from infra.topics import SCENE_COMMANDS, SCENE_COMMANDS_DLQ
from read_models.scenes import SceneView
from tests.acting import AS_SYSTEM
from tests.conftest import eventually
from tests.integration.conftest import header, read_topic

pytestmark = pytest.mark.integration


async def register_movie(live: System, title: str = "君の名は。") -> UUID:
    """Append a movie's registration to the log: scenes may only be created for a registered movie."""
    movie_id = uuid4()
    await live.event_store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title=title)],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return movie_id


def _create(movie_id: UUID) -> CreateScene:
    return CreateScene(
        movie_id=movie_id,
        start="012345",
        end="+105",
        classification="L2-3",
        description="君が好きだ",
        tags=("rain",),
        emotional_tags=("romantic",),
    )


async def _scene(live: System, scene_id: UUID, version: int = 1) -> SceneView | None:
    scene = await live.scenes.get(scene_id)
    return scene if scene and scene.version >= version else None


async def test_command_lands_in_saga_events_with_metadata(live: System) -> None:
    cmd = _create(await register_movie(live))
    user = uuid4()
    await live.bus.dispatch(
        cmd, EventMetadata(user_id=user, user_role="professional", client_addr="127.0.0.1")
    )
    row = await live.event_pool.fetchrow("SELECT * FROM saga_events WHERE stream_id = $1", cmd.scene_id)
    assert row is not None
    assert row["event_type"] == "SceneCreated"
    assert row["stream_version"] == 1
    assert row["schema_version"] == 1
    assert row["partition_key"] == str(cmd.movie_id)
    assert (row["user_id"], row["user_role"], str(row["client_addr"])) == (user, "professional", "127.0.0.1")
    assert row["causation_id"] == cmd.command_id
    assert (row["saga_id"], row["step_status"]) == (cmd.command_id, "completed")
    assert row["event_data"]["start_time_seconds"] == 5025


async def test_event_reaches_kafka_with_cloudevents_headers(live: System) -> None:
    cmd = _create(await register_movie(live))
    await live.bus.dispatch(cmd, AS_SYSTEM)
    [recorded] = await live.event_store.read_stream(cmd.scene_id)
    event_id = str(recorded.event.event_id)
    settings = live.settings
    records = await read_topic(
        settings.require_kafka(),
        settings.topic("scenes.events"),
        until=lambda rs: any(header(r, "ce_id") == event_id for r in rs),
    )
    [record] = [r for r in records if header(r, "ce_id") == event_id]
    assert record.key == str(cmd.movie_id).encode()
    assert header(record, "ce_specversion") == "1.0"
    assert header(record, "ce_type") == "sceneledger.scene.SceneCreated"
    assert header(record, "ce_source") == "/sceneledger/scene"
    assert header(record, "ce_subject") == str(cmd.scene_id)
    assert header(record, "ce_time") is not None
    assert header(record, "content-type") == "application/json"
    assert json.loads(record.value)["level3_classification"] == "L2-3"


async def test_created_scene_appears_in_read_model(live: System) -> None:
    cmd = _create(await register_movie(live))
    await live.bus.dispatch(cmd, AS_SYSTEM)
    scene = await eventually(lambda: _scene(live, cmd.scene_id))
    assert isinstance(scene, SceneView)
    assert (scene.start_time_seconds, scene.end_time_seconds, scene.duration_seconds) == (5025, 5090, 65)
    assert scene.input_format == {"startInput": "012345", "endInput": "+105"}
    assert (scene.level1_classification, scene.level2_classification, scene.level3_classification) == (
        "L",
        "L2",
        "L2-3",
    )
    assert scene.tags == ["rain"]


async def test_movie_scenes_are_ordered_by_start(live: System) -> None:
    movie = await register_movie(live)
    late = CreateScene(movie_id=movie, start="2:00", end="2:30", classification="A1")
    early = CreateScene(movie_id=movie, start="1:00", end="1:30", classification="R2")
    await live.bus.dispatch(late, AS_SYSTEM)
    await live.bus.dispatch(early, AS_SYSTEM)

    async def both() -> list[SceneView] | None:
        scenes = await live.scenes.by_movie(movie)
        return scenes if len(scenes) == 2 else None

    scenes = await eventually(both)
    assert [s.id for s in scenes] == [early.scene_id, late.scene_id]


async def test_stale_expected_version_is_rejected_and_nothing_is_written(live: System) -> None:
    cmd = _create(await register_movie(live))
    await live.bus.dispatch(cmd, AS_SYSTEM)
    await live.bus.dispatch(RetimeScene(scene_id=cmd.scene_id, start="1", end="2"), AS_SYSTEM)
    with pytest.raises(ConcurrencyConflictError):
        await live.bus.dispatch(
            ReclassifyScene(scene_id=cmd.scene_id, classification="A1", expected_version=1), AS_SYSTEM
        )
    count = await live.event_pool.fetchval(
        "SELECT count(*) FROM saga_events WHERE stream_id = $1", cmd.scene_id
    )
    assert count == 2


async def test_redelivered_message_leaves_read_model_unchanged(live: System) -> None:
    settings = live.settings
    cmd = _create(await register_movie(live))
    await live.bus.dispatch(cmd, AS_SYSTEM)
    await live.bus.dispatch(RetimeScene(scene_id=cmd.scene_id, start="10", end="20"), AS_SYSTEM)
    await live.bus.dispatch(ReclassifyScene(scene_id=cmd.scene_id, classification="A1"), AS_SYSTEM)
    before = await eventually(lambda: _scene(live, cmd.scene_id, version=3))
    [_, retimed, _] = await live.event_store.read_stream(cmd.scene_id)
    retimed_id = str(retimed.event.event_id)
    records = await read_topic(
        settings.require_kafka(),
        settings.topic("scenes.events"),
        until=lambda rs: any(header(r, "ce_id") == retimed_id for r in rs),
    )
    [original] = [r for r in records if header(r, "ce_id") == retimed_id]

    producer = AIOKafkaProducer(bootstrap_servers=settings.require_kafka())
    await producer.start()
    try:
        for _ in range(2):
            sent = await producer.send_and_wait(
                original.topic,
                value=original.value,
                key=original.key,
                headers=list(original.headers),
                partition=original.partition,
            )
    finally:
        await producer.stop()

    async def consumed() -> bool:
        offset = await live.scene_pool.fetchval(
            "SELECT next_offset FROM projection_offsets WHERE projection = 'scenes' AND topic = $1 "
            "AND partition = $2",
            original.topic,
            original.partition,
        )
        return bool(offset and offset > sent.offset)

    await eventually(consumed)
    assert await live.scenes.get(cmd.scene_id) == before
    version = await live.scene_pool.fetchval(
        "SELECT stream_version FROM projection_stream_versions "
        "WHERE projection = 'scenes' AND stream_id = $1",
        cmd.scene_id,
    )
    assert version == 3


async def _produce_command(live: System, body: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=live.settings.require_kafka())
    await producer.start()
    try:
        await producer.send_and_wait(live.settings.topic(SCENE_COMMANDS), value=body, key=b"k")
    finally:
        await producer.stop()


async def test_command_from_kafka_topic_reaches_read_model(live: System) -> None:
    scene_id, movie_id = uuid4(), await register_movie(live)
    body = {
        "type": "CreateScene",
        "data": {
            "scene_id": str(scene_id),
            "movie_id": str(movie_id),
            "start": "105",
            "end": "+5",
            "classification": "C3",
        },
        "metadata": {"user_id": str(uuid4()), "user_role": "contributor"},
    }
    await _produce_command(live, json.dumps(body).encode())
    scene = await eventually(lambda: _scene(live, scene_id))
    assert isinstance(scene, SceneView)
    assert (scene.start_time_seconds, scene.end_time_seconds) == (65, 70)


async def test_bad_command_from_kafka_is_dead_lettered_with_reason(live: System) -> None:
    scene_id = uuid4()
    body = json.dumps(
        {
            "type": "CreateScene",
            "data": {
                "scene_id": str(scene_id),
                "movie_id": str(uuid4()),
                "start": "0175",
                "end": "+5",
                "classification": "L2",
            },
            "metadata": {"user_id": str(uuid4()), "user_role": "contributor"},
        }
    ).encode()
    await _produce_command(live, body)
    settings = live.settings
    records = await read_topic(
        settings.require_kafka(),
        settings.topic(SCENE_COMMANDS_DLQ),
        until=lambda rs: any(r.value == body for r in rs),
    )
    [dead] = [r for r in records if r.value == body]
    assert header(dead, "x-error-field") == "start"
    assert "seconds must be below 60" in (header(dead, "x-error-reason") or "")
    count = await live.event_pool.fetchval("SELECT count(*) FROM saga_events WHERE stream_id = $1", scene_id)
    assert count == 0


async def test_a_kafka_command_without_an_acting_role_is_dead_lettered_naming_the_role(live: System) -> None:
    scene_id = uuid4()
    data = {"scene_id": str(scene_id), "movie_id": str(await register_movie(live))}
    body = json.dumps(
        {"type": "CreateScene", "data": {**data, "start": "1", "end": "2", "classification": "O1"}}
    ).encode()
    await _produce_command(live, body)
    settings = live.settings
    records = await read_topic(
        settings.require_kafka(),
        settings.topic(SCENE_COMMANDS_DLQ),
        until=lambda rs: any(r.value == body for r in rs),
    )
    [dead] = [r for r in records if r.value == body]
    assert (header(dead, "x-error-field"), header(dead, "x-error-type")) == ("role", "PermissionDeniedError")
    count = await live.event_pool.fetchval("SELECT count(*) FROM saga_events WHERE stream_id = $1", scene_id)
    assert count == 0


async def test_read_model_enforces_the_designs_constraints(live: System) -> None:
    with pytest.raises(asyncpg.CheckViolationError):
        await live.scene_pool.execute(
            "INSERT INTO scenes (movie_id, start_time_seconds, end_time_seconds, level1_classification, "
            "level2_classification) VALUES ($1, 10, 5, 'L', 'L2')",
            uuid4(),
        )


async def test_unparseable_command_is_dead_lettered_and_consumption_goes_on(live: System) -> None:
    garbage = b"\xff\xfe not a command " + uuid4().bytes
    await _produce_command(live, garbage)
    follow_up = uuid4()
    body = {
        "type": "CreateScene",
        "data": {
            "scene_id": str(follow_up),
            "movie_id": str(await register_movie(live)),
            "start": "1",
            "end": "2",
            "classification": "O1",
        },
        "metadata": {"user_id": str(uuid4()), "user_role": "contributor"},
    }
    await _produce_command(live, json.dumps(body).encode())
    settings = live.settings
    records = await read_topic(
        settings.require_kafka(),
        settings.topic(SCENE_COMMANDS_DLQ),
        until=lambda rs: any(r.value == garbage for r in rs),
    )
    [dead] = [r for r in records if r.value == garbage]
    assert header(dead, "x-error-field") == "body"
    assert await eventually(lambda: _scene(live, follow_up))
