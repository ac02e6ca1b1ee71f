"""A batch goes to every projection of its topic at once; one projection applies one batch at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, cast

import pytest
from faststream.kafka import KafkaBroker

from infra.workers import ProjectorTarget, project_batch
from projections.runner import BatchOutcome, Delivery, Projection, ProjectionRunner

pytestmark = pytest.mark.unit

UNUSED: Any = None
"""Stands in for the pool and the broker, never used: these batches have no dead letter."""


class _InFlight:
    """How many batches are being applied at once, and the most there ever were."""

    def __init__(self) -> None:
        self.now = self.most = 0


class _Runner(ProjectionRunner):
    """Applies nothing; each batch takes a few event-loop turns and is counted while in flight."""

    def __init__(self, name: str, flight: _InFlight) -> None:
        super().__init__(UNUSED, Projection(name=name, handlers={}))
        self.flight = flight

    async def handle_batch(
        self,
        deliveries: Sequence[Delivery],  # noqa: ARG002  only the overlap of calls is recorded
        *,
        settle: bool = True,  # noqa: ARG002
        fresh: bool = False,  # noqa: ARG002
    ) -> BatchOutcome:
        self.flight.now += 1
        self.flight.most = max(self.flight.most, self.flight.now)
        await asyncio.sleep(0.01)
        self.flight.now -= 1
        return BatchOutcome()


async def _batch(targets: Sequence[ProjectorTarget]) -> None:
    await project_batch(cast("KafkaBroker", UNUSED), targets, [], backlog=False)


async def test_batches_of_two_topics_of_one_projection_never_overlap() -> None:
    flight = _InFlight()
    target = ProjectorTarget(_Runner("probe", flight), ("movies.events", "scenes.events"), None)
    await asyncio.gather(*(_batch([target]) for _ in range(3)))  # three consumers' batches
    assert flight.most == 1


async def test_the_projections_of_a_batch_apply_it_at_once() -> None:
    flight = _InFlight()
    await _batch([ProjectorTarget(_Runner(name, flight), ("scenes.events",), None) for name in ("a", "b")])
    assert flight.most == 2  # both projections
