"""The prompt batch subscriber: polls again at once after an idle poll, still never spins."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker

from infra import prompt_batch
from infra.prompt_batch import PromptBatchSubscriber, prompt

pytestmark = pytest.mark.unit


class _Clock:
    """A clock the fake consumer moves, and the sleeps the subscriber asked for."""

    def __init__(self) -> None:
        self.now = 100.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class _Consumer:
    """Answers each ``getmany`` with the next scripted (seconds waited, records by partition)."""

    def __init__(self, clock: _Clock, answers: list[tuple[float, dict[str, list[str]]]]) -> None:
        self._clock = clock
        self._answers = answers
        self.calls: list[tuple[int, int]] = []

    async def getmany(self, *, timeout_ms: int, max_records: int) -> dict[str, list[str]]:
        self.calls.append((timeout_ms, max_records))
        waited, records = self._answers.pop(0)
        self._clock.now += waited
        return records


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(prompt_batch, "time", SimpleNamespace(monotonic=fake.monotonic))
    monkeypatch.setattr(prompt_batch, "asyncio", SimpleNamespace(sleep=fake.sleep))
    return fake


async def _poll(consumer: _Consumer) -> tuple[Any, ...]:
    subscriber = SimpleNamespace(batch_timeout_ms=200, max_records=500, pipeline=None)
    return await PromptBatchSubscriber.get_msg(cast("Any", subscriber), cast("Any", consumer))


async def test_a_poll_that_waited_its_whole_timeout_does_not_sleep_after_it(clock: _Clock) -> None:
    assert await _poll(_Consumer(clock, [(0.2, {})])) == ()
    assert clock.slept == []


async def test_a_poll_that_came_back_empty_early_sleeps_out_the_rest_of_its_timeout(clock: _Clock) -> None:
    assert await _poll(_Consumer(clock, [(0.05, {})])) == ()
    assert clock.slept == [pytest.approx(0.15)]


async def test_records_of_every_partition_come_back_in_one_batch_without_sleeping(clock: _Clock) -> None:
    consumer = _Consumer(clock, [(0.001, {"p0": ["a", "b"], "p1": ["c"]})])
    assert await _poll(consumer) == ("a", "b", "c")
    assert consumer.calls == [(200, 500)]
    assert clock.slept == []


def test_prompt_switches_a_batch_subscriber_in_place() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    subscriber = broker.subscriber("events", batch=True, group_id="g", max_records=10)
    assert prompt(subscriber) is subscriber
    assert type(subscriber) is PromptBatchSubscriber
    assert (subscriber.batch_timeout_ms, subscriber.max_records) == (200, 10)


def test_prompt_refuses_a_subscriber_that_is_not_a_batch_one() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    subscriber = broker.subscriber("events", group_id="g")
    with pytest.raises(TypeError, match="BatchSubscriber"):
        prompt(cast("Any", subscriber))
