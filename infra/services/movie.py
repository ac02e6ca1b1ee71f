"""The Movie service: the catalogue of movies, genres and production info, with scene and rating figures."""

from __future__ import annotations

from commands.movie_handlers import MOVIE_HANDLERS
from events.movie import (
    MOVIE_SAGA_EVENTS,
    MovieDetailsRevised,
    MovieGenresAssigned,
    MovieProductionInfoRecorded,
    MovieRegistered,
    MovieRemoved,
)
from infra.services.base import ProjectionSpec, ServiceSpec
from projections.batch_movies import MOVIE_BATCH_HANDLERS, MOVIE_COMMUTING
from projections.movies import MOVIE_APPLY, TOPICS
from projections.runner import Projection

MOVIES_PROJECTION = Projection(
    name="movies",
    handlers=MOVIE_APPLY,
    batch_handlers=MOVIE_BATCH_HANDLERS,
    commuting=MOVIE_COMMUTING,
)

SERVICE = ServiceSpec(
    name="movie",
    topic="movies.events",
    stream_types=("movie",),
    event_classes=(
        MovieRegistered,
        MovieDetailsRevised,
        MovieGenresAssigned,
        MovieProductionInfoRecorded,
        MovieRemoved,
        *MOVIE_SAGA_EVENTS,
    ),
    command_handlers=MOVIE_HANDLERS,
    projections=(ProjectionSpec(MOVIES_PROJECTION, topics=TOPICS),),
)
