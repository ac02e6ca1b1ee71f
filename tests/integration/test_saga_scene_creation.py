"""The scene-creation saga on the real stack: completion, a failure at each step, kills, a stuck rollback."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
from pydantic import SecretStr

from commands.actor import AddFilmographyEntry, RegisterActor
from commands.authorization import SYSTEM_ROLE
from commands.base import Command, CommandResult
from commands.errors import InvalidCommandError
from commands.handlers import CommandBus
from commands.movie import BeginMovieRemoval, RegisterMovie
from commands.review import PostReview
from commands.scene import CreateScene
from commands.user import AddMovieToWatchList, RegisterUser
from events.base import EventMetadata
from events.saga import SagaStepCompensated, SagaStepCompleted, SagaStepStarted
from infra.metrics import read_snapshot, render
from infra.ops import OpsContext, pool_connect
from infra.sagas_cli import app as sagas_app
from sagas.definition import command_id
from sagas.runner import Fault, FaultKey, retry_saga, start_saga
from sagas.scene_creation import SCENE_CREATION, CastMember, SceneCreationRequest
from tests.integration.saga_support import SagaEnv, kill_after, saga_env_fixture

pytestmark = pytest.mark.integration

SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)
STEPS = ("create-scene", "update-movie-figures", "filmography:new", "cast:new", "filmography:old", "cast:old")
"""The plan of :func:`_request`: the new actor gets a filmography entry, the old one has it already."""
UNCHANGED = {4}
"""Steps that change nothing (the old actor's filmography entry exists): nothing to undo."""


@pytest.fixture(name="env", scope="module")
async def fx_env(endpoints: tuple[str, str]) -> AsyncIterator[SagaEnv]:
    """This module's namespace, relay and projectors."""
    async for env in saga_env_fixture(endpoints):
        yield env


@dataclass(frozen=True, slots=True)
class World:
    """A movie on a user's watch list and reviewed by them, and two actors, one already in the movie."""

    movie: UUID
    new_actor: UUID
    old_actor: UUID
    user: UUID
    review: UUID


async def _world(env: SagaEnv) -> World:
    bus = env.system.bus
    movie = RegisterMovie(title=f"映画{uuid4().hex[:6]}")
    new_actor = RegisterActor(name=f"新人{uuid4().hex[:6]}")
    old_actor = RegisterActor(name=f"常連{uuid4().hex[:6]}")
    user = RegisterUser(email=f"{uuid4().hex[:10]}@example.com", password=SecretStr("correct horse battery"))
    for cmd in (movie, new_actor, old_actor, user):
        await bus.dispatch(cmd, SYSTEM)
    await bus.dispatch(AddFilmographyEntry(actor_id=old_actor.actor_id, movie_id=movie.movie_id), SYSTEM)
    as_user = EventMetadata(user_id=user.user_id, user_role="viewer")
    await bus.dispatch(AddMovieToWatchList(user_id=user.user_id, movie_id=movie.movie_id), as_user)
    review = PostReview(user_id=user.user_id, movie_id=movie.movie_id, content="見事", rating=4)
    await bus.dispatch(review, as_user)
    world = World(movie.movie_id, new_actor.actor_id, old_actor.actor_id, user.user_id, review.review_id)
    await _settled(env, world, None)
    return world


def _request(world: World) -> SceneCreationRequest:
    return SceneCreationRequest(
        scene=CreateScene(movie_id=world.movie, start="0:10", end="0:50", classification="L2-3"),
        cast=(
            CastMember(actor_id=world.new_actor, character_name="瀧", role_type="primary"),
            CastMember(actor_id=world.old_actor, character_name="三葉", screen_time_seconds=20),
        ),
    )


def _step_name(world: World, step: str) -> str:
    return step.replace("new", str(world.new_actor)).replace("old", str(world.old_actor))


async def _settled(env: SagaEnv, world: World, scene_id: UUID | None) -> None:
    """Wait until every read database has applied every stream this saga may touch."""
    ids = [world.movie, world.new_actor, world.old_actor, world.user, world.review]
    ids += [scene_id] if scene_id else []
    heads = await env.head_versions(*ids)
    scene_streams = [scene_id] if scene_id in heads else []
    await env.projected(
        heads,
        where={
            "scene": [*scene_streams, world.movie],
            "movie": [world.movie, world.review, *scene_streams],
            "actor": [world.new_actor, world.old_actor, world.review, *scene_streams],
            "user": [world.user, *scene_streams],
            "review": [world.review],
        },
    )


async def _fetch(pool: asyncpg.Pool, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    return [tuple(r.values()) for r in await pool.fetch(sql, *args)]


async def snapshot(env: SagaEnv, world: World) -> dict[str, list[tuple[Any, ...]]]:
    """What the five read databases say about the movie, its scenes, the two actors and the user."""
    pools = env.system.pools
    actors = [world.new_actor, world.old_actor]
    return {
        "scenes": await _fetch(pools["scene"], "SELECT id FROM scenes WHERE movie_id = $1", world.movie),
        "scene_actors": await _fetch(
            pools["scene"],
            "SELECT a.scene_id, a.actor_id FROM scene_actors a JOIN scenes s ON s.id = a.scene_id "
            "WHERE s.movie_id = $1",
            world.movie,
        ),
        "movie": await _fetch(
            pools["movie"],
            "SELECT total_scenes_count, ratings_count, avg_rating FROM movies WHERE id = $1",
            world.movie,
        ),
        "filmography": await _fetch(
            pools["actor"],
            "SELECT actor_id, total_scenes FROM filmography WHERE movie_id = $1 ORDER BY actor_id",
            world.movie,
        ),
        "actors": await _fetch(
            pools["actor"],
            "SELECT id, total_movies_count, total_scenes_count FROM actors "
            "WHERE id = ANY($1::uuid[]) ORDER BY id",
            actors,
        ),
        "watch_list": await _fetch(
            pools["user"],
            "SELECT total_scenes_count FROM watch_lists WHERE user_id = $1 AND movie_id = $2",
            world.user,
            world.movie,
        ),
        "reviews": await _fetch(pools["review"], "SELECT id FROM reviews WHERE movie_id = $1", world.movie),
    }


async def _run_saga(env: SagaEnv, world: World) -> tuple[UUID, UUID]:
    request = _request(world)
    saga_id = await start_saga(
        SCENE_CREATION, request, ctx=env.ctx, command_types=env.system.bus.command_types, metadata=SYSTEM
    )
    return saga_id, request.scene.scene_id


async def test_scene_creation_saga_completes_across_services(env: SagaEnv) -> None:
    world = await _world(env)
    before = await snapshot(env, world)
    await env.start_runner()
    try:
        saga_id, scene_id = await _run_saga(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    await _settled(env, world, scene_id)
    after = await snapshot(env, world)
    assert after["scenes"] == [(scene_id,)]
    assert sorted(after["scene_actors"]) == sorted([(scene_id, world.new_actor), (scene_id, world.old_actor)])
    assert after["movie"][0][0] == before["movie"][0][0] + 1
    assert [a for a, _ in after["filmography"]] == sorted([world.new_actor, world.old_actor])
    assert after["watch_list"] == [(1,)]
    assert [s.changed for s in saga.steps] == [i not in UNCHANGED for i in range(len(STEPS))]


@pytest.mark.parametrize("failing", range(len(STEPS)), ids=STEPS)
async def test_failure_at_each_step_compensates_in_reverse_and_restores_every_database(
    env: SagaEnv, failing: int
) -> None:
    world = await _world(env)
    before = await snapshot(env, world)
    fault = InvalidCommandError("injected", f"step {STEPS[failing]} refused")
    await env.start_runner(faults={("scene_creation", _step_name(world, STEPS[failing]), "do"): fault})
    try:
        saga_id, scene_id = await _run_saga(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "compensated"
    assert saga.failed_step == failing
    compensated = [e.step for e in await env.saga_events(saga_id) if isinstance(e, SagaStepCompensated)]
    assert compensated == [i for i in reversed(range(failing)) if i not in UNCHANGED]
    await _settled(env, world, scene_id)
    assert await snapshot(env, world) == before


async def test_transient_failures_are_retried_and_the_saga_completes(env: SagaEnv) -> None:
    world = await _world(env)
    attempts: list[int] = []

    def flaky() -> BaseException | None:
        attempts.append(1)
        return asyncpg.ConnectionDoesNotExistError("connection lost") if len(attempts) <= 2 else None

    step = _step_name(world, "filmography:new")
    await env.start_runner(faults={("scene_creation", step, "do"): flaky})
    try:
        saga_id, _ = await _run_saga(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    assert len(attempts) == 3


SUCCESS_TRANSITIONS = 2 * len(STEPS) + 1
"""Transitions a runner appends to a successful saga: each step started and completed, then done."""


@pytest.mark.parametrize("kill_at", range(1, SUCCESS_TRANSITIONS))
async def test_runner_killed_between_transitions_finishes_after_restart_without_repeating_a_step(
    env: SagaEnv, kill_at: int
) -> None:
    world = await _world(env)
    box: dict[str, asyncio.Task[None]] = {}
    first, box["task"] = await env.start_runner(on_transition=kill_after(kill_at, box))
    saga_id, scene_id = await _run_saga(env, world)
    with pytest.raises(asyncio.CancelledError):
        await box["task"]
    assert first.transitions == kill_at
    await env.stop_runners()
    await env.start_runner()
    try:
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    await _assert_each_step_once(env, saga_id)
    await _settled(env, world, scene_id)
    after = await snapshot(env, world)
    assert sorted(after["scene_actors"]) == sorted([(scene_id, world.new_actor), (scene_id, world.old_actor)])


async def _assert_each_step_once(env: SagaEnv, saga_id: UUID) -> None:
    events = await env.saga_events(saga_id)
    started = [e.step for e in events if isinstance(e, SagaStepStarted)]
    completed = [e.step for e in events if isinstance(e, SagaStepCompleted)]
    assert started == completed == list(range(len(STEPS)))
    for step in range(len(STEPS)):
        written = await env.system.event_pool.fetchval(
            "SELECT count(*) FROM saga_events WHERE causation_id = $1",
            command_id(saga_id, step, "do"),
        )
        assert written == (0 if step in UNCHANGED else 1), f"step {STEPS[step]} wrote {written} events"


class _KillAfterDispatch(CommandBus):
    """A bus that kills the runner's task right after a chosen command was handled."""

    def __init__(self, inner: CommandBus, victim: UUID, box: dict[str, asyncio.Task[None]]) -> None:
        super().__init__(inner._deps, inner._handlers)
        self._victim = victim
        self._box = box

    async def dispatch(self, cmd: Command, metadata: EventMetadata | None = None) -> CommandResult:
        result = await super().dispatch(cmd, metadata)
        if cmd.command_id == self._victim:
            self._box["task"].cancel()
            await asyncio.sleep(0)
        return result


async def test_runner_killed_after_dispatch_before_recording_redispatches_as_a_no_op(env: SagaEnv) -> None:
    world = await _world(env)
    saga_id = uuid4()
    box: dict[str, asyncio.Task[None]] = {}
    victim = command_id(saga_id, 3, "do")  # cast:new, between its dispatch and SagaStepCompleted
    _, box["task"] = await env.start_runner(bus=_KillAfterDispatch(env.system.bus, victim, box))
    request = _request(world)
    await start_saga(
        SCENE_CREATION,
        request,
        ctx=env.ctx,
        command_types=env.system.bus.command_types,
        metadata=SYSTEM,
        saga_id=saga_id,
    )
    with pytest.raises(asyncio.CancelledError):
        await box["task"]
    await env.stop_runners()
    assert (await env.saga(saga_id)).steps[3].status == "running"
    await env.start_runner()
    try:
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    await _assert_each_step_once(env, saga_id)


async def test_compensation_failing_for_good_ends_stuck_is_listed_and_retry_finishes_it(env: SagaEnv) -> None:
    from typer.testing import CliRunner  # noqa: PLC0415  only this test drives the CLI

    world = await _world(env)
    before = await snapshot(env, world)
    faults: dict[FaultKey, Fault] = {
        ("scene_creation", _step_name(world, "cast:old"), "do"): InvalidCommandError("injected", "no"),
        ("scene_creation", "update-movie-figures", "undo"): InvalidCommandError("injected", "movie away"),
    }
    await env.start_runner(faults=faults)
    try:
        saga_id, scene_id = await _run_saga(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "stuck"
    assert saga.stuck_step == 1
    ops = OpsContext(connect=pool_connect(env.system.event_pool, env.system.pools))
    metrics = render(await read_snapshot(ops)).decode()
    assert 'sceneledger_sagas{saga_type="scene_creation",status="stuck"}' in metrics
    cli = CliRunner()
    settings_env = {
        "SCENELEDGER_PG_DSN": env.system.settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": env.system.settings.kafka_bootstrap or "",
        "SCENELEDGER_NAMESPACE": env.system.settings.namespace,
    }
    listed = await asyncio.to_thread(cli.invoke, sagas_app, ["list", "--status", "stuck"], env=settings_env)
    assert listed.exit_code == 0, listed.output
    assert str(saga_id) in listed.output
    shown = await asyncio.to_thread(cli.invoke, sagas_app, ["show", str(saga_id)], env=settings_env)
    assert shown.exit_code == 0, shown.output
    assert "movie away" in shown.output

    await env.start_runner()  # the fault is gone
    try:
        retried = await asyncio.to_thread(cli.invoke, sagas_app, ["retry", str(saga_id)], env=settings_env)
        assert retried.exit_code == 0, retried.output
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "compensated"
    compensated = [e.step for e in await env.saga_events(saga_id) if isinstance(e, SagaStepCompensated)]
    assert compensated == [3, 2, 1, 0]
    await _settled(env, world, scene_id)
    assert await snapshot(env, world) == before


async def test_retry_of_a_saga_that_is_not_stuck_is_refused(env: SagaEnv) -> None:
    world = await _world(env)
    saga_id, _ = await _run_saga(env, world)
    with pytest.raises(InvalidCommandError, match="not stuck"):
        await retry_saga(env.system.event_store, saga_id)


async def test_http_post_runs_a_scene_creation_saga_for_scene_writers(env: SagaEnv) -> None:
    from infra.api import create_app  # noqa: PLC0415  only this test serves HTTP
    from infra.auth import bearer_headers  # noqa: PLC0415

    world = await _world(env)
    system = env.system
    app = create_app(system.bus, system.engines, system.services)
    body = _request(world).model_dump(mode="json")
    await env.start_runner()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as api:
            viewer = await api.post(
                "/sagas/scene-creation", json=body, headers=bearer_headers(world.user, "viewer")
            )
            assert viewer.status_code == 403, viewer.text
            answer = await api.post(
                "/sagas/scene-creation", json=body, headers=bearer_headers(world.user, "contributor")
            )
            assert answer.status_code == 202, answer.text
            saga = await env.finished(UUID(answer.json()["stream_id"]))
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    assert saga.started_by == world.user
    scene_id = UUID(body["scene"]["scene_id"])
    created_by = await system.event_pool.fetchval(
        "SELECT event_data->>'created_by' FROM saga_events WHERE stream_id = $1 AND stream_version = 1",
        scene_id,
    )
    assert created_by == str(world.user)


FAILING_AT = 3
"""Step of the rolled-back saga of the kill tests below (cast:new)."""
ROLLBACK_TRANSITIONS = 2 * FAILING_AT + 2 + 1 + 2 * FAILING_AT + 1
"""Its transitions: steps 0-2 started and completed, step 3 started and failed, the rollback
started, steps 2-0 compensating and compensated, then rolled back."""


@pytest.mark.parametrize("kill_at", range(2 * FAILING_AT + 2, ROLLBACK_TRANSITIONS))
async def test_runner_killed_during_a_rollback_finishes_it_after_restart_undoing_each_step_once(
    env: SagaEnv, kill_at: int
) -> None:
    world = await _world(env)
    before = await snapshot(env, world)
    faults: dict[FaultKey, Fault] = {
        ("scene_creation", _step_name(world, STEPS[FAILING_AT]), "do"): InvalidCommandError("injected", "no")
    }
    box: dict[str, asyncio.Task[None]] = {}
    first, box["task"] = await env.start_runner(faults=faults, on_transition=kill_after(kill_at, box))
    saga_id, scene_id = await _run_saga(env, world)
    with pytest.raises(asyncio.CancelledError):
        await box["task"]
    assert first.transitions == kill_at
    await env.stop_runners()
    await env.start_runner(faults=faults)
    try:
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "compensated"
    events = await env.saga_events(saga_id)
    assert [e.step for e in events if isinstance(e, SagaStepCompensated)] == [2, 1, 0]
    for step in range(FAILING_AT):
        undone = await env.system.event_pool.fetchval(
            "SELECT count(*) FROM saga_events WHERE causation_id = $1", command_id(saga_id, step, "undo")
        )
        assert undone == 1, f"the undo of step {STEPS[step]} wrote {undone} events"
    await _settled(env, world, scene_id)
    assert await snapshot(env, world) == before


async def test_saga_rows_fill_the_design_saga_columns(env: SagaEnv) -> None:
    world = await _world(env)
    fault = InvalidCommandError("injected", "the movie service is closed")
    await env.start_runner(faults={("scene_creation", "update-movie-figures", "do"): fault})
    try:
        saga_id, scene_id = await _run_saga(env, world)
        await env.finished(saga_id)
    finally:
        await env.stop_runners()
    rows = await env.system.event_pool.fetch(
        "SELECT event_type, saga_id, saga_type, step_name, step_status, error_message, completed_at "
        "FROM saga_events WHERE stream_id = $1 ORDER BY stream_version",
        saga_id,
    )
    assert {(r["saga_id"], r["saga_type"]) for r in rows} == {(saga_id, "scene_creation")}
    by_type = {r["event_type"]: r for r in rows}
    failed = by_type["SagaStepFailed"]
    assert (failed["step_name"], failed["step_status"]) == ("update-movie-figures", "failed")
    assert "the movie service is closed" in failed["error_message"]
    assert failed["completed_at"] is not None
    started = by_type["SagaStepStarted"]
    assert (started["step_status"], started["completed_at"]) == ("pending", None)
    assert by_type["SagaStepCompensated"]["step_status"] == "compensated"
    assert by_type["SagaCompensated"]["step_name"] == "saga"
    # The scene's own events belong to the saga too: saga_id is their correlation id.
    assert await env.system.event_pool.fetchval(
        "SELECT bool_and(saga_id = $2) FROM saga_events WHERE stream_id = $1", scene_id, saga_id
    )


async def test_a_scene_for_a_movie_being_removed_is_rolled_back(env: SagaEnv) -> None:
    world = await _world(env)
    before = await snapshot(env, world)
    await env.system.bus.dispatch(BeginMovieRemoval(movie_id=world.movie, saga_id=uuid4()), SYSTEM)
    await env.start_runner()
    try:
        saga_id, scene_id = await _run_saga(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "compensated"
    assert saga.failed_step == 0  # CreateScene itself refuses a movie being removed: nothing to undo
    assert saga.failure is not None
    assert "being removed" in saga.failure
    await _settled(env, world, scene_id)
    assert await snapshot(env, world) == before
