"""The ``sceneledger`` command line: stack, migrations, the whole system, and scene commands."""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer
from pydantic import ValidationError

from commands.authorization import SYSTEM_ROLE
from commands.base import Command, CommandResult
from commands.errors import (
    ConcurrencyConflictError,
    DomainError,
    PermissionDeniedError,
    StreamNotFoundError,
    UniqueKeyTakenError,
)
from commands.movie import RegisterMovie
from commands.scene import (
    CreateScene,
    DeleteScene,
    EditSceneDetails,
    ReclassifyScene,
    RetimeScene,
)
from events.base import EventMetadata
from infra.bootstrap import open_system, prepare, run_services
from infra.config import load_settings
from infra.logging import configure_logging
from infra.migrate import migrate_all
from infra.ops_cli import ops_app
from infra.replay_cli import replay_app
from infra.runtime import tune_gc
from infra.sagas_cli import app as sagas_app
from infra.seed import seed_app
from infra.stack import PrerequisiteMissing
from infra.stack_cli import stack_app

T = TypeVar("T")

EXIT_INVALID = 2
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_FORBIDDEN = 5

app = typer.Typer(help="SceneLedger: event-sourced movie-scene classification.", no_args_is_help=True)
app.add_typer(stack_app, name="stack", help="Start, stop and inspect the local PostgreSQL + Kafka.")
app.add_typer(ops_app)  # projections status|health, dlq, check, backup, restore, housekeeping
app.add_typer(replay_app)  # replay, verify
app.add_typer(sagas_app)  # sagas list|show|retry|start
app.add_typer(seed_app)  # seed
scenes_app = typer.Typer(help="Scene commands and reads.", no_args_is_help=True)
app.add_typer(scenes_app, name="scenes")
movies_app = typer.Typer(help="Movie commands.", no_args_is_help=True)
app.add_typer(movies_app, name="movies")


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _run(coro_fn: Callable[[], Awaitable[T]]) -> T:
    try:
        return asyncio.run(coro_fn())  # type: ignore[arg-type]
    except PrerequisiteMissing as exc:
        _fail(str(exc), 1)
        raise  # pragma: no cover  _fail always raises


@app.callback()
def _main(log_level: Annotated[str, typer.Option(help="log level")] = "INFO") -> None:
    configure_logging(log_level)
    tune_gc()


@app.command()
def migrate() -> None:
    """Apply pending database migrations (starting the local stack if needed)."""
    settings = load_settings(start_stack=True)
    applied = _run(lambda: migrate_all(settings))
    for database, versions in applied.items():
        typer.echo(f"{database}: {', '.join(versions) if versions else 'up to date'}")


@app.command()
def up(
    api: Annotated[bool, typer.Option(help="serve the HTTP API")] = True,
    port: Annotated[int | None, typer.Option(help="HTTP port (default 8000)")] = None,
) -> None:
    """Run the whole system in the foreground: stack, migrations, relay, projector, commands, API."""
    settings = load_settings(start_stack=True)
    if port is not None:
        settings = settings.model_copy(update={"api_port": port})
    _run(lambda: run_services(settings, api=api))


@app.command()
def worker(
    relay: Annotated[bool, typer.Option(help="run the outbox relay")] = True,
    projector: Annotated[bool, typer.Option(help="run the scene projector")] = True,
    commands: Annotated[bool, typer.Option(help="consume scenes.commands")] = True,
) -> None:
    """Run background parts only (no HTTP API), e.g. one projector process."""
    settings = load_settings(start_stack=False)
    _run(lambda: run_services(settings, relay=relay, projector=projector, commands=commands, api=False))


@app.command()
def bench(
    quick: Annotated[bool, typer.Option(help="small sizes: the whole run in under 3 minutes")] = False,
    write: Annotated[Path | None, typer.Option(help="also write the table to this Markdown file")] = None,
    only: Annotated[
        list[str] | None, typer.Option(help="run only these: append, latency, projection, overlaps")
    ] = None,
) -> None:
    """Measure the figures users choose a system by, on the local stack, and print one table."""
    from bench.report import render  # noqa: PLC0415  benchmark code is loaded only when asked for
    from bench.runner import run  # noqa: PLC0415

    settings = load_settings(start_stack=True)
    started = time.perf_counter()
    figures = _run(lambda: run(settings, quick=quick, only=only))
    table = render(figures)
    typer.echo(table)
    if write is not None:
        command = "sceneledger bench" + (" --quick" if quick else "")
        memory_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        write.write_text(
            f"# Benchmark results\n\nCommand: `uv run {command} --write {write}`, "
            f"run on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, took {time.perf_counter() - started:.0f} s.\n\n"
            f"Machine: {os.cpu_count()} cores, {memory_gib:.0f} GiB memory, {platform.platform()}; "
            "PostgreSQL 15 and Kafka on the same machine (the local stack).\n\n"
            f"{table}\n",
            encoding="utf-8",
        )


def _dispatch(cmd_factory: Callable[[], Command], user: UUID | None) -> None:
    try:
        cmd = cmd_factory()
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        _fail(f"{field}: {first['msg']}", EXIT_INVALID)
        return
    settings = load_settings(start_stack=False)

    async def go() -> CommandResult:
        await prepare(settings)
        system = await open_system(settings)
        try:
            # An operator on the machine is the system itself: trusted, allowed every command.
            return await system.bus.dispatch(cmd, EventMetadata(user_id=user, user_role=SYSTEM_ROLE))
        finally:
            await system.close()

    try:
        result = _run(go)
    except StreamNotFoundError as exc:
        # A missing entity the command refers to is bad input; the one it acts on is "not found".
        _fail(str(exc), EXIT_INVALID if exc.referenced else EXIT_NOT_FOUND)
        return
    except (ConcurrencyConflictError, UniqueKeyTakenError) as exc:
        _fail(str(exc), EXIT_CONFLICT)
        return
    except PermissionDeniedError as exc:
        _fail(str(exc), EXIT_FORBIDDEN)
        return
    except DomainError as exc:
        _fail(str(exc), EXIT_INVALID)
        return
    typer.echo(result.model_dump_json())


UserOpt = Annotated[
    UUID | None, typer.Option("--user", help="user recorded as acting (the CLI acts with the system role)")
]
VersionOpt = Annotated[int | None, typer.Option("--expected-version", help="reject if the scene moved on")]


@movies_app.command("register")
def movies_register(
    title: Annotated[str, typer.Option("--title", help="title")],
    year: Annotated[int | None, typer.Option("--year", help="release year")] = None,
    director: Annotated[str | None, typer.Option("--director")] = None,
    duration: Annotated[int | None, typer.Option("--minutes", help="running time in minutes")] = None,
    private: Annotated[bool, typer.Option("--private", help="not public")] = False,
    movie_id: Annotated[UUID | None, typer.Option("--id", help="choose the movie id")] = None,
    user: UserOpt = None,
) -> None:
    """Register a movie; prints the result (its id is ``stream_id``) as JSON."""

    def build() -> Command:
        fields: dict[str, Any] = {
            "title": title,
            "release_year": year,
            "director": director,
            "duration_minutes": duration,
            "is_public": not private,
        }
        if movie_id is not None:
            fields["movie_id"] = movie_id
        return RegisterMovie.model_validate(fields)

    _dispatch(build, user)


@scenes_app.command("create")
def scenes_create(
    movie: Annotated[UUID, typer.Option("--movie", help="movie id")],
    start: Annotated[str, typer.Option("--start", help="012345, 1:23:45 or 23:45")],
    end: Annotated[str, typer.Option("--end", help="like --start, or +105 for 65 s after it")],
    classification: Annotated[str, typer.Option("--class", help="L-dialogue code: L2 or L2-3")],
    description: Annotated[str | None, typer.Option(help="what happens")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="repeatable")] = None,
    emotion: Annotated[list[str] | None, typer.Option("--emotion", help="emotional tag, repeatable")] = None,
    scene_number: Annotated[int | None, typer.Option("--number", help="scene number in the movie")] = None,
    scene_type: Annotated[str, typer.Option("--type", help="primary, nested or parallel")] = "primary",
    parent: Annotated[UUID | None, typer.Option("--parent", help="parent scene of a nested scene")] = None,
    scene_id: Annotated[UUID | None, typer.Option("--id", help="choose the scene id")] = None,
    user: UserOpt = None,
) -> None:
    """Create a scene; prints the result as JSON."""

    def build() -> Command:
        fields: dict[str, Any] = {
            "movie_id": movie,
            "start": start,
            "end": end,
            "classification": classification,
            "description": description,
            "tags": tuple(tag or ()),
            "emotional_tags": tuple(emotion or ()),
            "scene_number": scene_number,
            "scene_type": scene_type,
            "parent_scene_id": parent,
        }
        if scene_id is not None:
            fields["scene_id"] = scene_id
        return CreateScene.model_validate(fields)

    _dispatch(build, user)


@scenes_app.command("retime")
def scenes_retime(
    scene_id: Annotated[UUID, typer.Argument(help="scene id")],
    start: Annotated[str, typer.Option("--start")],
    end: Annotated[str, typer.Option("--end")],
    expected_version: VersionOpt = None,
    user: UserOpt = None,
) -> None:
    """Move a scene to a new time range."""
    _dispatch(
        lambda: RetimeScene(scene_id=scene_id, start=start, end=end, expected_version=expected_version),
        user,
    )


@scenes_app.command("reclassify")
def scenes_reclassify(
    scene_id: Annotated[UUID, typer.Argument(help="scene id")],
    classification: Annotated[str, typer.Option("--class")],
    expected_version: VersionOpt = None,
    user: UserOpt = None,
) -> None:
    """Give a scene a new classification."""
    _dispatch(
        lambda: ReclassifyScene(
            scene_id=scene_id, classification=classification, expected_version=expected_version
        ),
        user,
    )


@scenes_app.command("edit")
def scenes_edit(
    scene_id: Annotated[UUID, typer.Argument(help="scene id")],
    description: Annotated[str | None, typer.Option(help="new description ('' clears it)")] = None,
    tag: Annotated[list[str] | None, typer.Option("--tag", help="replaces the tags; repeatable")] = None,
    emotion: Annotated[list[str] | None, typer.Option("--emotion", help="replaces emotional tags")] = None,
    expected_version: VersionOpt = None,
    user: UserOpt = None,
) -> None:
    """Change a scene's description, tags or emotional tags."""
    _dispatch(
        lambda: EditSceneDetails(
            scene_id=scene_id,
            description=description,
            tags=tuple(tag) if tag is not None else None,
            emotional_tags=tuple(emotion) if emotion is not None else None,
            expected_version=expected_version,
        ),
        user,
    )


@scenes_app.command("delete")
def scenes_delete(
    scene_id: Annotated[UUID, typer.Argument(help="scene id")],
    expected_version: VersionOpt = None,
    user: UserOpt = None,
) -> None:
    """Delete a scene."""
    _dispatch(lambda: DeleteScene(scene_id=scene_id, expected_version=expected_version), user)


@scenes_app.command("get")
def scenes_get(scene_id: Annotated[UUID, typer.Argument(help="scene id")]) -> None:
    """Print a scene from the read model as JSON."""
    settings = load_settings(start_stack=False)

    async def go() -> str | None:
        system = await open_system(settings)
        try:
            scene = await system.scenes.get(scene_id)
            return scene.model_dump_json() if scene else None
        finally:
            await system.close()

    found = _run(go)
    if found is None:
        _fail(f"scene {scene_id} not found in the read model", EXIT_NOT_FOUND)
    typer.echo(found)


@scenes_app.command("list")
def scenes_list(movie: Annotated[UUID, typer.Option("--movie", help="movie id")]) -> None:
    """Print a movie's scenes, ordered by start time, as JSON lines."""
    settings = load_settings(start_stack=False)

    async def go() -> list[str]:
        system = await open_system(settings)
        try:
            return [s.model_dump_json() for s in await system.scenes.by_movie(movie, limit=1000)]
        finally:
            await system.close()

    for line in _run(go):
        typer.echo(line)


def main() -> None:
    """Entry point of the ``sceneledger`` script: run the command, then end the process at once.

    The interpreter's own teardown frees every object one by one: 0.5 s after a command that
    only imported the system, 0.9 s after a rebuild of 200,000 events. Every command closes
    what it opened (pools, clients, files) before it returns, so once the output is flushed
    the process ends with its exit status and nothing left to do. An exception other than an
    exit still ends the usual way, with its traceback.
    """
    try:
        app()
    except KeyboardInterrupt:
        code = 130
    except SystemExit as exc:
        code = exit_status(exc)
    else:  # pragma: no cover  typer's app() always ends in SystemExit
        code = 0
    logging.shutdown()  # flushes the standard library's handlers
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def exit_status(exc: SystemExit) -> int:
    """Return the status ``exc`` gives the process: 0 for None, the int, else 1 (the message printed)."""
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    typer.echo(exc.code, err=True)
    return 1


if __name__ == "__main__":
    main()
