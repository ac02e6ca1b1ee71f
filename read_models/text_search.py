"""Japanese and English substring search over dialogue lines and scene descriptions, and memorable quotes."""

from __future__ import annotations

import time
import unicodedata
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict
from sqlalchemy import ARRAY, Boolean, ColumnElement, Select, Text, any_, cast, func, literal, select
from sqlalchemy.dialects.postgresql import UUID as PGUUID
from sqlalchemy.ext.asyncio import AsyncEngine

from infra.auth import Identity
from read_models.rls import reading
from read_models.scenes import (
    DialogueView,
    external_actors_cache,
    external_movies_cache,
    scene_dialogues,
    scenes,
)

MAX_QUERY_LENGTH = 100
"""Longest search text accepted, in characters after trimming."""


def normalise(text: str) -> str:
    """Return ``text`` as search compares it: NFKC, then lower-case (as ``search_normalise`` in SQL).

    Python's ``str.lower`` and PostgreSQL's ``lower`` agree on kana, kanji, ASCII and the
    full-width forms; they differ on a few letters (``İ``), which tests leave out.
    """
    return unicodedata.normalize("NFKC", text).lower()


def tokens(text: str) -> frozenset[str]:
    """Return the index keys of ``text``: every 1- and 2-character substring of its normalised form."""
    n = normalise(text)
    return frozenset(n[i : i + size] for size in (1, 2) for i in range(len(n) - size + 1))


def query_tokens(query: str) -> frozenset[str]:
    """Return the keys a matching text must have: the unigram of a 1-character query, else its bigrams."""
    n = normalise(query)
    if len(n) <= 1:
        return frozenset({n} if n else ())
    return frozenset(n[i : i + 2] for i in range(len(n) - 1))


def matches(text: str | None, query: str) -> bool:
    """Return whether ``text`` contains ``query`` once both are normalised (the reference for the index)."""
    return text is not None and normalise(query) in normalise(text)


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class DialogueHit(DialogueView):
    """A dialogue line with its scene's movie and time range; ``movie_title`` comes from the movies cache."""

    movie_id: UUID
    movie_title: str | None
    scene_start_time_seconds: int
    scene_end_time_seconds: int


class SceneHit(_View):
    """A scene whose description matched; ``movie_title`` comes from the movies cache."""

    id: UUID
    movie_id: UUID
    movie_title: str | None
    scene_number: int | None
    start_time_seconds: int
    end_time_seconds: int
    level1_classification: str
    level2_classification: str
    level3_classification: str | None
    scene_type: str | None
    description: str | None
    tags: list[str]


def _mapping(row: Any) -> dict[str, Any]:  # noqa: ANN401  a SQLAlchemy Row
    return dict(row._mapping)  # noqa: SLF001  Row's public mapping view


def _dialogue_hits() -> Select[Any]:
    return select(
        scene_dialogues,
        external_actors_cache.c.name.label("speaker_name"),
        scenes.c.movie_id,
        external_movies_cache.c.title.label("movie_title"),
        scenes.c.start_time_seconds.label("scene_start_time_seconds"),
        scenes.c.end_time_seconds.label("scene_end_time_seconds"),
    ).select_from(
        scene_dialogues.join(scenes, scenes.c.id == scene_dialogues.c.scene_id)
        .outerjoin(external_actors_cache, external_actors_cache.c.id == scene_dialogues.c.actor_id)
        .outerjoin(external_movies_cache, external_movies_cache.c.id == scenes.c.movie_id)
    )


# Movie, then timeline order; the ids make pages stable.
_DIALOGUE_ORDER = (
    scenes.c.movie_id,
    scenes.c.start_time_seconds,
    scene_dialogues.c.start_time_offset.asc().nulls_last(),
    scene_dialogues.c.id,
)


def _dialogue_hit(row: Any) -> DialogueHit:  # noqa: ANN401  a SQLAlchemy Row
    data = _mapping(row)
    data["is_memorable_quote"] = bool(data["is_memorable_quote"])
    return DialogueHit.model_validate(data)


def scene_ids_matching(query: str) -> ColumnElement[bool]:
    """Return the condition "the scene's description contains ``query``" (index-backed, see 0005)."""
    ids = select(func.search_scene_ids(query, type_=PGUUID(as_uuid=True))).scalar_subquery()
    return scenes.c.id.in_(ids)


SearchStrategy = Literal["index", "walk"]
"""How a dialogue search finds its page: "index" collects every matching line through the token
indexes (0005) then sorts them; "walk" reads the lines in page order, testing each, up to the page."""

WALK_LINE_COST = 0.1
"""Cost of a line read by the walk relative to a matching line of the index path.

Measured at 1M bulk-loaded lines (scene_service 0018, warm cache, a busy 2-core machine): the
walk 0.3-0.55 µs per line read (an index-only scan of the page-order index, which carries the
texts), the index path 4-9 µs per match (bitmap heap row, sorted on its own columns); both cost
the same at a share of ~0.22% for a page of 50. With 0011's walk (a heap row per line read)
~1.2 µs, ratio 0.6; before 0011 ~14 and ~30 µs, every line joined its scene. A line on a heap
page that is not all-visible yet costs the walk a heap read again, as with 0011.
"""


def choose_strategy(share: float, lines: float, needed: int) -> SearchStrategy:
    """Return the cheaper path for a page of ``needed`` hits (offset + limit).

    ``share`` is the term's estimated share of the ``lines`` (``search_dialogue_share``, 0008). The
    walk reads about ``needed / share`` lines, whatever the table's size; the index path handles
    every matching line, ``share * lines``, a number that grows with the table.
    """
    if share <= 0:
        return "index"
    return "walk" if needed / share * WALK_LINE_COST < share * lines else "index"


SHARE_TTL_SECONDS = 60.0
"""How long a term's estimated share is reused before it is read again (see :class:`ShareCache`)."""
SHARE_CACHE_SIZE = 1024
"""Terms whose share is remembered; the least recently used one goes first."""


class ShareCache:
    """The recent terms' (share, lines) estimates, so that a repeated term skips the statistics read.

    ``search_dialogue_share()`` reads the token indexes' statistics, which change only when
    ANALYZE runs; it cost 2-3 ms of a 7-15 ms search at 1M lines. A stale estimate only picks the
    slower of two paths that return the same lines, so reusing one for a minute is safe.
    """

    def __init__(
        self,
        *,
        ttl: float = SHARE_TTL_SECONDS,
        size: int = SHARE_CACHE_SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl = ttl
        self._size = size
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, float, float]] = OrderedDict()

    def get(self, term: str) -> tuple[float, float] | None:
        """Return the (share, lines) remembered for ``term``, or ``None`` if unknown or expired."""
        entry = self._entries.get(term)
        if entry is None:
            return None
        share, lines, expires = entry
        if self._clock() >= expires:
            del self._entries[term]
            return None
        self._entries.move_to_end(term)
        return share, lines

    def put(self, term: str, share: float, lines: float) -> None:
        """Remember ``term``'s estimate for the cache's time to live."""
        self._entries[term] = (share, lines, self._clock() + self._ttl)
        self._entries.move_to_end(term)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)


WIDEN_FACTOR = 4
"""How many times more candidates a dialogue page asks for when the caller may not see some."""

PUBLIC_ONLY_ROLES: frozenset[str] = frozenset({"viewer", "contributor"})
"""Roles whose policy on scenes (scene_service 0006) is "the movie is public": their page's
candidates can skip the other movies' lines (``public_only`` of 0011); the policies still apply."""


def _page_candidates(
    query: str,
    strategy: SearchStrategy,
    movie_id: UUID | None,
    language: str | None,
    memorable: bool | None,
    identity: Identity | None,
    wanted: int,
) -> ColumnElement[UUID]:
    """Return the ids of the first ``wanted`` matching lines in page order, read as the owner (0011, 0018)."""
    ids = func.search_dialogue_page_ids(
        literal(query, Text),
        strategy == "walk",
        literal(movie_id, PGUUID(as_uuid=True)),
        literal(language, Text),
        literal(memorable, Boolean),
        identity is not None and identity.role in PUBLIC_ONLY_ROLES,
        wanted,
        type_=PGUUID(as_uuid=True),
    )
    return ids.column_valued("line_id")


class TextSearchQueries:
    """Substring search and memorable quotes over the Scene service's read model.

    Reads given an ``identity`` run under row-level security (what that user may see);
    without one they read as the tables' owner (the system itself: CLI, tests).
    """

    def __init__(self, engine: AsyncEngine, *, shares: ShareCache | None = None) -> None:
        self._engine = engine
        self._shares = ShareCache() if shares is None else shares

    async def _dialogues(self, query: Select[Any], identity: Identity | None) -> list[DialogueHit]:
        async with reading(self._engine, identity) as conn:
            rows = (await conn.execute(query)).all()
        return [_dialogue_hit(r) for r in rows]

    async def search_dialogues(
        self,
        text: str,
        *,
        language: str | None = None,
        memorable: bool | None = None,
        movie_id: UUID | None = None,
        limit: int = 50,
        offset: int = 0,
        identity: Identity | None = None,
        strategy: SearchStrategy | None = None,
    ) -> list[DialogueHit]:
        """Return the lines whose text or subtitle contains ``text`` (NFKC, case-insensitive).

        Ordered by movie, scene start, the line's offset and id. ``language``, ``memorable`` and
        ``movie_id`` narrow the result when given. ``strategy`` is chosen from the term's share of
        the lines (see :func:`choose_strategy`) unless given; both give the same lines.
        """
        needed = offset + limit
        if needed <= 0 or limit <= 0:
            return []
        async with reading(self._engine, identity) as conn:
            # JIT is off for the whole session (infra.db.SESSION_SETTINGS): the walk's estimated
            # cost (the whole ordered scan) passes jit_above_cost, yet it stops after a page, and
            # compiling the plan cost ~100 ms, twice the query itself (1M lines, RLS).
            if strategy is None:
                # A term's keys are those of its normalised text (search_query_tokens), so is its share.
                term = normalise(text)
                known = self._shares.get(term)
                if known is None:
                    estimate = func.search_dialogue_share(text).table_valued("share", "lines")
                    share, lines = (await conn.execute(select(estimate.c.share, estimate.c.lines))).one()
                    known = (float(share), float(lines))
                    self._shares.put(term, *known)
                strategy = choose_strategy(*known, needed)
            # The first ``wanted`` matches in page order, as the tables' owner (0011); the policies
            # then apply to those rows only. When some are hidden from the caller the page may
            # lack rows: ask again for more candidates, until the page is full or none are left.
            wanted = needed
            while True:
                candidates = _page_candidates(text, strategy, movie_id, language, memorable, identity, wanted)
                # "= ANY(one array)": one primary-key look-up per candidate, as in read_models/search.py.
                ids = select(func.array_agg(candidates)).scalar_subquery()
                query = (
                    _dialogue_hits()
                    .where(scene_dialogues.c.id == any_(cast(ids, ARRAY(PGUUID(as_uuid=True)))))
                    .order_by(*_DIALOGUE_ORDER)
                    .limit(needed)
                )
                rows = (await conn.execute(query)).all()
                if len(rows) >= needed or identity is None:
                    break
                found = (await conn.execute(select(func.count(candidates)))).scalar_one()
                if found < wanted:
                    break
                wanted *= WIDEN_FACTOR
        return [_dialogue_hit(r) for r in rows[offset:]]

    async def search_descriptions(
        self, text: str, *, limit: int = 50, offset: int = 0, identity: Identity | None = None
    ) -> list[SceneHit]:
        """Return the scenes whose description contains ``text``, by movie and start time."""
        query = (
            select(
                scenes.c.id,
                scenes.c.movie_id,
                external_movies_cache.c.title.label("movie_title"),
                scenes.c.scene_number,
                scenes.c.start_time_seconds,
                scenes.c.end_time_seconds,
                scenes.c.level1_classification,
                scenes.c.level2_classification,
                scenes.c.level3_classification,
                scenes.c.scene_type,
                scenes.c.description,
                scenes.c.tags,
            )
            .select_from(
                scenes.outerjoin(external_movies_cache, external_movies_cache.c.id == scenes.c.movie_id)
            )
            .where(scene_ids_matching(text))
            .order_by(scenes.c.movie_id, scenes.c.start_time_seconds, scenes.c.end_time_seconds, scenes.c.id)
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine, identity) as conn:
            rows = (await conn.execute(query)).all()
        hits = []
        for row in rows:
            data = _mapping(row)
            data["tags"] = data["tags"] or []
            hits.append(SceneHit.model_validate(data))
        return hits

    async def movie_memorable_quotes(
        self, movie_id: UUID, *, limit: int = 100, offset: int = 0, identity: Identity | None = None
    ) -> list[DialogueHit] | None:
        """Return a movie's memorable quotes in timeline order; ``None`` if the movie is unknown here."""
        query = (
            _dialogue_hits()
            .where(scenes.c.movie_id == movie_id, scene_dialogues.c.is_memorable_quote.is_(True))
            .order_by(*_DIALOGUE_ORDER)
            .limit(limit)
            .offset(offset)
        )
        async with reading(self._engine, identity, isolation="REPEATABLE READ") as conn:
            rows = (await conn.execute(query)).all()
            if not rows:
                known = select(external_movies_cache.c.id).where(external_movies_cache.c.id == movie_id)
                if (await conn.execute(known)).first() is None:
                    return None
        return [_dialogue_hit(r) for r in rows]

    async def memorable_quotes(
        self, *, limit: int = 100, offset: int = 0, identity: Identity | None = None
    ) -> list[DialogueHit]:
        """Return every memorable quote, by movie and timeline order."""
        query = (
            _dialogue_hits()
            .where(scene_dialogues.c.is_memorable_quote.is_(True))
            .order_by(*_DIALOGUE_ORDER)
            .limit(limit)
            .offset(offset)
        )
        return await self._dialogues(query, identity)
