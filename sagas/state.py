"""The pure saga state machine: a saga's stream folded into its state, and the transition that comes next.

The runner never decides anything itself: it asks :func:`decide_next` and either appends the
event it returns (a bookkeeping transition) or, when the saga's head is an intent
(``SagaStepStarted`` / ``SagaStepCompensating``), dispatches that step's commands and
appends the outcome (:func:`step_outcome`, :func:`compensation_outcome`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import singledispatch
from typing import Any, Literal, TypedDict
from uuid import UUID

from commands.errors import InvalidCommandError, StreamNotFoundError
from events.base import DomainEvent
from events.saga import (
    FailureKind,
    Phase,
    PlannedStep,
    SagaCompensated,
    SagaCompensationFailed,
    SagaCompensationStarted,
    SagaCompleted,
    SagaEvent,
    SagaRejected,
    SagaRequested,
    SagaRetried,
    SagaStarted,
    SagaStepCompensated,
    SagaStepCompensating,
    SagaStepCompleted,
    SagaStepFailed,
    SagaStepStarted,
    SagaStuck,
)

SagaStatus = Literal["planning", "running", "compensating", "completed", "compensated", "stuck", "rejected"]
StepStatus = Literal[
    "pending", "running", "completed", "failed", "compensating", "compensated", "compensation_failed"
]
TERMINAL: frozenset[str] = frozenset({"completed", "compensated", "stuck", "rejected"})
"""Statuses in which the saga does nothing until an operator acts (``stuck``) or ever again."""


@dataclass(frozen=True, slots=True)
class StepState:
    """Where one planned step stands."""

    status: StepStatus = "pending"
    changed: bool = False
    """Whether doing the step changed anything (only then is there something to undo)."""
    undo_attempts: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SagaState:
    """A saga as its events left it."""

    saga_id: UUID
    saga_type: str
    version: int
    plan: tuple[PlannedStep, ...]
    steps: tuple[StepState, ...]
    status: SagaStatus = "running"
    head: SagaEvent | None = None
    """The last event of the stream: what the runner reacts to."""
    failed_step: int | None = None
    failure: str | None = None
    stuck_step: int | None = None
    input: Mapping[str, object] = field(default_factory=dict)
    started_by: UUID | None = None

    def needs_undo(self, index: int) -> bool:
        """Whether step ``index`` changed something that its compensation has not undone yet."""
        step = self.steps[index]
        if not self.plan[index].compensation or not step.changed:
            return False
        return step.status in {"completed", "failed", "compensating", "compensation_failed"}


@dataclass(frozen=True, slots=True)
class Dispatch:
    """The runner dispatches a step's commands (``do``: its action; ``undo``: its compensation)."""

    step: int
    phase: Phase


@dataclass(frozen=True, slots=True)
class Plan:
    """The runner plans a requested saga (its planner reads the read models) and appends the plan."""


@dataclass(frozen=True, slots=True)
class Append:
    """The runner appends this event (a transition decided without touching any other service)."""

    event: SagaEvent


Next = Plan | Dispatch | Append | None


def _with_step(state: SagaState, index: int, step: StepState) -> tuple[StepState, ...]:
    steps = list(state.steps)
    steps[index] = step
    return tuple(steps)


@singledispatch
def apply(event: SagaEvent, state: SagaState | None) -> SagaState:  # noqa: ARG001  the fallback
    """Return the saga state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing(state: SagaState | None, event: SagaEvent) -> SagaState:
    if state is None:
        raise TypeError(f"{event.event_type} before SagaStarted in stream {event.stream_id}")
    return state


@apply.register
def _(event: SagaRequested, state: SagaState | None) -> SagaState:  # noqa: ARG001  starts from nothing
    return SagaState(
        saga_id=event.stream_id,
        saga_type=event.saga_type,
        version=event.stream_version,
        plan=(),
        steps=(),
        status="planning",
        head=event,
        input=event.input,
        started_by=event.requested_by,
    )


@apply.register
def _(event: SagaRejected, state: SagaState | None) -> SagaState:
    saga = _existing(state, event)
    return replace(saga, version=event.stream_version, head=event, status="rejected", failure=event.error)


@apply.register
def _(event: SagaStarted, state: SagaState | None) -> SagaState:  # noqa: ARG001  the plan says it all
    return SagaState(
        saga_id=event.stream_id,
        saga_type=event.saga_type,
        version=event.stream_version,
        plan=event.steps,
        steps=tuple(StepState() for _ in event.steps),
        head=event,
        input=event.input,
        started_by=event.started_by,
    )


_StepEvent = (
    SagaStepStarted
    | SagaStepCompleted
    | SagaStepFailed
    | SagaStepCompensating
    | SagaStepCompensated
    | SagaCompensationFailed
)


def _at_step(state: SagaState | None, event: _StepEvent, **step: Any) -> SagaState:  # noqa: ANN401  StepState fields
    """Return the saga after ``event``: the event's step with ``step`` changed, the head moved on."""
    saga = _existing(state, event)
    changed = replace(saga.steps[event.step], **step)
    return replace(
        saga, version=event.stream_version, head=event, steps=_with_step(saga, event.step, changed)
    )


@apply.register
def _(event: SagaStepStarted, state: SagaState | None) -> SagaState:
    return _at_step(state, event, status="running")


@apply.register
def _(event: SagaStepCompleted, state: SagaState | None) -> SagaState:
    return _at_step(state, event, status="completed", changed=event.changed)


@apply.register
def _(event: SagaStepFailed, state: SagaState | None) -> SagaState:
    saga = _at_step(state, event, status="failed", changed=event.applied, error=event.error)
    return replace(saga, failed_step=event.step, failure=event.error)


@apply.register
def _(event: SagaCompensationStarted, state: SagaState | None) -> SagaState:
    saga = _existing(state, event)
    return replace(saga, version=event.stream_version, head=event, status="compensating")


@apply.register
def _(event: SagaStepCompensating, state: SagaState | None) -> SagaState:
    saga = _at_step(state, event, status="compensating", undo_attempts=event.attempt)
    return replace(saga, status="compensating")


@apply.register
def _(event: SagaStepCompensated, state: SagaState | None) -> SagaState:
    return _at_step(state, event, status="compensated")


@apply.register
def _(event: SagaCompensationFailed, state: SagaState | None) -> SagaState:
    return _at_step(state, event, status="compensation_failed", error=event.error)


@apply.register
def _(event: SagaStuck, state: SagaState | None) -> SagaState:
    saga = _existing(state, event)
    return replace(saga, version=event.stream_version, head=event, status="stuck", stuck_step=event.step)


@apply.register
def _(event: SagaRetried, state: SagaState | None) -> SagaState:
    saga = _existing(state, event)
    return replace(saga, version=event.stream_version, head=event, status="compensating")


@apply.register
def _(event: SagaCompleted, state: SagaState | None) -> SagaState:
    saga = _existing(state, event)
    return replace(saga, version=event.stream_version, head=event, status="completed")


@apply.register
def _(event: SagaCompensated, state: SagaState | None) -> SagaState:
    saga = _existing(state, event)
    return replace(saga, version=event.stream_version, head=event, status="compensated")


def replay(events: Sequence[DomainEvent]) -> SagaState | None:
    """Fold a saga's stream into its state (``None`` for an empty stream)."""
    state: SagaState | None = None
    for event in events:
        if isinstance(event, SagaEvent):
            state = apply(event, state)
    return state


class _Envelope(TypedDict):
    stream_id: UUID
    stream_version: int
    saga_type: str


def _envelope(state: SagaState) -> _Envelope:
    return {"stream_id": state.saga_id, "stream_version": state.version + 1, "saga_type": state.saga_type}


def _next_undo(state: SagaState) -> Next:
    """Compensate the latest step that still needs undoing, or finish the rollback."""
    for index in reversed(range(len(state.plan))):
        if state.needs_undo(index):
            attempt = state.steps[index].undo_attempts + 1
            return Append(
                SagaStepCompensating(
                    **_envelope(state), step=index, name=state.plan[index].name, attempt=attempt
                )
            )
    return Append(
        SagaCompensated(
            **_envelope(state), failed_step=state.failed_step or 0, reason=state.failure or "rolled back"
        )
    )


def _intent(head: SagaEvent | None) -> Plan | Dispatch | None:
    """Return what the runner does itself for a request or an intent at the head, else ``None``."""
    if isinstance(head, SagaRequested):
        return Plan()
    if isinstance(head, SagaStepStarted):
        return Dispatch(head.step, "do")
    if isinstance(head, SagaStepCompensating):
        return Dispatch(head.step, "undo")
    return None


def decide_next(state: SagaState) -> Next:  # noqa: PLR0911  one answer per kind of head event reads best flat
    """Return what happens after the saga's head event; ``None`` once the saga waits or is over."""
    head = state.head
    intent = _intent(head)
    if intent is not None:
        return intent
    if isinstance(head, SagaStarted | SagaStepCompleted):
        for index, step in enumerate(state.steps):
            if step.status == "pending":
                return Append(SagaStepStarted(**_envelope(state), step=index, name=state.plan[index].name))
        return Append(SagaCompleted(**_envelope(state)))
    if isinstance(head, SagaStepFailed):
        return Append(SagaCompensationStarted(**_envelope(state), failed_step=head.step, reason=head.error))
    if isinstance(head, SagaCompensationStarted | SagaStepCompensated | SagaRetried):
        return _next_undo(state)
    if isinstance(head, SagaCompensationFailed):
        return Append(SagaStuck(**_envelope(state), step=head.step, error=head.error))
    return None


def step_outcome(
    state: SagaState,
    step: int,
    *,
    changed: bool = True,
    positions: tuple[int, ...] = (),
    error: BaseException | None = None,
    kind: FailureKind = "business",
    applied: bool = False,
) -> SagaEvent:
    """Return the event recording how dispatching step ``step`` went."""
    name = state.plan[step].name
    if error is None:
        return SagaStepCompleted(
            **_envelope(state), step=step, name=name, changed=changed, positions=positions
        )
    return SagaStepFailed(
        **_envelope(state),
        step=step,
        name=name,
        error=str(error) or type(error).__name__,
        error_type=type(error).__name__,
        kind=kind,
        applied=applied,
    )


def compensation_outcome(state: SagaState, step: int, *, error: BaseException | None = None) -> SagaEvent:
    """Return the event recording how undoing step ``step`` went."""
    name = state.plan[step].name
    if error is None:
        return SagaStepCompensated(**_envelope(state), step=step, name=name)
    return SagaCompensationFailed(
        **_envelope(state),
        step=step,
        name=name,
        error=str(error) or type(error).__name__,
        error_type=type(error).__name__,
    )


def retry(state: SagaState | None, saga_id: UUID, retried_by: UUID | None = None) -> SagaEvent:
    """Return the operator's ``SagaRetried`` for a stuck saga; reject any other."""
    if state is None:
        raise StreamNotFoundError("saga_id", "saga", saga_id)
    if state.status != "stuck":
        raise InvalidCommandError("saga_id", f"saga {saga_id} is {state.status}, not stuck")
    return SagaRetried(**_envelope(state), retried_by=retried_by)
