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
* the description match is the text search's (``read_models/text_search.py``): NFKC and
  case-insensitive (full-width letters find ASCII ones), ``%``/``_`` literal, through the token index.
* speed at a million scenes (0009, 0015, 0017): the description tokens, levels, tags and
  start-time buckets are looked up as keys of one GIN index, whose operators (``@>>``, ``&&>``)
  are leakproof, so that the planner uses it under row-level security too: the policies then
  filter the rows the index finds, in the same scan as the owner's.
  The hits are ranked on narrow rows and the total is a window count over the same scan (exact,
  no second query); only the page's rows, movies, cast and lines are then read in full.
* under row-level security, one tag (or one tag named several times) is a key the hits must all
  carry, among the ``@>>`` keys, not an "any of" list of one (``&&>``): the same rows, one index
  condition fewer. A search's statement runs on a generic plan after five executions, where the
  planner guesses 1% of the rows per key condition. With two conditions it expects ~50
  candidates for the design's query (3,131 found) and checks each one's movie against the
  policies with a probe of the movies cache's index; with one it expects enough to hash the public
  movies once and look each candidate up in memory. Design's query as a viewer at 1M scenes:
  buffers 10,100 -> 3,869; server CPU a search 2.0-2.3 ms less (18.6 -> 16.6, 16.3 -> 14.0 ms,
  300 calls each, old and new alternated call by call). The owner keeps both conditions: there
  is no policy to hash for, and the larger estimate made the filters-only query's custom plans
  (the first five) launch a parallel worker.
* one statement per page: the casts and lines are JSON aggregates of the page statement (one
  round trip, not three), and a search's statement is built once per shape (which filters are
  given, how many tags) with every value a parameter. A page past the last hit needs a second
  statement for its total; both share one REPEATABLE READ snapshot.
* under row-level security a search is three round trips, not four: the transaction is begun
  with its role and user in one message (``read_models/rls.py``), and the page statement goes to
  the driver in that transaction, compiled once per shape (``_driver_statements``), skipping
  SQLAlchemy's execution layer. Same SQL, same values, same rows; client CPU of a viewer's search
  at 1M scenes 2.87-3.09 -> 2.01-2.09 ms, old and new alternated call by call (150 calls each).
* under row-level security the statements run on their generic plan from the first run
  (``plan_cache_mode`` for the read's transaction, ``reading(generic_plans=True)``), the plan the
  points above reason about. Left to PostgreSQL, the design's query as a viewer never got there:
  the generic plan's estimate (10,000 rows, hashed policy check) costs more than the custom plans'
  (about 3,000), so every run was planned anew (pg_prepared_statements: 30 custom plans of 30),
  1.6-2.5 ms of planning each. At 1M scenes, 300 calls each, old and new alternated call by call:
  design's query as a viewer p50 21.8 -> 19.7, 27.1 -> 23.9, 23.6 -> 20.6 ms; filters only 22.4
  -> 21.1, 21.9 -> 20.6 ms (both changes together, identical pages).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import functools
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import (
    ARRAY,
    JSON,
    Column,
    ColumnElement,
    Integer,
    MetaData,
    String,
    Text,
    and_,
    any_,
    bindparam,
    case,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import BindParameter
from sqlalchemy.sql.schema import Table
from sqlalchemy.sql.selectable import Select

from infra.auth import Identity
from read_models.rls import reading, transaction_driver
from read_models.scenes import external_actors_cache, scene_actors, scene_dialogues, scenes
from read_models.text_search import normalise

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
EXACT_KEY_LENGTH = 2
"""Up to this many normalised characters a description query is one index key, matched exactly."""
TIME_BUCKET_SECONDS = 600
"""Width of the start-time buckets among a scene's search keys (``sb:<start // 600>``, 0015)."""
MAX_TIME_BUCKETS = 12
"""A time range over more buckets than this is left to the column conditions: its keys, each held
by ~1/15 of the scenes, would cost the index scan more than they save in rows read."""
DAY_SECONDS = 86_400
"""The latest end of a scene (the scenes table's valid_time_bounds)."""
STATEMENT_CACHE_SIZE = 512
"""Search shapes (which filters are given, how many tags) whose built statements are kept."""


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


def _param(name: str, type_: Any) -> BindParameter[Any]:  # noqa: ANN401  any SQLAlchemy type
    """Return a required bound parameter: its value comes with each execution, never the statement."""
    return bindparam(name, type_=type_, required=True)


def _text_array(name: str) -> BindParameter[list[str]]:
    return _param(name, ARRAY(Text))


def _search_keys() -> ColumnElement[list[str]]:
    s = scenes.c
    return func.scene_search_keys_timed(
        s.description,
        s.level1_classification,
        s.level2_classification,
        s.level3_classification,
        s.tags,
        s.start_time_seconds,
        type_=ARRAY(Text),
    )


def _time_buckets(search: SceneSearch) -> list[str] | None:
    """Return the start-time keys (0015) a hit's start must be among; ``None`` to leave it to the columns.

    A hit starts at or after ``start_min`` and, as it ends after it starts, before ``end_max`` (or
    the day's end). The keys are a coarse superset: the column conditions still decide.
    """
    if search.start_min is None and search.end_max is None:
        return None
    low = 0 if search.start_min is None else search.start_min
    high = DAY_SECONDS if search.end_max is None else search.end_max
    first, last = low // TIME_BUCKET_SECONDS, (high - 1) // TIME_BUCKET_SECONDS
    if high <= low or last - first + 1 > MAX_TIME_BUCKETS:
        return None
    return [f"sb:{bucket}" for bucket in range(first, last + 1)]


_DescriptionKind = Literal["none", "empty", "short", "long"]
"""How a description query filters: not at all, non-null only, by its keys only, keys and strpos."""


@dataclasses.dataclass(frozen=True, slots=True)
class _Shape:
    """What a search's SQL depends on, its values aside: searches of one shape share one statement."""

    under_rls: bool
    description: _DescriptionKind
    level1: bool
    required_keys: bool
    any_keys: bool
    time_keys: bool
    tag_terms: int
    scene_type: bool
    movie_id: bool
    start_min: bool
    end_max: bool
    emotional_tags: bool
    after: bool


def _description_kind(description: str | None) -> _DescriptionKind:
    if description is None:
        return "none"
    needle = normalise(description)
    if not needle:
        return "empty"
    return "short" if len(needle) <= EXACT_KEY_LENGTH else "long"


def _plan(
    search: SceneSearch, *, under_rls: bool, limit: int, offset: int, after: str | None
) -> tuple[_Shape, dict[str, Any]]:
    """Return the search's shape and the values of its statement's parameters.

    Each key is exact (``l1:R`` is among the keys exactly when level 1 is R, a 1- or 2-character
    token exactly when the normalised description contains it), so the keys replace the column
    conditions of the description, levels and tags; the start-time buckets, coarser, narrow the
    rows the time conditions then test. Raises ValueError for a malformed ``after``.
    """
    required = [
        f"{name}:{value}"
        for name, value in (("l2", search.level2), ("l3", search.level3))
        if value is not None
    ]
    any_of: list[str] | None = None
    if search.tags:
        # Any of the tags; with a level 1, any of its (level 1, tag) pairs: one smaller list.
        prefix = "tg:" if search.level1 is None else f"l1tg:{search.level1}:"
        tag_keys = list(dict.fromkeys(prefix + tag for tag in search.tags))
        if under_rls and len(tag_keys) == 1:
            # "Any of" one key is "all of" it: one index condition fewer (see the module docstring).
            required.extend(tag_keys)
        else:
            any_of = tag_keys
    elif search.level1 is not None:
        required.append(f"l1:{search.level1}")
    buckets = _time_buckets(search)
    terms = list(dict.fromkeys(search.tags))
    params: dict[str, Any] = {
        "required_keys": required,
        "any_keys": any_of,
        "time_keys": buckets,
        "description": search.description,
        "scene_type": search.scene_type,
        "movie_id": search.movie_id,
        "start_min": search.start_min,
        "end_max": search.end_max,
        "emotional_tags": list(search.emotional_tags),
        "limit": limit + 1,
        "offset": offset,
        **{f"tag_{n}": tag for n, tag in enumerate(terms)},
    }
    if after is not None:
        params["after_relevance"], params["after_start"], params["after_id"] = decode_search_cursor(after)
    shape = _Shape(
        under_rls=under_rls,
        description=_description_kind(search.description),
        level1=search.level1 is not None,
        required_keys=bool(required),
        any_keys=any_of is not None,
        time_keys=buckets is not None,
        tag_terms=len(terms),
        scene_type=search.scene_type is not None,
        movie_id=search.movie_id is not None,
        start_min=search.start_min is not None,
        end_max=search.end_max is not None,
        emotional_tags=bool(search.emotional_tags),
        after=after is not None,
    )
    return shape, params


def _key_filter(shape: _Shape) -> ColumnElement[bool] | None:
    """Return the description, level, tag and time filters through the keys; ``None`` if none is asked.

    With no description, level or tag the time alone is left to the columns. ``@>>`` and ``&&>``
    are the TEXT[] ``@>`` and ``&&`` of the keys index's operator class, marked leakproof (0017):
    under row-level security the planner may use the index for them before the policies, which
    then filter every row the index finds.
    """
    all_of: ColumnElement[Any] = _text_array("required_keys")
    if shape.description != "none":
        tokens = func.search_query_tokens(_param("description", Text), type_=ARRAY(Text))
        all_of = tokens.op("||", return_type=ARRAY(Text))(all_of)
    elif not shape.required_keys and not shape.any_keys:
        return None
    keys = _search_keys()
    checks = [keys.bool_op("@>>")(all_of)]
    checks.extend(
        keys.bool_op("&&>")(_text_array(name))
        for name, given in (("any_keys", shape.any_keys), ("time_keys", shape.time_keys))
        if given
    )
    return and_(*checks)


def _filters(shape: _Shape) -> ColumnElement[bool]:
    """Return the search's conditions (see ``_key_filter`` for the description, levels and tags)."""
    s = scenes.c
    keyed = _key_filter(shape)
    checks: list[ColumnElement[bool]] = [] if keyed is None else [keyed]
    if shape.description == "empty":
        # No key to require: only the "contains the empty text" of a non-null description.
        checks.append(s.description.is_not(None))
    elif shape.description == "long":
        text = func.search_normalise(_param("description", Text))
        checks.append(func.strpos(func.search_normalise(s.description), text) > 0)
    if shape.scene_type:
        checks.append(s.scene_type == _param("scene_type", s.scene_type.type))
    if shape.movie_id:
        checks.append(s.movie_id == _param("movie_id", s.movie_id.type))
    if shape.start_min:
        checks.append(s.start_time_seconds >= _param("start_min", Integer))
    if shape.end_max:
        checks.append(s.end_time_seconds <= _param("end_max", Integer))
    if shape.emotional_tags:
        checks.append(s.emotional_tags.bool_op("&&")(_text_array("emotional_tags")))
    return and_(true(), *checks)


def _relevance(shape: _Shape) -> ColumnElement[int]:
    # Every criterion of the score is also a filter, so the description and level 1 terms are
    # the same for every hit; only the number of requested tags carried varies.
    fixed = (RELEVANCE_DESCRIPTION if shape.description != "none" else 0) + (
        RELEVANCE_LEVEL1 if shape.level1 else 0
    )
    terms: list[ColumnElement[int]] = [
        case((_param(f"tag_{n}", Text) == any_(scenes.c.tags), RELEVANCE_TAG), else_=0)
        for n in range(shape.tag_terms)
    ]
    if not terms:
        return literal(max(fixed, RELEVANCE_OTHER), Integer)
    return func.greatest(sum(terms, literal(fixed, Integer)), RELEVANCE_OTHER)


_HIT_COLUMNS = (
    scenes.c.id,
    scenes.c.movie_id,
    scenes.c.scene_number,
    scenes.c.start_time_seconds,
    scenes.c.end_time_seconds,
    scenes.c.duration_seconds,
    scenes.c.level1_classification,
    scenes.c.level2_classification,
    scenes.c.level3_classification,
    scenes.c.scene_type,
    scenes.c.parent_scene_id,
    scenes.c.tags,
    scenes.c.description,
    scenes.c.emotional_tags,
    scenes.c.created_at,
    scenes.c.updated_at,
    scenes.c.version,
)

_HIT_NAMES = tuple(column.name for column in _HIT_COLUMNS)

_ROLE_ORDER = case({"primary": 0, "supporting": 1, "cameo": 2}, value=scene_actors.c.role_type, else_=3)


def _json_list(entry: ColumnElement[Any], *order: ColumnElement[Any]) -> ColumnElement[Any]:
    """Return ``json_agg(entry ORDER BY order)``: one JSON array per scene, NULL when it has no rows."""
    return func.json_agg(aggregate_order_by(entry, *order), type_=JSON)


def _cast_of_scene() -> ColumnElement[Any]:
    """Return the hit's cast as a JSON array, by role, then arrival, then actor (a correlated subquery)."""
    a, cached = scene_actors.c, external_actors_cache.c
    entry = func.json_build_object(
        literal_column("'actor_id'"),
        a.actor_id,
        literal_column("'actor_name'"),
        cached.name,
        literal_column("'character_name'"),
        a.character_name,
        literal_column("'role_type'"),
        a.role_type,
    )
    return (
        select(_json_list(entry, _ROLE_ORDER, a.created_at, a.actor_id))
        .select_from(scene_actors.outerjoin(external_actors_cache, cached.id == a.actor_id))
        .where(a.scene_id == scenes.c.id)
        .scalar_subquery()
    )


def _lines_of_scene() -> ColumnElement[Any]:
    """Return the hit's dialogue lines as a JSON array, by offset (unknown last), arrival and id."""
    d, cached = scene_dialogues.c, external_actors_cache.c
    entry = func.json_build_object(
        literal_column("'text'"),
        d.dialogue_text,
        literal_column("'speaker'"),
        cached.name,
        literal_column("'character'"),
        d.character_name,
        literal_column("'is_memorable'"),
        func.coalesce(d.is_memorable_quote, false()),
        literal_column("'start_offset'"),
        d.start_time_offset,
    )
    return (
        select(_json_list(entry, d.start_time_offset.asc().nulls_last(), d.created_at, d.id))
        .select_from(scene_dialogues.outerjoin(external_actors_cache, cached.id == d.actor_id))
        .where(d.scene_id == scenes.c.id)
        .scalar_subquery()
    )


def _hit(row: Sequence[Any]) -> SearchHit:
    """Return the view of a page row: the hit's columns, score, total, movie, cast and lines, in order."""
    data = dict(zip(_HIT_NAMES, row, strict=False))
    relevance, _total, title, year, director, actors, dialogues = row[len(_HIT_NAMES) :]
    movie = None if title is None else SearchMovie(title=title, release_year=year, director=director)
    data["tags"] = data["tags"] or []
    data["emotional_tags"] = data["emotional_tags"] or []
    data["scene_type"] = data["scene_type"] or "primary"
    return SearchHit.model_validate(
        {
            **data,
            "relevance_score": relevance,
            "movie": movie,
            "actors": actors or [],
            "dialogues": dialogues or [],
        }
    )


_UNDER_RLS = "/* under row-level security */"


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _statements(shape: _Shape) -> tuple[Select[Any], Select[Any]]:
    """Return the page statement of a shape and the count of its hits (for a page past the last hit).

    Built once per shape: the values are bound parameters (``_plan``), so each search pays for
    neither building the statement nor compiling it (SQLAlchemy caches the compiled form).
    """
    where = _filters(shape)
    relevance = _relevance(shape).label("relevance_score")
    # One scan of the hits gives both the page and the total: the window counts every hit
    # before the cursor, the order and the limit apply (a filter cannot cross a window).
    hits = (
        select(scenes.c.id, scenes.c.start_time_seconds, relevance, func.count().over().label("total"))
        .where(where)
        .subquery("hits")
    )
    page = select(hits)
    if shape.after:
        after_relevance = _param("after_relevance", Integer)
        page = page.where(
            or_(
                hits.c.relevance_score < after_relevance,
                and_(
                    hits.c.relevance_score == after_relevance,
                    tuple_(hits.c.start_time_seconds, hits.c.id)
                    > tuple_(_param("after_start", Integer), _param("after_id", scenes.c.id.type)),
                ),
            )
        )
    shown_page = (
        page.order_by(hits.c.relevance_score.desc(), hits.c.start_time_seconds, hits.c.id)
        .limit(_param("limit", Integer))
        .offset(_param("offset", Integer))
        .subquery("page")
    )
    # The hits are ranked on narrow rows (id, start, score); the page's rows, movies, casts
    # and lines only are read in full, in the same statement (one round trip, one snapshot).
    with_movies = (
        select(
            *_HIT_COLUMNS,
            shown_page.c.relevance_score,
            shown_page.c.total,
            _movies_cache.c.title.label("movie_title"),
            _movies_cache.c.release_year,
            _movies_cache.c.director,
            _cast_of_scene().label("actors"),
            _lines_of_scene().label("dialogues"),
        )
        .select_from(
            shown_page.join(scenes, scenes.c.id == shown_page.c.id).outerjoin(
                _movies_cache, _movies_cache.c.id == scenes.c.movie_id
            )
        )
        .order_by(shown_page.c.relevance_score.desc(), shown_page.c.start_time_seconds, shown_page.c.id)
    )
    counted = select(func.count()).select_from(scenes).where(where)
    if shape.under_rls:
        # The same SQL, but a prepared statement of its own: a plan made under the policies is
        # remade whenever the role changes, so owner and callers sharing one would replan often.
        return with_movies.prefix_with(_UNDER_RLS), counted.prefix_with(_UNDER_RLS)
    return with_movies, counted


@dataclasses.dataclass(frozen=True, slots=True)
class _DriverStatement:
    """A search statement compiled once for the driver: its SQL and the order of its parameters."""

    statement: Select[Any]
    compiled: SQLCompiler
    names: tuple[str, ...]

    async def rows(self, conn: AsyncConnection, params: dict[str, Any]) -> Sequence[Sequence[Any]]:
        """Run the statement in ``conn``'s transaction; the rows as the driver gives them (tuples by index).

        Under row-level security the transaction is open on the driver from the start
        (``acting``) and the statement goes to it directly, with the values SQLAlchemy would
        send (``construct_params``: the bound constants and this search's values, every value a
        parameter); otherwise through SQLAlchemy, which begins the owner's transaction.
        """
        driver = transaction_driver(conn)
        rows: Sequence[Sequence[Any]]
        if driver is None:
            rows = (await conn.execute(self.statement, params)).all()
            return rows
        values = self.compiled.construct_params(params)
        rows = await driver.fetch(self.compiled.string, *[values[name] for name in self.names])
        return rows


@functools.lru_cache(maxsize=STATEMENT_CACHE_SIZE)
def _driver_statements(shape: _Shape, dialect: Dialect) -> tuple[_DriverStatement, _DriverStatement]:
    """Return a shape's page and count statements (``_statements``) compiled for ``dialect``'s driver."""

    def compiled(statement: Select[Any]) -> _DriverStatement:
        done = statement.compile(dialect=dialect)
        return _DriverStatement(statement, done, tuple(done.positiontup or ()))

    page, counted = _statements(shape)
    return compiled(page), compiled(counted)


_TOTAL = len(_HIT_NAMES) + 1
"""Index of the window's count of hits in a page row (after the hit's columns and its score)."""


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
        shape, params = _plan(search, under_rls=identity is not None, limit=limit, offset=offset, after=after)
        page, counted = _driver_statements(shape, self._engine.dialect)
        async with reading(self._engine, identity, isolation="REPEATABLE READ", generic_plans=True) as conn:
            rows = await page.rows(conn, params)
            # A page past the last hit carries no row to read the window's count from.
            total = int(rows[0][_TOTAL]) if rows else int((await counted.rows(conn, params))[0][0])
        items = [_hit(r) for r in rows[:limit]]
        last = items[-1] if len(rows) > limit else None
        cursor = (
            None
            if last is None
            else encode_search_cursor(last.relevance_score, last.start_time_seconds, last.id)
        )
        return SearchPage(total=total, items=items, next=cursor)
