"""The movie-removal saga on the real stack: all of a movie goes, or, after a failure at any step, nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from commands.actor import AddFilmographyEntry, CastCharacter, RegisterActor
from commands.errors import InvalidCommandError
from commands.movie import BeginMovieRemoval, RegisterMovie
from commands.review import PostReview, ReactToReview
from commands.scene import AddDialogue, AddSceneActor, CreateScene
from commands.user import AddMovieToWatchList, RegisterUser, UpdateWatchListEntry
from events.base import EventMetadata
from events.saga import SagaStepCompensated
from infra.api import create_app
from infra.auth import bearer_headers
from infra.sagas_cli import EXIT_NOT_FOUND
from infra.sagas_cli import app as sagas_app
from sagas.movie_removal import MOVIE_REMOVAL, MovieRemovalRequest
from sagas.runner import start_saga
from tests.acting import AS_SYSTEM
from tests.integration.saga_support import SagaEnv, saga_env_fixture

pytestmark = pytest.mark.integration

STEPS = (
    "begin-removal",
    "watch-list:user",
    "filmography:actor",
    "review:movie_review",
    "review:scene_review",
    "scene:nested",
    "scene:parent",
    "remove-movie",
)
"""The plan for :func:`_world`: reversible steps first, nested scenes before their parents, the movie last."""


@pytest.fixture(name="env", scope="module")
async def fx_env(endpoints: tuple[str, str]) -> AsyncIterator[SagaEnv]:
    """This module's namespace, relay and projectors."""
    async for env in saga_env_fixture(endpoints):
        yield env


@dataclass(frozen=True, slots=True)
class World:
    """A movie with a nested scene, a cast actor with a character, a watcher, and two reviews."""

    movie: UUID
    parent: UUID
    nested: UUID
    actor: UUID
    user: UUID
    fan: UUID
    movie_review: UUID
    scene_review: UUID

    def step(self, name: str) -> str:
        """The real name of a step of :data:`STEPS`."""
        kind, _, who = name.partition(":")
        return f"{kind}:{getattr(self, who)}" if who else name

    def streams(self) -> list[UUID]:
        """Every stream the saga may touch."""
        return [
            self.movie,
            self.parent,
            self.nested,
            self.actor,
            self.user,
            self.fan,
            self.movie_review,
            self.scene_review,
        ]


async def _world(env: SagaEnv) -> World:
    bus = env.system.bus
    movie = RegisterMovie(title=f"映画{uuid4().hex[:6]}")
    actor = RegisterActor(name=f"俳優{uuid4().hex[:6]}")
    user = RegisterUser(email=f"{uuid4().hex[:10]}@example.com", password=SecretStr("correct horse battery"))
    fan = RegisterUser(email=f"{uuid4().hex[:10]}@example.com", password=SecretStr("correct horse battery"))
    for cmd in (movie, actor, user, fan):
        await bus.dispatch(cmd, AS_SYSTEM)
    parent = CreateScene(movie_id=movie.movie_id, start="1:00", end="3:00", classification="A1", tags=("雨",))
    nested = CreateScene(
        movie_id=movie.movie_id,
        start="1:30",
        end="2:00",
        classification="L2-3",
        scene_type="nested",
        parent_scene_id=parent.scene_id,
    )
    await bus.dispatch(parent, AS_SYSTEM)
    await bus.dispatch(nested, AS_SYSTEM)
    await bus.dispatch(
        AddSceneActor(scene_id=parent.scene_id, actor_id=actor.actor_id, character_name="瀧"), AS_SYSTEM
    )
    await bus.dispatch(
        AddDialogue(
            scene_id=parent.scene_id, actor_id=actor.actor_id, dialogue_text="君の名は", start_time_offset=3
        ),
        AS_SYSTEM,
    )
    await bus.dispatch(
        AddFilmographyEntry(
            actor_id=actor.actor_id, movie_id=movie.movie_id, role_type="lead", billing_order=1
        ),
        AS_SYSTEM,
    )
    await bus.dispatch(
        CastCharacter(
            actor_id=actor.actor_id, movie_id=movie.movie_id, character_name="立花瀧", is_main=True
        ),
        AS_SYSTEM,
    )
    as_user = EventMetadata(user_id=user.user_id, user_role="viewer")
    await bus.dispatch(
        AddMovieToWatchList(
            user_id=user.user_id,
            movie_id=movie.movie_id,
            status="watching",
            priority=2,
            notes="続き",
            tags=("冬",),
        ),
        as_user,
    )
    await bus.dispatch(
        UpdateWatchListEntry(
            user_id=user.user_id,
            movie_id=movie.movie_id,
            watched_scenes_count=1,
            last_watched_scene_id=parent.scene_id,
        ),
        as_user,
    )
    movie_review = PostReview(user_id=user.user_id, movie_id=movie.movie_id, content="名作", rating=5)
    scene_review = PostReview(user_id=user.user_id, scene_id=nested.scene_id, content="泣いた", rating=4)
    await bus.dispatch(movie_review, as_user)
    await bus.dispatch(scene_review, as_user)
    await bus.dispatch(
        ReactToReview(review_id=movie_review.review_id, user_id=fan.user_id, kind="like"),
        EventMetadata(user_id=fan.user_id, user_role="viewer"),
    )
    world = World(
        movie=movie.movie_id,
        parent=parent.scene_id,
        nested=nested.scene_id,
        actor=actor.actor_id,
        user=user.user_id,
        fan=fan.user_id,
        movie_review=movie_review.review_id,
        scene_review=scene_review.review_id,
    )
    await _settled(env, world)
    return world


async def _settled(env: SagaEnv, world: World) -> None:
    """Wait until every read database has applied every stream of the world as the log now has it."""
    heads = await env.head_versions(*world.streams())
    scenes = [world.parent, world.nested]
    reviews = [world.movie_review, world.scene_review]
    await env.projected(
        heads,
        where={
            "scene": [*scenes, world.movie, world.actor],
            "movie": [world.movie, *scenes, *reviews],
            "actor": [world.actor, *scenes, *reviews],
            "user": [world.user, *scenes],
            "review": reviews,
        },
    )


async def _rows(pool: asyncpg.Pool, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return sorted(tuple(str(v) for v in r.values()) for r in await pool.fetch(sql, *args))


async def snapshot(env: SagaEnv, world: World) -> dict[str, list[tuple[Any, ...]]]:
    """What the five read databases say about everything that hangs on the movie."""
    pools = env.system.pools
    m = world.movie
    return {
        "scenes": await _rows(
            pools["scene"],
            "SELECT id, parent_scene_id, start_time_seconds, end_time_seconds, level3_classification, tags "
            "FROM scenes WHERE movie_id = $1",
            m,
        ),
        "scene_actors": await _rows(
            pools["scene"],
            "SELECT a.scene_id, a.actor_id, a.character_name FROM scene_actors a "
            "JOIN scenes s ON s.id = a.scene_id WHERE s.movie_id = $1",
            m,
        ),
        "dialogues": await _rows(
            pools["scene"],
            "SELECT d.id, d.dialogue_text, d.start_time_offset FROM scene_dialogues d "
            "JOIN scenes s ON s.id = d.scene_id WHERE s.movie_id = $1",
            m,
        ),
        "movie": await _rows(
            pools["movie"],
            "SELECT title, total_scenes_count, ratings_count, avg_rating FROM movies WHERE id = $1",
            m,
        ),
        "filmography": await _rows(
            pools["actor"],
            "SELECT actor_id, role_type, billing_order, total_scenes FROM filmography WHERE movie_id = $1",
            m,
        ),
        "characters": await _rows(
            pools["actor"], "SELECT id, character_name, is_main FROM character_roles WHERE movie_id = $1", m
        ),
        "actor": await _rows(
            pools["actor"],
            "SELECT total_movies_count, total_scenes_count FROM actors WHERE id = $1",
            world.actor,
        ),
        "watch_list": await _rows(
            pools["user"],
            "SELECT id, user_id, status, priority, notes, tags, watched_scenes_count, total_scenes_count, "
            "last_watched_scene_id FROM watch_lists WHERE movie_id = $1",
            m,
        ),
        "reviews": await _rows(
            pools["review"],
            "SELECT id, user_id, movie_id, scene_id, content, rating, likes_count FROM reviews "
            "WHERE id = ANY($1::uuid[])",
            [world.movie_review, world.scene_review],
        ),
    }


async def _start(env: SagaEnv, world: World) -> UUID:
    return await start_saga(
        MOVIE_REMOVAL,
        MovieRemovalRequest(movie_id=world.movie),
        ctx=env.ctx,
        command_types=env.system.bus.command_types,
        metadata=AS_SYSTEM,
    )


async def test_the_plan_puts_reversible_steps_first_nested_scenes_before_parents_and_the_movie_last(
    env: SagaEnv,
) -> None:
    world = await _world(env)
    saga_id = await _start(env, world)
    saga = await env.saga(saga_id)
    assert [p.name for p in saga.plan] == [world.step(s) for s in STEPS]
    assert saga.plan[-1].compensation == ()


async def test_the_plan_carries_no_watch_list_notes(env: SagaEnv) -> None:
    # The saga's stream is not sealed: a user's notes must stay in the user's own stream.
    world = await _world(env)
    saga_id = await _start(env, world)
    stored = await env.system.event_pool.fetch(
        "SELECT event_data::text AS data FROM saga_events WHERE stream_id = $1", saga_id
    )
    assert stored
    assert not any("続き" in r["data"] for r in stored)


async def test_movie_removal_removes_everything_that_hangs_on_the_movie(env: SagaEnv) -> None:
    world = await _world(env)
    await env.start_runner()
    try:
        saga = await env.finished(await _start(env, world))
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    await _settled(env, world)
    after = await snapshot(env, world)
    assert {k: v for k, v in after.items() if k != "actor"} == {k: [] for k in after if k != "actor"}
    assert after["actor"] == [("0", "0")]


@pytest.mark.parametrize("failing", range(len(STEPS)), ids=STEPS)
async def test_failure_at_each_step_restores_everything_in_reverse_order(env: SagaEnv, failing: int) -> None:
    world = await _world(env)
    before = await snapshot(env, world)
    fault = InvalidCommandError("injected", f"{STEPS[failing]} refused")
    await env.start_runner(faults={("movie_removal", world.step(STEPS[failing]), "do"): fault})
    try:
        saga_id = await _start(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "compensated", saga
    compensated = [e.step for e in await env.saga_events(saga_id) if isinstance(e, SagaStepCompensated)]
    assert compensated == list(reversed(range(failing)))
    await _settled(env, world)
    assert await snapshot(env, world) == before


async def test_a_movie_being_removed_takes_no_new_review(env: SagaEnv) -> None:
    world = await _world(env)
    await env.system.bus.dispatch(BeginMovieRemoval(movie_id=world.movie, saga_id=uuid4()), AS_SYSTEM)
    review = PostReview(user_id=world.fan, movie_id=world.movie, content="まだ?", rating=3)
    with pytest.raises(InvalidCommandError, match="being removed"):
        await env.system.bus.dispatch(review, EventMetadata(user_id=world.fan, user_role="viewer"))


async def test_http_delete_of_a_movie_runs_the_removal_saga_for_admins_only(env: SagaEnv) -> None:
    world = await _world(env)
    admin = RegisterUser(
        email=f"{uuid4().hex[:10]}@example.com", password=SecretStr("correct horse battery"), role="admin"
    )
    await env.system.bus.dispatch(admin, AS_SYSTEM)
    await env.projected(await env.head_versions(admin.user_id), where={"user": [admin.user_id]})
    system = env.system
    app = create_app(system.bus, system.engines, system.services)
    await env.start_runner()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
            refused = await api.delete(f"/movies/{world.movie}", headers=bearer_headers(world.user, "viewer"))
            assert refused.status_code == 403, refused.text
            answer = await api.delete(
                f"/movies/{world.movie}", headers=bearer_headers(admin.user_id, "admin")
            )
            assert answer.status_code == 202, answer.text
            saga_id = UUID(answer.json()["stream_id"])
            saga = await env.finished(saga_id)
            assert saga.status == "completed"
            shown = await api.get(f"/sagas/{saga_id}")
            assert shown.status_code == 200
            body = shown.json()
            assert body["saga_type"] == "movie_removal"
            assert [s["status"] for s in body["steps"]] == ["completed"] * len(STEPS)
            listed = await api.get("/sagas", params={"type": "movie_removal", "status": "completed"})
            assert str(saga_id) in {s["saga_id"] for s in listed.json()}
            assert (await api.get(f"/sagas/{uuid4()}")).status_code == 404
    finally:
        await env.stop_runners()


async def test_a_removal_of_a_movie_that_does_not_exist_is_rejected_when_planned(env: SagaEnv) -> None:
    from sagas.commands import RequestSaga  # noqa: PLC0415  only this test requests by command

    await env.start_runner()
    try:
        cmd = RequestSaga(saga_type="movie_removal", input={"movie_id": str(uuid4())})
        await env.system.bus.dispatch(cmd, AS_SYSTEM)
        saga = await env.finished(cmd.saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "rejected"
    assert saga.failure is not None
    assert "does not exist" in saga.failure


def _cli_env(env: SagaEnv) -> dict[str, str]:
    settings = env.system.settings
    return {
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "SCENELEDGER_NAMESPACE": settings.namespace,
    }


async def test_cli_starts_a_movie_removal_and_refuses_an_unknown_movie(env: SagaEnv) -> None:
    world = await _world(env)
    cli = CliRunner()
    unknown = await asyncio.to_thread(
        cli.invoke, sagas_app, ["start", "movie-removal", "--movie", str(uuid4())], env=_cli_env(env)
    )
    assert unknown.exit_code == EXIT_NOT_FOUND, unknown.output
    started = await asyncio.to_thread(
        cli.invoke, sagas_app, ["start", "movie-removal", "--movie", str(world.movie)], env=_cli_env(env)
    )
    assert started.exit_code == 0, started.output
    [line] = [x for x in started.output.splitlines() if x.startswith('{"saga_id"')]  # logs may precede it
    saga_id = UUID(json.loads(line)["saga_id"])
    await env.start_runner()
    try:
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    listed = await asyncio.to_thread(
        cli.invoke, sagas_app, ["list", "--type", "movie_removal", "--status", "completed"], env=_cli_env(env)
    )
    assert str(saga_id) in listed.output
