"""Events of the Movie service. The Movie service may add more; these three are shared contracts."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import Field

from events.base import DomainEvent


class MovieEvent(DomainEvent):
    """An event of one movie's stream (keyed by the movie id)."""

    stream_type: ClassVar[str] = "movie"


class MovieDetails(DomainEvent):
    """The descriptive fields of a movie, carried whole by registration and each revision."""

    title: str = Field(min_length=1, max_length=500)
    original_title: str | None = Field(default=None, max_length=500)
    release_year: int | None = Field(default=None, ge=1870, le=2200)
    release_date: date | None = None
    duration_minutes: int | None = Field(default=None, ge=1, le=1440)
    country: str | None = Field(default=None, max_length=100)
    language: str = Field(default="ja", max_length=10)
    director: str | None = Field(default=None, max_length=255)
    screenplay: str | None = Field(default=None, max_length=255)
    producer: str | None = Field(default=None, max_length=255)
    budget_jpy: int | None = Field(default=None, ge=0)
    box_office_jpy: int | None = Field(default=None, ge=0)
    distributor: str | None = Field(default=None, max_length=255)
    is_public: bool = True


class MovieRegistered(MovieEvent, MovieDetails):
    """A movie entered the catalogue."""

    event_type: ClassVar[str] = "MovieRegistered"


class MovieDetailsRevised(MovieEvent, MovieDetails):
    """A movie's descriptive fields changed (all of them are carried, changed or not)."""

    event_type: ClassVar[str] = "MovieDetailsRevised"


class MovieRemoved(MovieEvent):
    """A movie left the catalogue."""

    event_type: ClassVar[str] = "MovieRemoved"


class MovieGenresAssigned(MovieEvent):
    """A movie's genres were set as a whole: the list, and which of them is the primary genre.

    An empty list clears the genres (and then there is no primary genre).
    """

    event_type: ClassVar[str] = "MovieGenresAssigned"

    genre_ids: tuple[UUID, ...] = ()
    primary_genre_id: UUID | None = None


class ProductionInfo(DomainEvent):
    """How a movie was made, carried whole by each recording (the Movie DB's production_info)."""

    production_companies: tuple[Annotated[str, Field(min_length=1, max_length=255)], ...] = Field(
        default=(), max_length=50
    )
    studio: str | None = Field(default=None, max_length=255)
    filming_locations: tuple[Annotated[str, Field(min_length=1, max_length=255)], ...] = Field(
        default=(), max_length=50
    )
    filming_start_date: date | None = None
    filming_end_date: date | None = None
    film_format: str | None = Field(default=None, max_length=50)
    aspect_ratio: str | None = Field(default=None, max_length=10)
    original_language: str | None = Field(default=None, max_length=10)
    notes: str | None = Field(default=None, max_length=10_000)


class MovieProductionInfoRecorded(MovieEvent, ProductionInfo):
    """A movie's production information was recorded (all fields carried, changed or not)."""

    event_type: ClassVar[str] = "MovieProductionInfoRecorded"


# --- Saga bookkeeping on the movie's stream (scene-creation and movie-removal sagas). ---


class MovieSceneLinked(MovieEvent):
    """The Movie service took a new scene into the movie's figures (step 2 of scene creation)."""

    event_type: ClassVar[str] = "MovieSceneLinked"

    scene_id: UUID


class MovieSceneUnlinked(MovieEvent):
    """A scene left the movie's figures (its creation was rolled back, or it was deleted)."""

    event_type: ClassVar[str] = "MovieSceneUnlinked"

    scene_id: UUID


class MovieRemovalBegun(MovieEvent):
    """A movie-removal saga started: the movie takes no new scenes until it ends."""

    event_type: ClassVar[str] = "MovieRemovalBegun"

    saga_id: UUID


class MovieRemovalCancelled(MovieEvent):
    """The movie-removal saga was rolled back: the movie is open again."""

    event_type: ClassVar[str] = "MovieRemovalCancelled"

    saga_id: UUID


MOVIE_SAGA_EVENTS: tuple[type[MovieEvent], ...] = (
    MovieSceneLinked,
    MovieSceneUnlinked,
    MovieRemovalBegun,
    MovieRemovalCancelled,
)
