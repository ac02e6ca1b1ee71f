"""HTTP routes of the scene search and the timeline overlaps (reads of the Scene service)."""

from __future__ import annotations

from typing import Annotated, NoReturn
from uuid import UUID

from fastapi import APIRouter, HTTPException, Query

from commands.handlers import CommandBus
from commands.timecode import TimeInputError, parse_timecode
from events.scene import SceneType
from infra.http.common import Caller, Offset, found
from read_models.engines import ReadEngines
from read_models.overlaps import OverlapPage, OverlapPair, OverlappingScene, OverlapQueries
from read_models.search import SceneSearch, SceneSearchQueries, SearchPage

SearchText = Annotated[
    str | None, Query(min_length=1, max_length=200, description="substring of the description")
]
TagList = Annotated[list[Annotated[str, Query(min_length=1, max_length=50)]], Query(max_length=20)]
SearchLimit = Annotated[int, Query(ge=1, le=100)]
PairLimit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=500, description="the previous page's next cursor")]


def _reject(field: str, reason: str) -> NoReturn:
    """Answer 422 naming the query parameter, in FastAPI's own error shape."""
    raise HTTPException(
        status_code=422, detail=[{"loc": ["query", field], "msg": reason, "type": "value_error"}]
    )


def _seconds(raw: str | None, field: str) -> int | None:
    """Parse a time query parameter the way commands parse times (``105``, ``1:05``, ``1:23:45``)."""
    if raw is None:
        return None
    try:
        return parse_timecode(raw, field=field)
    except TimeInputError as exc:
        _reject(field, exc.reason)


def search_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: ARG001  reads only
    """Routes of the scene search and the overlap reads."""
    router = APIRouter(tags=["scenes"])
    search_queries = SceneSearchQueries(engines["scene"])
    overlaps = OverlapQueries(engines["scene"])

    @router.get("/scenes/search")
    async def search_scenes(
        caller: Caller,
        level1: Annotated[str | None, Query(pattern="^[ARCSDLO]$")] = None,
        level2: Annotated[str | None, Query(pattern="^[ARCSDLO][0-9]$")] = None,
        level3: Annotated[str | None, Query(pattern="^[ARCSDLO][0-9]-[0-9]$")] = None,
        start_min: Annotated[str | None, Query(max_length=20, description="scene starts at or after")] = None,
        end_max: Annotated[str | None, Query(max_length=20, description="scene ends at or before")] = None,
        description: SearchText = None,
        tags: TagList = [],  # noqa: B006  FastAPI copies defaults per request
        emotional_tags: TagList = [],  # noqa: B006  FastAPI copies defaults per request
        scene_type: SceneType | None = None,
        movie_id: UUID | None = None,
        limit: SearchLimit = 20,
        offset: Offset | None = None,
        after: Cursor = None,
    ) -> SearchPage:
        """Search the scenes the caller may see: by relevance, start time and id; ``after`` for deep pages."""
        if after is not None and offset is not None:
            _reject("offset", "give either offset or after (a keyset cursor), not both")
        search = SceneSearch(
            level1=level1,
            level2=level2,
            level3=level3,
            start_min=_seconds(start_min, "start_min"),
            end_max=_seconds(end_max, "end_max"),
            description=description,
            tags=tuple(tags),
            emotional_tags=tuple(emotional_tags),
            scene_type=scene_type,
            movie_id=movie_id,
        )
        try:
            return await search_queries.search(
                search, limit=limit, offset=offset or 0, after=after, identity=caller
            )
        except ValueError as exc:
            _reject("after", str(exc))

    @router.get("/movies/{movie_id}/overlaps")
    async def movie_overlaps(movie_id: UUID, caller: Caller) -> list[OverlapPair]:
        """Every pair of a movie's visible scenes whose [start, end) ranges overlap, and the overlap."""
        return found(await overlaps.movie_pairs(movie_id, identity=caller), f"movie {movie_id} not found")

    @router.get("/overlaps")
    async def all_overlaps(caller: Caller, limit: PairLimit = 100, after: Cursor = None) -> OverlapPage:
        """Every movie's overlapping pairs of visible scenes, keyset-paginated by movie id, then timeline."""
        try:
            return await overlaps.all_pairs(limit=limit, after=after, identity=caller)
        except ValueError as exc:
            _reject("after", str(exc))

    @router.get("/movies/{movie_id}/overlapping-scenes")
    async def overlapping_scenes(movie_id: UUID, caller: Caller) -> list[OverlappingScene]:
        """List a movie's visible scenes that overlap at least one other visible scene, by start time."""
        return found(
            await overlaps.overlapping_scenes(movie_id, identity=caller), f"movie {movie_id} not found"
        )

    return router
