"""The commands the sagas add to the services: movie figures and removal state, filmography, restores."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from commands.actor import AddFilmographyEntry, EnsureFilmographyEntry, RegisterActor
from commands.actor import replay as replay_actor
from commands.base import HandlerDeps, load
from commands.errors import InvalidCommandError, PermissionDeniedError, StreamNotFoundError
from commands.handlers import CommandBus
from commands.movie import (
    BeginMovieRemoval,
    CancelMovieRemoval,
    LinkSceneToMovie,
    RegisterMovie,
    RemoveMovie,
    UnlinkSceneFromMovie,
)
from commands.movie import replay as replay_movie
from commands.review import (
    AnonymizeReview,
    DeleteReview,
    PostReview,
    ReactToReview,
    RestoreReview,
    replay_review,
)
from commands.scene import AddDialogue, AddSceneActor, CreateScene, DeleteScene, RestoreScene
from commands.scene import replay as replay_scene
from commands.user import RegisterUser
from events.base import EventMetadata
from events.review import ReviewAnonymized
from infra.memory_event_store import InMemoryEventStore
from infra.services import command_handlers
from tests.acting import AS_SYSTEM

pytestmark = pytest.mark.unit


def _bus() -> tuple[CommandBus, InMemoryEventStore]:
    store = InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), command_handlers()), store


async def _movie(bus: CommandBus) -> UUID:
    cmd = RegisterMovie(title="羅生門")
    await bus.dispatch(cmd, AS_SYSTEM)
    return cmd.movie_id


async def test_linking_a_scene_twice_counts_it_once_and_unlinking_an_unknown_one_is_a_no_op() -> None:
    bus, store = _bus()
    movie, scene = await _movie(bus), uuid4()
    first = await bus.dispatch(LinkSceneToMovie(movie_id=movie, scene_id=scene), AS_SYSTEM)
    again = await bus.dispatch(LinkSceneToMovie(movie_id=movie, scene_id=scene), AS_SYSTEM)
    assert (first.positions != (), again.positions) == (True, ())
    assert (
        await bus.dispatch(UnlinkSceneFromMovie(movie_id=movie, scene_id=uuid4()), AS_SYSTEM)
    ).positions == ()
    await bus.dispatch(UnlinkSceneFromMovie(movie_id=movie, scene_id=scene), AS_SYSTEM)
    state, _ = await load(store, movie, replay_movie)
    assert state is not None
    assert state.scene_ids == frozenset()


async def test_a_movie_being_removed_takes_no_scene_until_the_removal_is_cancelled() -> None:
    bus, _ = _bus()
    movie, saga = await _movie(bus), uuid4()
    await bus.dispatch(BeginMovieRemoval(movie_id=movie, saga_id=saga), AS_SYSTEM)
    with pytest.raises(InvalidCommandError, match="being removed"):
        await bus.dispatch(LinkSceneToMovie(movie_id=movie, scene_id=uuid4()), AS_SYSTEM)
    with pytest.raises(InvalidCommandError, match="already being removed"):
        await bus.dispatch(BeginMovieRemoval(movie_id=movie, saga_id=uuid4()), AS_SYSTEM)
    assert (
        await bus.dispatch(CancelMovieRemoval(movie_id=movie, saga_id=uuid4()), AS_SYSTEM)
    ).positions == ()
    await bus.dispatch(CancelMovieRemoval(movie_id=movie, saga_id=saga), AS_SYSTEM)
    await bus.dispatch(LinkSceneToMovie(movie_id=movie, scene_id=uuid4()), AS_SYSTEM)


async def test_a_removed_movie_takes_no_scene() -> None:
    bus, _ = _bus()
    movie = await _movie(bus)
    await bus.dispatch(RemoveMovie(movie_id=movie), AS_SYSTEM)
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(LinkSceneToMovie(movie_id=movie, scene_id=uuid4()), AS_SYSTEM)


async def test_ensure_filmography_entry_adds_once_and_keeps_an_existing_entry() -> None:
    bus, store = _bus()
    movie = await _movie(bus)
    actor = RegisterActor(name="三船敏郎")
    await bus.dispatch(actor, AS_SYSTEM)
    await bus.dispatch(
        AddFilmographyEntry(
            actor_id=actor.actor_id, movie_id=movie, character_name="多襄丸", role_type="lead"
        ),
        AS_SYSTEM,
    )
    kept = await bus.dispatch(
        EnsureFilmographyEntry(actor_id=actor.actor_id, movie_id=movie, character_name="別人"), AS_SYSTEM
    )
    assert kept.positions == ()
    state, _ = await load(store, actor.actor_id, replay_actor)
    assert state is not None
    assert state.filmography[movie].character_name == "多襄丸"
    other = await _movie(bus)
    added = await bus.dispatch(EnsureFilmographyEntry(actor_id=actor.actor_id, movie_id=other), AS_SYSTEM)
    assert added.positions != ()


async def test_a_restored_scene_has_its_fields_cast_and_lines_back() -> None:
    bus, store = _bus()
    movie = await _movie(bus)
    actor = RegisterActor(name="京マチ子")
    await bus.dispatch(actor, AS_SYSTEM)
    scene = CreateScene(movie_id=movie, start="012345", end="+105", classification="L2-3", tags=("森",))
    await bus.dispatch(scene, AS_SYSTEM)
    await bus.dispatch(
        AddSceneActor(scene_id=scene.scene_id, actor_id=actor.actor_id, character_name="真砂"), AS_SYSTEM
    )
    await bus.dispatch(
        AddDialogue(scene_id=scene.scene_id, actor_id=actor.actor_id, dialogue_text="嘘です"), AS_SYSTEM
    )
    before, _ = await load(store, scene.scene_id, replay_scene)
    await bus.dispatch(DeleteScene(scene_id=scene.scene_id), AS_SYSTEM)
    restore = RestoreScene(scene_id=scene.scene_id)
    await bus.dispatch(restore, AS_SYSTEM)
    after, _ = await load(store, scene.scene_id, replay_scene)
    assert before is not None
    assert after is not None
    assert not after.deleted
    assert (after.start_time_seconds, after.end_time_seconds, after.classification, after.tags) == (
        before.start_time_seconds,
        before.end_time_seconds,
        before.classification,
        before.tags,
    )
    assert set(after.actors) == {actor.actor_id}
    assert after.actors[actor.actor_id].character_name == "真砂"
    assert [d.dialogue_text for d in after.dialogues.values()] == ["嘘です"]
    again = await bus.dispatch(RestoreScene(scene_id=scene.scene_id), AS_SYSTEM)
    assert again.positions == ()


async def test_restoring_a_scene_is_for_admins_and_the_system() -> None:
    bus, _ = _bus()
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(
            RestoreScene(scene_id=uuid4()), EventMetadata(user_id=uuid4(), user_role="contributor")
        )


async def test_a_restored_review_has_its_content_and_reactions_back() -> None:
    bus, store = _bus()
    movie = await _movie(bus)
    author, fan = (
        RegisterUser(email=f"{uuid4().hex[:8]}@example.com", password=SecretStr("a long password"))
        for _ in range(2)
    )
    await bus.dispatch(author, AS_SYSTEM)
    await bus.dispatch(fan, AS_SYSTEM)
    review = PostReview(user_id=author.user_id, movie_id=movie, content="傑作", rating=5)
    await bus.dispatch(review, AS_SYSTEM)
    await bus.dispatch(
        ReactToReview(review_id=review.review_id, user_id=fan.user_id, kind="helpful"), AS_SYSTEM
    )
    await bus.dispatch(DeleteReview(review_id=review.review_id), AS_SYSTEM)
    await bus.dispatch(RestoreReview(review_id=review.review_id), AS_SYSTEM)
    state, _ = await load(store, review.review_id, replay_review)
    assert state is not None
    assert (state.deleted, state.content, state.reactions) == (
        False,
        "傑作",
        frozenset({(fan.user_id, "helpful")}),
    )
    events = [r.event for r in await store.read_stream(review.review_id)]
    assert not any(isinstance(e, ReviewAnonymized) for e in events)


async def test_a_movie_being_removed_takes_no_review() -> None:
    bus, _ = _bus()
    movie = await _movie(bus)
    user = RegisterUser(email=f"{uuid4().hex[:8]}@example.com", password=SecretStr("a long password"))
    await bus.dispatch(user, AS_SYSTEM)
    await bus.dispatch(BeginMovieRemoval(movie_id=movie, saga_id=uuid4()), AS_SYSTEM)
    with pytest.raises(InvalidCommandError, match="being removed"):
        await bus.dispatch(PostReview(user_id=user.user_id, movie_id=movie, content="x", rating=1), AS_SYSTEM)


async def test_a_restored_anonymous_review_stays_anonymous() -> None:
    bus, store = _bus()
    movie = await _movie(bus)
    author = RegisterUser(email=f"{uuid4().hex[:8]}@example.com", password=SecretStr("a long password"))
    await bus.dispatch(author, AS_SYSTEM)
    review = PostReview(user_id=author.user_id, movie_id=movie, content="忘れたい", rating=2)
    await bus.dispatch(review, AS_SYSTEM)
    await bus.dispatch(AnonymizeReview(review_id=review.review_id), AS_SYSTEM)
    await bus.dispatch(DeleteReview(review_id=review.review_id), AS_SYSTEM)
    await bus.dispatch(RestoreReview(review_id=review.review_id), AS_SYSTEM)
    state, _ = await load(store, review.review_id, replay_review)
    assert state is not None
    assert (state.deleted, state.anonymized) == (False, True)
