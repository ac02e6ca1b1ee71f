"""The command bus binds each command's ids to the log context while it runs, and only then."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
import structlog

from commands.base import Command, CommandResult, HandlerDeps
from commands.handlers import CommandBus
from commands.scene import CreateScene
from events.base import EventMetadata
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit


def _command() -> CreateScene:
    return CreateScene(movie_id=uuid4(), start="5", end="+10", classification="R1")


def _bus(seen: list[dict[str, Any]], *, fail: bool = False) -> CommandBus:
    async def handler(cmd: Command, deps: HandlerDeps, meta: EventMetadata) -> CommandResult:  # noqa: ARG001
        seen.append(structlog.contextvars.get_contextvars())
        if fail:
            raise RuntimeError("handler failed")
        return CommandResult(command_id=cmd.command_id, stream_id=uuid4(), stream_version=1, positions=(1,))

    return CommandBus(HandlerDeps(event_store=InMemoryEventStore()), {CreateScene: handler})


async def test_a_handler_logs_with_the_command_and_its_correlation_id() -> None:
    seen: list[dict[str, Any]] = []
    cmd, correlation = _command(), uuid4()
    await _bus(seen).dispatch(cmd, EventMetadata(correlation_id=correlation))
    assert seen == [
        {"command": "CreateScene", "command_id": str(cmd.command_id), "correlation_id": str(correlation)}
    ]


async def test_the_log_context_is_as_before_once_the_command_is_handled() -> None:
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(request_id="outer")
    try:
        await _bus([]).dispatch(_command())
        assert structlog.contextvars.get_contextvars() == {"request_id": "outer"}
    finally:
        structlog.contextvars.clear_contextvars()


async def test_the_log_context_is_as_before_when_the_handler_raises() -> None:
    structlog.contextvars.clear_contextvars()
    with pytest.raises(RuntimeError, match="handler failed"):
        await _bus([], fail=True).dispatch(_command())
    assert structlog.contextvars.get_contextvars() == {}
