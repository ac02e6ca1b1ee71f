from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.base import Decision, HandlerDeps
from commands.errors import (
    InvalidCommandError,
    PermissionDeniedError,
    StreamNotFoundError,
    UniqueKeyTakenError,
)
from commands.handlers import CommandBus
from commands.review import (
    ChangeRating,
    GiveRating,
    RatingState,
    WithdrawRating,
    change_rating,
    give_rating,
    rating_claim,
    replay_rating,
    withdraw_rating,
)
from commands.review_handlers import REVIEW_HANDLERS
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.review import RatingChanged, RatingGiven, RatingWithdrawn
from events.scene import SceneCreated
from events.user import UserRegistered
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

HASH = "$argon2id$test"  # a stand-in: these tests never check credentials


def _give(**overrides: object) -> GiveRating:
    fields: dict[str, object] = {"user_id": uuid4(), "movie_id": uuid4(), "rating": 4}
    fields.update(overrides)
    return GiveRating.model_validate(fields)


def _given(cmd: GiveRating | None = None) -> tuple[GiveRating, list[DomainEvent]]:
    cmd = cmd or _give()
    return cmd, list(give_rating(cmd, existing=None, scene=None, actor=None).events)


def _state(events: list[DomainEvent]) -> RatingState:
    state = replay_rating(events)
    assert state is not None
    return state


# --- pure rules -------------------------------------------------------------------------------


def test_give_records_the_rating_and_claims_user_and_target() -> None:
    cmd = _give()
    decision = give_rating(cmd, existing=None, scene=None, actor=cmd.user_id)
    [event] = decision.events
    assert isinstance(event, RatingGiven)
    assert (event.user_id, event.movie_id, event.scene_id, event.rating) == (
        cmd.user_id,
        cmd.movie_id,
        None,
        4,
    )
    assert list(decision.claims) == [rating_claim(cmd.user_id, cmd.movie_id, None)]
    assert decision.claims[0].key == f"{cmd.user_id}|{cmd.movie_id}"


def test_rating_events_are_keyed_by_the_rating_user() -> None:
    _, [event] = _given()
    assert isinstance(event, RatingGiven)
    assert event.partition_key() == str(event.user_id)


def test_give_needs_a_target() -> None:
    with pytest.raises(InvalidCommandError) as err:
        give_rating(_give(movie_id=None), existing=None, scene=None, actor=None)
    assert err.value.field == "movie_id"


def test_give_refuses_a_movie_and_a_scene_at_once() -> None:
    with pytest.raises(InvalidCommandError) as err:
        give_rating(_give(scene_id=uuid4()), existing=None, scene=None, actor=None)
    assert err.value.field == "scene_id"


def test_give_of_a_missing_scene_is_rejected() -> None:
    with pytest.raises(StreamNotFoundError):
        give_rating(_give(movie_id=None, scene_id=uuid4()), existing=None, scene=None, actor=None)


def test_give_in_another_users_name_is_rejected() -> None:
    with pytest.raises(PermissionDeniedError) as err:
        give_rating(_give(), existing=None, scene=None, actor=uuid4())
    assert err.value.field == "user_id"


def test_give_on_an_existing_rating_id_is_rejected() -> None:
    cmd, events = _given()
    with pytest.raises(InvalidCommandError):
        give_rating(cmd, existing=_state(events), scene=None, actor=None)


@pytest.mark.parametrize("stars", [0, 6])
def test_stars_outside_one_to_five_are_rejected(stars: int) -> None:
    with pytest.raises(ValidationError, match="rating"):
        _give(rating=stars)


def test_change_records_the_new_stars() -> None:
    cmd, events = _given()
    [event] = change_rating(
        ChangeRating(rating_id=cmd.rating_id, rating=2), _state(events), actor=cmd.user_id
    )
    assert isinstance(event, RatingChanged)
    assert (event.rating, event.stream_version, event.movie_id) == (2, 2, cmd.movie_id)


def test_change_to_the_same_stars_writes_nothing() -> None:
    cmd, events = _given()
    assert change_rating(ChangeRating(rating_id=cmd.rating_id, rating=4), _state(events), actor=None) == []


def test_change_by_another_user_is_rejected() -> None:
    cmd, events = _given()
    with pytest.raises(PermissionDeniedError):
        change_rating(ChangeRating(rating_id=cmd.rating_id, rating=1), _state(events), actor=uuid4())


def test_withdraw_releases_the_claim() -> None:
    cmd, events = _given()
    decision = withdraw_rating(WithdrawRating(rating_id=cmd.rating_id), _state(events), actor=None)
    assert isinstance(decision, Decision)
    [event] = decision.events
    assert isinstance(event, RatingWithdrawn)
    assert list(decision.releases) == [rating_claim(cmd.user_id, cmd.movie_id, None)]


def test_change_after_withdrawal_is_not_found() -> None:
    cmd, events = _given()
    events += withdraw_rating(WithdrawRating(rating_id=cmd.rating_id), _state(events), actor=None).events
    with pytest.raises(StreamNotFoundError):
        change_rating(ChangeRating(rating_id=cmd.rating_id, rating=1), _state(events), actor=None)


def test_withdraw_by_another_user_is_rejected() -> None:
    cmd, events = _given()
    with pytest.raises(PermissionDeniedError):
        withdraw_rating(WithdrawRating(rating_id=cmd.rating_id), _state(events), actor=uuid4())


def test_replay_follows_every_event() -> None:
    cmd, events = _given()
    events += change_rating(ChangeRating(rating_id=cmd.rating_id, rating=1), _state(events), actor=None)
    state = _state(events)
    assert (state.rating, state.version, state.withdrawn) == (1, 2, False)


# --- handlers ---------------------------------------------------------------------------------


async def _world() -> tuple[CommandBus, InMemoryEventStore, UUID, UUID]:
    store = InMemoryEventStore()
    user, movie = uuid4(), uuid4()
    await store.append(
        [UserRegistered(stream_id=user, stream_version=1, email="a@b.jp", password_hash=HASH)],
        expected_version=0,
        metadata=EventMetadata(),
    )
    await store.append(
        [MovieRegistered(stream_id=movie, stream_version=1, title="七人の侍")],
        expected_version=0,
        metadata=EventMetadata(),
    )
    return CommandBus(HandlerDeps(event_store=store), REVIEW_HANDLERS), store, user, movie


async def test_a_second_rating_of_the_same_target_is_taken() -> None:
    bus, _, user, movie = await _world()
    await bus.dispatch(GiveRating(user_id=user, movie_id=movie, rating=3))
    with pytest.raises(UniqueKeyTakenError) as err:
        await bus.dispatch(GiveRating(user_id=user, movie_id=movie, rating=5))
    assert err.value.field == "rating"


async def test_after_withdrawal_the_target_can_be_rated_again() -> None:
    bus, _, user, movie = await _world()
    first = await bus.dispatch(GiveRating(user_id=user, movie_id=movie, rating=3))
    await bus.dispatch(WithdrawRating(rating_id=first.stream_id))
    again = await bus.dispatch(GiveRating(user_id=user, movie_id=movie, rating=5))
    assert again.stream_version == 1


async def test_rating_an_unknown_movie_is_rejected() -> None:
    bus, _, user, _ = await _world()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(GiveRating(user_id=user, movie_id=uuid4(), rating=3))
    assert err.value.field == "movie_id"


async def test_rating_by_an_unknown_user_is_rejected() -> None:
    bus, _, _, movie = await _world()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(GiveRating(user_id=uuid4(), movie_id=movie, rating=3))
    assert err.value.field == "user_id"


async def test_a_scene_can_be_rated() -> None:
    bus, store, user, movie = await _world()
    scene = uuid4()
    await store.append(
        [
            SceneCreated(
                stream_id=scene,
                stream_version=1,
                movie_id=movie,
                start_time_seconds=0,
                end_time_seconds=5,
                level1_classification="A",
                level2_classification="A1",
            )
        ],
        expected_version=0,
        metadata=EventMetadata(),
    )
    result = await bus.dispatch(GiveRating(user_id=user, scene_id=scene, rating=2))
    [recorded] = await store.read_stream(result.stream_id)
    assert isinstance(recorded.event, RatingGiven)
    assert recorded.event.scene_id == scene
