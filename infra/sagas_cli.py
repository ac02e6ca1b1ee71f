"""`sceneledger sagas`: list, show, retry and start sagas (scene creation, movie removal)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast, get_args
from uuid import UUID

import typer
from pydantic import ValidationError

from commands.authorization import SYSTEM_ROLE
from commands.errors import DomainError, StreamNotFoundError
from events.base import EventMetadata, Message
from infra.bootstrap import System, open_system
from infra.config import load_settings
from sagas.definition import PlanContext, SagaDefinition
from sagas.queries import SagaQueries
from sagas.registry import ALL_SAGAS
from sagas.runner import retry_saga, start_saga
from sagas.state import SagaStatus

T = TypeVar("T")

EXIT_INVALID = 2
EXIT_NOT_FOUND = 3

app = typer.Typer(name="sagas", help="Multi-service sagas: list, show, retry, start.", no_args_is_help=True)
start_app = typer.Typer(
    help="Start a saga (the runner of `sceneledger up` carries it out).", no_args_is_help=True
)
app.add_typer(start_app, name="start")

STATUSES: tuple[str, ...] = get_args(SagaStatus)


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _with_system(work: Callable[[System], Awaitable[T]]) -> T:
    settings = load_settings(start_stack=False)

    async def go() -> T:
        system = await open_system(settings)
        try:
            return await work(system)
        finally:
            await system.close()

    try:
        return asyncio.run(go())
    except StreamNotFoundError as exc:
        _fail(str(exc), EXIT_NOT_FOUND)
    except DomainError as exc:
        _fail(str(exc), EXIT_INVALID)
    raise AssertionError("unreachable")  # pragma: no cover  _fail always raises


def _queries(system: System) -> SagaQueries:
    return SagaQueries(system.event_pool, system.registry)


@app.command("list")
def list_sagas(
    status: Annotated[
        str | None, typer.Option("--status", help=f"only sagas in this status: {', '.join(STATUSES)}")
    ] = None,
    saga_type: Annotated[
        str | None, typer.Option("--type", help=f"only sagas of this type: {', '.join(ALL_SAGAS)}")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="at most this many, latest first")] = 100,
) -> None:
    """List sagas, the most recently active first: id, type, status, steps, last transition."""
    if status is not None and status not in STATUSES:
        _fail(f"--status must be one of {', '.join(STATUSES)}", EXIT_INVALID)
    wanted = cast("SagaStatus | None", status)  # checked just above
    sagas = _with_system(lambda s: _queries(s).list(status=wanted, saga_type=saga_type, limit=limit))
    for saga in sagas:
        error = f"  {saga.error_message}" if saga.error_message else ""
        typer.echo(
            f"{saga.saga_id}  {saga.saga_type:<16} {saga.status:<12} {saga.steps:>3} steps  "
            f"{saga.updated_at:%Y-%m-%d %H:%M:%S}  {saga.last_event}{error}"
        )


@app.command("show")
def show_saga(saga_id: Annotated[UUID, typer.Argument(help="the saga's id")]) -> None:
    """Show a saga: its steps, then every transition with its time and error."""
    detail = _with_system(lambda s: _queries(s).get(saga_id))
    if detail is None:
        _fail(f"no saga {saga_id}", EXIT_NOT_FOUND)
        return
    typer.echo(f"saga {detail.saga_id}  {detail.saga_type}  {detail.status}")
    typer.echo("steps:")
    for step in detail.steps:
        note = "" if step.changed or step.status == "pending" else " (nothing to undo)"
        error = f"  error: {step.error}" if step.error else ""
        typer.echo(f"  {step.index:>2} {step.name:<50} {step.status}{note}{error}")
    typer.echo("transitions:")
    for t in detail.transitions:
        done = f" -> {t.completed_at:%H:%M:%S.%f}" if t.completed_at else ""
        error = f"  error: {t.error_message}" if t.error_message else ""
        typer.echo(
            f"  {t.version:>3} {t.created_at:%Y-%m-%d %H:%M:%S.%f}{done}  {t.event_type:<24} "
            f"{t.step_name:<50} {t.step_status}{error}"
        )


@app.command("retry")
def retry(saga_id: Annotated[UUID, typer.Argument(help="the stuck saga's id")]) -> None:
    """Resume a stuck saga: its failed compensation is tried again, then the rollback goes on."""
    _with_system(lambda s: retry_saga(s.event_store, saga_id, EventMetadata(user_role=SYSTEM_ROLE)))
    typer.echo(f"saga {saga_id}: retry requested")


def _start(definition: SagaDefinition[Any], request: Message) -> None:
    async def go(system: System) -> UUID:
        ctx = PlanContext(event_store=system.event_store, pools=system.pools)
        return await start_saga(
            definition,
            request,
            ctx=ctx,
            command_types=system.bus.command_types,
            metadata=EventMetadata(user_role=SYSTEM_ROLE),
        )

    saga_id = _with_system(go)
    typer.echo(json.dumps({"saga_id": str(saga_id), "saga_type": definition.saga_type}))


@start_app.command("scene-creation")
def start_scene_creation(
    request_file: Annotated[
        Path,
        typer.Argument(
            help='JSON: {"scene": {CreateScene fields}, "cast": [{"actor_id": ..., "character_name": ...}]}',
            exists=True,
            dir_okay=False,
        ),
    ],
) -> None:
    """Start a scene-creation saga: the scene, its movie's figures, its cast and their filmographies."""
    definition = ALL_SAGAS["scene_creation"]
    try:
        request = definition.input_model.model_validate_json(request_file.read_text(encoding="utf-8"))
    except ValidationError as exc:
        first = exc.errors()[0]
        _fail(f"{'.'.join(str(p) for p in first['loc'])}: {first['msg']}", EXIT_INVALID)
        return
    _start(definition, request)


@start_app.command("movie-removal")
def start_movie_removal(movie: Annotated[UUID, typer.Option("--movie", help="the movie's id")]) -> None:
    """Start a movie-removal saga: its watch-list and filmography entries, reviews, scenes, then the movie."""
    definition = ALL_SAGAS["movie_removal"]
    _start(definition, definition.input_model.model_validate({"movie_id": movie}))


@start_app.command("user-erasure")
def start_user_erasure(user: Annotated[UUID, typer.Option("--user", help="the user's id")]) -> None:
    """Start a user-erasure saga: watch list and interactions, reviews anonymized, then the account."""
    definition = ALL_SAGAS["user_erasure"]
    _start(definition, definition.input_model.model_validate({"user_id": user}))
