from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.errors import InvalidCommandError, PermissionDeniedError, StreamNotFoundError
from commands.review import (
    DeleteReview,
    PostReview,
    ReactToReview,
    ReviewState,
    ReviseReview,
    WithdrawReaction,
    check_target,
    delete_review,
    post_review,
    react_to_review,
    replay_review,
    revise_review,
    withdraw_reaction,
)
from commands.scene import CreateScene, SceneState, create_scene, delete_scene
from commands.scene import DeleteScene as DeleteSceneCmd
from commands.scene import replay as replay_scene
from events.base import DomainEvent
from events.review import (
    ReviewDeleted,
    ReviewPosted,
    ReviewReactionAdded,
    ReviewReactionWithdrawn,
    ReviewRevised,
)

pytestmark = pytest.mark.unit


def _scene(movie_id: UUID, *, deleted: bool = False) -> SceneState:
    events: list[DomainEvent] = list(
        create_scene(
            CreateScene(movie_id=movie_id, start="1", end="2", classification="L1"),
            existing=None,
            parent=None,
            created_by=None,
        )
    )
    if deleted:
        state = replay_scene(events)
        events += delete_scene(DeleteSceneCmd(scene_id=events[0].stream_id), state)
    state = replay_scene(events)
    assert state is not None
    return state


def _post(**overrides: object) -> PostReview:
    fields: dict[str, object] = {"user_id": uuid4(), "movie_id": uuid4(), "content": "良い映画", "rating": 4}
    fields.update(overrides)
    return PostReview.model_validate(fields)


def _posted(cmd: PostReview | None = None) -> tuple[PostReview, list[DomainEvent]]:
    cmd = cmd or _post()
    return cmd, list(post_review(cmd, existing=None, scene=None, actor=None))


def _state(events: list[DomainEvent]) -> ReviewState:
    state = replay_review(events)
    assert state is not None
    return state


# --- posting ----------------------------------------------------------------------------------


def test_post_records_the_review_whole() -> None:
    cmd = _post(title="  Title  ", is_spoiler=True, review_type="analysis")
    [event] = post_review(cmd, existing=None, scene=None, actor=None)
    assert isinstance(event, ReviewPosted)
    assert (event.stream_id, event.stream_version, event.user_id) == (cmd.review_id, 1, cmd.user_id)
    assert (event.title, event.content, event.rating) == ("Title", "良い映画", 4)
    assert (event.review_type, event.is_public, event.is_spoiler) == ("analysis", True, True)


def test_post_turns_a_blank_title_into_none() -> None:
    [event] = post_review(_post(title="   "), existing=None, scene=None, actor=None)
    assert isinstance(event, ReviewPosted)
    assert event.title is None


def test_post_needs_a_movie_or_a_scene() -> None:
    with pytest.raises(InvalidCommandError) as err:
        post_review(_post(movie_id=None), existing=None, scene=None, actor=None)
    assert err.value.field == "movie_id"


def test_post_about_a_missing_scene_is_rejected() -> None:
    with pytest.raises(StreamNotFoundError) as err:
        post_review(_post(movie_id=None, scene_id=uuid4()), existing=None, scene=None, actor=None)
    assert (err.value.field, err.value.referenced) == ("scene_id", True)


def test_post_about_a_deleted_scene_is_rejected() -> None:
    scene = _scene(uuid4(), deleted=True)
    with pytest.raises(StreamNotFoundError):
        post_review(_post(movie_id=None, scene_id=scene.scene_id), existing=None, scene=scene, actor=None)


def test_post_about_a_scene_of_another_movie_is_rejected() -> None:
    scene = _scene(uuid4())
    with pytest.raises(InvalidCommandError) as err:
        post_review(_post(scene_id=scene.scene_id), existing=None, scene=scene, actor=None)
    assert err.value.field == "scene_id"
    assert "belongs to movie" in err.value.reason


def test_post_about_a_scene_of_the_given_movie_is_accepted() -> None:
    movie = uuid4()
    scene = _scene(movie)
    [event] = post_review(
        _post(movie_id=movie, scene_id=scene.scene_id), existing=None, scene=scene, actor=None
    )
    assert isinstance(event, ReviewPosted)
    assert (event.movie_id, event.scene_id) == (movie, scene.scene_id)


def test_post_about_a_scene_alone_is_accepted() -> None:
    scene = _scene(uuid4())
    [event] = post_review(
        _post(movie_id=None, scene_id=scene.scene_id), existing=None, scene=scene, actor=None
    )
    assert isinstance(event, ReviewPosted)
    assert (event.movie_id, event.scene_id) == (None, scene.scene_id)


def test_post_in_someone_elses_name_is_rejected() -> None:
    with pytest.raises(PermissionDeniedError) as err:
        post_review(_post(), existing=None, scene=None, actor=uuid4())
    assert err.value.field == "user_id"


def test_post_in_ones_own_name_is_accepted() -> None:
    cmd = _post()
    assert post_review(cmd, existing=None, scene=None, actor=cmd.user_id)


def test_post_of_an_existing_review_id_is_rejected() -> None:
    cmd, events = _posted()
    with pytest.raises(InvalidCommandError) as err:
        post_review(cmd, existing=_state(events), scene=None, actor=None)
    assert err.value.field == "review_id"


@pytest.mark.parametrize("rating", [0, 6])
def test_rating_outside_one_to_five_is_rejected(rating: int) -> None:
    with pytest.raises(ValidationError, match="rating"):
        _post(rating=rating)


def test_blank_content_is_rejected() -> None:
    with pytest.raises(ValidationError, match="content"):
        _post(content="   ")


def test_unknown_review_type_is_rejected() -> None:
    with pytest.raises(ValidationError, match="review_type"):
        _post(review_type="rant")


def test_professional_review_type_needs_no_role_here() -> None:
    [event] = post_review(_post(review_type="professional"), existing=None, scene=None, actor=None)
    assert isinstance(event, ReviewPosted)
    assert event.review_type == "professional"


def test_check_target_refuses_both_targets_when_exactly_one_is_asked() -> None:
    movie = uuid4()
    scene = _scene(movie)
    with pytest.raises(InvalidCommandError) as err:
        check_target(movie, scene.scene_id, scene, what="rating", exactly_one=True)
    assert err.value.field == "scene_id"


# --- revising and deleting --------------------------------------------------------------------


def test_revise_changes_only_the_given_fields() -> None:
    cmd, events = _posted(_post(title="T", is_spoiler=True))
    [event] = revise_review(ReviseReview(review_id=cmd.review_id, rating=2), _state(events), actor=None)
    assert isinstance(event, ReviewRevised)
    assert (event.rating, event.title, event.content, event.is_spoiler) == (2, "T", "良い映画", True)
    assert (event.user_id, event.movie_id, event.stream_version) == (cmd.user_id, cmd.movie_id, 2)


def test_revise_with_an_empty_title_clears_it() -> None:
    cmd, events = _posted(_post(title="T"))
    [event] = revise_review(ReviseReview(review_id=cmd.review_id, title=""), _state(events), actor=None)
    assert isinstance(event, ReviewRevised)
    assert event.title is None


def test_revise_to_the_same_values_writes_nothing() -> None:
    cmd, events = _posted()
    same = ReviseReview(review_id=cmd.review_id, rating=cmd.rating, content=cmd.content)
    assert revise_review(same, _state(events), actor=None) == []


def test_revise_without_changes_is_rejected() -> None:
    cmd, events = _posted()
    with pytest.raises(InvalidCommandError):
        revise_review(ReviseReview(review_id=cmd.review_id), _state(events), actor=None)


def test_revise_by_another_user_is_rejected() -> None:
    cmd, events = _posted()
    with pytest.raises(PermissionDeniedError) as err:
        revise_review(ReviseReview(review_id=cmd.review_id, rating=1), _state(events), actor=uuid4())
    assert (err.value.field, err.value.reason) == ("user_id", "only the review's author may revise it")


def test_revise_by_the_author_is_accepted() -> None:
    cmd, events = _posted()
    assert revise_review(ReviseReview(review_id=cmd.review_id, rating=1), _state(events), actor=cmd.user_id)


def test_revise_of_an_unknown_review_is_not_found() -> None:
    with pytest.raises(StreamNotFoundError) as err:
        revise_review(ReviseReview(review_id=uuid4(), rating=1), None, actor=None)
    assert not err.value.referenced


def test_delete_then_revise_is_not_found() -> None:
    cmd, events = _posted()
    events += delete_review(DeleteReview(review_id=cmd.review_id), _state(events), actor=None)
    assert isinstance(events[-1], ReviewDeleted)
    with pytest.raises(StreamNotFoundError):
        revise_review(ReviseReview(review_id=cmd.review_id, rating=1), _state(events), actor=None)


def test_delete_by_another_user_is_rejected() -> None:
    cmd, events = _posted()
    with pytest.raises(PermissionDeniedError):
        delete_review(DeleteReview(review_id=cmd.review_id), _state(events), actor=uuid4())


def test_delete_twice_is_not_found() -> None:
    cmd, events = _posted()
    events += delete_review(DeleteReview(review_id=cmd.review_id), _state(events), actor=None)
    with pytest.raises(StreamNotFoundError):
        delete_review(DeleteReview(review_id=cmd.review_id), _state(events), actor=None)


# --- reactions --------------------------------------------------------------------------------


def test_react_records_the_author_and_the_reacting_user() -> None:
    cmd, events = _posted()
    fan = uuid4()
    [event] = react_to_review(
        ReactToReview(review_id=cmd.review_id, user_id=fan, kind="helpful"), _state(events), actor=fan
    )
    assert isinstance(event, ReviewReactionAdded)
    assert (event.user_id, event.by_user_id, event.kind) == (cmd.user_id, fan, "helpful")
    assert event.stream_version == 2


def test_reacting_twice_the_same_way_writes_nothing() -> None:
    cmd, events = _posted()
    react = ReactToReview(review_id=cmd.review_id, user_id=uuid4(), kind="like")
    events += react_to_review(react, _state(events), actor=None)
    assert react_to_review(react, _state(events), actor=None) == []


def test_one_user_may_react_in_several_kinds() -> None:
    cmd, events = _posted()
    fan = uuid4()
    events += react_to_review(
        ReactToReview(review_id=cmd.review_id, user_id=fan, kind="like"), _state(events), actor=None
    )
    assert react_to_review(
        ReactToReview(review_id=cmd.review_id, user_id=fan, kind="helpful"), _state(events), actor=None
    )


@pytest.mark.parametrize("kind", ["like", "helpful", "report"])
def test_a_user_cannot_react_to_their_own_review(kind: str) -> None:
    cmd, events = _posted()
    react = ReactToReview.model_validate({"review_id": cmd.review_id, "user_id": cmd.user_id, "kind": kind})
    with pytest.raises(InvalidCommandError) as err:
        react_to_review(react, _state(events), actor=None)
    assert err.value.field == "user_id"
    assert "own review" in err.value.reason


def test_a_private_review_cannot_be_reacted_to() -> None:
    cmd, events = _posted(_post(is_public=False))
    with pytest.raises(InvalidCommandError) as err:
        react_to_review(
            ReactToReview(review_id=cmd.review_id, user_id=uuid4(), kind="like"), _state(events), actor=None
        )
    assert err.value.field == "review_id"


def test_reacting_in_someone_elses_name_is_rejected() -> None:
    cmd, events = _posted()
    with pytest.raises(PermissionDeniedError):
        react_to_review(
            ReactToReview(review_id=cmd.review_id, user_id=uuid4(), kind="like"),
            _state(events),
            actor=uuid4(),
        )


def test_unknown_reaction_kind_is_rejected() -> None:
    with pytest.raises(ValidationError, match="kind"):
        ReactToReview.model_validate({"review_id": uuid4(), "user_id": uuid4(), "kind": "love"})


def test_reacting_to_a_deleted_review_is_not_found() -> None:
    cmd, events = _posted()
    events += delete_review(DeleteReview(review_id=cmd.review_id), _state(events), actor=None)
    with pytest.raises(StreamNotFoundError):
        react_to_review(
            ReactToReview(review_id=cmd.review_id, user_id=uuid4(), kind="like"), _state(events), actor=None
        )


def test_withdraw_removes_the_reaction_from_the_state() -> None:
    cmd, events = _posted()
    fan = uuid4()
    events += react_to_review(
        ReactToReview(review_id=cmd.review_id, user_id=fan, kind="report"), _state(events), actor=None
    )
    [event] = withdraw_reaction(
        WithdrawReaction(review_id=cmd.review_id, user_id=fan, kind="report"), _state(events), actor=fan
    )
    assert isinstance(event, ReviewReactionWithdrawn)
    assert (event.by_user_id, event.kind, event.stream_version) == (fan, "report", 3)
    assert _state([*events, event]).reactions == frozenset()


def test_withdrawing_an_absent_reaction_writes_nothing() -> None:
    cmd, events = _posted()
    withdraw = WithdrawReaction(review_id=cmd.review_id, user_id=uuid4(), kind="like")
    assert withdraw_reaction(withdraw, _state(events), actor=None) == []


def test_withdrawing_someone_elses_reaction_is_rejected() -> None:
    cmd, events = _posted()
    fan = uuid4()
    events += react_to_review(
        ReactToReview(review_id=cmd.review_id, user_id=fan, kind="like"), _state(events), actor=None
    )
    with pytest.raises(PermissionDeniedError):
        withdraw_reaction(
            WithdrawReaction(review_id=cmd.review_id, user_id=fan, kind="like"), _state(events), actor=uuid4()
        )


def test_a_reaction_survives_the_review_turning_private_and_can_be_withdrawn() -> None:
    cmd, events = _posted()
    fan = uuid4()
    events += react_to_review(
        ReactToReview(review_id=cmd.review_id, user_id=fan, kind="like"), _state(events), actor=None
    )
    events += revise_review(
        ReviseReview(review_id=cmd.review_id, is_public=False), _state(events), actor=None
    )
    assert _state(events).reactions == {(fan, "like")}
    assert withdraw_reaction(
        WithdrawReaction(review_id=cmd.review_id, user_id=fan, kind="like"), _state(events), actor=None
    )


# --- replay -----------------------------------------------------------------------------------


def test_replay_follows_every_event() -> None:
    cmd, events = _posted()
    events += revise_review(
        ReviseReview(review_id=cmd.review_id, content="再見", is_public=False), _state(events), actor=None
    )
    state = _state(events)
    assert (state.version, state.content, state.is_public, state.deleted) == (2, "再見", False, False)


def test_replay_of_nothing_is_none() -> None:
    assert replay_review([]) is None


def test_an_event_before_posting_is_a_type_error() -> None:
    orphan = ReviewDeleted(stream_id=uuid4(), stream_version=1, user_id=uuid4(), movie_id=uuid4())
    with pytest.raises(TypeError, match="before ReviewPosted"):
        replay_review([orphan])
