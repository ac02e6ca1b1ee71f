"""The saga runner: reacts to each saga transition seen on Kafka with the next one, persisted before acting.

Every saga event on ``sagas.events`` triggers one reaction: the saga is loaded from the log,
and if that event is still its head, :func:`sagas.state.decide_next` says what comes next.
A bookkeeping transition is appended; an intent (``SagaStepStarted`` /
``SagaStepCompensating``, itself appended by the previous reaction) makes the runner dispatch
the step's commands through the :class:`CommandBus` and append the outcome. Every append
names the version it follows (optimistic concurrency), so two runners can never both advance
a saga: the loser's append is refused and it moves on.

The consumer commits a record's offset only after its reaction is persisted. A runner
killed at any point therefore sees the record again after restart; a re-dispatched command
carries the same derived id (:func:`sagas.definition.command_id`) and the event store answers
it with the first result instead of applying it twice.

A step counts as completed when its command's append has committed: that committed row *is*
the domain event the relay publishes (at least once, in order) to the service's topic, so
waiting to see it come back from Kafka would add latency and no information. Saga progress
itself is driven by the saga's own events on Kafka, never by polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import structlog
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord, TopicPartition
from pydantic import ValidationError
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from commands.authorization import SYSTEM_ROLE
from commands.base import Command, CommandResult, load
from commands.errors import ConcurrencyConflictError, DomainError, InvalidCommandError
from commands.handlers import CommandBus
from commands.ports import NO_STREAM, EventStore
from events.base import EventMetadata, Message
from events.registry import EventRegistry
from events.saga import FailureKind, Phase, PlannedStep, SagaEvent, SagaRejected, SagaStarted
from infra.cloudevents import MalformedEventMessageError, decode_event
from infra.db import TRANSIENT_PG_ERRORS
from sagas import state as machine
from sagas.definition import (
    PlanContext,
    SagaDefinition,
    check_plan,
    command_id,
    load_command,
    planned_step,
)
from sagas.registry import ALL_SAGAS

log = structlog.get_logger(__name__)

TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (*TRANSIENT_PG_ERRORS, ConcurrencyConflictError)
"""Errors a step is retried on: the database is briefly away, or a concurrent write won a race."""

Fault = BaseException | Callable[[], BaseException | None]
"""An injected failure: an exception raised instead of dispatching, or a function returning one
(or ``None`` to let the dispatch through), e.g. to fail the first N attempts only."""
FaultKey = tuple[str, str, Phase]
"""(saga type, step name, ``do`` | ``undo``)."""
TransitionHook = Callable[[SagaEvent], Awaitable[None]]


async def plan_saga(
    definition: SagaDefinition[Any],
    request: Message,
    *,
    ctx: PlanContext,
    command_types: Mapping[str, type[Any]],
    saga_id: UUID,
    version: int = 1,
    started_by: UUID | None = None,
) -> SagaStarted:
    """Plan a saga: return its ``SagaStarted`` (at ``version`` of its stream).

    Raises a :class:`DomainError` when the input or the plan is rejected.
    """
    if not isinstance(request, definition.input_model):
        expected = definition.input_model.__name__
        raise InvalidCommandError("input", f"a {definition.saga_type} saga takes a {expected}")
    steps = await definition.plan(request, dataclasses.replace(ctx, saga_id=saga_id))
    check_plan(steps)
    planned = tuple(planned_step(s) for s in steps)
    for step in planned:
        for spec in (step.action, *step.compensation):
            if spec.command not in command_types:
                raise InvalidCommandError("steps", f"step {step.name!r}: no handler for {spec.command}")
    return SagaStarted(
        stream_id=saga_id,
        stream_version=version,
        saga_type=definition.saga_type,
        steps=planned,
        input=request.model_dump(mode="json"),
        started_by=started_by,
    )


async def start_saga(
    definition: SagaDefinition[Any],
    request: Message,
    *,
    ctx: PlanContext,
    command_types: Mapping[str, type[Any]],
    metadata: EventMetadata | None = None,
    saga_id: UUID | None = None,
) -> UUID:
    """Plan a saga now and append its ``SagaStarted``; the runner takes it from there.

    Raises a :class:`DomainError` when the input or the plan is rejected (nothing is written).
    Starting the same ``saga_id`` again is a no-op.
    """
    sid = saga_id or uuid4()
    meta = (metadata or EventMetadata()).model_copy(update={"correlation_id": sid})
    started = await plan_saga(
        definition, request, ctx=ctx, command_types=command_types, saga_id=sid, started_by=meta.user_id
    )
    await ctx.event_store.append([started], expected_version=NO_STREAM, metadata=meta, command_id=sid)
    log.info("saga.started", saga_id=str(sid), saga_type=definition.saga_type, steps=len(started.steps))
    return sid


async def retry_saga(store: EventStore, saga_id: UUID, metadata: EventMetadata | None = None) -> None:
    """Append ``SagaRetried`` to a stuck saga: the runner re-runs its failed compensation."""
    saga, _ = await load(store, saga_id, machine.replay)
    event = machine.retry(saga, saga_id, (metadata or EventMetadata()).user_id)
    await store.append(
        [event], expected_version=event.stream_version - 1, metadata=metadata or EventMetadata()
    )


@dataclass(frozen=True, slots=True)
class _Outcome:
    changed: bool
    positions: tuple[int, ...]


class SagaRunner:
    """Advances sagas one persisted transition per saga event consumed."""

    def __init__(
        self,
        *,
        event_store: EventStore,
        bus: CommandBus,
        registry: EventRegistry,
        pools: Mapping[str, asyncpg.Pool] | None = None,
        definitions: Mapping[str, SagaDefinition[Any]] | None = None,
        faults: Mapping[FaultKey, Fault] | None = None,
        on_transition: TransitionHook | None = None,
    ) -> None:
        self._store = event_store
        self._ctx = PlanContext(event_store=event_store, pools=pools or {})
        self._definitions = definitions if definitions is not None else ALL_SAGAS
        self._bus = bus
        self._registry = registry
        self._faults = faults if faults is not None else {}
        self._on_transition = on_transition
        self.transitions = 0

    # --- reacting to one saga event ---------------------------------------------------------

    async def react(self, saga_id: UUID, version: int) -> SagaEvent | None:
        """React to version ``version`` of a saga: take the next transition if it is still the head.

        Returns the event appended, or ``None`` when there was nothing to do (an old event, a
        saga that waits or is over, or another runner that got there first).
        """
        saga, _ = await load(self._store, saga_id, machine.replay)
        if saga is None or saga.version != version:
            return None  # a later transition exists: its own delivery drives the saga
        decision = machine.decide_next(saga)
        if decision is None:
            return None
        if isinstance(decision, machine.Plan):
            event = await self._plan(saga)
        elif isinstance(decision, machine.Append):
            event = decision.event
        elif decision.phase == "do":
            event = await self._do(saga, decision.step)
        else:
            event = await self._undo(saga, decision.step)
        try:
            await self._store.append(
                [event],
                expected_version=saga.version,
                metadata=EventMetadata(user_role=SYSTEM_ROLE, correlation_id=saga.saga_id),
            )
        except ConcurrencyConflictError:
            log.info("saga.transition_lost", saga_id=str(saga_id), version=version)
            return None
        self.transitions += 1
        log.info(
            "saga.transition",
            saga_id=str(saga_id),
            saga_type=saga.saga_type,
            transition=event.event_type,
            version=event.stream_version,
        )
        if self._on_transition is not None:
            await self._on_transition(event)
        return event

    async def _plan(self, saga: machine.SagaState) -> SagaEvent:
        """Plan a requested saga: its ``SagaStarted``, or ``SagaRejected`` with the planner's reason."""
        definition = self._definitions.get(saga.saga_type)
        try:
            if definition is None:
                raise InvalidCommandError("saga_type", f"unknown saga type {saga.saga_type!r}")
            request = definition.input_model.model_validate(saga.input)
            return await plan_saga(
                definition,
                request,
                ctx=self._ctx,
                command_types=self._bus.command_types,
                saga_id=saga.saga_id,
                version=saga.version + 1,
                started_by=saga.started_by,
            )
        except (DomainError, ValidationError) as exc:
            return SagaRejected(
                stream_id=saga.saga_id,
                stream_version=saga.version + 1,
                saga_type=saga.saga_type,
                error=str(exc),
                error_type=type(exc).__name__,
            )

    def _metadata(self, saga: machine.SagaState) -> EventMetadata:
        head = saga.head
        return EventMetadata(
            user_id=saga.started_by,
            user_role=SYSTEM_ROLE,
            correlation_id=saga.saga_id,
            causation_id=head.event_id if head is not None else None,
        )

    def _fault(self, saga: machine.SagaState, step: PlannedStep, phase: Phase) -> BaseException | None:
        fault = self._faults.get((saga.saga_type, step.name, phase))
        if fault is None or isinstance(fault, BaseException):
            return fault
        return fault()

    async def _dispatch(self, saga: machine.SagaState, index: int, phase: Phase) -> _Outcome:
        step = saga.plan[index]
        specs = (step.action,) if phase == "do" else step.compensation
        meta = self._metadata(saga)
        changed = False
        positions: tuple[int, ...] = ()
        for i, spec in enumerate(specs):
            cmd = load_command(spec, self._bus.command_types, command_id(saga.saga_id, index, phase, i))
            result = await self._attempts(saga, step, phase, cmd, meta)
            changed = changed or bool(result.positions)
            positions += result.positions
        return _Outcome(changed=changed, positions=positions)

    async def _attempts(
        self,
        saga: machine.SagaState,
        step: PlannedStep,
        phase: Phase,
        cmd: Command,
        meta: EventMetadata,
    ) -> CommandResult:
        """Dispatch ``cmd``, retrying transient errors with backoff, within the step's timeout."""
        # A compensation must end up done: every error is worth another attempt there.
        retried = TRANSIENT_ERRORS if phase == "do" else (Exception,)
        result: CommandResult | None = None
        async with asyncio.timeout(step.timeout_seconds):
            async for attempt in AsyncRetrying(
                retry=retry_if_exception_type(retried),
                wait=wait_exponential(multiplier=step.initial_backoff_seconds, max=step.max_backoff_seconds),
                stop=stop_after_attempt(step.max_attempts),
                reraise=True,
            ):
                with attempt:
                    fault = self._fault(saga, step, phase)
                    if fault is not None:
                        raise fault
                    result = await self._bus.dispatch(cmd, meta)
        if result is None:  # pragma: no cover  the loop returns a result or raises
            raise RuntimeError("no dispatch result")
        return result

    async def _do(self, saga: machine.SagaState, index: int) -> SagaEvent:
        try:
            outcome = await self._dispatch(saga, index, "do")
        except Exception as exc:  # every failure is recorded, then compensated
            kind: FailureKind = "business"
            if isinstance(exc, TimeoutError):
                kind = "timeout"
            elif isinstance(exc, TRANSIENT_ERRORS):
                kind = "transient"
            elif not isinstance(exc, DomainError):
                log.exception("saga.step_error", saga_id=str(saga.saga_id), step=saga.plan[index].name)
            applied = await self._store.find_command(command_id(saga.saga_id, index, "do")) is not None
            return machine.step_outcome(saga, index, error=exc, kind=kind, applied=applied)
        return machine.step_outcome(saga, index, changed=outcome.changed, positions=outcome.positions)

    async def _undo(self, saga: machine.SagaState, index: int) -> SagaEvent:
        try:
            await self._dispatch(saga, index, "undo")
        except Exception as exc:  # noqa: BLE001  a compensation that keeps failing stops the saga visibly
            log.warning(
                "saga.compensation_failed",
                saga_id=str(saga.saga_id),
                step=saga.plan[index].name,
                error=str(exc),
            )
            return machine.compensation_outcome(saga, index, error=exc)
        return machine.compensation_outcome(saga, index)

    # --- consuming sagas.events -------------------------------------------------------------

    async def handle_record(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """React to one record of the saga topic; transient database errors are retried."""
        headers = tuple((k, bytes(v)) for k, v in (record.headers or ()))
        try:
            recorded = decode_event(headers, record.value or b"", self._registry)
        except MalformedEventMessageError as exc:
            log.exception("saga.undecodable", topic=record.topic, offset=record.offset, error=str(exc))
            return
        event = recorded.event
        if not isinstance(event, SagaEvent):
            return
        async for attempt in AsyncRetrying(
            retry=retry_if_exception_type(TRANSIENT_PG_ERRORS),
            wait=wait_exponential(multiplier=0.1, max=5),
            reraise=True,
        ):
            with attempt:
                await self.react(event.stream_id, event.stream_version)

    async def run(
        self,
        stop: asyncio.Event,
        *,
        bootstrap: str,
        topic: str,
        group_id: str,
        ready: asyncio.Event | None = None,
    ) -> None:
        """Consume ``topic`` in ``group_id`` until ``stop`` is set; offsets move after each reaction."""
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap,
            group_id=group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        log.info("saga_runner.started", topic=topic, group=group_id)
        try:
            while not stop.is_set():
                if ready is not None and consumer.assignment():
                    ready.set()
                batch = await consumer.getmany(timeout_ms=100)
                for tp, records in batch.items():
                    for record in records:
                        try:
                            await self.handle_record(record)
                        except Exception:
                            # Not committed: a restarted runner sees the record again.
                            log.exception("saga_runner.failed", topic=tp.topic, offset=record.offset)
                            raise
                        await consumer.commit({TopicPartition(tp.topic, tp.partition): record.offset + 1})
        finally:
            with contextlib.suppress(Exception):
                await consumer.stop()
            log.info("saga_runner.stopped", transitions=self.transitions)
