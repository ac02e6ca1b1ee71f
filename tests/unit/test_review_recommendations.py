from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.base import HandlerDeps
from commands.errors import (
    InvalidCommandError,
    PermissionDeniedError,
    StreamNotFoundError,
    UniqueKeyTakenError,
)
from commands.handlers import CommandBus
from commands.review import (
    DismissRecommendation,
    MakeRecommendation,
    RecommendationState,
    WithdrawRecommendation,
    dismiss_recommendation,
    make_recommendation,
    recommendation_claim,
    replay_recommendation,
    withdraw_recommendation,
)
from commands.review_handlers import REVIEW_HANDLERS
from events.base import DomainEvent, EventMetadata
from events.movie import MovieRegistered
from events.review import RecommendationDismissed, RecommendationMade, RecommendationWithdrawn
from events.user import UserDeactivated, UserRegistered
from infra.memory_event_store import InMemoryEventStore

pytestmark = pytest.mark.unit

HASH = "$argon2id$test"  # a stand-in: these tests never check credentials


def _make(**overrides: object) -> MakeRecommendation:
    fields: dict[str, object] = {
        "recommender_id": uuid4(),
        "recipient_id": uuid4(),
        "movie_id": uuid4(),
        "reason": "雨の場面が美しい",
        "score": 5,
    }
    fields.update(overrides)
    return MakeRecommendation.model_validate(fields)


def _made(cmd: MakeRecommendation | None = None) -> tuple[MakeRecommendation, list[DomainEvent]]:
    cmd = cmd or _make()
    return cmd, list(make_recommendation(cmd, existing=None, scene=None, actor=None).events)


def _state(events: list[DomainEvent]) -> RecommendationState:
    state = replay_recommendation(events)
    assert state is not None
    return state


# --- pure rules -------------------------------------------------------------------------------


def test_make_records_the_recommendation_and_claims_it() -> None:
    cmd = _make()
    decision = make_recommendation(cmd, existing=None, scene=None, actor=cmd.recommender_id)
    [event] = decision.events
    assert isinstance(event, RecommendationMade)
    assert (event.recommender_id, event.recipient_id, event.reason, event.score) == (
        cmd.recommender_id,
        cmd.recipient_id,
        "雨の場面が美しい",
        5,
    )
    assert event.partition_key() == str(cmd.recommender_id)
    assert list(decision.claims) == [
        recommendation_claim(cmd.recommender_id, cmd.recipient_id, cmd.movie_id, None)
    ]


def test_claims_of_a_directed_and_a_public_recommendation_differ() -> None:
    sender, movie = uuid4(), uuid4()
    assert recommendation_claim(sender, None, movie, None) != recommendation_claim(
        sender, uuid4(), movie, None
    )


def test_recommending_to_oneself_is_rejected() -> None:
    sender = uuid4()
    with pytest.raises(InvalidCommandError) as err:
        make_recommendation(
            _make(recommender_id=sender, recipient_id=sender), existing=None, scene=None, actor=None
        )
    assert err.value.field == "recipient_id"


def test_make_needs_a_target() -> None:
    with pytest.raises(InvalidCommandError) as err:
        make_recommendation(_make(movie_id=None), existing=None, scene=None, actor=None)
    assert err.value.field == "movie_id"


def test_make_in_another_users_name_is_rejected() -> None:
    with pytest.raises(PermissionDeniedError) as err:
        make_recommendation(_make(), existing=None, scene=None, actor=uuid4())
    assert err.value.field == "recommender_id"


def test_blank_reason_is_rejected() -> None:
    with pytest.raises(ValidationError, match="reason"):
        _make(reason="  ")


@pytest.mark.parametrize("score", [0, 6])
def test_score_outside_one_to_five_is_rejected(score: int) -> None:
    with pytest.raises(ValidationError, match="score"):
        _make(score=score)


def test_the_recipient_dismisses() -> None:
    cmd, events = _made()
    [event] = dismiss_recommendation(
        DismissRecommendation(recommendation_id=cmd.recommendation_id), _state(events), actor=cmd.recipient_id
    )
    assert isinstance(event, RecommendationDismissed)
    assert event.stream_version == 2


def test_only_the_recipient_may_dismiss() -> None:
    cmd, events = _made()
    with pytest.raises(PermissionDeniedError) as err:
        dismiss_recommendation(
            DismissRecommendation(recommendation_id=cmd.recommendation_id),
            _state(events),
            actor=cmd.recommender_id,
        )
    assert err.value.field == "user_id"


def test_a_recommendation_to_everyone_cannot_be_dismissed() -> None:
    cmd, events = _made(_make(recipient_id=None))
    with pytest.raises(InvalidCommandError) as err:
        dismiss_recommendation(
            DismissRecommendation(recommendation_id=cmd.recommendation_id), _state(events), actor=None
        )
    assert err.value.field == "recommendation_id"


def test_dismissing_twice_writes_nothing() -> None:
    cmd, events = _made()
    dismiss = DismissRecommendation(recommendation_id=cmd.recommendation_id)
    events += dismiss_recommendation(dismiss, _state(events), actor=None)
    assert dismiss_recommendation(dismiss, _state(events), actor=None) == []


def test_the_recommender_withdraws_and_frees_the_claim() -> None:
    cmd, events = _made()
    decision = withdraw_recommendation(
        WithdrawRecommendation(recommendation_id=cmd.recommendation_id),
        _state(events),
        actor=cmd.recommender_id,
    )
    [event] = decision.events
    assert isinstance(event, RecommendationWithdrawn)
    assert list(decision.releases) == [
        recommendation_claim(cmd.recommender_id, cmd.recipient_id, cmd.movie_id, None)
    ]


def test_only_the_recommender_may_withdraw() -> None:
    cmd, events = _made()
    with pytest.raises(PermissionDeniedError):
        withdraw_recommendation(
            WithdrawRecommendation(recommendation_id=cmd.recommendation_id),
            _state(events),
            actor=cmd.recipient_id,
        )


def test_dismissing_a_withdrawn_recommendation_is_not_found() -> None:
    cmd, events = _made()
    events += withdraw_recommendation(
        WithdrawRecommendation(recommendation_id=cmd.recommendation_id), _state(events), actor=None
    ).events
    with pytest.raises(StreamNotFoundError):
        dismiss_recommendation(
            DismissRecommendation(recommendation_id=cmd.recommendation_id), _state(events), actor=None
        )


def test_replay_follows_every_event() -> None:
    cmd, events = _made()
    events += dismiss_recommendation(
        DismissRecommendation(recommendation_id=cmd.recommendation_id), _state(events), actor=None
    )
    state = _state(events)
    assert (state.dismissed, state.withdrawn, state.version) == (True, False, 2)


# --- handlers ---------------------------------------------------------------------------------


async def _append(store: InMemoryEventStore, event: DomainEvent) -> None:
    await store.append([event], expected_version=event.stream_version - 1, metadata=EventMetadata())


async def _user(store: InMemoryEventStore) -> UUID:
    uid = uuid4()
    await _append(
        store, UserRegistered(stream_id=uid, stream_version=1, email=f"{uid}@x.jp", password_hash=HASH)
    )
    return uid


async def _world() -> tuple[CommandBus, InMemoryEventStore, UUID, UUID, UUID]:
    store = InMemoryEventStore()
    movie = uuid4()
    await _append(store, MovieRegistered(stream_id=movie, stream_version=1, title="東京物語"))
    sender, recipient = await _user(store), await _user(store)
    return CommandBus(HandlerDeps(event_store=store), REVIEW_HANDLERS), store, sender, recipient, movie


async def test_recommending_the_same_thing_to_the_same_user_twice_is_taken() -> None:
    bus, _, sender, recipient, movie = await _world()
    cmd = MakeRecommendation(
        recommender_id=sender, recipient_id=recipient, movie_id=movie, reason="見て", score=4
    )
    await bus.dispatch(cmd)
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(cmd.model_copy(update={"command_id": uuid4(), "recommendation_id": uuid4()}))


async def test_a_dismissed_recommendation_cannot_be_sent_again() -> None:
    bus, _, sender, recipient, movie = await _world()
    cmd = MakeRecommendation(
        recommender_id=sender, recipient_id=recipient, movie_id=movie, reason="見て", score=4
    )
    await bus.dispatch(cmd)
    await bus.dispatch(
        DismissRecommendation(recommendation_id=cmd.recommendation_id), EventMetadata(user_id=recipient)
    )
    with pytest.raises(UniqueKeyTakenError):
        await bus.dispatch(cmd.model_copy(update={"command_id": uuid4(), "recommendation_id": uuid4()}))


async def test_after_withdrawal_the_same_recommendation_can_be_made_again() -> None:
    bus, _, sender, recipient, movie = await _world()
    cmd = MakeRecommendation(
        recommender_id=sender, recipient_id=recipient, movie_id=movie, reason="見て", score=4
    )
    await bus.dispatch(cmd)
    await bus.dispatch(WithdrawRecommendation(recommendation_id=cmd.recommendation_id))
    again = await bus.dispatch(cmd.model_copy(update={"command_id": uuid4(), "recommendation_id": uuid4()}))
    assert again.stream_version == 1


async def test_recommending_to_an_unknown_user_is_rejected() -> None:
    bus, _, sender, _, movie = await _world()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            MakeRecommendation(
                recommender_id=sender, recipient_id=uuid4(), movie_id=movie, reason="r", score=1
            )
        )
    assert err.value.field == "recipient_id"


async def test_recommending_to_a_deactivated_user_is_rejected() -> None:
    bus, store, sender, recipient, movie = await _world()
    await _append(store, UserDeactivated(stream_id=recipient, stream_version=2))
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            MakeRecommendation(
                recommender_id=sender, recipient_id=recipient, movie_id=movie, reason="r", score=1
            )
        )
    assert err.value.field == "recipient_id"


async def test_an_unknown_recommender_is_rejected() -> None:
    bus, _, _, recipient, movie = await _world()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(
            MakeRecommendation(
                recommender_id=uuid4(), recipient_id=recipient, movie_id=movie, reason="r", score=1
            )
        )
    assert err.value.field == "recommender_id"


async def test_recommending_an_unknown_movie_to_everyone_is_rejected() -> None:
    bus, _, sender, _, _ = await _world()
    with pytest.raises(StreamNotFoundError) as err:
        await bus.dispatch(MakeRecommendation(recommender_id=sender, movie_id=uuid4(), reason="r", score=1))
    assert err.value.field == "movie_id"
