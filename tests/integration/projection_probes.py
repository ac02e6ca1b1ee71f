"""Test doubles around the real projection runner: a probe projection, a runner recording its batches."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import uuid4

import asyncpg

from events.base import DomainEvent
from events.scene import SceneCreated
from projections.runner import BatchOutcome, Delivery, Projection, ProjectionRunner


@dataclass
class ProbeProjection:
    """A projection of its own name that records what it applies and fails as told."""

    failures: list[BaseException] = field(default_factory=list)
    """Raised by the next applies, first first."""
    handles: tuple[type[DomainEvent], ...] = (SceneCreated,)
    applied: list[DomainEvent] = field(default_factory=list)
    name: str = field(default_factory=lambda: f"probe{uuid4().hex[:12]}")

    async def apply(self, conn: asyncpg.Connection, event: Any) -> None:  # noqa: ARG002  any event
        """Raise the next failure, if any is left; else record ``event``."""
        if self.failures:
            raise self.failures.pop(0)
        self.applied.append(event)

    def projection(self) -> Projection:
        """Return the projection applying the handled event types with :meth:`apply`."""
        return Projection(name=self.name, handlers=dict.fromkeys(self.handles, self.apply))


class RecordingRunner(ProjectionRunner):
    """A real runner that also keeps each batch's outcome and ``settle`` flag."""

    def __init__(self, pool: asyncpg.Pool, projection: Projection) -> None:
        super().__init__(pool, projection)
        self.outcomes: list[BatchOutcome] = []
        self.settles: list[bool] = []

    async def handle_batch(
        self, deliveries: Sequence[Delivery], *, settle: bool = True, fresh: bool = False
    ) -> BatchOutcome:
        """Handle the batch as the runner does, recording its ``settle`` flag and outcome."""
        self.settles.append(settle)
        outcome = await super().handle_batch(deliveries, settle=settle, fresh=fresh)
        self.outcomes.append(outcome)
        return outcome

    def total(self, what: str) -> int:
        """Return one :class:`BatchOutcome` count (``applied``, ``duplicates``) summed over the batches."""
        return sum(getattr(o, what) for o in self.outcomes)
