"""Movie commands, the genre catalogue, and the pure Movie aggregate that validates them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from functools import singledispatch
from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from pydantic import Field, StringConstraints

from commands.base import Command
from commands.errors import InvalidCommandError, StreamNotFoundError
from events.base import DomainEvent, Message
from events.movie import (
    MovieDetails,
    MovieDetailsRevised,
    MovieEvent,
    MovieGenresAssigned,
    MovieProductionInfoRecorded,
    MovieRegistered,
    MovieRemovalBegun,
    MovieRemovalCancelled,
    MovieRemoved,
    MovieSceneLinked,
    MovieSceneUnlinked,
    ProductionInfo,
)

# --- The genre catalogue -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Genre:
    """One genre of the design's seeded catalogue."""

    id: UUID
    name: str
    name_en: str
    color_code: str


def genre_id(name_en: str) -> UUID:
    """Return the fixed id of the genre called ``name_en`` (the migration seeds the same ids)."""
    return uuid5(NAMESPACE_URL, f"sceneledger:genre:{name_en}")


def _genre(name: str, name_en: str, color_code: str) -> Genre:
    return Genre(id=genre_id(name_en), name=name, name_en=name_en, color_code=color_code)


GENRES: Mapping[str, Genre] = {
    g.name_en: g
    for g in (
        _genre("アクション", "Action", "#ef4444"),
        _genre("恋愛", "Romance", "#f97316"),
        _genre("コメディ", "Comedy", "#eab308"),
        _genre("ドラマ", "Drama", "#3b82f6"),
        _genre("ホラー", "Horror", "#7c2d12"),
        _genre("サスペンス", "Suspense", "#8b5cf6"),
        _genre("SF", "Science Fiction", "#06b6d4"),
        _genre("ファンタジー", "Fantasy", "#10b981"),
    )
}
"""The design's eight genres by English name; ids are fixed so commands need no database."""

GENRES_BY_ID: Mapping[UUID, Genre] = {g.id: g for g in GENRES.values()}
"""The same genres by id."""

# --- Field types shared by the commands ----------------------------------------------------

MAX_BIGINT = 2**63 - 1
"""Budget and box office are BIGINT columns."""
MAX_LIST = 50
"""Most production companies or filming locations one movie records."""

Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Country = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LanguageCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=10, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"),
]
"""A BCP 47-like language tag: ``ja``, ``en``, ``zh-Hant``, ``pt-BR``."""
FilmFormat = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
AspectRatio = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[0-9]{1,2}(\.[0-9]{1,2})?:[0-9]{1,2}$")
]
"""Width to height: ``2.39:1``, ``16:9``, ``1.85:1``."""
Notes = Annotated[str, StringConstraints(max_length=10_000)]
ReleaseYear = Annotated[int, Field(ge=1870, le=2200)]
Minutes = Annotated[int, Field(ge=1, le=1440)]
Yen = Annotated[int, Field(ge=0, le=MAX_BIGINT)]
Version = Annotated[int, Field(ge=1)]

# --- Commands ------------------------------------------------------------------------------


class RegisterMovie(Command):
    """Enter a movie in the catalogue. ``release_year`` follows ``release_date`` when left out."""

    movie_id: UUID = Field(default_factory=uuid4)
    title: Title
    original_title: Title | None = None
    release_year: ReleaseYear | None = None
    release_date: date | None = None
    duration_minutes: Minutes | None = None
    country: Country | None = None
    language: LanguageCode = "ja"
    director: Name | None = None
    screenplay: Name | None = None
    producer: Name | None = None
    budget_jpy: Yen | None = None
    box_office_jpy: Yen | None = None
    distributor: Name | None = None
    is_public: bool = True


class MovieDetailChanges(Message):
    """Changes to a movie's details. Fields left out keep their value; an explicit ``null`` clears one.

    ``title``, ``language`` and ``is_public`` cannot be cleared. A new ``release_date`` given
    without ``release_year`` moves ``release_year`` to its year.
    """

    title: Title | None = None
    original_title: Title | None = None
    release_year: ReleaseYear | None = None
    release_date: date | None = None
    duration_minutes: Minutes | None = None
    country: Country | None = None
    language: LanguageCode | None = None
    director: Name | None = None
    screenplay: Name | None = None
    producer: Name | None = None
    budget_jpy: Yen | None = None
    box_office_jpy: Yen | None = None
    distributor: Name | None = None
    is_public: bool | None = None


class ReviseMovieDetails(Command, MovieDetailChanges):
    """Change a movie's details (see :class:`MovieDetailChanges` for what is left out or cleared)."""

    movie_id: UUID
    expected_version: Version | None = None


class AssignMovieGenres(Command):
    """Set a movie's genres as a whole; exactly one of them is primary (an empty list clears them)."""

    movie_id: UUID
    genre_ids: tuple[UUID, ...] = ()
    primary_genre_id: UUID | None = None
    expected_version: Version | None = None


class ProductionInput(Message):
    """How a movie was made, as a client states it; replaces what was recorded before."""

    production_companies: tuple[Name, ...] = Field(default=(), max_length=MAX_LIST)
    studio: Name | None = None
    filming_locations: tuple[Name, ...] = Field(default=(), max_length=MAX_LIST)
    filming_start_date: date | None = None
    filming_end_date: date | None = None
    film_format: FilmFormat | None = Field(default=None, description="35mm, 70mm, digital, IMAX, ...")
    aspect_ratio: AspectRatio | None = None
    original_language: LanguageCode | None = None
    notes: Notes | None = None


class RecordProductionInfo(Command, ProductionInput):
    """Record how a movie was made; replaces what was recorded before."""

    movie_id: UUID
    expected_version: Version | None = None


class RemoveMovie(Command):
    """Take a movie out of the catalogue."""

    movie_id: UUID
    expected_version: Version | None = None


class LinkSceneToMovie(Command):
    """Take a new scene into a movie's figures (refused while the movie is being removed)."""

    movie_id: UUID
    scene_id: UUID


class UnlinkSceneFromMovie(Command):
    """Take a scene out of a movie's figures (a rolled-back scene creation)."""

    movie_id: UUID
    scene_id: UUID


class BeginMovieRemoval(Command):
    """Mark a movie as being removed by a saga: it takes no new scenes until the saga ends."""

    movie_id: UUID
    saga_id: UUID


class CancelMovieRemoval(Command):
    """Reopen a movie whose removal saga was rolled back."""

    movie_id: UUID
    saga_id: UUID


MovieCommand = (
    RegisterMovie
    | ReviseMovieDetails
    | AssignMovieGenres
    | RecordProductionInfo
    | RemoveMovie
    | LinkSceneToMovie
    | UnlinkSceneFromMovie
    | BeginMovieRemoval
    | CancelMovieRemoval
)

DETAIL_FIELDS: tuple[str, ...] = tuple(
    f for f in MovieDetails.model_fields if f not in DomainEvent.model_fields
)
"""The payload fields of ``MovieRegistered`` / ``MovieDetailsRevised``."""
PRODUCTION_FIELDS: tuple[str, ...] = tuple(
    f for f in ProductionInfo.model_fields if f not in DomainEvent.model_fields
)
"""The payload fields of ``MovieProductionInfoRecorded``."""
_NOT_CLEARABLE = ("title", "language", "is_public")
_NO_PRODUCTION: dict[str, Any] = {
    name: info.get_default(call_default_factory=True)
    for name, info in ProductionInfo.model_fields.items()
    if name in PRODUCTION_FIELDS
}

# --- The aggregate -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MovieState:
    """A movie as its events left it."""

    movie_id: UUID
    version: int
    details: MovieDetails
    genre_ids: tuple[UUID, ...] = ()
    primary_genre_id: UUID | None = None
    production: ProductionInfo | None = None
    removed: bool = False
    scene_ids: frozenset[UUID] = frozenset()
    """Scenes the movie's figures took in through :class:`LinkSceneToMovie`."""
    removal_saga: UUID | None = None
    """The movie-removal saga under way, if any."""


def _live(state: MovieState | None, movie_id: UUID) -> MovieState:
    if state is None or state.removed:
        raise StreamNotFoundError("movie_id", "movie", movie_id)
    return state


def _check_release(details: dict[str, Any], given: set[str]) -> dict[str, Any]:
    """Return ``details`` with ``release_year`` following a given ``release_date``; reject a mismatch."""
    released: date | None = details["release_date"]
    if released is None:
        return details
    if not 1870 <= released.year <= 2200:  # noqa: PLR2004  the bounds of release_year
        raise InvalidCommandError("release_date", "the year must be between 1870 and 2200")
    if "release_date" in given and "release_year" not in given:
        return {**details, "release_year": released.year}
    if details["release_year"] is None:
        return {**details, "release_year": released.year}
    if details["release_year"] != released.year:
        field = "release_year" if "release_year" in given else "release_date"
        raise InvalidCommandError(
            field,
            f"release_date {released.isoformat()} is not in release_year {details['release_year']}",
        )
    return details


def register_movie(cmd: RegisterMovie, existing: MovieState | None) -> list[MovieEvent]:
    """Validate a new movie and return its ``MovieRegistered``."""
    if existing is not None:
        raise InvalidCommandError("movie_id", f"movie {cmd.movie_id} already exists")
    given = cmd.model_fields_set & set(DETAIL_FIELDS)
    details = _check_release({f: getattr(cmd, f) for f in DETAIL_FIELDS}, given)
    return [MovieRegistered.model_validate({"stream_id": cmd.movie_id, "stream_version": 1, **details})]


def revise_movie_details(cmd: ReviseMovieDetails, state: MovieState | None) -> list[MovieEvent]:
    """Merge the given fields into the movie's details; no event when nothing changes."""
    movie = _live(state, cmd.movie_id)
    given = cmd.model_fields_set & set(DETAIL_FIELDS)
    if not given:
        raise InvalidCommandError("details", f"give at least one of {', '.join(DETAIL_FIELDS)} to change")
    for name in _NOT_CLEARABLE:
        if name in given and getattr(cmd, name) is None:
            raise InvalidCommandError(name, "cannot be cleared")
    current = movie.details.model_dump(include=set(DETAIL_FIELDS))
    merged = _check_release({**current, **{f: getattr(cmd, f) for f in given}}, given)
    if merged == current:
        return []
    return [
        MovieDetailsRevised.model_validate(
            {"stream_id": movie.movie_id, "stream_version": movie.version + 1, **merged}
        ),
    ]


def assign_movie_genres(cmd: AssignMovieGenres, state: MovieState | None) -> list[MovieEvent]:
    """Validate a genre list (known, no duplicates, exactly one primary); no event when unchanged."""
    movie = _live(state, cmd.movie_id)
    seen: set[UUID] = set()
    for gid in cmd.genre_ids:
        if gid in seen:
            raise InvalidCommandError("genre_ids", f"genre {gid} is listed twice")
        seen.add(gid)
        if gid not in GENRES_BY_ID:
            raise InvalidCommandError("genre_ids", f"unknown genre {gid}")
    if cmd.genre_ids and cmd.primary_genre_id is None:
        raise InvalidCommandError("primary_genre_id", "name which of the genres is the primary one")
    if cmd.primary_genre_id is not None and cmd.primary_genre_id not in seen:
        raise InvalidCommandError("primary_genre_id", "the primary genre must be one of genre_ids")
    if (set(cmd.genre_ids), cmd.primary_genre_id) == (set(movie.genre_ids), movie.primary_genre_id):
        return []
    return [
        MovieGenresAssigned(
            stream_id=movie.movie_id,
            stream_version=movie.version + 1,
            genre_ids=cmd.genre_ids,
            primary_genre_id=cmd.primary_genre_id,
        ),
    ]


def record_production_info(cmd: RecordProductionInfo, state: MovieState | None) -> list[MovieEvent]:
    """Validate production information; no event when it says what is already recorded."""
    movie = _live(state, cmd.movie_id)
    start, end = cmd.filming_start_date, cmd.filming_end_date
    if start is not None and end is not None and start > end:
        raise InvalidCommandError(
            "filming_end_date",
            f"filming ends ({end.isoformat()}) before it starts ({start.isoformat()})",
        )
    info = {f: getattr(cmd, f) for f in PRODUCTION_FIELDS}
    info["production_companies"] = tuple(dict.fromkeys(cmd.production_companies))
    info["filming_locations"] = tuple(dict.fromkeys(cmd.filming_locations))
    info["notes"] = cmd.notes or None
    recorded = (
        movie.production.model_dump(include=set(PRODUCTION_FIELDS)) if movie.production else _NO_PRODUCTION
    )
    if info == recorded:
        return []
    return [
        MovieProductionInfoRecorded.model_validate(
            {"stream_id": movie.movie_id, "stream_version": movie.version + 1, **info}
        ),
    ]


def remove_movie(cmd: RemoveMovie, state: MovieState | None) -> list[MovieEvent]:
    """Remove a movie that is in the catalogue."""
    movie = _live(state, cmd.movie_id)
    return [MovieRemoved(stream_id=movie.movie_id, stream_version=movie.version + 1)]


def link_scene(cmd: LinkSceneToMovie, state: MovieState | None) -> list[MovieEvent]:
    """Take a scene into the movie's figures, once; refused while the movie is being removed."""
    movie = _live(state, cmd.movie_id)
    if movie.removal_saga is not None:
        raise InvalidCommandError(
            "movie_id", f"movie {cmd.movie_id} is being removed (saga {movie.removal_saga})"
        )
    if cmd.scene_id in movie.scene_ids:
        return []
    return [
        MovieSceneLinked(stream_id=movie.movie_id, stream_version=movie.version + 1, scene_id=cmd.scene_id)
    ]


def unlink_scene(cmd: UnlinkSceneFromMovie, state: MovieState | None) -> list[MovieEvent]:
    """Take a scene out of the movie's figures; nothing to do if it is not in them."""
    if state is None:
        raise StreamNotFoundError("movie_id", "movie", cmd.movie_id)
    if cmd.scene_id not in state.scene_ids:
        return []
    return [
        MovieSceneUnlinked(stream_id=state.movie_id, stream_version=state.version + 1, scene_id=cmd.scene_id)
    ]


def begin_removal(cmd: BeginMovieRemoval, state: MovieState | None) -> list[MovieEvent]:
    """Mark the movie as being removed by ``saga_id``; one removal at a time."""
    movie = _live(state, cmd.movie_id)
    if movie.removal_saga == cmd.saga_id:
        return []
    if movie.removal_saga is not None:
        raise InvalidCommandError(
            "movie_id", f"movie {cmd.movie_id} is already being removed (saga {movie.removal_saga})"
        )
    return [
        MovieRemovalBegun(stream_id=movie.movie_id, stream_version=movie.version + 1, saga_id=cmd.saga_id)
    ]


def cancel_removal(cmd: CancelMovieRemoval, state: MovieState | None) -> list[MovieEvent]:
    """Reopen the movie if ``saga_id`` is the removal under way; nothing to do otherwise."""
    movie = _live(state, cmd.movie_id)
    if movie.removal_saga != cmd.saga_id:
        return []
    return [
        MovieRemovalCancelled(stream_id=movie.movie_id, stream_version=movie.version + 1, saga_id=cmd.saga_id)
    ]


@singledispatch
def apply(event: MovieEvent, state: MovieState | None) -> MovieState:  # noqa: ARG001  the fallback
    """Return the movie state after ``event``; one registered function per event type."""
    raise TypeError(f"no apply function for {type(event).__name__}")


def _existing(state: MovieState | None, event: MovieEvent) -> MovieState:
    if state is None:
        raise TypeError(f"{event.event_type} before MovieRegistered in stream {event.stream_id}")
    return state


@apply.register
def _(event: MovieRegistered, state: MovieState | None) -> MovieState:  # noqa: ARG001  starts from nothing
    return MovieState(movie_id=event.stream_id, version=event.stream_version, details=event)


@apply.register
def _(event: MovieDetailsRevised, state: MovieState | None) -> MovieState:
    return replace(_existing(state, event), version=event.stream_version, details=event)


@apply.register
def _(event: MovieGenresAssigned, state: MovieState | None) -> MovieState:
    return replace(
        _existing(state, event),
        version=event.stream_version,
        genre_ids=event.genre_ids,
        primary_genre_id=event.primary_genre_id,
    )


@apply.register
def _(event: MovieProductionInfoRecorded, state: MovieState | None) -> MovieState:
    return replace(_existing(state, event), version=event.stream_version, production=event)


@apply.register
def _(event: MovieRemoved, state: MovieState | None) -> MovieState:
    return replace(_existing(state, event), version=event.stream_version, removed=True)


@apply.register
def _(event: MovieSceneLinked, state: MovieState | None) -> MovieState:
    movie = _existing(state, event)
    return replace(movie, version=event.stream_version, scene_ids=movie.scene_ids | {event.scene_id})


@apply.register
def _(event: MovieSceneUnlinked, state: MovieState | None) -> MovieState:
    movie = _existing(state, event)
    return replace(movie, version=event.stream_version, scene_ids=movie.scene_ids - {event.scene_id})


@apply.register
def _(event: MovieRemovalBegun, state: MovieState | None) -> MovieState:
    return replace(_existing(state, event), version=event.stream_version, removal_saga=event.saga_id)


@apply.register
def _(event: MovieRemovalCancelled, state: MovieState | None) -> MovieState:
    return replace(_existing(state, event), version=event.stream_version, removal_saga=None)


def replay(events: Sequence[DomainEvent]) -> MovieState | None:
    """Fold a stream's events into its state (``None`` for an empty stream)."""
    state: MovieState | None = None
    for event in events:
        if isinstance(event, MovieEvent):
            state = apply(event, state)
    return state
