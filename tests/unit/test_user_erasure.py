"""Erasing a user, clearing and restoring their activity, anonymizing reviews: rules and authorization."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import SecretStr

from commands.authorization import SYSTEM_ROLE
from commands.base import HandlerDeps
from commands.errors import InvalidCommandError, PermissionDeniedError, StreamNotFoundError
from commands.handlers import CommandBus
from commands.review import (
    AnonymizeReview,
    DeleteReview,
    PostReview,
    ReviseReview,
    anonymize_review,
    delete_review,
    post_review,
    replay_review,
    revise_review,
)
from commands.review_handlers import REVIEW_HANDLERS, require_active_user
from commands.user import (
    EMAIL_SCOPE,
    AddMovieToWatchList,
    ClearUserActivity,
    EraseUser,
    RecordLogin,
    RecordSceneInteraction,
    RegisterUser,
    RestoreUserActivity,
    UpdateWatchListEntry,
    erase_user,
    replay,
)
from commands.user_handlers import USER_HANDLERS
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.review import ReviewAnonymized
from events.scene import SceneCreated
from events.user import UserActivityCleared, UserErased, UserRegistered
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"  # noqa: S105  test input, not a credential
SYSTEM = EventMetadata(user_role=SYSTEM_ROLE)


def _bus() -> tuple[CommandBus, InMemoryEventStore]:
    store = InMemoryEventStore()
    return CommandBus(HandlerDeps(event_store=store), {**USER_HANDLERS, **REVIEW_HANDLERS}), store


def _as(user_id: UUID, role: str = "viewer") -> EventMetadata:
    return EventMetadata(user_id=user_id, user_role=role)


async def _registered(bus: CommandBus, email: str | None = None) -> UUID:
    cmd = RegisterUser(email=email or f"{uuid4().hex}@example.jp", password=SecretStr(PASSWORD))
    await bus.dispatch(cmd)
    return cmd.user_id


async def _movie(store: InMemoryEventStore) -> UUID:
    movie_id = uuid4()
    await store.append(
        [MovieRegistered(stream_id=movie_id, stream_version=1, title="x")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return movie_id


async def _scene(store: InMemoryEventStore, movie_id: UUID) -> UUID:
    scene_id = uuid4()
    created = SceneCreated(
        stream_id=scene_id,
        stream_version=1,
        movie_id=movie_id,
        start_time_seconds=0,
        end_time_seconds=60,
        level1_classification="L",
        level2_classification="L2",
    )
    await store.append([created], expected_version=0, metadata=EventMetadata())
    return scene_id


async def _events(store: InMemoryEventStore, stream_id: UUID) -> list[DomainEvent]:
    return [r.event for r in await store.read_stream(stream_id)]


# --- EraseUser ------------------------------------------------------------------------------------


async def test_erasing_oneself_appends_user_erased() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    await bus.dispatch(EraseUser(user_id=user), _as(user))
    assert isinstance((await _events(store, user))[-1], UserErased)


async def test_an_admin_and_the_system_may_erase_a_user() -> None:
    bus, _ = _bus()
    first, second = await _registered(bus), await _registered(bus)
    await bus.dispatch(EraseUser(user_id=first), _as(uuid4(), "admin"))
    await bus.dispatch(EraseUser(user_id=second), SYSTEM)


async def test_another_user_may_not_erase_a_user() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(EraseUser(user_id=user), _as(uuid4()))
    assert len(await _events(store, user)) == 1


async def test_an_anonymous_command_may_not_erase_a_user() -> None:
    bus, _ = _bus()
    user = await _registered(bus)
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(EraseUser(user_id=user))


async def test_erasing_an_unknown_user_is_not_found() -> None:
    bus, _ = _bus()
    with pytest.raises(StreamNotFoundError):
        await bus.dispatch(EraseUser(user_id=uuid4()), SYSTEM)


async def test_erasing_twice_appends_once() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    await bus.dispatch(EraseUser(user_id=user), SYSTEM)
    await bus.dispatch(EraseUser(user_id=user), SYSTEM)
    assert [type(e) for e in await _events(store, user)] == [UserRegistered, UserErased]


async def test_erasure_releases_the_email_claim() -> None:
    bus, store = _bus()
    user = await _registered(bus, "ann@example.jp")
    state = replay(await _events(store, user))
    decision = erase_user(EraseUser(user_id=user), state)
    assert [(r.scope, r.key) for r in decision.releases] == [(EMAIL_SCOPE, "ann@example.jp")]


async def test_the_erased_users_email_can_be_registered_again() -> None:
    bus, _ = _bus()
    user = await _registered(bus, "ann@example.jp")
    await bus.dispatch(EraseUser(user_id=user), SYSTEM)
    assert await _registered(bus, "ann@example.jp") != user


async def test_an_erased_user_can_no_longer_act() -> None:
    bus, _ = _bus()
    user = await _registered(bus)
    await bus.dispatch(EraseUser(user_id=user), SYSTEM)
    with pytest.raises(InvalidCommandError, match="erased"):
        await bus.dispatch(RecordLogin(user_id=user), SYSTEM)


async def test_an_erased_user_is_no_active_user_for_other_services() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    await bus.dispatch(EraseUser(user_id=user), SYSTEM)
    with pytest.raises(StreamNotFoundError):
        await require_active_user(store, user, field_name="user_id")


async def test_the_erased_state_holds_no_personal_data() -> None:
    bus, store = _bus()
    user = await _registered(bus, "ann@example.jp")
    await bus.dispatch(EraseUser(user_id=user), SYSTEM)
    state = replay(await _events(store, user))
    assert state is not None
    assert state.erased
    assert not state.is_active
    assert state.email != "ann@example.jp"
    assert state.profile.display_name is None


async def test_addresses_in_the_reserved_invalid_domain_are_refused() -> None:
    bus, _ = _bus()
    with pytest.raises(InvalidCommandError) as err:
        await _registered(bus, "erased@erased.invalid")
    assert err.value.field == "email"


# --- ClearUserActivity / RestoreUserActivity ------------------------------------------------------


async def _active_user(bus: CommandBus, store: InMemoryEventStore) -> tuple[UUID, UUID, UUID]:
    user = await _registered(bus)
    movie = await _movie(store)
    scene = await _scene(store, movie)
    await bus.dispatch(
        AddMovieToWatchList(user_id=user, movie_id=movie, priority=2, notes="週末に", tags=("ghibli",)),
        SYSTEM,
    )
    await bus.dispatch(
        UpdateWatchListEntry(
            user_id=user, movie_id=movie, watched_scenes_count=1, last_watched_scene_id=scene
        ),
        SYSTEM,
    )
    await bus.dispatch(
        RecordSceneInteraction(
            user_id=user, scene_id=scene, interaction_type="comment", metadata={"t": "良い"}
        ),
        SYSTEM,
    )
    return user, movie, scene


async def test_clearing_removes_the_watch_list_and_interactions_in_one_event() -> None:
    bus, store = _bus()
    user, _, _ = await _active_user(bus, store)
    await bus.dispatch(ClearUserActivity(user_id=user), SYSTEM)
    last = (await _events(store, user))[-1]
    assert isinstance(last, UserActivityCleared)
    assert (last.watch_list_entries, last.interactions) == (1, 1)
    state = replay(await _events(store, user))
    assert state is not None
    assert not state.watch_list
    assert not state.interactions


async def test_clearing_nothing_appends_nothing() -> None:
    bus, store = _bus()
    user = await _registered(bus)
    await bus.dispatch(ClearUserActivity(user_id=user), SYSTEM)
    assert len(await _events(store, user)) == 1


async def test_restoring_puts_back_what_the_clear_removed_as_it_was() -> None:
    bus, store = _bus()
    user, _, _ = await _active_user(bus, store)
    before = replay(await _events(store, user))
    await bus.dispatch(ClearUserActivity(user_id=user), SYSTEM)
    await bus.dispatch(RestoreUserActivity(user_id=user), SYSTEM)
    after = replay(await _events(store, user))
    assert before is not None
    assert after is not None
    assert after.watch_list == before.watch_list
    assert after.interactions == before.interactions
    assert after.interaction_metadata == before.interaction_metadata


async def test_restoring_twice_adds_nothing_the_second_time() -> None:
    bus, store = _bus()
    user, _, _ = await _active_user(bus, store)
    await bus.dispatch(ClearUserActivity(user_id=user), SYSTEM)
    await bus.dispatch(RestoreUserActivity(user_id=user), SYSTEM)
    count = len(await _events(store, user))
    await bus.dispatch(RestoreUserActivity(user_id=user), SYSTEM)
    assert len(await _events(store, user)) == count


async def test_another_user_may_not_clear_a_users_activity() -> None:
    bus, _ = _bus()
    user = await _registered(bus)
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(ClearUserActivity(user_id=user), _as(uuid4()))


# --- AnonymizeReview ------------------------------------------------------------------------------


def _review(author: UUID) -> list[DomainEvent]:
    return list(post_review(_post(author), existing=None, scene=None, actor=author))


def _post(author: UUID) -> PostReview:
    return PostReview(user_id=author, movie_id=uuid4(), content="良い映画", rating=4)


def test_anonymizing_keeps_the_target_and_names_the_former_author() -> None:
    author = uuid4()
    events = _review(author)
    [event] = anonymize_review(
        AnonymizeReview(review_id=events[0].stream_id), replay_review(events), actor=None, privileged=True
    )
    assert isinstance(event, ReviewAnonymized)
    assert event.user_id == author
    assert event.stream_version == 2


def test_the_author_may_anonymize_their_review_and_others_may_not() -> None:
    author = uuid4()
    events = _review(author)
    cmd = AnonymizeReview(review_id=events[0].stream_id)
    assert anonymize_review(cmd, replay_review(events), actor=author, privileged=False)
    with pytest.raises(PermissionDeniedError):
        anonymize_review(cmd, replay_review(events), actor=uuid4(), privileged=False)


def test_anonymizing_an_anonymous_or_deleted_review_is_a_no_op() -> None:
    author = uuid4()
    events = _review(author)
    review_id = events[0].stream_id
    cmd = AnonymizeReview(review_id=review_id)
    anonymized = events + anonymize_review(cmd, replay_review(events), actor=None, privileged=True)
    assert anonymize_review(cmd, replay_review(anonymized), actor=None, privileged=True) == []
    deleted = events + delete_review(DeleteReview(review_id=review_id), replay_review(events), actor=author)
    assert anonymize_review(cmd, replay_review(deleted), actor=None, privileged=True) == []


def test_an_unknown_review_cannot_be_anonymized() -> None:
    with pytest.raises(StreamNotFoundError):
        anonymize_review(AnonymizeReview(review_id=uuid4()), None, actor=None, privileged=True)


def test_an_anonymous_review_cannot_be_revised() -> None:
    author = uuid4()
    events = _review(author)
    review_id = events[0].stream_id
    events += anonymize_review(
        AnonymizeReview(review_id=review_id), replay_review(events), actor=None, privileged=True
    )
    with pytest.raises(InvalidCommandError):
        revise_review(ReviseReview(review_id=review_id, rating=1), replay_review(events), actor=author)


async def test_the_system_anonymizes_a_review_through_the_bus() -> None:
    bus, store = _bus()
    author = await _registered(bus)
    movie = await _movie(store)
    post = PostReview(user_id=author, movie_id=movie, content="良い映画", rating=5)
    await bus.dispatch(post, _as(author))
    await bus.dispatch(AnonymizeReview(review_id=post.review_id), SYSTEM)
    assert isinstance((await _events(store, post.review_id))[-1], ReviewAnonymized)


async def test_a_viewer_may_not_anonymize_someone_elses_review_through_the_bus() -> None:
    bus, store = _bus()
    author = await _registered(bus)
    movie = await _movie(store)
    post = PostReview(user_id=author, movie_id=movie, content="良い映画", rating=5)
    await bus.dispatch(post, _as(author))
    with pytest.raises(PermissionDeniedError):
        await bus.dispatch(AnonymizeReview(review_id=post.review_id), _as(uuid4()))
