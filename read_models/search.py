"""Scene search (the design's シーン検索クエリ): filters, a relevance score, offset or keyset pages.

Differences from the design's query, on purpose:

* the movie is a LEFT JOIN on ``external_movies_cache``: a scene whose movie is not cached (yet:
  events of different topics arrive in any order) is still found, with ``movie`` null, instead
  of silently disappearing from the results.
* the relevance score is the design's CASE (恋愛 in the description 10, level 1 'R' 8, tag
  'romantic' 6, else 1) made parametric, and summed instead of first-match: 10 when a
  description text was searched and the description contains it, plus 8 when a level 1 was
  requested and the scene has it, plus 6 for each requested tag the scene carries; 1 when that
  sum is 0. Those criteria are also filters, so a first-match CASE would give every hit of a
  query the same score; summed, scenes carrying more of the requested tags rank first.
* the description match is ``strpos(lower(description), lower(text)) > 0``: case-insensitive,
  and ``%``/``_`` match literally (nothing to escape).
* the cast and lines of a page are read by two queries on the page's ids (not json GROUP BYs,
  which fail as the design wrote them); all reads of a page share one REPEATABLE READ snapshot.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ARRAY,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Text,
    and_,
    any_,
    case,
    distinct,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.schema import Table

from infra.auth import Identity
from read_models.rls import reading
from read_models.scenes import external_actors_cache, scene_actors, scene_dialogues, scenes

__all__ = [
    "SceneSearch",
    "SceneSearchQueries",
    "SearchActor",
    "SearchDialogue",
    "SearchHit",
    "SearchMovie",
    "SearchPage",
    "decode_search_cursor",
    "encode_search_cursor",
]

RELEVANCE_DESCRIPTION = 10
RELEVANCE_LEVEL1 = 8
RELEVANCE_TAG = 6
RELEVANCE_OTHER = 1

# The scene read model's Table lists only the cache columns its own reads need.
_movies_cache = Table(
    "external_movies_cache",
    MetaData(),
    Column("id", PGUUID(as_uuid=True), primary_key=True),
    Column("title", String(500), nullable=False),
    Column("release_year", Integer),
    Column("director", String(255)),
)


@dataclasses.dataclass(frozen=True)
class SceneSearch:
    """The search's filters (``None`` or empty = no filter); times are seconds of the day."""

    level1: str | None = None
    level2: str | None = None
    level3: str | None = None
    start_min: int | None = None
    end_max: int | None = None
    description: str | None = None
    tags: tuple[str, ...] = ()
    emotional_tags: tuple[str, ...] = ()
    scene_type: str | None = None
    movie_id: UUID | None = None


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class SearchMovie(_View):
    """The hit's movie, from the Movie service's cache."""

    title: str
    release_year: int | None
    director: str | None


class SearchActor(_View):
    """An actor of the hit; ``actor_name`` is ``None`` when the actor is not cached."""

    actor_id: UUID
    actor_name: str | None
    character_name: str | None
    role_type: str | None


class SearchDialogue(_View):
    """A dialogue line of the hit (the design's shape); ``speaker`` is the cached actor name."""

    text: str
    speaker: str | None
    character: str | None
    is_memorable: bool
    start_offset: int | None


class SearchHit(_View):
    """A scene found by the search, with its relevance, movie, cast and lines."""

    id: UUID
    movie_id: UUID
    scene_number: int | None
    start_time_seconds: int
    end_time_seconds: int
    duration_seconds: int
    level1_classification: str
    level2_classification: str
    level3_classification: str | None
    scene_type: str
    parent_scene_id: UUID | None
    tags: list[str]
    description: str | None
    emotional_tags: list[str]
    created_at: datetime
    updated_at: datetime
    version: int
    relevance_score: int
    movie: SearchMovie | None
    actors: list[SearchActor]
    dialogues: list[SearchDialogue]


class SearchPage(_View):
    """One page of hits, the number of hits in all, and the keyset cursor of the next page."""

    total: int
    items: list[SearchHit]
    next: str | None


def encode_search_cursor(relevance: int, start: int, scene_id: UUID) -> str:
    """Return the opaque cursor resuming after a hit of this (relevance, start, id)."""
    raw = json.dumps({"r": relevance, "s": start, "i": str(scene_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_search_cursor(cursor: str) -> tuple[int, int, UUID]:
    """Return (relevance, start, id) of a cursor; raises ValueError for a malformed one."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        relevance, start, scene_id = values["r"], values["s"], UUID(values["i"])
    except (binascii.Error, UnicodeError, json.JSONDecodeError, TypeError, KeyError, ValueError) as exc:
        raise ValueError("is not a cursor returned by this endpoint") from exc
    if type(relevance) is not int or type(start) is not int:
        raise ValueError("is not a cursor returned by this endpoint")
    return relevance, start, scene_id


def _text_array(values: Sequence[str]) -> ColumnElement[list[str]]:
    return literal(list(values), ARRAY(Text))


def _filters(search: SceneSearch) -> list[ColumnElement[bool]]:
    s = scenes.c
    checks: list[ColumnElement[bool]] = []
    equal = (
        (s.level1_classification, search.level1),
        (s.level2_classification, search.level2),
        (s.level3_classification, search.level3),
        (s.scene_type, search.scene_type),
        (s.movie_id, search.movie_id),
    )
    checks.extend(column == value for column, value in equal if value is not None)
    if search.start_min is not None:
        checks.append(s.start_time_seconds >= search.start_min)
    if search.end_max is not None:
        checks.append(s.end_time_seconds <= search.end_max)
    if search.description is not None:
        checks.append(_description_match(search.description))
    if search.tags:
        checks.append(s.tags.bool_op("&&")(_text_array(search.tags)))
    if search.emotional_tags:
        checks.append(s.emotional_tags.bool_op("&&")(_text_array(search.emotional_tags)))
    return checks


def _description_match(text: str) -> ColumnElement[bool]:
    return func.strpos(func.lower(scenes.c.description), func.lower(literal(text, Text))) > 0


def _relevance(search: SceneSearch) -> ColumnElement[int]:
    terms: list[ColumnElement[int]] = []
    if search.description is not None:
        terms.append(case((_description_match(search.description), RELEVANCE_DESCRIPTION), else_=0))
    if search.level1 is not None:
        terms.append(case((scenes.c.level1_classification == search.level1, RELEVANCE_LEVEL1), else_=0))
    if search.tags:
        tag = func.unnest(scenes.c.tags).column_valued("tag")
        matched = (
            select(func.count(distinct(tag))).where(tag == any_(_text_array(search.tags))).scalar_subquery()
        )
        terms.append(matched * RELEVANCE_TAG)
    if not terms:
        return literal(RELEVANCE_OTHER, Integer)
    return func.greatest(sum(terms[1:], terms[0]), RELEVANCE_OTHER)


_ROLE_ORDER = case({"primary": 0, "supporting": 1, "cameo": 2}, value=scene_actors.c.role_type, else_=3)


async def _actors_of(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, list[SearchActor]]:
    query = (
        select(
            scene_actors.c.scene_id,
            scene_actors.c.actor_id,
            external_actors_cache.c.name.label("actor_name"),
            scene_actors.c.character_name,
            scene_actors.c.role_type,
        )
        .select_from(
            scene_actors.outerjoin(
                external_actors_cache, external_actors_cache.c.id == scene_actors.c.actor_id
            )
        )
        .where(scene_actors.c.scene_id.in_(ids))
        .order_by(scene_actors.c.scene_id, _ROLE_ORDER, scene_actors.c.created_at, scene_actors.c.actor_id)
    )
    found: dict[UUID, list[SearchActor]] = defaultdict(list)
    for row in (await conn.execute(query)).all():
        data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
        found[data.pop("scene_id")].append(SearchActor.model_validate(data))
    return found


async def _dialogues_of(conn: AsyncConnection, ids: Sequence[UUID]) -> dict[UUID, list[SearchDialogue]]:
    d = scene_dialogues.c
    query = (
        select(
            d.scene_id,
            d.dialogue_text.label("text"),
            external_actors_cache.c.name.label("speaker"),
            d.character_name.label("character"),
            func.coalesce(d.is_memorable_quote, false()).label("is_memorable"),
            d.start_time_offset.label("start_offset"),
        )
        .select_from(
            scene_dialogues.outerjoin(external_actors_cache, external_actors_cache.c.id == d.actor_id)
        )
        .where(d.scene_id.in_(ids))
        .order_by(d.scene_id, d.start_time_offset.asc().nulls_last(), d.created_at, d.id)
    )
    found: dict[UUID, list[SearchDialogue]] = defaultdict(list)
    for row in (await conn.execute(query)).all():
        data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
        found[data.pop("scene_id")].append(SearchDialogue.model_validate(data))
    return found


def _hit(row: Any, actors: list[SearchActor], dialogues: list[SearchDialogue]) -> SearchHit:  # noqa: ANN401
    data = dict(row._mapping)  # noqa: SLF001  Row's public mapping view
    title, year, director = data.pop("movie_title"), data.pop("release_year"), data.pop("director")
    movie = None if title is None else SearchMovie(title=title, release_year=year, director=director)
    data["tags"] = data["tags"] or []
    data["emotional_tags"] = data["emotional_tags"] or []
    data["scene_type"] = data["scene_type"] or "primary"
    return SearchHit.model_validate({**data, "movie": movie, "actors": actors, "dialogues": dialogues})


class SceneSearchQueries:
    """The scene search over the Scene service's read model (every client value a bound parameter).

    Given an ``identity`` (the API's), the search runs under row-level security: hits, totals,
    casts and lines are those the caller may see. Without one it reads as the tables' owner.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def search(
        self,
        search: SceneSearch,
        *,
        limit: int,
        offset: int = 0,
        after: str | None = None,
        identity: Identity | None = None,
    ) -> SearchPage:
        """Return a page of hits by relevance desc, start asc, id asc, and the total count.

        ``after`` (a cursor from a previous page's ``next``) resumes after that hit; it raises
        ValueError when malformed. ``next`` is set when more hits follow this page.
        """
        s = scenes.c
        where = and_(true(), *_filters(search))
        relevance = _relevance(search).label("relevance_score")
        hits = (
            select(
                s.id,
                s.movie_id,
                s.scene_number,
                s.start_time_seconds,
                s.end_time_seconds,
                s.duration_seconds,
                s.level1_classification,
                s.level2_classification,
                s.level3_classification,
                s.scene_type,
                s.parent_scene_id,
                s.tags,
                s.description,
                s.emotional_tags,
                s.created_at,
                s.updated_at,
                s.version,
                relevance,
            )
            .where(where)
            .subquery("hits")
        )
        page = select(
            hits,
            _movies_cache.c.title.label("movie_title"),
            _movies_cache.c.release_year,
            _movies_cache.c.director,
        ).select_from(hits.outerjoin(_movies_cache, _movies_cache.c.id == hits.c.movie_id))
        if after is not None:
            after_relevance, after_start, after_id = decode_search_cursor(after)
            page = page.where(
                or_(
                    hits.c.relevance_score < after_relevance,
                    and_(
                        hits.c.relevance_score == after_relevance,
                        tuple_(hits.c.start_time_seconds, hits.c.id) > tuple_(after_start, after_id),
                    ),
                )
            )
        page = (
            page.order_by(hits.c.relevance_score.desc(), hits.c.start_time_seconds, hits.c.id)
            .limit(limit + 1)
            .offset(offset)
        )
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            total = int(
                (await conn.execute(select(func.count()).select_from(scenes).where(where))).scalar_one()
            )
            rows = (await conn.execute(page)).all()
            shown = rows[:limit]
            ids = [r.id for r in shown]
            actors = await _actors_of(conn, ids) if ids else {}
            dialogues = await _dialogues_of(conn, ids) if ids else {}
        items = [_hit(r, actors.get(r.id, []), dialogues.get(r.id, [])) for r in shown]
        last = items[-1] if len(rows) > limit else None
        cursor = (
            None
            if last is None
            else encode_search_cursor(last.relevance_score, last.start_time_seconds, last.id)
        )
        return SearchPage(total=total, items=items, next=cursor)
