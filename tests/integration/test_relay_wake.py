"""The relay is woken by its own process's appends, and only by committed ones."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import uuid4

import pytest

from commands.errors import ConcurrencyConflictError
from events.base import EventMetadata
from infra.bootstrap import System, build_relay, open_system
from infra.publisher import InMemoryPublisher
from infra.settings import Settings
from tests.conftest import eventually
from tests.integration.test_relay import scene_event

pytestmark = pytest.mark.integration

# Longer than any test here waits: the relay's poll never comes, only a wake or the stop.
NO_POLL = 3600.0


@pytest.fixture(name="system")
async def fx_system(fresh_settings: Settings) -> AsyncIterator[System]:
    system = await open_system(fresh_settings.model_copy(update={"relay_poll_interval": NO_POLL}))
    try:
        yield system
    finally:
        await system.close()


async def test_an_append_of_the_relays_process_is_published_without_waiting_for_a_poll(
    system: System,
) -> None:
    publisher = InMemoryPublisher()
    relay = build_relay(system, publisher)
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    try:
        await asyncio.sleep(0.2)  # the relay has read the empty log and idles
        event = scene_event(uuid4(), uuid4(), 1)
        await system.event_store.append([event], expected_version=0, metadata=EventMetadata())
        await eventually(lambda: asyncio.sleep(0, relay.stats.published == 1), timeout=10)
        assert [dict(m.headers)["ce_id"].decode() for m in publisher.messages] == [str(event.event_id)]
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)


async def test_stopping_an_idle_relay_does_not_wait_for_its_poll(system: System) -> None:
    relay = build_relay(system, InMemoryPublisher())
    stop = asyncio.Event()
    task = asyncio.create_task(relay.run(stop))
    await asyncio.sleep(0.2)
    stop.set()
    await asyncio.wait_for(task, timeout=10)
    assert task.exception() is None


async def test_only_appends_that_commit_new_events_call_the_listeners(system: System) -> None:
    calls: list[None] = []
    system.event_store.on_appended(lambda: calls.append(None))
    event = scene_event(uuid4(), uuid4(), 1)
    command_id = uuid4()
    await system.event_store.append(
        [event], expected_version=0, metadata=EventMetadata(), command_id=command_id
    )
    # The same command again: answered from the log, nothing new committed.
    again = await system.event_store.append(
        [event], expected_version=0, metadata=EventMetadata(), command_id=command_id
    )
    with pytest.raises(ConcurrencyConflictError):
        await system.event_store.append(
            [scene_event(uuid4(), uuid4(), 1).model_copy(update={"stream_id": event.stream_id})],
            expected_version=0,
            metadata=EventMetadata(),
        )
    assert again.duplicate
    assert len(calls) == 1
