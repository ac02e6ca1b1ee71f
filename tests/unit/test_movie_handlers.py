from __future__ import annotations

from uuid import uuid4

import pytest

from commands.base import HandlerDeps
from commands.errors import ConcurrencyConflictError, InvalidCommandError, StreamNotFoundError
from commands.handlers import CommandBus
from commands.movie import (
    GENRES,
    AssignMovieGenres,
    RecordProductionInfo,
    RegisterMovie,
    RemoveMovie,
    ReviseMovieDetails,
)
from commands.movie_handlers import MOVIE_HANDLERS
from events.base import EventMetadata
from events.movie import (
    MovieDetailsRevised,
    MovieGenresAssigned,
    MovieProductionInfoRecorded,
    MovieRegistered,
    MovieRemoved,
)
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit


def _bus() -> tuple[CommandBus, InMemoryEventStore]:
    store = InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), MOVIE_HANDLERS), store


async def test_register_appends_one_event_with_the_commands_metadata() -> None:
    bus, store = _bus()
    cmd = RegisterMovie(title="七人の侍")
    result = await bus.dispatch(cmd, EventMetadata(user_role="admin"))
    [recorded] = store.all_events
    assert isinstance(recorded.event, MovieRegistered)
    assert recorded.metadata.causation_id == cmd.command_id
    assert (result.stream_id, result.stream_version) == (cmd.movie_id, 1)


async def test_registering_a_taken_movie_id_is_a_conflict() -> None:
    bus, store = _bus()
    first = RegisterMovie(title="七人の侍")
    await bus.dispatch(first)
    with pytest.raises(ConcurrencyConflictError):
        await bus.dispatch(RegisterMovie(movie_id=first.movie_id, title="羅生門"))
    assert len(store.all_events) == 1


async def test_every_command_runs_through_the_routing_table() -> None:
    bus, store = _bus()
    movie = RegisterMovie(title="七人の侍")
    drama = GENRES["Drama"].id
    await bus.dispatch(movie)
    await bus.dispatch(ReviseMovieDetails(movie_id=movie.movie_id, duration_minutes=207))
    await bus.dispatch(AssignMovieGenres(movie_id=movie.movie_id, genre_ids=(drama,), primary_genre_id=drama))
    await bus.dispatch(RecordProductionInfo(movie_id=movie.movie_id, studio="東宝撮影所"))
    result = await bus.dispatch(RemoveMovie(movie_id=movie.movie_id))
    assert [type(r.event) for r in store.all_events] == [
        MovieRegistered,
        MovieDetailsRevised,
        MovieGenresAssigned,
        MovieProductionInfoRecorded,
        MovieRemoved,
    ]
    assert result.stream_version == 5


async def test_command_on_unknown_movie_is_not_found_and_writes_nothing() -> None:
    bus, store = _bus()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(ReviseMovieDetails(movie_id=uuid4(), title="x"))
    assert err.value.field == "movie_id"
    assert store.all_events == []


async def test_rejected_genres_write_nothing() -> None:
    bus, store = _bus()
    movie = RegisterMovie(title="七人の侍")
    await bus.dispatch(movie)
    with pytest.raises(InvalidCommandError):
        await bus.dispatch(AssignMovieGenres(movie_id=movie.movie_id, genre_ids=(uuid4(),)))
    assert len(store.all_events) == 1


async def test_stale_expected_version_is_a_conflict() -> None:
    bus, _ = _bus()
    movie = RegisterMovie(title="七人の侍")
    await bus.dispatch(movie)
    await bus.dispatch(ReviseMovieDetails(movie_id=movie.movie_id, director="黒澤明"))
    with pytest.raises(ConcurrencyConflictError) as err:
        await bus.dispatch(RemoveMovie(movie_id=movie.movie_id, expected_version=1))
    assert (err.value.expected, err.value.actual) == (1, 2)


async def test_an_unchanging_revision_appends_nothing() -> None:
    bus, store = _bus()
    movie = RegisterMovie(title="七人の侍")
    await bus.dispatch(movie)
    result = await bus.dispatch(ReviseMovieDetails(movie_id=movie.movie_id, title="七人の侍"))
    assert result.stream_version == 1
    assert len(store.all_events) == 1
