from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from pydantic import ValidationError

from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.movie import (
    GENRES,
    AssignMovieGenres,
    MovieState,
    RecordProductionInfo,
    RegisterMovie,
    RemoveMovie,
    ReviseMovieDetails,
    apply,
    assign_movie_genres,
    record_production_info,
    register_movie,
    remove_movie,
    replay,
    revise_movie_details,
)
from events.movie import (
    MovieDetailsRevised,
    MovieEvent,
    MovieGenresAssigned,
    MovieProductionInfoRecorded,
    MovieRegistered,
    MovieRemoved,
)

pytestmark = pytest.mark.unit

DRAMA = GENRES["Drama"].id
ROMANCE = GENRES["Romance"].id
ACTION = GENRES["Action"].id


def _register(**overrides: object) -> RegisterMovie:
    fields: dict[str, object] = {"title": "東京物語", "director": "小津安二郎", "release_year": 1953}
    fields.update(overrides)
    return RegisterMovie.model_validate(fields)


def _fold(state: MovieState | None, events: list[MovieEvent]) -> MovieState:
    for event in events:
        state = apply(event, state)
    assert state is not None
    return state


def _movie(**overrides: object) -> MovieState:
    return _fold(None, register_movie(_register(**overrides), None))


def _revise(state: MovieState, **changes: object) -> ReviseMovieDetails:
    return ReviseMovieDetails.model_validate({"movie_id": state.movie_id, **changes})


# --- RegisterMovie ----------------------------------------------------------------------------


def test_register_carries_every_detail_at_version_one() -> None:
    cmd = _register(
        original_title="Tokyo Story",
        release_date="1953-11-03",
        duration_minutes=136,
        country="日本",
        screenplay="野田高梧",
        producer="山本武",
        budget_jpy=0,
        box_office_jpy=1_000_000,
        distributor="松竹",
        is_public=False,
    )
    [event] = register_movie(cmd, None)
    assert isinstance(event, MovieRegistered)
    assert (event.stream_id, event.stream_version) == (cmd.movie_id, 1)
    assert event.payload() == {
        "title": "東京物語",
        "original_title": "Tokyo Story",
        "release_year": 1953,
        "release_date": "1953-11-03",
        "duration_minutes": 136,
        "country": "日本",
        "language": "ja",
        "director": "小津安二郎",
        "screenplay": "野田高梧",
        "producer": "山本武",
        "budget_jpy": 0,
        "box_office_jpy": 1_000_000,
        "distributor": "松竹",
        "is_public": False,
    }


def test_register_gives_each_movie_a_new_id_when_none_is_given() -> None:
    assert _register().movie_id != _register().movie_id


def test_register_takes_release_year_from_release_date() -> None:
    [event] = register_movie(_register(release_year=None, release_date="1953-11-03"), None)
    assert isinstance(event, MovieRegistered)
    assert event.release_year == 1953


def test_register_rejects_release_date_outside_release_year() -> None:
    with pytest.raises(InvalidCommandError) as err:
        register_movie(_register(release_year=1954, release_date="1953-11-03"), None)
    assert err.value.field == "release_year"


def test_register_rejects_release_date_before_cinema() -> None:
    with pytest.raises(InvalidCommandError) as err:
        register_movie(_register(release_year=None, release_date="1850-01-01"), None)
    assert err.value.field == "release_date"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", "   "),
        ("title", "x" * 501),
        ("release_year", 1869),
        ("duration_minutes", 0),
        ("budget_jpy", -1),
        ("box_office_jpy", 2**63),
        ("language", "Japanese"),
        ("country", "x" * 101),
        ("director", ""),
    ],
)
def test_register_rejects_out_of_range_input_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        _register(**{field: value})
    assert err.value.errors()[0]["loc"][0] == field


def test_register_rejects_an_existing_movie() -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError) as err:
        register_movie(_register(movie_id=state.movie_id), state)
    assert err.value.field == "movie_id"


# --- ReviseMovieDetails -----------------------------------------------------------------------


def test_revise_keeps_fields_left_out() -> None:
    state = _movie(country="日本", duration_minutes=136)
    [event] = revise_movie_details(_revise(state, duration_minutes=135), state)
    assert isinstance(event, MovieDetailsRevised)
    assert (event.duration_minutes, event.country, event.title, event.director) == (
        135,
        "日本",
        "東京物語",
        "小津安二郎",
    )
    assert event.stream_version == 2


def test_revise_clears_a_field_given_as_null() -> None:
    state = _movie(country="日本")
    [event] = revise_movie_details(_revise(state, country=None), state)
    assert isinstance(event, MovieDetailsRevised)
    assert event.country is None


@pytest.mark.parametrize("field", ["title", "language", "is_public"])
def test_revise_cannot_clear_required_fields(field: str) -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError) as err:
        revise_movie_details(_revise(state, **{field: None}), state)
    assert err.value.field == field


def test_revise_needs_at_least_one_field() -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError) as err:
        revise_movie_details(_revise(state), state)
    assert err.value.field == "details"


def test_revise_to_the_same_details_emits_nothing() -> None:
    state = _movie()
    assert revise_movie_details(_revise(state, title="東京物語"), state) == []


def test_revise_release_date_moves_release_year() -> None:
    state = _movie(release_year=1953, release_date="1953-11-03")
    [event] = revise_movie_details(_revise(state, release_date="1954-01-02"), state)
    assert isinstance(event, MovieDetailsRevised)
    assert (event.release_year, event.release_date) == (1954, date(1954, 1, 2))


def test_revise_release_year_against_kept_release_date_is_rejected() -> None:
    state = _movie(release_year=1953, release_date="1953-11-03")
    with pytest.raises(InvalidCommandError) as err:
        revise_movie_details(_revise(state, release_year=1960), state)
    assert err.value.field == "release_year"


def test_revise_of_missing_movie_is_not_found() -> None:
    with pytest.raises(StreamNotFoundError) as err:
        revise_movie_details(ReviseMovieDetails(movie_id=uuid4(), title="x"), None)
    assert err.value.field == "movie_id"
    assert not err.value.referenced


def test_revise_of_removed_movie_is_not_found() -> None:
    state = _movie()
    removed = _fold(state, remove_movie(RemoveMovie(movie_id=state.movie_id), state))
    with pytest.raises(StreamNotFoundError):
        revise_movie_details(_revise(removed, title="x"), removed)


# --- AssignMovieGenres ------------------------------------------------------------------------


def _assign(state: MovieState, genre_ids: tuple[object, ...], primary: object = None) -> AssignMovieGenres:
    return AssignMovieGenres.model_validate(
        {"movie_id": state.movie_id, "genre_ids": genre_ids, "primary_genre_id": primary},
    )


def test_assign_genres_records_the_list_and_its_primary() -> None:
    state = _movie()
    [event] = assign_movie_genres(_assign(state, (DRAMA, ROMANCE), DRAMA), state)
    assert isinstance(event, MovieGenresAssigned)
    assert (event.genre_ids, event.primary_genre_id, event.stream_version) == ((DRAMA, ROMANCE), DRAMA, 2)


def test_assign_rejects_an_unknown_genre() -> None:
    state = _movie()
    unknown = uuid4()
    with pytest.raises(InvalidCommandError, match=str(unknown)) as err:
        assign_movie_genres(_assign(state, (DRAMA, unknown), DRAMA), state)
    assert err.value.field == "genre_ids"


def test_assign_rejects_a_genre_listed_twice() -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError, match="twice") as err:
        assign_movie_genres(_assign(state, (DRAMA, DRAMA), DRAMA), state)
    assert err.value.field == "genre_ids"


def test_assign_needs_a_primary_genre() -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError) as err:
        assign_movie_genres(_assign(state, (DRAMA, ROMANCE)), state)
    assert err.value.field == "primary_genre_id"


def test_assign_primary_must_be_one_of_the_genres() -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError) as err:
        assign_movie_genres(_assign(state, (DRAMA,), ACTION), state)
    assert err.value.field == "primary_genre_id"


def test_assign_no_genres_with_a_primary_is_rejected() -> None:
    state = _movie()
    with pytest.raises(InvalidCommandError) as err:
        assign_movie_genres(_assign(state, (), DRAMA), state)
    assert err.value.field == "primary_genre_id"


def test_assign_an_empty_list_clears_the_genres() -> None:
    state = _movie()
    state = _fold(state, assign_movie_genres(_assign(state, (DRAMA,), DRAMA), state))
    [event] = assign_movie_genres(_assign(state, ()), state)
    assert isinstance(event, MovieGenresAssigned)
    assert (event.genre_ids, event.primary_genre_id) == ((), None)


def test_assign_the_same_genres_in_another_order_emits_nothing() -> None:
    state = _movie()
    state = _fold(state, assign_movie_genres(_assign(state, (DRAMA, ROMANCE), DRAMA), state))
    assert assign_movie_genres(_assign(state, (ROMANCE, DRAMA), DRAMA), state) == []


def test_assign_another_primary_is_a_change() -> None:
    state = _movie()
    state = _fold(state, assign_movie_genres(_assign(state, (DRAMA, ROMANCE), DRAMA), state))
    [event] = assign_movie_genres(_assign(state, (DRAMA, ROMANCE), ROMANCE), state)
    assert isinstance(event, MovieGenresAssigned)
    assert event.primary_genre_id == ROMANCE


def test_assign_genres_of_missing_movie_is_not_found() -> None:
    with pytest.raises(StreamNotFoundError):
        assign_movie_genres(AssignMovieGenres(movie_id=uuid4()), None)


# --- RecordProductionInfo ---------------------------------------------------------------------


def _production(state: MovieState, **fields: object) -> RecordProductionInfo:
    return RecordProductionInfo.model_validate({"movie_id": state.movie_id, **fields})


def test_record_production_carries_the_info_without_repeats() -> None:
    state = _movie()
    cmd = _production(
        state,
        production_companies=("松竹", "松竹", "大映"),
        studio="松竹大船撮影所",
        filming_locations=("尾道", "東京"),
        filming_start_date="1953-07-01",
        filming_end_date="1953-10-01",
        film_format="35mm",
        aspect_ratio="1.37:1",
        original_language="ja",
        notes="モノクロ",
    )
    [event] = record_production_info(cmd, state)
    assert isinstance(event, MovieProductionInfoRecorded)
    assert event.production_companies == ("松竹", "大映")
    assert event.filming_locations == ("尾道", "東京")
    assert (event.filming_start_date, event.filming_end_date) == (date(1953, 7, 1), date(1953, 10, 1))
    assert (event.aspect_ratio, event.stream_version) == ("1.37:1", 2)


def test_record_production_rejects_filming_ending_before_it_starts() -> None:
    state = _movie()
    cmd = _production(state, filming_start_date="1953-07-01", filming_end_date="1953-06-30")
    with pytest.raises(InvalidCommandError) as err:
        record_production_info(cmd, state)
    assert err.value.field == "filming_end_date"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("aspect_ratio", "wide"),
        ("aspect_ratio", "2.391:1"),
        ("production_companies", ("",)),
        ("production_companies", tuple(f"c{i}" for i in range(51))),
        ("filming_locations", ("x" * 256,)),
        ("original_language", "JA"),
        ("film_format", "x" * 51),
    ],
)
def test_record_production_rejects_bad_input_naming_the_field(field: str, value: object) -> None:
    with pytest.raises(ValidationError) as err:
        RecordProductionInfo.model_validate({"movie_id": uuid4(), field: value})
    assert err.value.errors()[0]["loc"][0] == field


def test_record_the_same_production_info_emits_nothing() -> None:
    state = _movie()
    cmd = _production(state, studio="大船")
    state = _fold(state, record_production_info(cmd, state))
    assert record_production_info(_production(state, studio="大船"), state) == []


def test_record_empty_production_info_on_a_movie_without_any_emits_nothing() -> None:
    state = _movie()
    assert record_production_info(_production(state, notes=""), state) == []


def test_record_production_of_removed_movie_is_not_found() -> None:
    state = _movie()
    removed = _fold(state, remove_movie(RemoveMovie(movie_id=state.movie_id), state))
    with pytest.raises(StreamNotFoundError):
        record_production_info(_production(removed, studio="x"), removed)


# --- RemoveMovie and replay -------------------------------------------------------------------


def test_remove_emits_movie_removed_with_next_version() -> None:
    state = _movie()
    [event] = remove_movie(RemoveMovie(movie_id=state.movie_id), state)
    assert isinstance(event, MovieRemoved)
    assert event.stream_version == 2


def test_remove_twice_is_not_found() -> None:
    state = _movie()
    removed = _fold(state, remove_movie(RemoveMovie(movie_id=state.movie_id), state))
    with pytest.raises(StreamNotFoundError):
        remove_movie(RemoveMovie(movie_id=state.movie_id), removed)


def test_replay_folds_every_event_type() -> None:
    movie_id = uuid4()
    events = [
        MovieRegistered(stream_id=movie_id, stream_version=1, title="a"),
        MovieDetailsRevised(stream_id=movie_id, stream_version=2, title="b"),
        MovieGenresAssigned(stream_id=movie_id, stream_version=3, genre_ids=(DRAMA,), primary_genre_id=DRAMA),
        MovieProductionInfoRecorded(stream_id=movie_id, stream_version=4, studio="s"),
        MovieRemoved(stream_id=movie_id, stream_version=5),
    ]
    state = replay(events)
    assert state is not None
    assert (state.version, state.details.title, state.genre_ids, state.primary_genre_id) == (
        5,
        "b",
        (DRAMA,),
        DRAMA,
    )
    assert state.production is not None
    assert state.production.studio == "s"
    assert state.removed


def test_replay_of_an_empty_stream_is_none() -> None:
    assert replay([]) is None


def test_an_event_before_registration_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="before MovieRegistered"):
        apply(MovieRemoved(stream_id=uuid4(), stream_version=1), None)
