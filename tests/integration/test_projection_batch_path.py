"""The runner's batch apply path builds exactly the read models of the one-by-one path.

Random event sequences (with redeliveries and poison events) go through every projection of
the Scene, Movie, Actor and User services twice, into two scratch schemas: once with the batch
functions, once without. Every table of the two schemas must then be equal.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import date
from itertools import count, pairwise
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from commands.movie import GENRES
from events.actor import ActorRegistered, FilmographyEntryAdded
from events.base import DomainEvent, EventMetadata, RecordedEvent
from events.movie import MovieGenresAssigned, MovieRegistered
from events.scene import (
    DialogueAdded,
    NestedSceneAttached,
    ParallelGroupCreated,
    SceneActorAdded,
    SceneAddedToParallelGroup,
    SceneCreated,
    SceneDeleted,
    SceneDetailsEdited,
    SceneReclassified,
    SceneRetimed,
)
from events.user import MovieAddedToWatchList, UserRegistered
from infra.db import create_pool
from infra.replay import ReplayEngine, compare_schemas
from infra.services import build_registry, service, topic_by_stream_type
from infra.services.scene import SCENES_PROJECTION
from infra.settings import Settings
from projections.runner import Delivery, Projection, ProjectionRunner

pytestmark = pytest.mark.integration

SERVICES = ("scene", "movie", "actor", "user")
_offsets = count(1)
_GENRE_IDS = [g.id for g in GENRES.values()]
_HASH = "argon2id-stand-in"  # the projection stores whatever hash it is given


class _Scenario:
    """A random, per-stream valid event sequence over a few movies, actors and scenes."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[DomainEvent] = []
        self.versions: dict[UUID, int] = {}
        self.movies = [uuid4() for _ in range(2)]
        self.actors = [uuid4() for _ in range(3)]
        self.scenes: list[UUID] = []
        self.scene_movie: dict[UUID, UUID] = {}
        self.deleted: set[UUID] = set()
        self.groups: list[tuple[UUID, UUID]] = []
        self.entries: set[tuple[UUID, UUID]] = set()
        self.watchers: list[UUID] = []
        self.watched: set[tuple[UUID, UUID]] = set()

    def _next(self, stream: UUID) -> int:
        self.versions[stream] = self.versions.get(stream, 0) + 1
        return self.versions[stream]

    def _emit(self, event_type: type[DomainEvent], stream: UUID, **fields: Any) -> None:
        self.events.append(event_type(stream_id=stream, stream_version=self._next(stream), **fields))

    def _live_scene(self) -> UUID | None:
        alive = [s for s in self.scenes if s not in self.deleted]
        return self.rng.choice(alive) if alive else None

    def step(self) -> None:  # noqa: C901, PLR0912  one branch per kind of event
        rng = self.rng
        kind = rng.choice(
            ["movie", "genres", "actor", "entry", "create", "create", "create", "retime", "reclassify",
             "edit", "cast", "cast", "dialogue", "dialogue", "nest", "delete", "group", "member", "watch"],
        )  # fmt: skip
        movie, actor, scene = rng.choice(self.movies), rng.choice(self.actors), self._live_scene()
        if kind == "movie" and movie not in self.versions:
            self._emit(MovieRegistered, movie, title=f"映画 {rng.randrange(9)}", release_year=1954)
        elif kind == "genres" and movie in self.versions:
            genres = rng.sample(_GENRE_IDS, rng.randrange(0, 3))
            self._emit(
                MovieGenresAssigned, movie, genre_ids=genres, primary_genre_id=genres[0] if genres else None
            )
        elif kind == "actor" and actor not in self.versions:
            # Few names and birth dates: registrations contest the unique (name, birth_date).
            self._emit(
                ActorRegistered,
                actor,
                name=rng.choice(["三船敏郎", "原節子"]),
                birth_date=rng.choice([None, date(1920, 4, 1)]),
            )
        elif kind == "entry" and actor in self.versions and (actor, movie) not in self.entries:
            self.entries.add((actor, movie))
            self._emit(FilmographyEntryAdded, actor, movie_id=movie, role_type="lead")
        elif kind == "watch":
            self._watch(movie)
        elif kind == "create":
            new = uuid4()
            parent = scene if scene and rng.random() < 0.3 else None
            start = rng.randrange(0, 500)
            self.scenes.append(new)
            self.scene_movie[new] = movie
            self._emit(
                SceneCreated,
                new,
                movie_id=movie,
                start_time_seconds=start,
                end_time_seconds=start + rng.randrange(1, 90),
                level1_classification="L",
                level2_classification=rng.choice(["L2", "L3"]),
                parent_scene_id=parent,
                tags=tuple(rng.sample(["rain", "夜", "city"], rng.randrange(0, 3))),
            )
        elif scene is None:
            return
        elif kind == "retime":
            start = rng.randrange(0, 500)
            self._emit(
                SceneRetimed,
                scene,
                movie_id=self.scene_movie[scene],
                start_time_seconds=start,
                end_time_seconds=start + rng.randrange(1, 90),
            )
        elif kind == "reclassify":
            self._emit(
                SceneReclassified,
                scene,
                movie_id=self.scene_movie[scene],
                level1_classification="A",
                level2_classification=rng.choice(["A1", "A2"]),
            )
        elif kind == "edit":
            self._emit(
                SceneDetailsEdited,
                scene,
                movie_id=self.scene_movie[scene],
                description=f"編集 {rng.random()}",
            )
        elif kind == "cast":
            self._emit(
                SceneActorAdded,
                scene,
                movie_id=self.scene_movie[scene],
                actor_id=actor,
                character_name=rng.choice(["菊千代", None]),
            )
        elif kind == "dialogue":
            self._emit(
                DialogueAdded,
                scene,
                movie_id=self.scene_movie[scene],
                dialogue_id=uuid4(),
                actor_id=actor,
                dialogue_text=rng.choice(["猫が好きだ", "I like cats"]),
                is_memorable_quote=rng.random() < 0.3,
            )
        elif kind == "nest":
            self._emit(
                NestedSceneAttached,
                scene,
                movie_id=self.scene_movie[scene],
                child_scene_id=uuid4(),
                start_time_seconds=1,
                end_time_seconds=2,
            )
        elif kind == "delete":
            self.deleted.add(scene)
            self._emit(SceneDeleted, scene, movie_id=self.scene_movie[scene])
        elif kind == "group":
            group = uuid4()
            self.groups.append((group, self.scene_movie[scene]))
            self._emit(
                ParallelGroupCreated,
                group,
                movie_id=self.scene_movie[scene],
                start_time_seconds=0,
                end_time_seconds=60,
                relation_type="split_screen",
            )
        elif kind == "member" and self.groups:
            group, group_movie = rng.choice(self.groups)
            self._emit(SceneAddedToParallelGroup, group, movie_id=group_movie, scene_id=scene)

    def _watch(self, movie: UUID) -> None:
        # Watch-list entries carry a scene count the users projection recounts per movie.
        if not self.watchers or self.rng.random() < 0.3:
            self.watchers.append(user := uuid4())
            self._emit(UserRegistered, user, email=f"{user.hex}@example.com", password_hash=_HASH)
        user = self.rng.choice(self.watchers)
        if (user, movie) not in self.watched:
            self.watched.add((user, movie))
            self._emit(MovieAddedToWatchList, user, entry_id=uuid4(), movie_id=movie)

    def poison(self) -> None:
        """One event each projection kind cannot apply (a CHECK or trigger rejects it)."""
        rng = self.rng
        kind = rng.choice(["scene", "actor", "genres"])
        if kind == "scene":
            new = uuid4()
            self.scenes.append(new)
            self.scene_movie[new] = self.movies[0]
            self._emit(
                SceneCreated,
                new,
                movie_id=self.movies[0],
                start_time_seconds=1,
                end_time_seconds=2,
                level1_classification="L",
                level2_classification="X9",
            )
        elif kind == "actor" and (fresh := uuid4()):
            self.actors.append(fresh)
            self._emit(ActorRegistered, fresh, name="不正", name_kana="abc")
        elif self.movies[0] in self.versions:
            self._emit(MovieGenresAssigned, self.movies[0], genre_ids=_GENRE_IDS[:2], primary_genre_id=None)


def _deliveries(events: Sequence[DomainEvent], rng: random.Random) -> list[Delivery]:
    """Deliveries in log order, with some records delivered again later (same offset)."""
    topics = topic_by_stream_type()
    out = [
        Delivery(
            topic=topics[e.stream_type],
            partition=0,
            offset=next(_offsets),
            headers=(),
            value=json.dumps(e.payload(), default=str).encode(),
            recorded=RecordedEvent(event=e, position=i + 1, metadata=EventMetadata()),
        )
        for i, e in enumerate(events)
    ]
    for _ in range(len(out) // 8):
        again = rng.choice(out)
        out.insert(rng.randrange(out.index(again) + 1, len(out) + 1), again)
    return out


def _cuts(n: int, rng: random.Random) -> list[tuple[int, int]]:
    cuts = sorted({0, n, *(rng.randrange(n + 1) for _ in range(rng.randrange(0, 4)))})
    return list(pairwise(cuts))


ON_A_DATABASE = settings(
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # shrinking replays on a database: too slow to help
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
"""Hypothesis settings of the property tests that run their examples on a database."""


def scenario_batches(seed: int, steps: int, poisons: int) -> tuple[list[Delivery], list[tuple[int, int]]]:
    """A random scenario's deliveries (some redelivered, ``poisons`` bad events) and the batches' bounds."""
    rng = random.Random(seed)
    scenario = _Scenario(rng)
    poison_at = {rng.randrange(steps) for _ in range(poisons)}
    for i in range(steps):
        if i in poison_at:
            scenario.poison()
        scenario.step()
    deliveries = _deliveries(scenario.events, rng)
    return deliveries, _cuts(len(deliveries), rng)


Pools = dict[str, asyncpg.Pool]


async def _apply(
    pools: Pools,
    deliveries: list[Delivery],
    cuts: list[tuple[int, int]],
    *,
    batch: bool,
    override: Callable[[Projection], Projection] = lambda p: p,
) -> None:
    for name in SERVICES:
        for p in service(name).projections:
            if batch:
                projection = override(p.projection)
            else:
                projection = dataclasses.replace(p.projection, batch_handlers={}, commuting=frozenset())
            runner = ProjectionRunner(pools[name], projection)
            mine = [d for d in deliveries if d.topic in p.topics]
            for lo, hi in cuts:
                if part := list(mine[lo:hi]):
                    await runner.handle_batch(part)


_BOOKKEEPING = {
    "projection_stream_versions": "SELECT projection, stream_id, stream_version, position FROM {}.{}",
    "projection_offsets": "SELECT projection, topic, partition, next_offset, last_position FROM {}.{}",
    "projection_dead_letters": (
        'SELECT projection, stream_id, stream_version, topic, partition, "offset", '
        "split_part(error, E'\\n', 1), "  # DETAIL lines may quote generated ids
        "parked_behind IS NULL AS head, resolved_at IS NULL AS open FROM {}.{}"
    ),
}


async def _differences(settings: Settings, one: str, many: str) -> list[str]:
    found: list[str] = []
    for name in SERVICES:
        conn = await asyncpg.connect(settings.dsn_for(name))
        try:
            found += [f"{name}: {d.describe()}" for d in await compare_schemas(conn, one, many)]
            for table, query in _BOOKKEEPING.items():
                a = {tuple(r) for r in await conn.fetch(query.format(one, table))}
                b = {tuple(r) for r in await conn.fetch(query.format(many, table))}
                if a != b:
                    found.append(f"{name}.{table}: one-by-one only {a - b}, batch only {b - a}")
        finally:
            await conn.close()
    return found


@dataclasses.dataclass(frozen=True)
class Schemas:
    """Two empty read-model schemas in each service database, and pools reading them."""

    one_name: str
    many_name: str
    one: Pools
    many: Pools


@pytest.fixture(name="schemas")
async def fx_schemas(settings: Settings) -> AsyncIterator[Schemas]:
    """Two empty read-model schemas per service: for the one-by-one path and the batch path."""
    engine = ReplayEngine(settings, build_registry())
    suffix = uuid4().hex[:8]
    names = (f"batch_eq_one_{suffix}", f"batch_eq_many_{suffix}")
    pools: tuple[Pools, Pools] = ({}, {})
    try:
        for name in SERVICES:
            for schema, by_service in zip(names, pools, strict=True):
                await engine.create_schema(service(name), schema)
                by_service[name] = await create_pool(
                    settings.dsn_for(name), max_size=2, server_settings={"search_path": schema}
                )
        yield Schemas(names[0], names[1], *pools)
    finally:
        for by_service in pools:
            for pool in by_service.values():
                await pool.close()
        for name in SERVICES:
            for schema in names:
                await engine.drop_schema(service(name), schema)


@settings(ON_A_DATABASE, max_examples=25)
@given(seed=st.integers(0, 2**32 - 1), steps=st.integers(10, 120), poisons=st.integers(0, 2))
async def test_batch_path_builds_the_same_read_models_as_one_by_one(
    settings: Settings,
    schemas: Schemas,
    seed: int,
    steps: int,
    poisons: int,
) -> None:
    deliveries, cuts = scenario_batches(seed, steps, poisons)
    await _apply(schemas.one, deliveries, cuts, batch=False)
    await _apply(schemas.many, deliveries, cuts, batch=True)
    assert await _differences(settings, schemas.one_name, schemas.many_name) == []


async def test_the_comparison_catches_a_batch_function_that_drops_an_event(
    settings: Settings, schemas: Schemas
) -> None:
    async def first_only(conn: asyncpg.Connection, events: Sequence[DomainEvent]) -> None:
        handler = SCENES_PROJECTION.handlers[SceneRetimed]
        await handler(conn, events[0])

    def broken(p: Projection) -> Projection:
        if p.name != "scenes":
            return p
        return dataclasses.replace(p, batch_handlers={**p.batch_handlers, SceneRetimed: first_only})

    movie = uuid4()
    scenes = [uuid4(), uuid4()]
    events: list[DomainEvent] = [
        SceneCreated(
            stream_id=scene,
            stream_version=1,
            movie_id=movie,
            start_time_seconds=0,
            end_time_seconds=10,
            level1_classification="L",
            level2_classification="L2",
        )
        for scene in scenes
    ]
    events += [
        SceneRetimed(
            stream_id=scene, stream_version=2, movie_id=movie, start_time_seconds=5, end_time_seconds=20
        )
        for scene in scenes
    ]
    deliveries = _deliveries(events, random.Random(0))[:4]  # the two retimes form one group
    await _apply(schemas.one, deliveries, [(0, 4)], batch=False)
    await _apply(schemas.many, deliveries, [(0, 4)], batch=True, override=broken)
    assert any("scenes:" in d for d in await _differences(settings, schemas.one_name, schemas.many_name))
