"""HTTP routes of the dialogue and description text search and the memorable quotes (Scene reads)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query

from commands.handlers import CommandBus
from infra.http.common import Caller, Limit, Offset, found
from read_models.engines import ReadEngines
from read_models.text_search import MAX_QUERY_LENGTH, DialogueHit, SceneHit, TextSearchQueries

SearchLimit = Annotated[int, Query(ge=1, le=100)]


def search_text(
    q: Annotated[str, Query(description=f"text to find: 1-{MAX_QUERY_LENGTH} characters after trimming")],
) -> str:
    """Return the trimmed search text, or answer 422 when it is empty, too long or holds a NUL."""
    text = q.strip()
    reason = None
    if not text:
        reason = "must not be empty or only spaces"
    elif len(text) > MAX_QUERY_LENGTH:
        reason = f"at most {MAX_QUERY_LENGTH} characters"
    elif "\x00" in text:
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
        reason = "must not contain NUL characters"
    if reason is not None:
        raise HTTPException(
            status_code=422, detail=[{"loc": ["query", "q"], "msg": reason, "type": "value_error"}]
        )
    return text


SearchText = Annotated[str, Depends(search_text)]
LanguageFilter = Annotated[str | None, Query(min_length=1, max_length=10, description="e.g. ja, en")]


def text_search_router(bus: CommandBus, engines: ReadEngines) -> APIRouter:  # noqa: ARG001  reads only
    """Routes of the text search and the memorable quotes."""
    router = APIRouter(tags=["text search"])
    queries = TextSearchQueries(engines["scene"])

    @router.get("/dialogues/search")
    async def search_dialogues(
        q: SearchText,
        identity: Caller,
        language: LanguageFilter = None,
        memorable: bool | None = None,
        movie_id: UUID | None = None,
        limit: SearchLimit = 50,
        offset: Offset = 0,
    ) -> list[DialogueHit]:
        """Return the dialogue lines whose text or subtitle contains ``q``.

        Japanese or English, any length; full-width and half-width forms and letter case are
        folded (NFKC, lower case). Ordered by movie, scene start and the line's offset.
        """
        return await queries.search_dialogues(
            q,
            language=language,
            memorable=memorable,
            movie_id=movie_id,
            limit=limit,
            offset=offset,
            identity=identity,
        )

    @router.get("/scenes/description-search")
    async def search_descriptions(
        q: SearchText, identity: Caller, limit: SearchLimit = 50, offset: Offset = 0
    ) -> list[SceneHit]:
        """Return the scenes whose description contains ``q`` (same folding as the dialogue search)."""
        return await queries.search_descriptions(q, limit=limit, offset=offset, identity=identity)

    @router.get("/movies/{movie_id}/memorable-quotes")
    async def movie_memorable_quotes(
        movie_id: UUID, identity: Caller, limit: Limit = 100, offset: Offset = 0
    ) -> list[DialogueHit]:
        """Return a movie's memorable quotes in timeline order (404 if the movie is unknown)."""
        quotes = await queries.movie_memorable_quotes(movie_id, limit=limit, offset=offset, identity=identity)
        return found(quotes, f"movie {movie_id} not found")

    @router.get("/memorable-quotes")
    async def memorable_quotes(identity: Caller, limit: Limit = 100, offset: Offset = 0) -> list[DialogueHit]:
        """Return every memorable quote, by movie and timeline order."""
        return await queries.memorable_quotes(limit=limit, offset=offset, identity=identity)

    return router
