"""Outbox relay: every committed event of ``saga_events`` reaches Kafka at least once, in order.

Reading is gap-safe. Positions are handed out before commit, so a reader that takes
``position > last_seen`` can pass over an event whose transaction commits late. The relay
instead reads in ``(tx_id, position)`` order and only below a horizon that no running
transaction can write behind: the oldest transaction in progress at the query's snapshot,
ignoring those proven to belong to another database of the cluster (they cannot insert into
this log, and waiting for them would let one long transaction elsewhere stall the relay).
A transaction that finished between the snapshot and the look-up counts as ours: the
horizon can only be too early, never too late. The checkpoint moves only after Kafka
acknowledged the whole batch; a crash in between republishes the batch (duplicates, never
losses), which consumers absorb through their per-stream version checkpoints.

When idle the relay polls the log every ``poll_interval``; an append committed by this
process wakes it at once (:meth:`OutboxRelay.wake`), so the commands of the process that
runs the relay (`sceneledger up`, a worker's command consumer, the saga runner) do not wait
for the next poll. Appends of other processes are found by the poll: waking across processes
with NOTIFY was measured and rejected (see ``bench/RESULTS.md``).
"""

from __future__ import annotations

import asyncio
import time
from asyncio import FIRST_COMPLETED
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from events.base import EventMetadata
from infra.cloudevents import event_headers
from infra.db import TRANSIENT_PG_ERRORS
from infra.publisher import EventPublisher, OutboundMessage

log = structlog.get_logger(__name__)

# The horizon: xids in progress at this statement's snapshot, minus those still running in
# another database (a backend never changes database), else the snapshot's xmax.
LOG_HORIZON_SQL = """
SELECT coalesce(
    (SELECT min(x) FROM pg_snapshot_xip(pg_current_snapshot()) AS x
     WHERE xid(x) NOT IN (SELECT a.backend_xid FROM pg_stat_activity a
                          WHERE a.backend_xid IS NOT NULL
                            AND a.datname IS DISTINCT FROM current_database())),
    pg_snapshot_xmax(pg_current_snapshot()))
"""

_FETCH = f"""
SELECT position, tx_id::text AS tx_text, id, stream_type, stream_id, stream_version, event_type,
       schema_version, event_data::text AS event_data, partition_key, occurred_at,
       correlation_id, causation_id, user_id, user_role, host(client_addr) AS client_addr
FROM saga_events
WHERE (tx_id, position) > ($1::text::xid8, $2)
  AND tx_id < ({LOG_HORIZON_SQL})
-- Not the text alias: ordering xids as text would put '100005' before '99994'.
ORDER BY saga_events.tx_id, saga_events.position
LIMIT $3
"""

_LOAD_CHECKPOINT = """
INSERT INTO relay_checkpoints (relay_name, tx_id, position) VALUES ($1, '0'::xid8, 0)
ON CONFLICT (relay_name) DO UPDATE SET relay_name = EXCLUDED.relay_name
RETURNING tx_id::text AS tx_id, position
"""

_SAVE_CHECKPOINT = """
UPDATE relay_checkpoints
SET tx_id = $2::text::xid8, position = $3, published_count = published_count + $4, updated_at = now()
WHERE relay_name = $1
"""


@dataclass(slots=True)
class RelayStats:
    """Counters an operator can read while the relay runs."""

    published: int = 0
    batches: int = 0
    last_position: int = 0
    last_publish_at: float = 0.0


def _to_message(row: asyncpg.Record, topic_for: Callable[[str], str]) -> OutboundMessage:
    return OutboundMessage(
        topic=topic_for(row["stream_type"]),
        key=row["partition_key"].encode(),
        value=row["event_data"].encode(),
        headers=event_headers(
            event_id=row["id"],
            stream_type=row["stream_type"],
            event_type=row["event_type"],
            schema_version=row["schema_version"],
            stream_id=row["stream_id"],
            stream_version=row["stream_version"],
            position=row["position"],
            occurred_at=row["occurred_at"],
            metadata=EventMetadata(
                correlation_id=row["correlation_id"],
                causation_id=row["causation_id"],
                user_id=row["user_id"],
                user_role=row["user_role"],
                client_addr=row["client_addr"],
            ),
        ),
    )


class OutboxRelay:
    """Moves committed events from the log to their service's topic."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: EventPublisher,
        *,
        topic_for: Callable[[str], str],
        name: str = "kafka",
        batch_size: int = 1000,
        poll_interval: float = 0.01,
    ) -> None:
        self._pool = pool
        self._publisher = publisher
        self._topic_for = topic_for
        self._name = name
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._checkpoint: tuple[str, int] | None = None
        self._woken = asyncio.Event()
        self.stats = RelayStats()

    def wake(self) -> None:
        """Have the relay read the log now rather than at its next poll (an append committed)."""
        self._woken.set()

    async def _load_checkpoint(self) -> tuple[str, int]:
        if self._checkpoint is None:
            row = await self._pool.fetchrow(_LOAD_CHECKPOINT, self._name)
            if row is None:  # pragma: no cover  the upsert always returns its row
                raise RuntimeError("relay checkpoint missing")
            self._checkpoint = (row["tx_id"], row["position"])
        return self._checkpoint

    async def run_once(self) -> int:
        """Publish the next batch of settled events; return how many were published."""
        tx_id, position = await self._load_checkpoint()
        rows = await self._pool.fetch(_FETCH, tx_id, position, self._batch_size)
        if not rows:
            return 0
        await self._publisher.publish_batch([_to_message(r, self._topic_for) for r in rows])
        last = rows[-1]
        await self._pool.execute(
            _SAVE_CHECKPOINT,
            self._name,
            last["tx_text"],
            last["position"],
            len(rows),
        )
        self._checkpoint = (last["tx_text"], last["position"])
        self.stats.published += len(rows)
        self.stats.batches += 1
        self.stats.last_position = last["position"]
        self.stats.last_publish_at = time.time()
        log.debug("relay.published", count=len(rows), position=last["position"])
        return len(rows)

    async def _idle(self, stopped: asyncio.Future[Any]) -> None:
        """Wait for the next poll, a wake or the stop, whichever comes first."""
        if self._woken.is_set():
            return
        woken = asyncio.ensure_future(self._woken.wait())
        try:
            await asyncio.wait((stopped, woken), timeout=self._poll_interval, return_when=FIRST_COMPLETED)
        finally:
            woken.cancel()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; transient database errors are retried with backoff."""
        log.info("relay.started", relay=self._name)
        stopped = asyncio.ensure_future(stop.wait())
        try:
            while not stop.is_set():
                # Cleared before reading: a wake during the read may be for an event the read's
                # snapshot missed, so it is kept for the wait below.
                self._woken.clear()
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception_type(TRANSIENT_PG_ERRORS),
                    wait=wait_exponential(multiplier=0.05, max=2),
                    reraise=True,
                ):
                    with attempt:
                        published = await self.run_once()
                if published < self._batch_size:
                    await self._idle(stopped)
        finally:
            stopped.cancel()
        log.info("relay.stopped", relay=self._name, published=self.stats.published)
