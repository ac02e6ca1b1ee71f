"""``RequestSaga``: ask for a saga through the command bus (HTTP, Kafka); the runner plans and runs it."""

from __future__ import annotations

from uuid import UUID, uuid4

from pydantic import Field, JsonValue, ValidationError

from commands.base import Command, CommandResult, Handler, HandlerDeps, execute, route
from commands.errors import InvalidCommandError
from commands.ports import NO_STREAM
from events.base import EventMetadata
from events.saga import SagaRequested
from sagas import state as machine
from sagas.registry import ALL_SAGAS


class RequestSaga(Command):
    """Ask for a saga of ``saga_type`` on ``input``; ``saga_id`` names the saga's stream."""

    saga_id: UUID = Field(default_factory=uuid4)
    saga_type: str = Field(min_length=1, max_length=100)
    input: dict[str, JsonValue] = Field(default_factory=dict)


def request_saga(
    cmd: RequestSaga, state: machine.SagaState | None, metadata: EventMetadata
) -> list[SagaRequested]:
    """Validate the saga type, the acting role and the input; return the ``SagaRequested``."""
    if state is not None:
        raise InvalidCommandError("saga_id", f"saga {cmd.saga_id} already exists")
    definition = ALL_SAGAS.get(cmd.saga_type)
    if definition is None:
        raise InvalidCommandError(
            "saga_type", f"unknown saga type {cmd.saga_type!r}; one of {sorted(ALL_SAGAS)}"
        )
    if definition.authorize is not None:
        definition.authorize(metadata)
    try:
        request = definition.input_model.model_validate(cmd.input)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(["input", *(str(p) for p in first["loc"])])
        raise InvalidCommandError(field, first["msg"]) from None
    return [
        SagaRequested(
            stream_id=cmd.saga_id,
            stream_version=1,
            saga_type=cmd.saga_type,
            input=request.model_dump(mode="json"),
            requested_by=metadata.user_id,
        )
    ]


async def handle_request_saga(cmd: RequestSaga, deps: HandlerDeps, metadata: EventMetadata) -> CommandResult:
    """Append a saga's request; the saga runner plans it from the read models, then runs it."""
    return await execute(
        cmd,
        deps,
        metadata.model_copy(update={"correlation_id": cmd.saga_id}),
        stream_id=cmd.saga_id,
        replay=machine.replay,
        decide=lambda state: request_saga(cmd, state, metadata),
        expected_version=NO_STREAM,
    )


SAGA_HANDLERS: dict[type[Command], Handler] = dict([route(RequestSaga, handle_request_saga)])
