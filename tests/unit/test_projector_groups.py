"""Projector consumer groups: one consumer per topic, a group per set of projections it feeds."""

from __future__ import annotations

from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from events.registry import EventRegistry
from infra.bootstrap import System, build_broker
from infra.prompt_batch import PromptBatchSubscriber
from infra.services import ALL_SERVICES, build_registry
from infra.settings import Settings
from infra.workers import group_projections, projector_group, register_projectors
from projections.runner import Projection, ProjectionRunner

pytestmark = pytest.mark.unit

SETTINGS = Settings(namespace="ns1", kafka_bootstrap="127.0.0.1:1")
UNUSED: Any = None
"""Stands in for the pools and stores of a broker that is built but never started."""


def _subscribers(broker: KafkaBroker) -> list[Any]:
    """The broker's Kafka subscribers (typed as the generic kind, without topics or group)."""
    return list(broker.subscribers)


def _runner(name: str) -> ProjectionRunner:
    return ProjectionRunner(UNUSED, Projection(name=name, handlers={}))


def test_the_group_is_the_same_for_the_same_projections_in_any_order() -> None:
    assert projector_group(SETTINGS, "scenes.events", ["users", "scenes"]) == projector_group(
        SETTINGS, "scenes.events", ["scenes", "users", "scenes"]
    )


def test_processes_running_different_projections_never_share_a_group() -> None:
    assert projector_group(SETTINGS, "scenes.events", ["scenes", "users"]) != projector_group(
        SETTINGS, "scenes.events", ["scenes"]
    )


def test_a_group_names_the_projections_it_feeds() -> None:
    group = projector_group(SETTINGS, "scenes.events", ["users", "scenes"])
    assert group_projections(SETTINGS, "scenes.events", group) == frozenset({"scenes", "users"})


@pytest.mark.parametrize(
    ("topic", "group"),
    [
        ("movies.events", "ns1.projector.scenes.events.scenes"),  # another topic's group
        ("scenes.events", "ns2.projector.scenes.events.scenes"),  # another namespace's
        ("scenes", "ns1.projector.scenes.events.scenes"),  # a topic whose name it starts with
        ("scenes.events", "ns1.commands"),
    ],
)
def test_a_group_of_another_topic_or_namespace_feeds_none(topic: str, group: str) -> None:
    assert group_projections(SETTINGS, topic, group) is None


@pytest.mark.parametrize("name", ["", "a+b", "a.b"])
def test_a_projection_name_that_would_make_groups_ambiguous_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="projection names"):
        projector_group(SETTINGS, "scenes.events", [name])


def test_a_process_runs_each_projection_once() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    with pytest.raises(ValueError, match="each projection once"):
        register_projectors(
            broker, SETTINGS, [(_runner("a"), ["t1"]), (_runner("a"), ["t2"])], EventRegistry([])
        )


def test_one_consumer_per_topic_feeds_every_projection_of_it() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    groups = register_projectors(
        broker,
        SETTINGS,
        [(_runner("a"), ["t1", "t2"]), (_runner("b"), ["t1"])],
        EventRegistry([]),
    )
    assert groups == {
        "t1": projector_group(SETTINGS, "t1", ["a", "b"]),
        "t2": projector_group(SETTINGS, "t2", ["a"]),
    }
    assert sorted((s.topic_names[0], s.group_id) for s in _subscribers(broker)) == [
        (SETTINGS.topic("t1"), groups["t1"]),
        (SETTINGS.topic("t2"), groups["t2"]),
    ]


def test_the_projector_reads_each_topic_of_the_services_once() -> None:
    system = System(
        settings=SETTINGS,
        services=ALL_SERVICES,
        registry=build_registry(),
        event_pool=UNUSED,
        pools={spec.name: UNUSED for spec in ALL_SERVICES},
        engines={},
        event_store=UNUSED,
        bus=UNUSED,
    )
    broker = build_broker(system, commands=False)
    topics = [s.topic_names[0] for s in _subscribers(broker)]
    read = {SETTINGS.topic(t) for spec in ALL_SERVICES for p in spec.projections for t in p.topics}
    assert sorted(topics) == sorted(read)


def test_every_projector_subscriber_is_prompt() -> None:
    broker = KafkaBroker("127.0.0.1:1")
    register_projectors(broker, SETTINGS, [(_runner("a"), ["t1", "t2"])], EventRegistry([]))
    assert {type(s) for s in _subscribers(broker)} == {PromptBatchSubscriber}
