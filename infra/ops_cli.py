"""Operator commands: projection status and health, dead letters, checks, backup/restore, housekeeping."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar
from uuid import UUID

import typer

from infra.config import load_settings
from infra.ops import (
    DEFAULT_STALL_AFTER,
    BackupError,
    DeadLetterError,
    DeadLetterPolicy,
    OpsContext,
    ProjectionStatus,
    apply_skip_policy,
    as_json,
    backup_event_store,
    health,
    kafka_end_offsets,
    list_dead_letters,
    open_ops,
    projection_status,
    purge_processed_commands,
    release_dead_letter,
    restore_event_store,
    run_checks,
)
from infra.settings import Settings

T = TypeVar("T")

EXIT_FAILED = 1
EXIT_REFUSED = 3

ops_app = typer.Typer(no_args_is_help=True)
projections_app = typer.Typer(help="Projection progress and health.", no_args_is_help=True)
dlq_app = typer.Typer(help="Events projections could not apply.", no_args_is_help=True)
ops_app.add_typer(projections_app, name="projections")
ops_app.add_typer(dlq_app, name="dlq")

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
StallAfter = Annotated[
    float,
    typer.Option(
        help="Seconds events may wait while the checkpoint stands still before it counts as stalled."
    ),
]


def _settings() -> Settings:
    return load_settings(start_stack=False)


def _with_ops(action: Callable[[OpsContext], Awaitable[T]]) -> T:
    async def run() -> T:
        async with open_ops(_settings()) as ctx:
            return await action(ctx)

    return asyncio.run(run())


def _print_json(value: Any) -> None:  # noqa: ANN401  any ops result
    typer.echo(json.dumps(as_json(value), indent=2))


@projections_app.command("status")
def status_cmd(
    stall_after: StallAfter = DEFAULT_STALL_AFTER.total_seconds(),
    kafka: Annotated[
        bool, typer.Option(help="Ask Kafka for each partition's end offset (lag in records).")
    ] = True,
    as_json_: JsonFlag = False,
) -> None:
    """Per projection and partition: position, log head, lag (events, seconds, records), last error."""
    settings = _settings()

    async def run(ctx: OpsContext) -> list[ProjectionStatus]:
        ends = None
        if kafka and settings.kafka_bootstrap:
            topics = sorted(
                {settings.topic(t) for spec in ctx.services for p in spec.projections for t in p.topics}
            )
            ends = await kafka_end_offsets(settings.kafka_bootstrap, topics)
        return await projection_status(ctx, stall_after=timedelta(seconds=stall_after), end_offsets=ends)

    statuses = _with_ops(run)
    if as_json_:
        _print_json(statuses)
        return
    for s in statuses:
        state = "STALLED" if s.stalled else "ok"
        typer.echo(
            f"{s.service}/{s.projection}: {state} position {s.projected_position} head {s.head_position} "
            f"lag {s.lag_events} events {s.lag_seconds:.1f}s, {s.open_dead_letters} open dead letters"
            + (f", last error: {s.last_error}" if s.last_error else ""),
        )
        for p in s.partitions:
            committed = p.updated_at.isoformat() if p.updated_at else "never"
            lag = "" if p.lag_records is None else f" end {p.end_offset} lag {p.lag_records} records"
            typer.echo(
                f"  {p.topic}[{p.partition}] next offset {p.next_offset}{lag} position {p.last_position} "
                f"committed {committed}",
            )


@projections_app.command("health")
def health_cmd(
    stall_after: StallAfter = DEFAULT_STALL_AFTER.total_seconds(), as_json_: JsonFlag = False
) -> None:
    """Print ok / degraded / unhealthy and why; exits 1 when unhealthy (stalled projection, database down)."""
    report = _with_ops(lambda ctx: health(ctx, stall_after=timedelta(seconds=stall_after)))
    if as_json_:
        _print_json(report)
    else:
        typer.echo(report.status)
        for problem in report.problems:
            typer.echo(f"  {problem}")
    if report.status == "unhealthy":
        raise typer.Exit(EXIT_FAILED)


@dlq_app.command("list")
def dlq_list(
    include_resolved: Annotated[bool, typer.Option("--all", help="Include resolved ones.")] = False,
    projection: Annotated[str | None, typer.Option(help="Only this projection.")] = None,
    as_json_: JsonFlag = False,
) -> None:
    """List dead letters (open ones unless --all); a parked one names the dead letter it waits behind."""
    letters = _with_ops(
        lambda ctx: list_dead_letters(ctx, include_resolved=include_resolved, projection=projection)
    )
    if as_json_:
        _print_json(letters)
        return
    for d in letters:
        state = f"resolved {d.resolved_at.isoformat()}" if d.resolved_at else "open"
        behind = f" parked behind {d.ref.split(':')[0]}:{d.parked_behind}" if d.parked_behind else ""
        typer.echo(
            f"{d.ref} {d.projection} {d.event_type} stream {d.stream_id} v{d.stream_version} "
            f"{state}{behind}: {d.error}",
        )


def _release(ref: str, *, skip: bool) -> None:
    try:
        outcome = _with_ops(lambda ctx: release_dead_letter(ctx, ref, skip=skip))
    except DeadLetterError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    typer.echo(f"applied {outcome.applied}, skipped {outcome.skipped}")
    if outcome.still_open:
        typer.echo(f"still failing: {', '.join(outcome.still_open)} (see `dlq list`)", err=True)
        raise typer.Exit(EXIT_FAILED)


@dlq_app.command("retry")
def dlq_retry(ref: Annotated[str, typer.Argument(help="SERVICE:ID, as `dlq list` shows it.")]) -> None:
    """Re-apply a dead letter and the events parked behind it, in order; exits 1 if one fails again."""
    _release(ref, skip=False)


@dlq_app.command("skip")
def dlq_skip(ref: Annotated[str, typer.Argument(help="SERVICE:ID, as `dlq list` shows it.")]) -> None:
    """Give up on a dead letter (never applied) and re-apply the events parked behind it."""
    _release(ref, skip=True)


@ops_app.command("check")
def check_cmd(
    movie: Annotated[UUID | None, typer.Option(help="Only this movie's scenes.")] = None,
    as_json_: JsonFlag = False,
) -> None:
    """Run the design's consistency checks and data-quality tests; exits 1 on any FAIL."""
    results = _with_ops(lambda ctx: run_checks(ctx, movie_id=movie))
    if as_json_:
        _print_json(results)
    else:
        for r in results:
            typer.echo(f"{r.status:5} {r.name}" + (f": {r.details}" if r.details else ""))
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(EXIT_FAILED)


@ops_app.command("backup")
def backup_cmd(path: Annotated[Path, typer.Argument(help="File to write (pg_dump custom format).")]) -> None:
    """Back up the event store (the log, unique claims, processed command ids)."""
    try:
        backup_event_store(_settings(), path)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(f"event store written to {path}")


@ops_app.command("restore")
def restore_cmd(
    path: Annotated[Path, typer.Argument(help="A file written by `backup`.", exists=True, dir_okay=False)],
    force: Annotated[bool, typer.Option(help="Replace an event store that already holds events.")] = False,
    keep_relay_checkpoints: Annotated[
        bool, typer.Option(help="Do not republish the log (by default the relay starts over).")
    ] = False,
) -> None:
    """Restore the event store; then run the system: the relay republishes and projectors rebuild."""
    try:
        asyncio.run(
            restore_event_store(_settings(), path, force=force, keep_relay_checkpoints=keep_relay_checkpoints)
        )
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_REFUSED) from None
    typer.echo(f"event store restored from {path}")


@ops_app.command("housekeeping")
def housekeeping_cmd(
    retention_days: Annotated[
        float, typer.Option(help="Keep processed command ids this long (deduplication window).")
    ] = 7.0,
    skip_projection: Annotated[
        list[str] | None,
        typer.Option(help="A projection whose dead-letter policy is skip (repeatable); others pause."),
    ] = None,
) -> None:
    """Purge old processed command ids and apply the skip dead-letter policy."""
    policies: dict[str, DeadLetterPolicy] = dict.fromkeys(skip_projection or (), "skip")

    async def run(ctx: OpsContext) -> tuple[int, list[str]]:
        purged = await purge_processed_commands(ctx, retention=timedelta(days=retention_days))
        return purged, await apply_skip_policy(ctx, policies)

    purged, skipped = _with_ops(run)
    typer.echo(f"purged {purged} processed command ids older than {retention_days} days")
    typer.echo(f"skipped {len(skipped)} dead letters" + (f": {', '.join(skipped)}" if skipped else ""))
