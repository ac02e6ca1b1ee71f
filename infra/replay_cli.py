"""`sceneledger replay` and `sceneledger verify`: rebuild read models from the log, blue/green."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, NoReturn
from uuid import UUID

import structlog
import typer
from tqdm import tqdm

from infra.config import load_settings
from infra.replay import (
    REBUILD_BATCH_SIZE,
    STEPS,
    PendingMigrationsError,
    RebuildInProgressError,
    RebuildReport,
    ReplayEngine,
    services_for,
)
from infra.replay_targeted import (
    IN_PLACE_BATCH_SIZE,
    ReplayRefusedError,
    TargetedReport,
    movie_in_log,
    replay_from_position,
    replay_movie,
)
from infra.services import build_registry
from infra.topic_reset import GroupActiveError, TopicHistoryError, reset_from_topic

if TYPE_CHECKING:
    from infra.services import ServiceSpec
    from infra.settings import Settings

log = structlog.get_logger(__name__)

replay_app = typer.Typer()

EXIT_DIFFERENT = 1
EXIT_USAGE = 2
EXIT_BUSY = 3

ProjectionOpt = Annotated[
    str | None,
    typer.Option(
        "--projection",
        help="A projection's name; its whole service database is rebuilt (the swap is per schema).",
    ),
]
AllOpt = Annotated[bool, typer.Option("--all", help="Every service's read models.")]
BatchOpt = Annotated[
    int | None,
    typer.Option(
        "--batch-size",
        min=1,
        help=f"Events read and applied per transaction (default: {REBUILD_BATCH_SIZE:,} for a rebuild "
        f"or verify, {IN_PLACE_BATCH_SIZE:,} for --movie and --from-position, which write the live "
        "read models).",
    ),
]


class TqdmProgress:
    """A progress bar with events/s and ETA, for a terminal."""

    def __init__(self) -> None:
        self._bar: tqdm[NoReturn] | None = None

    def start(self, label: str, total: int, done: int) -> None:
        """Open a bar for ``label``."""
        self._bar = tqdm(total=total, initial=min(done, total), desc=label, unit="ev", unit_scale=True)

    def advance(self, events: int) -> None:
        """Move the bar."""
        if self._bar is not None:
            self._bar.update(events)

    def finish(self) -> None:
        """Close the bar."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class LogProgress:
    """Plain log lines (events, events/s, ETA) every ``interval`` seconds, for logs and pipes."""

    def __init__(self, interval: float = 5.0) -> None:
        self._interval = interval
        self._label = ""
        self._total = self._done = self._run = 0
        self._started = self._last = 0.0

    def start(self, label: str, total: int, done: int) -> None:
        """Remember what is rebuilt and log the start."""
        self._label, self._total, self._done, self._run = label, total, done, 0
        self._started = self._last = time.monotonic()
        log.info("replay.started", target=label, total=total, already_done=done)

    def advance(self, events: int) -> None:
        """Count events; log a line when ``interval`` has passed."""
        self._done += events
        self._run += events
        now = time.monotonic()
        if now - self._last >= self._interval:
            self._last = now
            self._line("replay.progress", now)

    def finish(self) -> None:
        """Log the final line."""
        self._line("replay.read_done", time.monotonic())

    def _line(self, event: str, now: float) -> None:
        rate = self._run / max(now - self._started, 1e-9)
        left = max(self._total - self._done, 0)
        log.info(
            event,
            target=self._label,
            events=self._done,
            total=self._total,
            events_per_s=round(rate, 1),
            eta_s=round(left / rate, 1) if rate > 0 else None,
        )


def _engine(settings: Settings, batch_size: int | None) -> ReplayEngine:
    progress = TqdmProgress() if sys.stderr.isatty() else LogProgress()
    return ReplayEngine(
        settings, build_registry(), batch_size=batch_size or REBUILD_BATCH_SIZE, progress=progress
    )


def _targets(projection: str | None, *, all_: bool) -> tuple[ServiceSpec, ...]:
    if (projection is None) == (not all_):
        typer.echo("error: give either --projection NAME or --all", err=True)
        raise typer.Exit(EXIT_USAGE)
    try:
        return services_for(projection)
    except KeyError as exc:
        typer.echo(f"error: {exc.args[0]}", err=True)
        raise typer.Exit(EXIT_USAGE) from None


@replay_app.command()
def replay(
    projection: ProjectionOpt = None,
    all_: AllOpt = False,
    keep_old: Annotated[
        bool, typer.Option("--keep-old", help="Keep the replaced schema as public_old_<id>.")
    ] = False,
    rebuild_id: Annotated[
        str, typer.Option("--id", help="Shadow schema suffix; rerun with the same id to resume.")
    ] = "rebuild",
    batch_size: BatchOpt = None,
    movie: Annotated[
        UUID | None,
        typer.Option(
            "--movie",
            help="In place: rebuild only this movie's rows (its movie, scene, group and review "
            "streams) in the live read models, up to where the live projectors have got.",
        ),
    ] = None,
    from_position: Annotated[
        int | None,
        typer.Option(
            "--from-position",
            min=1,
            help="In place: apply to the live read models the events at log position >= N they "
            "lack (no shadow, nothing dropped); refused if that would leave a gap.",
        ),
    ] = None,
    from_topic: Annotated[
        bool,
        typer.Option(
            "--from-topic",
            help="Replay from the Kafka topics instead of the log: reset the projectors' consumer "
            "groups (their projectors must be stopped). See --to-offset.",
        ),
    ] = False,
    to_offset: Annotated[
        str,
        typer.Option(
            "--to-offset",
            help="With --from-topic: 'earliest' empties the service's read models and resets all "
            "its projections to the start of their topics; an ISO time (2026-11-26T10:00:00+00:00) "
            "re-delivers to the projection the records from then on, keeping its read model "
            "(already applied events are deduplicated).",
        ),
    ] = "earliest",
) -> None:
    """Rebuild read models from saga_events into a shadow schema, then swap it in atomically.

    The live read models keep serving meanwhile. An interrupted rebuild resumes where it
    stopped when run again with the same --id. With --movie or --from-position the live
    read models are repaired in place instead (no shadow schema, no swap).
    """
    specs = _targets(projection, all_=all_)
    settings = load_settings(start_stack=False)
    if from_topic:
        if projection is None or movie is not None or from_position is not None:
            _usage("--from-topic takes --projection NAME and none of --all, --movie, --from-position")
        _from_topic(settings, specs[0], projection, to_offset)
        return
    if movie is not None or from_position is not None:
        _in_place(
            settings,
            specs,
            projection,
            movie,
            from_position,
            batch_size,
            blue_green=keep_old or rebuild_id != "rebuild",
        )
        return
    engine = _engine(settings, batch_size)

    async def run() -> list[RebuildReport]:
        return await engine.rebuild_many(specs, rebuild_id=rebuild_id, keep_old=keep_old)

    try:
        reports = asyncio.run(run())
    except ValueError as exc:  # a --id that cannot name a schema
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except RebuildInProgressError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BUSY) from None
    except PendingMigrationsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    for report in reports:
        kept = f", old schema kept as {report.old_schema}" if keep_old else ""
        typer.echo(
            f"{report.service}: rebuilt from {report.events} events (resumed after position "
            f"{report.resumed_from}), {report.caught_up_streams} streams levelled at the swap{kept}",
        )
        typer.echo(f"{report.service}: {_steps(report)}")


def _steps(report: RebuildReport) -> str:
    """Return "shadow a s, log b s, ..." for a report's timed steps, in order (see ``STEPS``).

    No total: each step waits for every service of the run to end it before the next starts.
    """
    return ", ".join(f"{step} {report.seconds[step]:.1f} s" for step in STEPS if step in report.seconds)


def _in_place(
    settings: Settings,
    specs: tuple[ServiceSpec, ...],
    projection: str | None,
    movie: UUID | None,
    from_position: int | None,
    batch_size: int | None,
    *,
    blue_green: bool,
) -> None:
    """Run `replay --movie` or `replay --from-position` and print what it did per service."""
    if movie is not None and from_position is not None:
        _usage("give --movie or --from-position, not both (--movie replays the movie's whole history)")
    if blue_green:
        _usage("--movie and --from-position work in place on the live read models: no --id or --keep-old")
    registry = build_registry()

    async def run() -> list[TargetedReport]:
        if movie is not None:
            if not await movie_in_log(settings, movie):
                _usage(f"movie: no movie {movie} in the event log")
            return [await replay_movie(settings, registry, s, movie, projection=projection) for s in specs]
        assert from_position is not None  # noqa: S101  one of the two is given (checked above)
        return [
            await replay_from_position(
                settings,
                registry,
                s,
                from_position,
                projection=projection,
                batch_size=batch_size or IN_PLACE_BATCH_SIZE,
            )
            for s in specs
        ]

    try:
        reports = asyncio.run(run())
    except ReplayRefusedError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    for report in reports:
        for name, count in report.applied.items():
            deleted = f"{report.deleted[name]} rows deleted, " if name in report.deleted else ""
            typer.echo(f"{report.service}/{name}: {deleted}{count} events applied")
        for note in report.skipped:
            typer.echo(f"{report.service}/{note}")


def _from_topic(settings: Settings, spec: ServiceSpec, projection: str, to_offset: str) -> None:
    """Run `replay --from-topic` and print the offsets each consumer group resumes from."""
    to: datetime | None = None
    if to_offset != "earliest":
        try:
            to = datetime.fromisoformat(to_offset)
        except ValueError:
            _usage(f"to-offset: {to_offset!r} is neither 'earliest' nor an ISO time")
        if to.tzinfo is None:
            _usage("to-offset: give the time with its UTC offset (e.g. 2026-11-26T10:00:00+00:00)")
    try:
        report = asyncio.run(reset_from_topic(settings, build_registry(), spec, projection, to=to))
    except GroupActiveError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BUSY) from None
    except TopicHistoryError as exc:
        _usage(str(exc))
    emptied = " (read models emptied)" if to is None else ""
    typer.echo(f"{report.service}: consumer groups reset to {report.mode}{emptied}")
    for group, offsets in report.offsets.items():
        typer.echo(f"  {group}: " + ", ".join(f"{tp}@{o}" for tp, o in sorted(offsets.items())))


def _usage(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(EXIT_USAGE)


@replay_app.command()
def verify(
    projection: ProjectionOpt = None,
    all_: AllOpt = False,
    batch_size: BatchOpt = None,
) -> None:
    """Rebuild into a scratch schema and compare every read-model table with the live one.

    Exits 1 when a table differs (row counts or checksums), printing the differing rows.
    """
    specs = _targets(projection, all_=all_)
    settings = load_settings(start_stack=False)
    engine = _engine(settings, batch_size)

    async def run() -> list[RebuildReport]:
        return [await engine.verify(spec) for spec in specs]

    different = False
    for report in asyncio.run(run()):
        if not report.differences:
            typer.echo(f"{report.service}: identical ({report.events} events replayed)")
            continue
        different = True
        typer.echo(f"{report.service}: {len(report.differences)} tables differ")
        if report.ahead_streams:
            typer.echo(
                f"  note: the rebuild is ahead of the live projectors on {report.ahead_streams} "
                "streams (live lag explains differences there)",
            )
        for diff in report.differences:
            typer.echo(diff.describe())
    if different:
        raise typer.Exit(EXIT_DIFFERENT)
