from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from commands.base import HandlerDeps
from commands.errors import (
    ConcurrencyConflictError,
    InvalidCommandError,
    PermissionDeniedError,
    StreamNotFoundError,
)
from commands.handlers import CommandBus
from commands.review import DeleteReview, PostReview, ReactToReview, ReviseReview, WithdrawReaction
from commands.review_handlers import REVIEW_HANDLERS
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered, MovieRemoved
from events.review import ReviewPosted, ReviewReactionAdded, ReviewReactionWithdrawn, ReviewRevised
from events.scene import SceneCreated, SceneDeleted
from events.user import UserDeactivated, UserRegistered
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

HASH = "$argon2id$test"  # a stand-in: these tests never check credentials


class World:
    """An in-memory store with the users, movies and scenes other services would have written."""

    def __init__(self) -> None:
        self.store = InMemoryEventStore()
        self.bus = CommandBus(HandlerDeps(event_store=self.store), REVIEW_HANDLERS)

    async def _append(self, *events: DomainEvent) -> None:
        for event in events:
            await self.store.append(
                [event], expected_version=event.stream_version - 1, metadata=EventMetadata()
            )

    async def user(self, *, deactivated: bool = False) -> UUID:
        uid = uuid4()
        await self._append(
            UserRegistered(stream_id=uid, stream_version=1, email=f"{uid}@x.jp", password_hash=HASH)
        )
        if deactivated:
            await self._append(UserDeactivated(stream_id=uid, stream_version=2))
        return uid

    async def movie(self, *, removed: bool = False) -> UUID:
        mid = uuid4()
        await self._append(MovieRegistered(stream_id=mid, stream_version=1, title="羅生門"))
        if removed:
            await self._append(MovieRemoved(stream_id=mid, stream_version=2))
        return mid

    async def scene(self, movie_id: UUID, *, deleted: bool = False) -> UUID:
        sid = uuid4()
        await self._append(
            SceneCreated(
                stream_id=sid,
                stream_version=1,
                movie_id=movie_id,
                start_time_seconds=1,
                end_time_seconds=2,
                level1_classification="L",
                level2_classification="L1",
            )
        )
        if deleted:
            await self._append(SceneDeleted(stream_id=sid, stream_version=2, movie_id=movie_id))
        return sid

    def review_events(self, review_id: UUID) -> list[DomainEvent]:
        return [r.event for r in self.store.all_events if r.event.stream_id == review_id]


async def _posted(world: World, **overrides: object) -> PostReview:
    fields: dict[str, object] = {
        "user_id": await world.user(),
        "movie_id": await world.movie(),
        "content": "面白い",
        "rating": 5,
    }
    fields.update(overrides)
    cmd = PostReview.model_validate(fields)
    await world.bus.dispatch(cmd)
    return cmd


async def test_post_appends_one_event_with_metadata() -> None:
    world = World()
    author, movie = await world.user(), await world.movie()
    cmd = PostReview(user_id=author, movie_id=movie, content="面白い", rating=5)
    result = await world.bus.dispatch(cmd, EventMetadata(user_id=author))
    [event] = world.review_events(cmd.review_id)
    assert isinstance(event, ReviewPosted)
    assert (result.stream_id, result.stream_version) == (cmd.review_id, 1)


async def test_same_post_twice_appends_once() -> None:
    world = World()
    cmd = await _posted(world)
    again = await world.bus.dispatch(cmd)
    assert again.duplicate
    assert len(world.review_events(cmd.review_id)) == 1


async def test_post_by_an_unknown_user_is_rejected() -> None:
    world = World()
    with pytest.raises(StreamNotFoundError) as err:
        await _posted(world, user_id=uuid4())
    assert (err.value.field, err.value.referenced) == ("user_id", True)


async def test_post_by_a_deactivated_user_is_rejected() -> None:
    world = World()
    with pytest.raises(StreamNotFoundError) as err:
        await _posted(world, user_id=await world.user(deactivated=True))
    assert err.value.field == "user_id"


async def test_post_about_an_unknown_movie_is_rejected() -> None:
    world = World()
    with pytest.raises(StreamNotFoundError) as err:
        await _posted(world, movie_id=uuid4())
    assert (err.value.field, err.value.referenced) == ("movie_id", True)


async def test_post_about_a_removed_movie_is_rejected() -> None:
    world = World()
    with pytest.raises(StreamNotFoundError) as err:
        await _posted(world, movie_id=await world.movie(removed=True))
    assert err.value.field == "movie_id"


async def test_post_about_an_unknown_scene_is_rejected() -> None:
    world = World()
    with pytest.raises(StreamNotFoundError) as err:
        await _posted(world, movie_id=None, scene_id=uuid4())
    assert err.value.field == "scene_id"


async def test_post_about_a_deleted_scene_is_rejected() -> None:
    world = World()
    scene = await world.scene(await world.movie(), deleted=True)
    with pytest.raises(StreamNotFoundError):
        await _posted(world, movie_id=None, scene_id=scene)


async def test_post_about_a_scene_of_another_movie_is_rejected_and_writes_nothing() -> None:
    world = World()
    scene = await world.scene(await world.movie())
    before = len(world.store.all_events)
    with pytest.raises(InvalidCommandError) as err:
        await _posted(world, scene_id=scene)
    assert err.value.field == "scene_id"
    assert len(world.store.all_events) == before + 2  # only the user and movie _posted registered


async def test_post_about_a_scene_of_its_movie_is_accepted() -> None:
    world = World()
    movie = await world.movie()
    scene = await world.scene(movie)
    cmd = await _posted(world, movie_id=movie, scene_id=scene)
    [event] = world.review_events(cmd.review_id)
    assert isinstance(event, ReviewPosted)
    assert event.scene_id == scene


async def test_post_in_another_users_name_is_rejected() -> None:
    world = World()
    cmd = PostReview(user_id=await world.user(), movie_id=await world.movie(), content="x", rating=3)
    with pytest.raises(PermissionDeniedError):
        await world.bus.dispatch(cmd, EventMetadata(user_id=uuid4()))


async def test_post_on_an_existing_review_id_conflicts() -> None:
    world = World()
    cmd = await _posted(world)
    again = cmd.model_copy(update={"command_id": uuid4()})
    with pytest.raises(ConcurrencyConflictError):
        await world.bus.dispatch(again)


async def test_revise_by_the_author_appends_a_revision() -> None:
    world = World()
    cmd = await _posted(world)
    await world.bus.dispatch(
        ReviseReview(review_id=cmd.review_id, content="やはり傑作"), EventMetadata(user_id=cmd.user_id)
    )
    revised = world.review_events(cmd.review_id)[-1]
    assert isinstance(revised, ReviewRevised)
    assert (revised.content, revised.rating) == ("やはり傑作", 5)


async def test_revise_by_another_user_is_rejected() -> None:
    world = World()
    cmd = await _posted(world)
    with pytest.raises(PermissionDeniedError):
        await world.bus.dispatch(
            ReviseReview(review_id=cmd.review_id, rating=1), EventMetadata(user_id=uuid4())
        )
    assert len(world.review_events(cmd.review_id)) == 1


async def test_revise_with_a_stale_expected_version_conflicts() -> None:
    world = World()
    cmd = await _posted(world)
    await world.bus.dispatch(ReviseReview(review_id=cmd.review_id, rating=1))
    with pytest.raises(ConcurrencyConflictError):
        await world.bus.dispatch(ReviseReview(review_id=cmd.review_id, rating=2, expected_version=1))


async def test_delete_by_another_user_is_rejected() -> None:
    world = World()
    cmd = await _posted(world)
    with pytest.raises(PermissionDeniedError):
        await world.bus.dispatch(DeleteReview(review_id=cmd.review_id), EventMetadata(user_id=uuid4()))


async def test_reaction_by_an_active_user_is_recorded() -> None:
    world = World()
    cmd = await _posted(world)
    fan = await world.user()
    await world.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=fan, kind="like"))
    added = world.review_events(cmd.review_id)[-1]
    assert isinstance(added, ReviewReactionAdded)
    assert (added.user_id, added.by_user_id) == (cmd.user_id, fan)


async def test_reaction_by_an_unknown_user_is_rejected() -> None:
    world = World()
    cmd = await _posted(world)
    with pytest.raises(StreamNotFoundError) as err:
        await world.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=uuid4(), kind="like"))
    assert err.value.field == "user_id"


async def test_reaction_by_a_deactivated_user_is_rejected() -> None:
    world = World()
    cmd = await _posted(world)
    gone = await world.user(deactivated=True)
    with pytest.raises(StreamNotFoundError):
        await world.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=gone, kind="helpful"))


async def test_reaction_to_an_unknown_review_is_not_found() -> None:
    world = World()
    fan = await world.user()
    with pytest.raises(StreamNotFoundError) as err:
        await world.bus.dispatch(ReactToReview(review_id=uuid4(), user_id=fan, kind="like"))
    assert (err.value.field, err.value.referenced) == ("review_id", False)


async def test_liking_ones_own_review_is_rejected() -> None:
    world = World()
    cmd = await _posted(world)
    with pytest.raises(InvalidCommandError):
        await world.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=cmd.user_id, kind="like"))


async def test_repeated_reaction_appends_once() -> None:
    world = World()
    cmd = await _posted(world)
    fan = await world.user()
    for _ in range(2):
        await world.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=fan, kind="like"))
    assert len(world.review_events(cmd.review_id)) == 2


async def test_a_deactivated_user_may_still_withdraw_a_reaction() -> None:
    world = World()
    cmd = await _posted(world)
    fan = await world.user()
    await world.bus.dispatch(ReactToReview(review_id=cmd.review_id, user_id=fan, kind="like"))
    await world._append(UserDeactivated(stream_id=fan, stream_version=2))
    await world.bus.dispatch(WithdrawReaction(review_id=cmd.review_id, user_id=fan, kind="like"))
    assert isinstance(world.review_events(cmd.review_id)[-1], ReviewReactionWithdrawn)
