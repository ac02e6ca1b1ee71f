"""HTTP routes of the Movie service: its commands (same handlers as CLI and Kafka) and reads."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from commands.base import CommandResult
from commands.handlers import CommandBus
from commands.movie import (
    AssignMovieGenres,
    MovieDetailChanges,
    ProductionInput,
    RecordProductionInfo,
    RegisterMovie,
    ReviseMovieDetails,
    Version,
)
from infra.http.common import Acting, CommandId, Limit, Offset, RequestBody, found
from read_models.engines import ReadEngines
from read_models.movies import GenreView, MovieDetailView, MovieQueries, MovieSort, MovieView
from sagas.commands import RequestSaga


class ReviseBody(MovieDetailChanges):
    """Detail changes of a movie: fields left out keep their value, ``null`` clears one."""

    expected_version: Version | None = None


class GenresBody(RequestBody):
    """A movie's genres as a whole, and which of them is primary."""

    genre_ids: tuple[UUID, ...] = ()
    primary_genre_id: UUID | None = None
    expected_version: Version | None = None


class ProductionBody(ProductionInput):
    """A movie's production information, replacing what was recorded."""

    expected_version: Version | None = None


def movie_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:
    """Routes of the Movie service."""
    router = APIRouter(tags=["movies"])
    movies = MovieQueries(engines["movie"])

    @router.post("/movies", status_code=202)
    async def register_movie(cmd: RegisterMovie, meta: Acting) -> CommandResult:
        """Register a movie. The command id in the body makes retries safe."""
        return await bus.dispatch(cmd, meta)

    @router.patch("/movies/{movie_id}", status_code=202)
    async def revise_movie(
        movie_id: UUID,
        body: ReviseBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Change a movie's details; fields left out keep their value."""
        # exclude_unset keeps "left out" apart from an explicit null (which clears the field).
        cmd = ReviseMovieDetails(
            command_id=command_id,
            movie_id=movie_id,
            **body.model_dump(exclude_unset=True),
        )
        return await bus.dispatch(cmd, meta)

    @router.put("/movies/{movie_id}/genres", status_code=202)
    async def assign_genres(
        movie_id: UUID,
        body: GenresBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Set a movie's genres (ids from ``GET /genres``) and its primary genre."""
        cmd = AssignMovieGenres(command_id=command_id, movie_id=movie_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.put("/movies/{movie_id}/production", status_code=202)
    async def record_production(
        movie_id: UUID,
        body: ProductionBody,
        meta: Acting,
        command_id: CommandId,
    ) -> CommandResult:
        """Record a movie's production information."""
        cmd = RecordProductionInfo(command_id=command_id, movie_id=movie_id, **body.model_dump())
        return await bus.dispatch(cmd, meta)

    @router.delete("/movies/{movie_id}", status_code=202)
    async def remove_movie(movie_id: UUID, meta: Acting, command_id: CommandId) -> CommandResult:
        """Remove a movie with its scenes, filmography and watch-list entries and reviews (admins).

        Starts the movie-removal saga (its id is the result's ``stream_id``, the Idempotency-Key
        when given): follow it at ``GET /sagas/{id}``. If a step fails, everything it removed
        comes back.
        """
        cmd = RequestSaga(
            command_id=command_id,
            saga_id=command_id,
            saga_type="movie_removal",
            input={"movie_id": str(movie_id)},
        )
        return await bus.dispatch(cmd, meta)

    @router.get("/movies/{movie_id}")
    async def get_movie(movie_id: UUID) -> MovieDetailView:
        """One movie with its genres (primary first) and production information."""
        return found(await movies.get(movie_id), f"movie {movie_id} not found")

    @router.get("/movies")
    async def search_movies(
        title: Annotated[str | None, Query(max_length=500, description="part of the title")] = None,
        year: Annotated[int | None, Query(ge=1870, le=2200, description="release year")] = None,
        director: Annotated[str | None, Query(max_length=255, description="part of the name")] = None,
        sort: MovieSort = "title",
        limit: Limit = 100,
        offset: Offset = 0,
    ) -> list[MovieView]:
        """Search movies by title, release year and director."""
        return await movies.search(
            title=title, year=year, director=director, sort=sort, limit=limit, offset=offset
        )

    @router.get("/genres")
    async def list_genres() -> list[GenreView]:
        """Return the genre catalogue."""
        return await movies.genres()

    return router
