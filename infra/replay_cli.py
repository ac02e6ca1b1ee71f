"""`sceneledger replay` and `sceneledger verify`: rebuild read models from the log, blue/green."""

from __future__ import annotations

import asyncio
import sys
import time
from typing import TYPE_CHECKING, Annotated, NoReturn

import structlog
import typer
from tqdm import tqdm

from infra.config import load_settings
from infra.replay import RebuildInProgressError, RebuildReport, ReplayEngine, services_for
from infra.services import build_registry

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
    int, typer.Option("--batch-size", min=1, help="Events read and applied per transaction.")
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


def _engine(settings: Settings, batch_size: int) -> ReplayEngine:
    progress = TqdmProgress() if sys.stderr.isatty() else LogProgress()
    return ReplayEngine(settings, build_registry(), batch_size=batch_size, progress=progress)


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
    batch_size: BatchOpt = 5000,
) -> None:
    """Rebuild read models from saga_events into a shadow schema, then swap it in atomically.

    The live read models keep serving meanwhile. An interrupted rebuild resumes where it
    stopped when run again with the same --id.
    """
    specs = _targets(projection, all_=all_)
    settings = load_settings(start_stack=False)
    engine = _engine(settings, batch_size)

    async def run() -> list[RebuildReport]:
        return [await engine.rebuild(spec, rebuild_id=rebuild_id, keep_old=keep_old) for spec in specs]

    try:
        reports = asyncio.run(run())
    except ValueError as exc:  # a --id that cannot name a schema
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except RebuildInProgressError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_BUSY) from None
    for report in reports:
        kept = f", old schema kept as {report.old_schema}" if keep_old else ""
        typer.echo(
            f"{report.service}: rebuilt from {report.events} events (resumed after position "
            f"{report.resumed_from}), {report.caught_up_streams} streams levelled at the swap{kept}",
        )


@replay_app.command()
def verify(
    projection: ProjectionOpt = None,
    all_: AllOpt = False,
    batch_size: BatchOpt = 5000,
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
