"""Reads of saga progress for operators (CLI, HTTP, metrics), straight from the saga streams of the log."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol
from uuid import UUID

from events.base import Message
from events.registry import EventRegistry
from infra.pg_event_store import recorded_from_row
from sagas.state import SagaStatus, StepStatus, replay

STATUS_SQL = """
CASE h.event_type
    WHEN 'SagaRequested' THEN 'planning'
    WHEN 'SagaRejected' THEN 'rejected'
    WHEN 'SagaCompleted' THEN 'completed'
    WHEN 'SagaCompensated' THEN 'compensated'
    WHEN 'SagaStuck' THEN 'stuck'
    WHEN 'SagaCompensationStarted' THEN 'compensating'
    WHEN 'SagaStepCompensating' THEN 'compensating'
    WHEN 'SagaStepCompensated' THEN 'compensating'
    WHEN 'SagaCompensationFailed' THEN 'compensating'
    WHEN 'SagaRetried' THEN 'compensating'
    ELSE 'running'
END
"""
"""A saga's status from its head event (what :func:`sagas.state.replay` would say)."""

_LIST = f"""
WITH heads AS (
    SELECT DISTINCT ON (stream_id) stream_id, saga_type, event_type, stream_version, created_at,
           error_message
    FROM saga_events WHERE stream_type = 'saga'
    ORDER BY stream_id, stream_version DESC
)
SELECT h.stream_id AS saga_id, h.saga_type, {STATUS_SQL} AS status, h.event_type AS last_event,
       h.stream_version AS transitions, s.created_at AS started_at, h.created_at AS updated_at,
       h.error_message, coalesce(jsonb_array_length(p.event_data->'steps'), 0) AS steps
FROM heads h
JOIN saga_events s ON s.stream_id = h.stream_id AND s.stream_version = 1
LEFT JOIN saga_events p ON p.stream_id = h.stream_id AND p.event_type = 'SagaStarted'
WHERE ($1::text IS NULL OR {STATUS_SQL} = $1) AND ($2::text IS NULL OR h.saga_type = $2)
ORDER BY h.created_at DESC
LIMIT $3
"""

_COUNTS = f"""
WITH heads AS (
    SELECT DISTINCT ON (stream_id) stream_id, saga_type, event_type
    FROM saga_events WHERE stream_type = 'saga'
    ORDER BY stream_id, stream_version DESC
)
SELECT h.saga_type, {STATUS_SQL} AS status, count(*) AS sagas FROM heads h GROUP BY 1, 2
"""

_TRANSITIONS = """
SELECT position, id, stream_id, stream_version, event_type, schema_version, event_data, occurred_at,
       correlation_id, causation_id, user_id, user_role, host(client_addr) AS client_addr,
       step_name, step_status, error_message, created_at, completed_at
FROM saga_events WHERE stream_id = $1 AND stream_type = 'saga' ORDER BY stream_version
"""


class Fetcher(Protocol):
    """Anything that runs a query with ``$n`` parameters: an asyncpg pool or connection."""

    async def fetch(self, query: str, *args: Any) -> Sequence[Mapping[str, Any]]:  # noqa: ANN401  query arguments
        """Return the query's rows."""
        ...


async def saga_counts(db: Fetcher) -> dict[tuple[str, str], int]:
    """How many sagas there are by (saga type, status)."""
    rows = await db.fetch(_COUNTS)
    return {(r["saga_type"], r["status"]): int(r["sagas"]) for r in rows}


def _decoded(row: Mapping[str, Any]) -> dict[str, Any]:
    data = dict(row)
    if isinstance(data["event_data"], str):  # a connection without the pool's JSON codec
        data["event_data"] = json.loads(data["event_data"])
    return data


class SagaSummary(Message):
    """One saga in a listing."""

    saga_id: UUID
    saga_type: str
    status: SagaStatus
    steps: int
    transitions: int
    last_event: str
    started_at: datetime
    updated_at: datetime
    error_message: str | None = None


class StepView(Message):
    """Where one planned step of a saga stands."""

    index: int
    name: str
    status: StepStatus
    changed: bool
    error: str | None = None


class TransitionView(Message):
    """One persisted transition: the design's saga_events columns of the row."""

    version: int
    event_type: str
    step_name: str
    step_status: Literal["pending", "completed", "failed", "compensated"]
    error_message: str | None
    created_at: datetime
    completed_at: datetime | None


class SagaDetail(Message):
    """A saga with its steps and every transition."""

    saga_id: UUID
    saga_type: str
    status: SagaStatus
    input: dict[str, object]
    steps: tuple[StepView, ...]
    transitions: tuple[TransitionView, ...]


class SagaQueries:
    """Saga reads on the event store's database."""

    def __init__(self, db: Fetcher, registry: EventRegistry) -> None:
        self._db = db
        self._registry = registry

    async def list(
        self, *, status: SagaStatus | None = None, saga_type: str | None = None, limit: int = 100
    ) -> list[SagaSummary]:
        """Sagas, the most recently active first, optionally of one status and/or type."""
        rows = await self._db.fetch(_LIST, status, saga_type, limit)
        return [SagaSummary.model_validate(dict(r)) for r in rows]

    async def get(self, saga_id: UUID) -> SagaDetail | None:
        """Return the saga with its steps and transitions, or ``None`` if there is no such saga."""
        rows = [_decoded(r) for r in await self._db.fetch(_TRANSITIONS, saga_id)]
        if not rows:
            return None
        state = replay([recorded_from_row(r, self._registry).event for r in rows])
        if state is None:  # pragma: no cover  a saga stream starts with SagaStarted
            return None
        return SagaDetail(
            saga_id=saga_id,
            saga_type=state.saga_type,
            status=state.status,
            input=dict(state.input),
            steps=tuple(
                StepView(index=i, name=p.name, status=s.status, changed=s.changed, error=s.error)
                for i, (p, s) in enumerate(zip(state.plan, state.steps, strict=True))
            ),
            transitions=tuple(
                TransitionView(
                    version=r["stream_version"],
                    event_type=r["event_type"],
                    step_name=r["step_name"],
                    step_status=r["step_status"],
                    error_message=r["error_message"],
                    created_at=r["created_at"],
                    completed_at=r["completed_at"],
                )
                for r in rows
            ),
        )
