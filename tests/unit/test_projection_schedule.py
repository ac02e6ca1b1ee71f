"""How the runner's batch path orders and groups the events of a batch (``projections.runner.schedule``)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from events.base import DomainEvent
from events.scene import SceneCreated, SceneDeleted, SceneRetimed
from projections.runner import schedule

pytestmark = pytest.mark.unit

MOVIE = uuid4()


def _created(stream: UUID) -> SceneCreated:
    return SceneCreated(
        stream_id=stream,
        stream_version=1,
        movie_id=MOVIE,
        start_time_seconds=0,
        end_time_seconds=1,
        level1_classification="L",
        level2_classification="L2",
    )


def _retimed(stream: UUID, version: int = 2) -> SceneRetimed:
    return SceneRetimed(
        stream_id=stream, stream_version=version, movie_id=MOVIE, start_time_seconds=0, end_time_seconds=2
    )


def _deleted(stream: UUID, version: int = 2) -> SceneDeleted:
    return SceneDeleted(stream_id=stream, stream_version=version, movie_id=MOVIE)


BATCHED: frozenset[type[DomainEvent]] = frozenset({SceneCreated, SceneDeleted})
COMMUTING: frozenset[type[DomainEvent]] = frozenset({SceneCreated, SceneRetimed})


def test_a_run_of_commuting_events_is_applied_in_rounds_grouped_by_type() -> None:
    a, b = uuid4(), uuid4()
    ca, ra, cb, rb = _created(a), _retimed(a), _created(b), _retimed(b)

    groups = schedule([ca, ra, cb, rb], set(), COMMUTING)

    assert groups == [[ca, cb], [ra, rb]]


def test_an_event_of_a_type_that_does_not_commute_keeps_its_place() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    ca, db, cc = _created(a), _deleted(b), _created(c)

    assert schedule([ca, db, cc], set(), COMMUTING) == [[ca], [db], [cc]]


def test_consecutive_events_of_a_batched_type_form_one_group() -> None:
    a, b, c = uuid4(), uuid4(), uuid4()
    da, db, cc = _deleted(a), _deleted(b), _created(c)

    assert schedule([da, db, cc], {SceneDeleted}, set()) == [[da, db], [cc]]


@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from(["c", "r", "d"])), max_size=40))
def test_every_event_is_scheduled_once_and_no_stream_or_barrier_is_reordered(
    steps: list[tuple[int, str]],
) -> None:
    streams = [uuid4() for _ in range(4)]
    versions = dict.fromkeys(streams, 0)
    events: list[DomainEvent] = []
    for index, kind in steps:
        stream = streams[index]
        versions[stream] += 1
        version = versions[stream]
        if kind == "c":
            events.append(_created(stream))
        elif kind == "r":
            events.append(_retimed(stream, version))
        else:
            events.append(_deleted(stream, version))

    flat = [e for group in schedule(events, BATCHED, COMMUTING) for e in group]

    assert sorted(map(id, flat)) == sorted(map(id, events))
    for stream in streams:
        assert [e for e in flat if e.stream_id == stream] == [e for e in events if e.stream_id == stream]
    barriers = [e for e in events if type(e) not in COMMUTING]
    assert [e for e in flat if type(e) not in COMMUTING] == barriers
    for barrier in barriers:  # nothing crosses a barrier
        before = {id(e) for e in events[: events.index(barrier)]}
        assert {id(e) for e in flat[: flat.index(barrier)]} == before
