"""The Movie service (being built: events only so far)."""

from __future__ import annotations

from events.movie import MovieDetailsRevised, MovieRegistered, MovieRemoved
from infra.services.base import ServiceSpec

SERVICE = ServiceSpec(
    name="movie",
    topic="movies.events",
    stream_types=("movie",),
    event_classes=(MovieRegistered, MovieDetailsRevised, MovieRemoved),
    command_handlers={},
)
