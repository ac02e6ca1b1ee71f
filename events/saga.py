"""Events of a saga's own stream: its plan, and every transition the saga runner persists before acting."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field, JsonValue

from events.base import DomainEvent, Message

Phase = Literal["do", "undo"]
FailureKind = Literal["business", "transient", "timeout"]


class CommandSpec(Message):
    """A command as stored in a saga's plan: its class name and its fields (the id is derived)."""

    command: str = Field(min_length=1, max_length=100)
    data: dict[str, JsonValue] = Field(default_factory=dict)


class PlannedStep(Message):
    """One step of a saga's plan: the command that does it and the commands that undo it."""

    name: str = Field(min_length=1, max_length=100)
    action: CommandSpec
    compensation: tuple[CommandSpec, ...] = ()
    max_attempts: int = Field(default=5, ge=1, le=100)
    """Attempts of one dispatch on transient errors before the step (or compensation) fails."""
    initial_backoff_seconds: float = Field(default=0.05, gt=0, le=60)
    max_backoff_seconds: float = Field(default=2.0, gt=0, le=600)
    timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    """Time allowed to one dispatch of the step, retries included."""


class SagaEvent(DomainEvent):
    """An event of one saga's stream (keyed by the saga id); every one names the saga type."""

    stream_type: ClassVar[str] = "saga"

    saga_type: str = Field(min_length=1, max_length=100)


class SagaStepEvent(SagaEvent):
    """A transition of one step of the plan (``step`` is its index in the plan)."""

    step: int = Field(ge=0)
    name: str = Field(min_length=1, max_length=100)


class SagaRequested(SagaEvent):
    """A saga was asked for (over HTTP, say): the runner plans it next (``SagaStarted``/``SagaRejected``)."""

    event_type: ClassVar[str] = "SagaRequested"

    input: dict[str, JsonValue] = Field(default_factory=dict)
    requested_by: UUID | None = None


class SagaRejected(SagaEvent):
    """A requested saga could not be planned (its input names nothing that exists, ...): terminal."""

    event_type: ClassVar[str] = "SagaRejected"

    error: str = Field(max_length=10_000)
    error_type: str = Field(max_length=100)


class SagaStarted(SagaEvent):
    """A saga was planned: its input and its steps, with their commands, are fixed from here on."""

    event_type: ClassVar[str] = "SagaStarted"

    steps: tuple[PlannedStep, ...] = Field(min_length=1)
    input: dict[str, JsonValue] = Field(default_factory=dict)
    started_by: UUID | None = None


class SagaStepStarted(SagaStepEvent):
    """The runner is about to dispatch the step's command (persisted before it does)."""

    event_type: ClassVar[str] = "SagaStepStarted"


class SagaStepCompleted(SagaStepEvent):
    """The step's command was accepted and its events committed to the log.

    ``changed`` is false when the command had nothing to do (e.g. the filmography entry was
    there already): such a step has nothing to undo.
    """

    event_type: ClassVar[str] = "SagaStepCompleted"

    changed: bool = True
    positions: tuple[int, ...] = ()


class SagaStepFailed(SagaStepEvent):
    """The step's command was rejected, or kept failing transiently until its attempts or time ran out.

    ``applied`` is true when the command was in fact recorded (a timeout after the commit):
    the step is then compensated like a completed one.
    """

    event_type: ClassVar[str] = "SagaStepFailed"

    error: str = Field(max_length=10_000)
    error_type: str = Field(max_length=100)
    kind: FailureKind
    applied: bool = False


class SagaCompensationStarted(SagaEvent):
    """The saga gave up going forward: the completed steps are undone next, in reverse order."""

    event_type: ClassVar[str] = "SagaCompensationStarted"

    failed_step: int = Field(ge=0)
    reason: str = Field(max_length=10_000)


class SagaStepCompensating(SagaStepEvent):
    """The runner is about to dispatch the step's compensating commands (persisted before it does)."""

    event_type: ClassVar[str] = "SagaStepCompensating"

    attempt: int = Field(default=1, ge=1)


class SagaStepCompensated(SagaStepEvent):
    """The step's effects were undone."""

    event_type: ClassVar[str] = "SagaStepCompensated"


class SagaCompensationFailed(SagaStepEvent):
    """Undoing the step kept failing: the saga stops here, visibly, for an operator."""

    event_type: ClassVar[str] = "SagaCompensationFailed"

    error: str = Field(max_length=10_000)
    error_type: str = Field(max_length=100)


class SagaCompleted(SagaEvent):
    """Every step completed (terminal)."""

    event_type: ClassVar[str] = "SagaCompleted"


class SagaCompensated(SagaEvent):
    """Every completed step was undone after a failure (terminal: rolled back)."""

    event_type: ClassVar[str] = "SagaCompensated"

    failed_step: int = Field(ge=0)
    reason: str = Field(max_length=10_000)


class SagaStuck(SagaEvent):
    """A compensation failed permanently (terminal until an operator retries the saga)."""

    event_type: ClassVar[str] = "SagaStuck"

    step: int = Field(ge=0)
    error: str = Field(max_length=10_000)


class SagaRetried(SagaEvent):
    """An operator asked a stuck saga to try its failed compensation again."""

    event_type: ClassVar[str] = "SagaRetried"

    retried_by: UUID | None = None


SAGA_EVENTS: tuple[type[SagaEvent], ...] = (
    SagaRequested,
    SagaRejected,
    SagaStarted,
    SagaStepStarted,
    SagaStepCompleted,
    SagaStepFailed,
    SagaCompensationStarted,
    SagaStepCompensating,
    SagaStepCompensated,
    SagaCompensationFailed,
    SagaCompleted,
    SagaCompensated,
    SagaStuck,
    SagaRetried,
)
