"""The batch pipeline: a batch is prepared while the one before is applied, committed only once applied."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest
from aiokafka.errors import CommitFailedError, IllegalStateError
from aiokafka.structs import ConsumerRecord, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker

from events.registry import EventRegistry
from infra.prompt_batch import BatchPipeline, DrainOnRevoke, PromptBatchSubscriber, prompt, records_waiting
from infra.settings import Settings
from infra.workers import register_projectors
from projections.runner import Projection, ProjectionRunner

pytestmark = pytest.mark.unit

P0, P1 = TopicPartition("t", 0), TopicPartition("t", 1)


def _records(*coordinates: tuple[int, int]) -> tuple[ConsumerRecord[bytes, bytes], ...]:
    """Records of topic ``t`` at (partition, offset)."""
    return tuple(ConsumerRecord("t", p, o, 0, 0, None, b"v", None, 0, 1, ()) for p, o in coordinates)


class _Consumer:
    """Records commits and seeks; ``getmany`` answers from a script, ``{}`` when it runs out."""

    def __init__(self, *polls: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]) -> None:
        self.commits: list[dict[TopicPartition, int]] = []
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.refuse_commit: Exception | None = None
        self.unassigned: set[TopicPartition] = set()
        self.highwaters: dict[TopicPartition, int] = {}
        self.stopped = False
        self._polls = list(polls)

    def assignment(self) -> set[TopicPartition]:
        return {P0, P1} - self.unassigned

    def highwater(self, partition: TopicPartition) -> int | None:
        if partition in self.unassigned:  # as aiokafka: only an assigned partition is asked
            raise AssertionError("Partition is not assigned")
        return self.highwaters.get(partition)

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        if self.refuse_commit is not None:
            raise self.refuse_commit
        self.commits.append(dict(offsets))

    def seek(self, partition: TopicPartition, offset: int) -> None:
        if partition in self.unassigned:
            raise IllegalStateError(f"{partition} is not assigned")
        self.seeks.append((partition, offset))

    async def getmany(
        self,
        *,
        timeout_ms: int,  # noqa: ARG002  the subscriber's arguments, not used by the script
        max_records: int | None,  # noqa: ARG002
    ) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
        return self._polls.pop(0) if self._polls else {}

    async def stop(self) -> None:
        self.stopped = True


class _Stages:
    """A prepare and an apply that record what they did; each apply waits for its gate."""

    def __init__(self) -> None:
        self.log: list[str] = []
        self.gates: dict[str, asyncio.Event] = {}
        self.fail_apply: set[str] = set()
        self.fail_prepare: set[str] = set()
        self.waiting: list[bool] = []

    def gate(self, name: str) -> asyncio.Event:
        return self.gates.setdefault(name, asyncio.Event())

    async def prepare(self, records: Sequence[ConsumerRecord[Any, Any]], waiting: bool) -> str:
        name = ",".join(f"{r.partition}/{r.offset}" for r in records)
        self.log.append(f"prepare {name}")
        self.waiting.append(waiting)
        if name in self.fail_prepare:
            raise ValueError(f"cannot prepare {name}")
        return name

    async def apply(self, name: str) -> None:
        self.log.append(f"apply {name}")
        await self.gate(name).wait()
        if name in self.fail_apply:
            raise RuntimeError(f"cannot apply {name}")
        self.log.append(f"applied {name}")

    def pipeline(self) -> BatchPipeline[str]:
        return BatchPipeline(self.prepare, self.apply, name="test")


def _kafka(consumer: _Consumer) -> Any:
    """The fake, typed as the ``AIOKafkaConsumer`` it stands in for."""
    return cast("Any", consumer)


async def _turns(n: int = 5) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


async def test_the_next_batch_is_prepared_while_the_one_before_is_applied() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    await pipeline.handle(_kafka(consumer), _records((0, 0), (0, 1)))
    second = asyncio.create_task(pipeline.handle(_kafka(consumer), _records((0, 2))))
    await _turns()
    assert stages.log == ["prepare 0/0,0/1", "apply 0/0,0/1", "prepare 0/2"]
    assert consumer.commits == []  # the first batch is still being applied
    stages.gate("0/0,0/1").set()
    await second
    await _turns()
    assert consumer.commits == [{P0: 2}]
    assert stages.log[3:] == ["applied 0/0,0/1", "apply 0/2"]  # the second only after the first
    stages.gate("0/2").set()
    await pipeline.drain(_kafka(consumer))


async def test_a_batch_is_committed_per_partition_once_applied() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    records = _records((0, 5), (1, 9), (0, 6), (1, 10), (1, 11))
    stages.gate(",".join(f"{r.partition}/{r.offset}" for r in records)).set()
    await pipeline.handle(_kafka(consumer), records)
    await pipeline.drain(_kafka(consumer))
    assert consumer.commits == [{P0: 7, P1: 12}]
    assert not pipeline.busy


async def test_a_failed_apply_rewinds_to_it_and_drops_the_batch_read_after_it() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    stages.fail_apply.add("0/3,0/4")
    stages.gate("0/3,0/4").set()
    await pipeline.handle(_kafka(consumer), _records((0, 3), (0, 4)))
    await pipeline.handle(_kafka(consumer), _records((0, 5), (1, 7)))
    assert consumer.commits == []
    # Partition 0 back to the failed batch, partition 1 back to the dropped one's first record.
    assert sorted(consumer.seeks) == [(P0, 3), (P1, 7)]
    assert "apply 0/5,1/7" not in stages.log
    assert not pipeline.busy


async def test_a_failed_prepare_rewinds_to_its_batch_and_raises() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    stages.gate("0/1").set()
    await pipeline.handle(_kafka(consumer), _records((0, 1)))
    stages.fail_prepare.add("0/2,1/4")
    with pytest.raises(ValueError, match="cannot prepare"):
        await pipeline.handle(_kafka(consumer), _records((0, 2), (1, 4)))
    assert consumer.commits == [{P0: 2}]  # the batch before was applied: committed
    assert sorted(consumer.seeks) == [(P0, 2), (P1, 4)]


async def test_a_refused_commit_or_an_unassigned_partition_does_not_stop_the_pipeline() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    consumer.refuse_commit = CommitFailedError("rebalanced")
    stages.gate("0/1").set()
    await pipeline.handle(_kafka(consumer), _records((0, 1)))
    stages.fail_apply.add("1/8")
    stages.gate("1/8").set()
    await pipeline.handle(_kafka(consumer), _records((1, 8)))
    consumer.unassigned.add(P1)
    await pipeline.drain(_kafka(consumer))  # the failed batch: its partition went elsewhere
    assert consumer.seeks == []
    assert not pipeline.busy


async def test_draining_without_a_consumer_waits_for_the_apply_and_commits_nothing() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    await pipeline.handle(_kafka(consumer), _records((0, 1)))
    drained = asyncio.create_task(pipeline.drain(None))
    await _turns()
    assert not drained.done()
    stages.gate("0/1").set()
    await drained
    assert stages.log[-1] == "applied 0/1"
    assert consumer.commits == []


def _subscriber(pipeline: BatchPipeline[str] | None, consumer: _Consumer) -> PromptBatchSubscriber:
    broker = KafkaBroker("127.0.0.1:1")
    subscriber = prompt(
        broker.subscriber("t", batch=True, group_id="g", ack_policy=AckPolicy.MANUAL), pipeline
    )
    subscriber.consumer = _kafka(consumer)
    return subscriber


async def test_an_idle_poll_commits_the_batch_being_applied() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    subscriber = _subscriber(pipeline, consumer)
    stages.gate("0/4").set()
    await pipeline.handle(_kafka(consumer), _records((0, 4)))
    assert await subscriber.get_msg(_kafka(consumer)) == ()
    assert consumer.commits == [{P0: 5}]


async def test_a_poll_with_records_leaves_the_batch_being_applied_alone() -> None:
    stages, consumer = _Stages(), _Consumer({P0: list(_records((0, 5)))})
    pipeline = stages.pipeline()
    subscriber = _subscriber(pipeline, consumer)
    await pipeline.handle(_kafka(consumer), _records((0, 4)))
    assert await subscriber.get_msg(_kafka(consumer)) == _records((0, 5))
    assert consumer.commits == []
    assert pipeline.busy
    stages.gate("0/4").set()
    await pipeline.drain(_kafka(consumer))


async def test_stopping_commits_the_batch_being_applied_before_the_consumer_stops() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    subscriber = _subscriber(pipeline, consumer)
    await pipeline.handle(_kafka(consumer), _records((1, 2)))
    stopping = asyncio.create_task(subscriber.stop())
    await _turns()
    assert not consumer.stopped  # waits for the apply
    stages.gate("1/2").set()
    await stopping
    assert consumer.commits == [{P1: 3}]
    assert consumer.stopped


def test_prompt_refuses_a_pipeline_on_a_subscriber_that_commits_by_itself() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    subscriber = broker.subscriber("t", batch=True, group_id="g", ack_policy=AckPolicy.NACK_ON_ERROR)
    with pytest.raises(ValueError, match="MANUAL"):
        prompt(subscriber, _Stages().pipeline())


def test_every_projector_subscriber_is_pipelined_and_leaves_commits_to_its_pipeline() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    runner = ProjectionRunner(cast("Any", None), Projection(name="a", handlers={}))
    register_projectors(broker, Settings(namespace="ns1"), [(runner, ["t1", "t2"])], EventRegistry([]))
    subscribers = [cast("PromptBatchSubscriber", s) for s in broker.subscribers]
    assert len(subscribers) == 2
    assert all(s.pipeline is not None and s.ack_policy is AckPolicy.MANUAL for s in subscribers)
    assert len({id(s.pipeline) for s in subscribers}) == 2  # one pipeline per topic


async def test_a_revoke_commits_the_batch_being_applied_before_the_partitions_go() -> None:
    stages, consumer = _Stages(), _Consumer()
    pipeline = stages.pipeline()
    await pipeline.handle(_kafka(consumer), _records((0, 6), (1, 3)))
    revoking = asyncio.create_task(DrainOnRevoke(pipeline).on_partitions_revoked({P0, P1}))
    await _turns()
    assert not revoking.done()  # the member does not rejoin while the batch is applied
    stages.gate("0/6,1/3").set()
    await revoking
    assert consumer.commits == [{P0: 7, P1: 4}]
    assert not pipeline.busy


async def test_a_revoke_before_any_batch_does_nothing() -> None:
    stages = _Stages()
    await DrainOnRevoke(stages.pipeline()).on_partitions_revoked({P0})
    assert stages.log == []


def test_every_projector_subscriber_drains_its_pipeline_on_revoke() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    runner = ProjectionRunner(cast("Any", None), Projection(name="a", handlers={}))
    register_projectors(broker, Settings(namespace="ns1"), [(runner, ["t1"])], EventRegistry([]))
    (subscriber,) = broker.subscribers
    # FastStream hands this listener to aiokafka's subscribe() when the consumer starts.
    assert isinstance(cast("PromptBatchSubscriber", subscriber)._listener, DrainOnRevoke)


async def test_prepare_is_told_when_the_last_fetch_showed_records_behind_the_batch() -> None:
    stages, consumer = _Stages(), _Consumer()
    consumer.highwaters = {P0: 10}  # records 0..9 exist; the batch ends before 5
    stages.gate("0/3,0/4").set()
    await stages.pipeline().handle(_kafka(consumer), _records((0, 3), (0, 4)))
    assert stages.waiting == [True]


async def test_prepare_is_told_nothing_waits_when_the_batch_reaches_the_highwater_mark() -> None:
    stages, consumer = _Stages(), _Consumer()
    consumer.highwaters = {P0: 5, P1: 8}  # the batch ends at both marks
    stages.gate("0/4,1/7").set()
    await stages.pipeline().handle(_kafka(consumer), _records((0, 4), (1, 7)))
    assert stages.waiting == [False]


async def test_prepare_counts_one_partition_with_records_behind_as_waiting() -> None:
    stages, consumer = _Stages(), _Consumer()
    consumer.highwaters = {P0: 5, P1: 9}
    stages.gate("0/4,1/7").set()
    await stages.pipeline().handle(_kafka(consumer), _records((0, 4), (1, 7)))
    assert stages.waiting == [True]


def test_an_unassigned_or_never_fetched_partition_counts_as_not_waiting() -> None:
    consumer = _Consumer()
    consumer.unassigned = {P1}
    consumer.highwaters = {}
    assert records_waiting(_kafka(consumer), {P0: 3, P1: 2}) is False
