"""The Kafka command subscriber, in memory (FastStream's TestKafkaBroker): thin parse-build-call."""

from __future__ import annotations

import json
from typing import Any
from uuid import uuid4

import pytest
from faststream.kafka import KafkaBroker, KafkaMessage, TestKafkaBroker

from commands.base import HandlerDeps
from commands.handlers import CommandBus
from commands.scene_handlers import SCENE_HANDLERS
from events.base import EventMetadata
from events.movie import MovieRegistered
from events.scene import SceneCreated
from infra.memory_event_store import InMemoryEventStore
from infra.settings import Settings
from infra.topics import SCENE_COMMANDS, SCENE_COMMANDS_DLQ
from infra.workers import register_command_consumer

pytestmark = pytest.mark.unit


def _broker() -> tuple[KafkaBroker, InMemoryEventStore, list[Any]]:
    store = InMemoryEventStore()
    broker = KafkaBroker("localhost:9092")
    register_command_consumer(
        broker, Settings(), CommandBus(HandlerDeps(event_store=store), SCENE_HANDLERS), list(SCENE_HANDLERS)
    )
    dead: list[Any] = []

    @broker.subscriber(SCENE_COMMANDS_DLQ)
    async def collect(body: Any) -> None:
        dead.append(body)

    return broker, store, dead


async def _movie(store: InMemoryEventStore) -> str:
    """A registered movie: scenes may only be created for one."""
    movie = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="映画")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return str(movie)


async def test_valid_command_is_appended() -> None:
    broker, store, dead = _broker()
    user = uuid4()
    body = {
        "type": "CreateScene",
        "data": {"movie_id": await _movie(store), "start": "1", "end": "2", "classification": "D1"},
        "metadata": {"user_id": str(user), "user_role": "contributor"},
    }
    async with TestKafkaBroker(broker) as br:
        await br.publish(json.dumps(body).encode(), topic=SCENE_COMMANDS)
    assert [type(r.event) for r in store.all_events] == [MovieRegistered, SceneCreated]
    created = store.all_events[-1]
    assert isinstance(created.event, SceneCreated)
    assert (created.metadata.user_id, created.event.created_by) == (user, user)
    assert dead == []


async def test_a_command_without_an_acting_role_goes_to_dead_letters_naming_the_role() -> None:
    broker, store, _ = _broker()
    headers: list[dict[str, str]] = []

    @broker.subscriber(SCENE_COMMANDS_DLQ, group_id="headers")
    async def collect_headers(body: Any, msg: KafkaMessage) -> None:  # noqa: ARG001  headers only
        headers.append(dict(msg.headers))

    body = {
        "type": "CreateScene",
        "data": {"movie_id": await _movie(store), "start": "1", "end": "2", "classification": "D1"},
    }
    async with TestKafkaBroker(broker) as br:
        await br.publish(json.dumps(body).encode(), topic=SCENE_COMMANDS)
    assert [type(r.event) for r in store.all_events] == [MovieRegistered]
    [dead] = headers
    assert (dead["x-error-field"], dead["x-error-type"]) == ("role", "PermissionDeniedError")
    assert "without an acting role" in dead["x-error-reason"]


async def test_rejected_command_goes_to_dead_letters_and_writes_nothing() -> None:
    broker, store, dead = _broker()
    body = {
        "type": "CreateScene",
        "data": {"movie_id": await _movie(store), "start": "1", "end": "1", "classification": "D1"},
        "metadata": {"user_id": str(uuid4()), "user_role": "contributor"},
    }
    async with TestKafkaBroker(broker) as br:
        await br.publish(json.dumps(body).encode(), topic=SCENE_COMMANDS)
    assert [type(r.event) for r in store.all_events] == [MovieRegistered]
    assert len(dead) == 1
