"""What every command shares: the base message, the handler plumbing and the decide-append loop."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import wraps
from typing import TypeVar, cast
from uuid import UUID, uuid4

from pydantic import BaseModel, Field

from commands.errors import ConcurrencyConflictError, DomainError, InvalidCommandError, StreamNotFoundError
from commands.ports import NO_STREAM, ConditionNotMetError, EventStore, StreamCondition, UniqueClaim
from events.base import DomainEvent, EventMetadata, Message
from events.registry import trusted_validate

S = TypeVar("S")
M = TypeVar("M", bound=BaseModel)

CONFLICT_RETRIES = 5
"""How often a command without an expected version is re-run on a concurrent write."""


class Command(Message):
    """Base of every command; the id makes a redelivered command a no-op."""

    command_id: UUID = Field(default_factory=uuid4)


def built(cls: type[M], **fields: object) -> M:
    """Build a message from values the code derived from already validated input.

    Every conversion, default and constraint of ``cls`` applies as in ``cls(**fields)``; only
    the walk looking for NUL characters (``Message._no_nul``, a check of *external* input) is
    left out. Use it for what an aggregate or a handler builds from a validated command, the
    store's answer or constants, never for input from outside: commands keep every check.
    """
    return trusted_validate(cls, fields)


class CommandResult(Message):
    """What a handled command did: its stream, the version it left, the positions written."""

    command_id: UUID
    stream_id: UUID
    stream_version: int
    positions: tuple[int, ...] = ()
    duplicate: bool = False


@dataclass(frozen=True, slots=True)
class HandlerDeps:
    """What handlers need; built once in the bootstrap."""

    event_store: EventStore


@dataclass(frozen=True, slots=True)
class Decision:
    """An aggregate's answer: the events to append and the unique keys they take or free."""

    events: Sequence[DomainEvent]
    claims: Sequence[UniqueClaim] = field(default_factory=tuple)
    releases: Sequence[UniqueClaim] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class Reference:
    """Another entity a command refers to, checked inside the command's append: no read of its own.

    ``conditions`` must all hold when the events are appended (the event store checks them in
    the same round trip). When one does not, ``explain`` runs the full check on that entity
    (it loads its stream) and raises the command's exact error, as an up-front check would have.
    """

    field_name: str
    conditions: tuple[StreamCondition, ...]
    explain: Callable[[], Awaitable[None]]


Handler = Callable[[Command, HandlerDeps, EventMetadata], Awaitable[CommandResult]]
Replay = Callable[[list[DomainEvent]], S | None]
C = TypeVar("C", bound=Command)


def route(
    command_type: type[C],
    handler: Callable[[C, HandlerDeps, EventMetadata], Awaitable[CommandResult]],
) -> tuple[type[Command], Handler]:
    """One entry of a routing table; the types say the handler takes that command.

    The entry answers a redelivered command as its first run did: when the handler rejects a
    command whose id was appended before (the state moved on since, a referenced entity has
    gone), the original result comes back with ``duplicate=True`` instead of the error. The
    command id is only looked up then, not up front: a new command pays no extra round trip
    (the append itself deduplicates accepted ones).
    """

    @wraps(handler)
    async def handle(cmd: C, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
        try:
            return await handler(cmd, deps, metadata)
        except DomainError:
            previous = await previous_result(cmd, deps)
            if previous is None:
                raise
            return previous

    return command_type, cast("Handler", handle)


async def previous_result(cmd: Command, deps: HandlerDeps) -> CommandResult | None:
    """Return the result of ``cmd``'s first run if it was appended before, else ``None``."""
    previous = await deps.event_store.find_command(cmd.command_id)
    if previous is None:
        return None
    return built(
        CommandResult,
        command_id=cmd.command_id,
        stream_id=previous.stream_id,
        stream_version=previous.stream_version,
        positions=previous.positions,
        duplicate=True,
    )


async def load(store: EventStore, stream_id: UUID, replay: Replay[S]) -> tuple[S | None, int]:
    """Rebuild a stream's state and return it with the stream's version (0 if it does not exist)."""
    recorded = await store.read_stream(stream_id)
    version = recorded[-1].event.stream_version if recorded else NO_STREAM
    return replay([r.event for r in recorded]), version


async def require(
    store: EventStore,
    stream_id: UUID,
    replay: Replay[S],
    *,
    field_name: str,
    entity: str,
    alive: Callable[[S], bool],
) -> S:
    """Load another aggregate a command refers to; reject the command if it does not exist."""
    state, _ = await load(store, stream_id, replay)
    if state is None or not alive(state):
        raise StreamNotFoundError(field_name, entity, stream_id, referenced=True)
    return state


def lifecycle(
    created: tuple[type[DomainEvent], ...],
    removed: tuple[type[DomainEvent], ...],
) -> Replay[bool]:
    """Return a replay that only tells whether an entity exists: created and not removed since."""

    def replay(events: list[DomainEvent]) -> bool | None:
        alive: bool | None = None
        for event in events:
            if isinstance(event, created):
                alive = True
            elif isinstance(event, removed):
                alive = False
        return alive

    return replay


async def require_alive(
    store: EventStore,
    stream_id: UUID,
    *,
    created: tuple[type[DomainEvent], ...],
    removed: tuple[type[DomainEvent], ...],
    field_name: str,
    entity: str,
) -> None:
    """Reject a command that refers to an entity (of any service) that does not exist.

    Example: ``await require_alive(store, cmd.movie_id, created=(MovieRegistered,),
    removed=(MovieRemoved,), field_name="movie_id", entity="movie")``.
    """
    await require(
        store, stream_id, lifecycle(created, removed), field_name=field_name, entity=entity, alive=bool
    )


def alive_reference(
    store: EventStore,
    stream_id: UUID,
    *,
    created: tuple[type[DomainEvent], ...],
    removed: tuple[type[DomainEvent], ...],
    field_name: str,
    entity: str,
) -> Reference:
    """Return what :func:`require_alive` checks as a :class:`Reference`, checked inside the append."""

    async def explain() -> None:
        await require_alive(
            store, stream_id, created=created, removed=removed, field_name=field_name, entity=entity
        )

    condition = StreamCondition(
        stream_id=stream_id,
        set_by=tuple(cls.event_type for cls in created),
        cleared_by=tuple(cls.event_type for cls in removed),
    )
    return Reference(field_name=field_name, conditions=(condition,), explain=explain)


def stamp(cmd: Command, metadata: EventMetadata) -> EventMetadata:
    """Metadata of the events a command causes: correlation kept, causation = the command."""
    return metadata.model_copy(
        update={
            "correlation_id": metadata.correlation_id or cmd.command_id,
            "causation_id": cmd.command_id,
        },
    )


async def execute(
    cmd: Command,
    deps: HandlerDeps,
    metadata: EventMetadata,
    *,
    stream_id: UUID,
    replay: Replay[S],
    decide: Callable[[S | None], Decision | Sequence[DomainEvent]],
    expected_version: int | None,
    references: Sequence[Reference] = (),
) -> CommandResult:
    """Load, decide, append; re-run on a concurrent write unless the caller fixed the version.

    The command id is not looked up up front (the append deduplicates accepted commands in
    its own round trip); only a command that is rejected, or changes nothing, is looked up,
    and if it was appended before its original result comes back with ``duplicate=True``:
    a redelivery answers as the first run did although the state has moved on since.

    A command creating its stream (``expected_version`` 0) skips the load: it is decided on
    no state, and the append's version check rejects it if the stream exists after all.

    ``references`` are checked by the append itself (see :class:`Reference`), so a command
    referring to another entity costs no extra round trip; they are judged after the decision
    (the command's own input first) and before the stream's version.
    """
    try:
        return await _decide_and_append(
            cmd,
            deps,
            metadata,
            stream_id=stream_id,
            replay=replay,
            decide=decide,
            expected_version=expected_version,
            references=references,
        )
    except DomainError:
        previous = await previous_result(cmd, deps)
        if previous is None:
            raise
        return previous


async def _decide_and_append(
    cmd: Command,
    deps: HandlerDeps,
    metadata: EventMetadata,
    *,
    stream_id: UUID,
    replay: Replay[S],
    decide: Callable[[S | None], Decision | Sequence[DomainEvent]],
    expected_version: int | None,
    references: Sequence[Reference],
) -> CommandResult:
    attempts = 1 if expected_version is not None else CONFLICT_RETRIES
    conditions = [c for r in references for c in r.conditions]
    attempt = unmet = 0
    while True:
        attempt += 1
        state: S | None
        if expected_version == NO_STREAM:
            state, current = None, NO_STREAM
        else:
            state, current = await load(deps.event_store, stream_id, replay)
            if expected_version is not None and expected_version != current:
                raise ConcurrencyConflictError(stream_id, expected_version, current)
        outcome = decide(state)
        decision = outcome if isinstance(outcome, Decision) else Decision(events=tuple(outcome))
        if not decision.events:
            return await previous_result(cmd, deps) or built(
                CommandResult, command_id=cmd.command_id, stream_id=stream_id, stream_version=current
            )
        try:
            result = await deps.event_store.append(
                decision.events,
                expected_version=current,
                metadata=stamp(cmd, metadata),
                command_id=cmd.command_id,
                claims=decision.claims,
                releases=decision.releases,
                conditions=conditions,
            )
        except ConcurrencyConflictError:
            if attempt >= attempts:
                raise
            continue
        except ConditionNotMetError as exc:
            reference = next(r for r in references if exc.condition in r.conditions)
            await reference.explain()  # raises the command's error, unless it changed meanwhile
            unmet += 1
            if unmet >= CONFLICT_RETRIES:
                raise InvalidCommandError(
                    reference.field_name, "kept changing while the command ran: try again"
                ) from exc
            attempt -= 1  # not a conflict on this stream: the attempts left stay
            continue
        return built(
            CommandResult,
            command_id=cmd.command_id,
            stream_id=result.stream_id,
            stream_version=result.stream_version,
            positions=result.positions,
            duplicate=result.duplicate,
        )
