"""Prometheus metrics and readiness of the pipeline (log, relay, projections, sagas, dead letters)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from commands.handlers import CommandBus
from infra.ops import DEFAULT_STALL_AFTER, OpsContext, ProjectionStatus, as_json, engine_connect, health
from infra.ops import projection_status as read_projection_status
from read_models.engines import ReadEngines
from sagas.queries import saga_counts


@dataclass(frozen=True, slots=True)
class MetricsSnapshot:
    """Figures read from the databases for one scrape."""

    appended: int
    published: dict[str, int]
    projected: dict[tuple[str, str], int]
    saga_steps: dict[tuple[str, str], int]
    projections: Sequence[ProjectionStatus]
    sagas: dict[tuple[str, str], int] = field(default_factory=dict)
    """Sagas by (saga type, status): running, compensating, stuck, ..."""


async def read_snapshot(ctx: OpsContext, *, stall_after: timedelta = DEFAULT_STALL_AFTER) -> MetricsSnapshot:
    """Read every figure the metrics expose."""
    async with ctx.connect("event_store") as conn:
        appended = await conn.fetchval("SELECT coalesce(max(position), 0) FROM saga_events")
        published = {
            r["relay_name"]: int(r["published_count"])
            for r in await conn.fetch("SELECT relay_name, published_count FROM relay_checkpoints")
        }
        saga_steps = {
            (r["saga_type"], r["step_status"]): int(r["n"])
            for r in await conn.fetch(
                "SELECT saga_type, step_status, count(*) AS n FROM saga_events "
                "GROUP BY saga_type, step_status",
            )
        }
        sagas = await saga_counts(conn)
    projected: dict[tuple[str, str], int] = {}
    for spec in ctx.services:
        async with ctx.connect(spec.name) as conn:
            for r in await conn.fetch(
                "SELECT projection, coalesce(sum(stream_version), 0) AS n FROM projection_stream_versions "
                "GROUP BY projection",
            ):
                projected[spec.name, r["projection"]] = int(r["n"])
    return MetricsSnapshot(
        appended=int(appended),
        published=published,
        projected=projected,
        saga_steps=saga_steps,
        projections=await read_projection_status(ctx, stall_after=stall_after),
        sagas=sagas,
    )


class SnapshotCollector(Collector):
    """Exposes one :class:`MetricsSnapshot` in the Prometheus format."""

    def __init__(self, snapshot: MetricsSnapshot) -> None:
        self._s = snapshot

    def collect(self) -> Iterator[Metric]:
        """Yield the metric families of the snapshot."""
        s = self._s
        appended = CounterMetricFamily(
            "sceneledger_events_appended", "Events appended to the log (its newest position)."
        )
        appended.add_metric([], s.appended)
        yield appended
        published = CounterMetricFamily(
            "sceneledger_events_published", "Events the outbox relay published.", labels=["relay"]
        )
        for relay, n in sorted(s.published.items()):
            published.add_metric([relay], n)
        yield published
        projected = CounterMetricFamily(
            "sceneledger_events_projected",
            "Events a projection consumed (its streams' applied versions, summed).",
            labels=["service", "projection"],
        )
        for (service, projection), n in sorted(s.projected.items()):
            projected.add_metric([service, projection], n)
        yield projected
        sagas = GaugeMetricFamily(
            "sceneledger_saga_steps", "Logged saga steps by state.", labels=["saga_type", "step_status"]
        )
        for (saga_type, status), n in sorted(s.saga_steps.items()):
            sagas.add_metric([saga_type, status], n)
        yield sagas
        saga_states = GaugeMetricFamily(
            "sceneledger_sagas",
            "Sagas by type and status (stuck ones wait for an operator).",
            labels=["saga_type", "status"],
        )
        for (saga_type, status), n in sorted(s.sagas.items()):
            saga_states.add_metric([saga_type, status], n)
        yield saga_states
        labels = ["service", "projection"]
        lag = GaugeMetricFamily("sceneledger_projection_lag_events", "Events not yet applied.", labels=labels)
        lag_s = GaugeMetricFamily(
            "sceneledger_projection_lag_seconds", "Age of the oldest event not yet applied.", labels=labels
        )
        stalled = GaugeMetricFamily(
            "sceneledger_projection_stalled",
            "1 when the head moves, the checkpoint does not.",
            labels=labels,
        )
        dead = GaugeMetricFamily(
            "sceneledger_dead_letters_open", "Dead letters not yet retried or skipped.", labels=labels
        )
        for p in s.projections:
            key = [p.service, p.projection]
            lag.add_metric(key, p.lag_events)
            lag_s.add_metric(key, p.lag_seconds)
            stalled.add_metric(key, 1 if p.stalled else 0)
            dead.add_metric(key, p.open_dead_letters)
        yield from (lag, lag_s, stalled, dead)


def render(snapshot: MetricsSnapshot) -> bytes:
    """Return ``snapshot`` in the Prometheus text exposition format."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SnapshotCollector(snapshot))
    return generate_latest(registry)


def ops_router(
    bus: CommandBus,  # noqa: ARG001  the router factory signature every service shares
    engines: ReadEngines,
    *,
    stall_after: timedelta = DEFAULT_STALL_AFTER,
) -> APIRouter:
    """Return ``GET /metrics`` and ``GET /health/ready``; ``engines`` must include ``event_store``."""
    if "event_store" not in engines:
        raise KeyError("ops_router needs an 'event_store' engine beside the service engines")
    ctx = OpsContext(connect=engine_connect(engines))
    router = APIRouter(tags=["ops"])

    @router.get("/metrics", response_class=Response)
    async def metrics() -> Response:
        """Prometheus metrics of the log, relay, projections, sagas and dead letters."""
        snapshot = await read_snapshot(ctx, stall_after=stall_after)
        return Response(render(snapshot), media_type=CONTENT_TYPE_LATEST)

    @router.get("/health/ready")
    async def ready() -> JSONResponse:
        """Readiness: 503 when a database is down or a projection is stalled; lists every projection."""
        report = await health(ctx, stall_after=stall_after)
        body: dict[str, Any] = as_json(report)
        return JSONResponse(body, status_code=503 if report.status == "unhealthy" else 200)

    return router
