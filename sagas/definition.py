"""How a saga is declared: a planner that turns its input into ordered steps, each a command and its undo.

A saga type is a :class:`SagaDefinition`: its name, the pydantic model of its input, and an
async planner that reads what it needs (the event store, the read models) and returns the
steps. The plan is stored whole in ``SagaStarted``, so the runner never plans again: a
restarted runner finishes exactly the plan that was started.

Each :class:`Step` has one command (``action``) and the commands that undo it
(``compensation``, dispatched in order; empty when there is nothing to undo). The runner gives
every command an id derived from the saga id, the step and the phase (:func:`command_id`), so a
step dispatched twice (a runner killed after the dispatch, before recording it) is a no-op the
second time: the event store answers with the first result.

Example (see :mod:`sagas.scene_creation`)::

    async def plan(request: MyInput, ctx: PlanContext) -> list[Step]:
        return [Step("create-scene", action=CreateScene(...), compensation=(DeleteScene(...),))]

    MY_SAGA = SagaDefinition(saga_type="my_saga", input_model=MyInput, plan=plan)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar
from uuid import UUID, uuid5

import asyncpg

from commands.base import Command
from commands.errors import InvalidCommandError
from commands.ports import EventStore
from events.base import EventMetadata, Message
from events.saga import CommandSpec, Phase, PlannedStep

I = TypeVar("I", bound=Message)  # noqa: E741  the conventional name of an input type variable


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How one dispatch of a step is retried on transient errors (exponential backoff, capped)."""

    max_attempts: int = 5
    initial_backoff_seconds: float = 0.05
    max_backoff_seconds: float = 2.0


DEFAULT_RETRY = RetryPolicy()


@dataclass(frozen=True, slots=True)
class Step:
    """One step of a saga: a command, the commands that undo it, and how patiently it is tried."""

    name: str
    action: Command
    compensation: tuple[Command, ...] = ()
    retry: RetryPolicy = DEFAULT_RETRY
    timeout_seconds: float = 30.0
    """Time allowed to one dispatch of the step (or of its compensation), retries included."""


@dataclass(frozen=True, slots=True)
class PlanContext:
    """What a planner may read: the event store (command-side truth) and the read-model pools."""

    event_store: EventStore
    pools: Mapping[str, asyncpg.Pool] = field(default_factory=dict)
    """asyncpg pools of the service databases by service name: ``scene``, ``movie``, ..."""
    saga_id: UUID | None = None
    """The id the saga being planned will have (set by :func:`sagas.runner.start_saga`)."""


Planner = Callable[[I, PlanContext], Awaitable[Sequence[Step]]]


@dataclass(frozen=True, slots=True)
class SagaDefinition(Generic[I]):
    """A saga type: its name (``saga_events.saga_type``), its input model and its planner."""

    saga_type: str
    input_model: type[I]
    plan: Planner[I]
    description: str = ""
    authorize: Callable[[EventMetadata], None] | None = None
    """Who may request the saga through ``RequestSaga``: raises ``PermissionDeniedError`` if not."""


def command_spec(cmd: Command) -> CommandSpec:
    """Return how ``cmd`` is stored in a plan (its id left out: the runner derives it).

    Only the fields the planner set are stored, plus the generated ones (a new scene's id), so
    that a command whose unset fields mean "leave as it is" means the same when rebuilt.
    """
    fields = type(cmd).model_fields
    generated = {name for name, info in fields.items() if info.default_factory is not None}
    keep = (cmd.model_fields_set | generated) - {"command_id"}
    return CommandSpec(command=type(cmd).__name__, data=cmd.model_dump(mode="json", include=keep))


def planned_step(step: Step) -> PlannedStep:
    """Return the stored form of ``step``."""
    return PlannedStep(
        name=step.name,
        action=command_spec(step.action),
        compensation=tuple(command_spec(c) for c in step.compensation),
        max_attempts=step.retry.max_attempts,
        initial_backoff_seconds=step.retry.initial_backoff_seconds,
        max_backoff_seconds=step.retry.max_backoff_seconds,
        timeout_seconds=step.timeout_seconds,
    )


def check_plan(steps: Sequence[Step]) -> None:
    """Reject an empty plan or one naming a step twice (names identify steps in the log and the CLI)."""
    if not steps:
        raise InvalidCommandError("steps", "a saga needs at least one step")
    seen: set[str] = set()
    for step in steps:
        if step.name in seen:
            raise InvalidCommandError("steps", f"step {step.name!r} is planned twice")
        seen.add(step.name)


def command_id(saga_id: UUID, step: int, phase: Phase, index: int = 0) -> UUID:
    """Return the id of a saga's command: the same for every dispatch of that step and phase.

    ``index`` tells the commands of one compensation apart.
    """
    return uuid5(saga_id, f"step:{step}:{phase}:{index}")


def load_command(spec: CommandSpec, types: Mapping[str, type[Command]], cmd_id: UUID) -> Command:
    """Rebuild a stored command under ``cmd_id``."""
    cls = types.get(spec.command)
    if cls is None:
        raise InvalidCommandError("command", f"no handler for {spec.command!r}")
    return cls.model_validate({**spec.data, "command_id": cmd_id})
