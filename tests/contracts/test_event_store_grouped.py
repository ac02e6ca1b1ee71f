"""Group commit of the PostgreSQL event store: batched appends answer as if each ran alone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast
from uuid import UUID, uuid4

import asyncpg
import pytest

from commands.errors import ConcurrencyConflictError, UniqueKeyTakenError
from commands.ports import AppendResult, ConditionNotMetError, StreamCondition, UniqueClaim
from events.base import DomainEvent, EventMetadata, RecordedEvent
from events.movie import MovieRegistered
from infra.db import create_pool
from infra.pg_event_store import PostgresEventStore
from infra.services import build_registry
from infra.settings import Settings
from tests.contracts.test_event_store_conditions import ConditionContract
from tests.contracts.test_event_store_contract import EventStoreContract, created, reclassified

pytestmark = [pytest.mark.contract, pytest.mark.integration]


class BatchSpy:
    """A pool that records the event ids of every ``append_events_batch`` call, else delegates."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self.batches: list[set[UUID]] = []
        self.refuse_next: Exception | None = None
        self._sent = asyncio.Event()

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        """Record a batch's event ids, then run the query."""
        if "append_events_batch" in query:
            self.batches.append({event_id for request in args[0] for event_id in request[5]})
            self._sent.set()
            refused, self.refuse_next = self.refuse_next, None
            if refused is not None:
                raise refused
        return cast("list[asyncpg.Record]", await self._pool.fetch(query, *args))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pool, name)

    def batched(self, event: DomainEvent) -> bool:
        """Whether ``event`` was sent in a batch."""
        return any(event.event_id in batch for batch in self.batches)

    async def until_batched(self, event: DomainEvent) -> None:
        """Wait until ``event`` has been sent in a batch."""
        while not self.batched(event):
            self._sent.clear()
            await self._sent.wait()


def _store(spy: BatchSpy) -> PostgresEventStore:
    return PostgresEventStore(cast("asyncpg.Pool", spy), build_registry())


class Grouped:
    """An event store whose every append is sent in a batch, beside two successful appends.

    The first companion makes the store busy (it appends alone), so the append under test and
    the second companion queue up and leave in one ``append_events_batch`` call.
    """

    def __init__(self, spy: BatchSpy) -> None:
        self.spy = spy
        self._store = _store(spy)

    async def append(self, events: Sequence[DomainEvent], **kwargs: Any) -> AppendResult:
        """Append ``events`` in a batch and answer as the store did; fail if it was not batched."""
        before, after = created(uuid4()), created(uuid4())
        lead = self._store.append([before], expected_version=0, metadata=EventMetadata())
        mine = self._store.append(events, **kwargs)
        companion = self._store.append([after], expected_version=0, metadata=EventMetadata())
        results = await asyncio.gather(lead, mine, companion, return_exceptions=True)
        assert not isinstance(results[0], BaseException)
        assert not isinstance(results[2], BaseException)
        outcome = results[1]
        if not isinstance(outcome, ValueError):  # refused before it is sent: nothing to batch
            assert events
            assert self.spy.batched(events[0]), "the append was not sent in a batch"
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    async def find_command(self, command_id: UUID) -> AppendResult | None:
        """Delegate to the store."""
        return await self._store.find_command(command_id)

    async def read_stream(self, stream_id: UUID) -> list[RecordedEvent]:
        """Delegate to the store."""
        return await self._store.read_stream(stream_id)


@pytest.fixture(name="spy")
async def fx_spy(settings: Settings) -> AsyncIterator[BatchSpy]:
    pool = await create_pool(settings.dsn_for("event_store"), max_size=10)
    yield BatchSpy(pool)
    await pool.close()


class TestGroupedPostgresEventStore(EventStoreContract):
    @pytest.fixture(name="store")
    def fx_store(self, spy: BatchSpy) -> Grouped:
        return Grouped(spy)


class TestGroupedPostgresConditions(ConditionContract):
    @pytest.fixture(name="store")
    def fx_store(self, spy: BatchSpy) -> Grouped:
        return Grouped(spy)


def _registered(movie_id: UUID) -> StreamCondition:
    return StreamCondition(stream_id=movie_id, set_by=("MovieRegistered",), cleared_by=("MovieRemoved",))


async def _log(pool: asyncpg.Pool, streams: Sequence[UUID]) -> set[tuple[UUID, int]]:
    rows = await pool.fetch(
        "SELECT stream_id, stream_version FROM saga_events WHERE stream_id = ANY($1::uuid[])", list(streams)
    )
    return {(r["stream_id"], r["stream_version"]) for r in rows}


async def test_each_append_of_a_batch_gets_its_own_outcome(spy: BatchSpy) -> None:
    store = _store(spy)
    meta = EventMetadata()
    existing, movie = uuid4(), uuid4()
    await store.append([created(existing)], expected_version=0, metadata=meta)
    await store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="Batch")], expected_version=0, metadata=meta
    )
    command_id, done = uuid4(), uuid4()
    first = await store.append([created(done)], expected_version=0, metadata=meta, command_id=command_id)
    key = UniqueClaim(scope="email", key=f"{uuid4()}@example.com")
    owner = uuid4()
    await store.append([created(owner)], expected_version=0, metadata=meta, claims=[key])

    ok = [created(uuid4(), movie) for _ in range(4)]
    conflict = created(existing)
    duplicate = created(uuid4())
    taken = created(uuid4())
    unmet = created(uuid4())
    missing_movie = uuid4()
    results = await asyncio.gather(
        store.append([ok[0]], expected_version=0, metadata=meta),
        store.append([conflict], expected_version=0, metadata=meta),
        store.append([ok[1]], expected_version=0, metadata=meta, conditions=[_registered(movie)]),
        store.append([duplicate], expected_version=0, metadata=meta, command_id=command_id),
        store.append([taken], expected_version=0, metadata=meta, claims=[key]),
        store.append(
            [ok[2]], expected_version=0, metadata=meta, claims=[UniqueClaim(scope="email", key=str(uuid4()))]
        ),
        store.append([unmet], expected_version=0, metadata=meta, conditions=[_registered(missing_movie)]),
        store.append([ok[3]], expected_version=0, metadata=meta),
        return_exceptions=True,
    )
    assert all(spy.batched(e) for e in (conflict, duplicate, taken, unmet, *ok[1:]))

    assert [r.stream_version for r in (results[0], results[2], results[5], results[7])] == [1, 1, 1, 1]  # type: ignore[union-attr]
    assert isinstance(results[1], ConcurrencyConflictError)
    assert (results[1].expected, results[1].actual) == (0, 1)
    assert isinstance(results[3], AppendResult)
    assert results[3].duplicate
    assert (results[3].stream_id, results[3].positions) == (done, first.positions)
    assert isinstance(results[4], UniqueKeyTakenError)
    assert (results[4].field, results[4].owner) == ("email", owner)
    assert isinstance(results[6], ConditionNotMetError)
    assert results[6].condition.stream_id == missing_movie

    streams = [e.stream_id for e in (*ok, duplicate, taken, unmet)] + [existing]
    assert await _log(spy, streams) == {(e.stream_id, 1) for e in ok} | {(existing, 1)}


async def test_appends_to_one_stream_in_one_batch_follow_each_other(spy: BatchSpy) -> None:
    store = _store(spy)
    sid, movie = uuid4(), uuid4()
    events = [created(sid, movie), *(reclassified(sid, movie, v) for v in range(2, 6))]
    # The lead keeps the store busy (it appends alone), so all of the stream's appends queue up.
    lead = store.append([created(uuid4())], expected_version=0, metadata=EventMetadata())
    _, *results = await asyncio.gather(
        lead,
        *(store.append([e], expected_version=e.stream_version - 1, metadata=EventMetadata()) for e in events),
    )
    assert all(spy.batched(e) for e in events)
    assert [r.stream_version for r in results] == [1, 2, 3, 4, 5]
    assert [r.event for r in await store.read_stream(sid)] == events
    positions = [p for r in results for p in r.positions]
    assert positions == sorted(positions)


async def test_a_batch_holds_at_most_max_batch_appends(settings: Settings) -> None:
    pool = await create_pool(settings.dsn_for("event_store"), max_size=4)
    spy = BatchSpy(pool)
    store = PostgresEventStore(cast("asyncpg.Pool", spy), build_registry(), max_batch=5)
    try:
        events = [created(uuid4()) for _ in range(30)]
        await asyncio.gather(
            *(store.append([e], expected_version=0, metadata=EventMetadata()) for e in events)
        )
        assert spy.batches
        assert max(len(b) for b in spy.batches) <= 5
        assert await _log(spy, [e.stream_id for e in events]) == {(e.stream_id, 1) for e in events}
    finally:
        await pool.close()


async def test_a_caller_cancelled_before_its_batch_is_sent_appends_nothing(spy: BatchSpy) -> None:
    store = _store(spy)
    lead, waiting, kept = created(uuid4()), created(uuid4()), created(uuid4())
    first = asyncio.create_task(store.append([lead], expected_version=0, metadata=EventMetadata()))
    await asyncio.sleep(0)  # the lead is at the server: the next two queue up
    dropped = asyncio.create_task(store.append([waiting], expected_version=0, metadata=EventMetadata()))
    other = asyncio.create_task(store.append([kept], expected_version=0, metadata=EventMetadata()))
    await asyncio.sleep(0)
    dropped.cancel()
    await first
    assert (await other).stream_version == 1
    with pytest.raises(asyncio.CancelledError):
        await dropped
    assert await store.read_stream(waiting.stream_id) == []


async def test_a_caller_cancelled_after_its_batch_is_sent_is_appended_once(spy: BatchSpy) -> None:
    # Its answer is dropped; the append stands, and a retry with its command id finds it.
    store = _store(spy)
    lead, sent, other = created(uuid4()), created(uuid4()), created(uuid4())
    command_id = uuid4()
    first = asyncio.create_task(store.append([lead], expected_version=0, metadata=EventMetadata()))
    await asyncio.sleep(0)
    cancelled = asyncio.create_task(
        store.append([sent], expected_version=0, metadata=EventMetadata(), command_id=command_id)
    )
    companion = asyncio.create_task(store.append([other], expected_version=0, metadata=EventMetadata()))
    await spy.until_batched(sent)
    cancelled.cancel()
    await asyncio.gather(first, companion)
    with pytest.raises(asyncio.CancelledError):
        await cancelled
    again = await store.append([sent], expected_version=0, metadata=EventMetadata(), command_id=command_id)
    assert again.duplicate
    assert [r.event for r in await store.read_stream(sent.stream_id)] == [sent]


async def test_an_append_after_a_later_transaction_is_appended_alone_to_keep_relay_order(
    settings: Settings, spy: BatchSpy
) -> None:
    # The batch takes its xid at its first insert, then waits on a claim held by an open
    # transaction; meanwhile another writer (a later xid) appends version 1 of a stream whose
    # version 2 is in the batch. Written in the batch, version 2 would sort before version 1
    # in the relay's (tx_id, position) order.
    store = _store(spy)
    other_writer = PostgresEventStore(cast("asyncpg.Pool", spy), build_registry())
    key = UniqueClaim(scope="email", key=f"{uuid4()}@example.com")
    sid, movie = uuid4(), uuid4()
    holder = await asyncpg.connect(settings.dsn_for("event_store"))
    try:
        tx = holder.transaction()
        await tx.start()
        await holder.execute(
            "INSERT INTO unique_claims (scope, key, stream_id) VALUES ($1, $2, $3)",
            key.scope,
            key.key,
            uuid4(),
        )
        lead = asyncio.create_task(
            store.append([created(uuid4())], expected_version=0, metadata=EventMetadata())
        )
        await asyncio.sleep(0)
        claiming = created(uuid4())
        blocked = asyncio.create_task(
            store.append([claiming], expected_version=0, metadata=EventMetadata(), claims=[key])
        )
        second = reclassified(sid, movie, 2)
        follows = asyncio.create_task(store.append([second], expected_version=1, metadata=EventMetadata()))
        await lead
        await asyncio.wait_for(spy.until_batched(second), timeout=10)
        await _until_waiting_on_a_lock(settings)
        await other_writer.append([created(sid, movie)], expected_version=0, metadata=EventMetadata())
        await tx.rollback()
        await blocked
        assert (await follows).stream_version == 2
        tx_ids = await holder.fetch(
            "SELECT tx_id::text::numeric AS tx FROM saga_events WHERE stream_id = $1 ORDER BY stream_version",
            sid,
        )
        assert tx_ids[0]["tx"] < tx_ids[1]["tx"]
    finally:
        await holder.close()


async def _until_waiting_on_a_lock(settings: Settings) -> None:
    # Its own connection, outside any transaction: pg_stat_activity is a snapshot per transaction.
    conn = await asyncpg.connect(settings.dsn_for("event_store"))
    try:
        for _ in range(500):
            if await conn.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%append_events_batch($1%' "
                "AND wait_event_type = 'Lock' AND datname = current_database()"
            ):
                return
            await asyncio.sleep(0.01)
    finally:
        await conn.close()
    raise AssertionError("the batch never waited on the held claim")


async def test_a_batch_refused_as_a_whole_is_appended_request_by_request(spy: BatchSpy) -> None:
    store = _store(spy)
    existing = uuid4()
    await store.append([created(existing)], expected_version=0, metadata=EventMetadata())
    spy.refuse_next = asyncpg.DeadlockDetectedError("deadlock detected")
    lead, ok, conflict, other = created(uuid4()), created(uuid4()), created(existing), created(uuid4())
    results = await asyncio.gather(
        *(
            store.append([e], expected_version=0, metadata=EventMetadata())
            for e in (lead, ok, conflict, other)
        ),
        return_exceptions=True,
    )
    assert spy.batched(ok)
    assert isinstance(results[2], ConcurrencyConflictError)
    assert [r.stream_version for r in (results[0], results[1], results[3])] == [1, 1, 1]  # type: ignore[union-attr]
    streams = [e.stream_id for e in (lead, ok, other)]
    assert await _log(spy, [*streams, existing]) == {(s, 1) for s in [*streams, existing]}


async def test_an_event_id_used_twice_raises_as_it_does_alone(spy: BatchSpy) -> None:
    store = _store(spy)
    first = created(uuid4())
    await store.append([first], expected_version=0, metadata=EventMetadata())
    reused = first.model_copy(update={"stream_id": uuid4()})
    lead, other = created(uuid4()), created(uuid4())
    results = await asyncio.gather(
        *(store.append([e], expected_version=0, metadata=EventMetadata()) for e in (lead, reused, other)),
        return_exceptions=True,
    )
    assert spy.batched(reused)
    assert isinstance(results[1], asyncpg.UniqueViolationError)
    assert results[1].constraint_name == "saga_events_pkey"
    assert await _log(spy, [lead.stream_id, reused.stream_id, other.stream_id]) == {
        (lead.stream_id, 1),
        (other.stream_id, 1),
    }


async def test_a_value_that_cannot_be_sent_fails_its_own_append_only(spy: BatchSpy) -> None:
    store = _store(spy)
    lead, bad, other = created(uuid4()), created(uuid4()), created(uuid4())
    results = await asyncio.gather(
        store.append([lead], expected_version=0, metadata=EventMetadata()),
        store.append([bad], expected_version=0, metadata=EventMetadata(client_addr="not an address")),
        store.append([other], expected_version=0, metadata=EventMetadata()),
        return_exceptions=True,
    )
    assert spy.batched(other)
    assert isinstance(results[1], asyncpg.DataError)
    assert not isinstance(results[2], BaseException)
    assert await _log(spy, [lead.stream_id, bad.stream_id, other.stream_id]) == {
        (lead.stream_id, 1),
        (other.stream_id, 1),
    }


_STORED = (
    "saga_id = id AS saga_is_event, nullif(saga_id, id) AS saga_id, saga_type, step_name, step_status, "
    "event_data, error_message, "
    "completed_at IS NOT NULL AS completed, created_at IS NOT NULL AS created, stream_type, stream_version, "
    "event_type, schema_version, partition_key = stream_id::text AS keyed_by_stream, correlation_id, "
    "causation_id, user_id, user_role, host(client_addr) AS client_addr"
)
"""Every column of ``saga_events`` an append writes, the stream's own values (ids, key) as booleans."""


async def _stored(pool: asyncpg.Pool, events: Sequence[DomainEvent]) -> list[dict[str, Any]]:
    rows = await pool.fetch(
        f"SELECT id, occurred_at, {_STORED} FROM saga_events WHERE id = ANY($1::uuid[])",
        [e.event_id for e in events],
    )
    by_id = {r["id"]: r for r in rows}
    stored = []
    for event in events:
        row = dict(by_id[event.event_id])
        assert row.pop("occurred_at") == event.occurred_at
        del row["id"]
        stored.append(row)
    return stored


@pytest.mark.parametrize(
    "metadata",
    [
        EventMetadata(),
        EventMetadata(
            correlation_id=uuid4(),
            causation_id=uuid4(),
            user_id=uuid4(),
            user_role="admin",
            client_addr="10.1.2.3",
        ),
    ],
    ids=["no metadata", "full metadata"],
)
async def test_a_batch_stores_every_column_as_an_append_alone_does(
    spy: BatchSpy, metadata: EventMetadata
) -> None:
    store = _store(spy)
    movie, lone_sid, batched_sid = uuid4(), uuid4(), uuid4()
    lone_one, batched_one = created(uuid4(), movie), created(uuid4(), movie)
    lone_two = [created(lone_sid, movie), reclassified(lone_sid, movie, 2)]
    batched_two = [created(batched_sid, movie), reclassified(batched_sid, movie, 2)]
    await store.append([lone_one], expected_version=0, metadata=metadata)
    await store.append(lone_two, expected_version=0, metadata=metadata)
    await asyncio.gather(
        store.append([created(uuid4())], expected_version=0, metadata=EventMetadata()),
        store.append([batched_one], expected_version=0, metadata=metadata),
        store.append(batched_two, expected_version=0, metadata=metadata),
    )
    assert spy.batched(batched_one)
    assert spy.batched(batched_two[0])
    assert await _stored(spy, [batched_one, *batched_two]) == await _stored(spy, [lone_one, *lone_two])
