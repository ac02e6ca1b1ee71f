"""The user-erasure saga on the real stack: activity, reviews, then the account; a failed pivot undone."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from commands.authorization import SYSTEM_ROLE
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.movie import RegisterMovie
from commands.review import PostReview
from commands.scene import CreateScene
from commands.user import AddMovieToWatchList, RecordSceneInteraction, RegisterUser
from events.base import EventMetadata
from infra.sagas_cli import app as sagas_app
from sagas.runner import start_saga
from sagas.user_erasure import USER_ERASURE, UserErasureRequest
from tests.conftest import eventually
from tests.integration.saga_support import SagaEnv, saga_env_fixture

pytestmark = pytest.mark.integration

SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)
PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential


@pytest.fixture(name="env", scope="module")
async def fx_env(endpoints: tuple[str, str]) -> AsyncIterator[SagaEnv]:
    """This module's namespace, relay and projectors."""
    async for env in saga_env_fixture(endpoints):
        yield env


@dataclass(frozen=True, slots=True)
class World:
    """A user with a watch-list entry (with notes), an interaction, and a projected review."""

    user: UUID
    email: str
    notes: str
    review: UUID


async def _world(env: SagaEnv) -> World:
    bus = env.system.bus
    tag = secrets.token_hex(6)
    movie = RegisterMovie(title=f"映画{tag}")
    user = RegisterUser(email=f"erase.{tag}@example.jp", password=SecretStr(PASSWORD))
    await bus.dispatch(movie, SYSTEM)
    await bus.dispatch(user, SYSTEM)
    scene = CreateScene(movie_id=movie.movie_id, start="0:10", end="0:50", classification="L2-3")
    await bus.dispatch(scene, SYSTEM)
    me = EventMetadata(user_id=user.user_id, user_role="viewer")
    notes = f"週末に観る-{tag}"
    await bus.dispatch(AddMovieToWatchList(user_id=user.user_id, movie_id=movie.movie_id, notes=notes), me)
    await bus.dispatch(
        RecordSceneInteraction(user_id=user.user_id, scene_id=scene.scene_id, interaction_type="like"), me
    )
    review = PostReview(user_id=user.user_id, movie_id=movie.movie_id, content="見事", rating=4)
    await bus.dispatch(review, me)
    review_pool = env.system.pools["review"]

    async def review_projected() -> bool:
        return bool(await review_pool.fetchval("SELECT 1 FROM reviews WHERE id = $1", review.review_id))

    await eventually(review_projected)
    return World(user.user_id, user.email, notes, review.review_id)


async def _erase(env: SagaEnv, world: World) -> UUID:
    return await start_saga(
        USER_ERASURE,
        UserErasureRequest(user_id=world.user),
        ctx=env.ctx,
        command_types=env.system.bus.command_types,
        metadata=SYSTEM,
    )


async def _watch_list_size(env: SagaEnv, user: UUID) -> int:
    return int(
        await env.system.pools["user"].fetchval("SELECT count(*) FROM watch_lists WHERE user_id = $1", user)
    )


async def test_the_saga_erases_the_user_after_their_activity_and_reviews(env: SagaEnv) -> None:
    world = await _world(env)
    await env.start_runner()
    try:
        saga_id = await _erase(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    assert [s.name for s in saga.plan] == [
        "clear-activity",
        f"anonymize-review:{world.review}",
        "erase-user",
    ]
    pools = env.system.pools

    async def erased() -> bool:
        row = await pools["user"].fetchrow("SELECT email, erased_at FROM users WHERE id = $1", world.user)
        return row is not None and row["email"] is None and row["erased_at"] is not None

    async def anonymous() -> bool:
        row = await pools["review"].fetchrow(
            "SELECT user_id, content FROM reviews WHERE id = $1", world.review
        )
        return row is not None and row["user_id"] is None and row["content"] == "見事"

    await eventually(erased)
    await eventually(anonymous)
    assert await _watch_list_size(env, world.user) == 0


async def test_the_saga_log_holds_no_personal_data(env: SagaEnv) -> None:
    world = await _world(env)
    saga_id = await _erase(env, world)
    raw = await env.system.event_pool.fetchval(
        "SELECT string_agg(event_data::text, ' ') FROM saga_events WHERE stream_id = $1", saga_id
    )
    assert str(world.user) in raw
    assert world.email not in raw
    assert world.notes not in raw


async def test_a_failed_erasure_restores_the_activity_and_keeps_the_user(env: SagaEnv) -> None:
    world = await _world(env)
    fault = InvalidCommandError("injected", "erasure refused")
    await env.start_runner(faults={("user_erasure", "erase-user", "do"): fault})
    try:
        saga_id = await _erase(env, world)
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert saga.status == "compensated"
    pools = env.system.pools

    async def restored() -> bool:
        row = await pools["user"].fetchrow("SELECT notes FROM watch_lists WHERE user_id = $1", world.user)
        likes = await pools["user"].fetchval(
            "SELECT count(*) FROM user_scene_interactions WHERE user_id = $1", world.user
        )
        return row is not None and row["notes"] == world.notes and likes == 1

    await eventually(restored)
    email = await pools["user"].fetchval("SELECT email FROM users WHERE id = $1", world.user)
    assert email == world.email


async def test_an_erased_user_cannot_be_erased_again(env: SagaEnv) -> None:
    world = await _world(env)
    await env.start_runner()
    try:
        saga = await env.finished(await _erase(env, world))
    finally:
        await env.stop_runners()
    assert saga.status == "completed"
    with pytest.raises(InvalidCommandError):
        await _erase(env, world)


async def test_an_unknown_user_cannot_be_erased(env: SagaEnv) -> None:
    world = await _world(env)
    unknown = World(user=UUID(int=secrets.randbits(128)), email="", notes="", review=world.review)
    with pytest.raises(StreamNotFoundError):
        await _erase(env, unknown)


async def test_cli_starts_a_user_erasure_that_completes(env: SagaEnv) -> None:
    world = await _world(env)
    settings = env.system.settings
    cli_env = {
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.kafka_bootstrap or "",
        "SCENELEDGER_NAMESPACE": settings.namespace,
    }
    started = await asyncio.to_thread(
        CliRunner().invoke, sagas_app, ["start", "user-erasure", "--user", str(world.user)], env=cli_env
    )
    assert started.exit_code == 0, started.output
    [line] = [x for x in started.output.splitlines() if x.startswith('{"saga_id"')]  # logs may precede it
    saga_id = UUID(json.loads(line)["saga_id"])
    await env.start_runner()
    try:
        saga = await env.finished(saga_id)
    finally:
        await env.stop_runners()
    assert (saga.saga_type, saga.status) == ("user_erasure", "completed")
