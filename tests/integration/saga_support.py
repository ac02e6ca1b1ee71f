"""Saga test support: a namespace of its own (relay + projectors, no saga runner) and runner helpers.

The saga tests inject faults into, and kill, their runners; a runner of the shared ``live``
fixture would advance the same sagas without those faults. So they get their own namespace,
with every projector running, and start the runner(s) each test needs, one at a time, in one
consumer group (a fresh runner continues from the offsets the previous one committed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from uuid import UUID

import pytest

from commands.handlers import CommandBus
from events.base import EventMetadata
from events.saga import SagaEvent
from infra.bootstrap import System, build_broker, build_relay, open_system
from infra.publisher import KafkaPublisher
from infra.services.saga import SAGAS
from sagas.definition import PlanContext
from sagas.runner import Fault, FaultKey, SagaRunner, TransitionHook
from sagas.state import TERMINAL, SagaState, replay
from tests.conftest import eventually, make_namespace

ADMIN = EventMetadata(user_role="admin")


@dataclass(slots=True)
class SagaEnv:
    """A namespace with its relay and projectors running; runners are started by the tests."""

    system: System
    runners: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def ctx(self) -> PlanContext:
        """What planners read."""
        return PlanContext(event_store=self.system.event_store, pools=self.system.pools)

    async def start_runner(
        self,
        *,
        faults: Mapping[FaultKey, Fault] | None = None,
        on_transition: TransitionHook | None = None,
        bus: CommandBus | None = None,
    ) -> tuple[SagaRunner, asyncio.Task[None]]:
        """Start a runner in the namespace's saga group; return it once it has its partitions."""
        system = self.system
        runner = SagaRunner(
            event_store=system.event_store,
            bus=bus or system.bus,
            registry=system.registry,
            pools=system.pools,
            faults=faults,
            on_transition=on_transition,
        )
        ready = asyncio.Event()
        task = asyncio.create_task(
            runner.run(
                asyncio.Event(),
                bootstrap=system.settings.require_kafka(),
                topic=system.settings.topic(SAGAS.topic),
                group_id=f"{system.settings.namespace}.sagas",
                ready=ready,
            )
        )
        self.runners.append(task)
        await asyncio.wait_for(ready.wait(), timeout=30)
        return runner, task

    async def stop_runners(self) -> None:
        """Cancel every runner still running and wait until each has left the group."""
        for task in self.runners:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self.runners.clear()

    async def saga(self, saga_id: UUID) -> SagaState:
        """The saga as its stream now stands."""
        events = [r.event for r in await self.system.event_store.read_stream(saga_id)]
        state = replay(events)
        assert state is not None, f"no saga {saga_id}"
        return state

    async def saga_events(self, saga_id: UUID) -> list[SagaEvent]:
        """The saga's stream."""
        events = [r.event for r in await self.system.event_store.read_stream(saga_id)]
        return [e for e in events if isinstance(e, SagaEvent)]

    async def finished(self, saga_id: UUID, timeout: float = 60.0) -> SagaState:  # noqa: ASYNC109  a polling deadline
        """Wait until the saga reaches a terminal status; return it."""

        async def done() -> SagaState | None:
            state = await self.saga(saga_id)
            return state if state.status in TERMINAL else None

        return await eventually(done, timeout=timeout)

    async def projected(self, versions: Mapping[UUID, int], *, where: Mapping[str, Sequence[UUID]]) -> None:
        """Wait until each service database of ``where`` has applied its streams up to ``versions``.

        Every projection of that database that recorded the stream must be at its version,
        and at least one must have recorded it.
        """

        async def caught_up() -> bool:
            for name, stream_ids in where.items():
                pool = self.system.pools[name]
                for stream_id in stream_ids:
                    rows = await pool.fetch(
                        "SELECT stream_version FROM projection_stream_versions WHERE stream_id = $1",
                        stream_id,
                    )
                    if not rows or any(r["stream_version"] < versions[stream_id] for r in rows):
                        return False
            return True

        await eventually(caught_up, timeout=30)

    async def head_versions(self, *stream_ids: UUID) -> dict[UUID, int]:
        """The current version of each stream in the log (streams without events left out)."""
        rows = await self.system.event_pool.fetch(
            "SELECT stream_id, max(stream_version) AS v FROM saga_events "
            "WHERE stream_id = ANY($1::uuid[]) GROUP BY stream_id",
            list(stream_ids),
        )
        return {r["stream_id"]: r["v"] for r in rows}


async def saga_env_fixture(endpoints: tuple[str, str]) -> AsyncIterator[SagaEnv]:
    """Body of a module-scoped fixture: a namespace with relay and projectors, torn down after."""
    from tests.conftest import _drop_namespace  # noqa: PLC0415  private helper of the shared conftest

    settings = await make_namespace(endpoints)
    system = await open_system(settings)
    publisher = KafkaPublisher(settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    broker = build_broker(system, commands=False)
    await broker.start()
    env = SagaEnv(system)
    try:
        yield env
    finally:
        await env.stop_runners()
        stop.set()
        await relay
        await broker.stop()
        await publisher.stop()
        await system.close()
        await _drop_namespace(settings)


def kill_after(count: int, box: dict[str, asyncio.Task[None]]) -> TransitionHook:
    """A hook that cancels the runner task in ``box["task"]`` right after its ``count``-th transition."""
    seen = 0

    async def hook(event: SagaEvent) -> None:  # noqa: ARG001  only the count matters
        nonlocal seen
        seen += 1
        if seen == count:
            box["task"].cancel()
            await asyncio.sleep(0)  # the cancellation lands here, inside the reaction
            pytest.fail("the runner went on after being cancelled")

    return hook
