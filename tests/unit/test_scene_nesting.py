"""Nested scenes as the parent's stream records them: attach, move, detach, reconcile."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.scene import (
    CreateScene,
    DeleteScene,
    RetimeScene,
    SceneState,
    attach_nested,
    create_scene,
    delete_scene,
    move_nested,
    reconcile_nested,
    replay,
    retime_scene,
)
from events.base import DomainEvent
from events.scene import NestedSceneAttached, NestedSceneDetached, NestedSceneMoved

pytestmark = pytest.mark.unit


def _scene(
    start: str = "1000", end: str = "1100", *, movie: UUID | None = None, parent: SceneState | None = None
) -> tuple[SceneState, list[DomainEvent]]:
    cmd = CreateScene(
        movie_id=movie or (parent.movie_id if parent else uuid4()),
        start=start,
        end=end,
        classification="D1",
        scene_type="nested" if parent else "primary",
        parent_scene_id=parent.scene_id if parent else None,
    )
    events: list[DomainEvent] = list(create_scene(cmd, existing=None, parent=parent, created_by=None))
    state = replay(events)
    assert state is not None
    return state, events


def _parent_with_child(
    child_span: tuple[int, int] = (610, 620),
) -> tuple[SceneState, list[DomainEvent], UUID]:
    """A parent 10:00-11:00 (600-660 s) holding one nested scene."""
    parent, events = _scene()
    child = uuid4()
    events += attach_nested(
        parent, parent_id=parent.scene_id, child_id=child, movie_id=parent.movie_id, span=child_span
    )
    state = replay(events)
    assert state is not None
    return state, events, child


def test_attach_records_the_childs_range_on_the_parent() -> None:
    parent, _ = _scene()
    child = uuid4()
    [event] = attach_nested(
        parent, parent_id=parent.scene_id, child_id=child, movie_id=parent.movie_id, span=(610, 620)
    )
    assert isinstance(event, NestedSceneAttached)
    assert (event.child_scene_id, event.start_time_seconds, event.end_time_seconds) == (child, 610, 620)
    assert event.stream_id == parent.scene_id


def test_attach_outside_the_parent_is_rejected() -> None:
    parent, _ = _scene()
    with pytest.raises(InvalidCommandError, match="inside its parent") as err:
        attach_nested(
            parent, parent_id=parent.scene_id, child_id=uuid4(), movie_id=parent.movie_id, span=(650, 670)
        )
    assert err.value.field == "parent_scene_id"


def test_attach_to_a_parent_of_another_movie_is_rejected() -> None:
    parent, _ = _scene()
    with pytest.raises(InvalidCommandError, match="another movie"):
        attach_nested(parent, parent_id=parent.scene_id, child_id=uuid4(), movie_id=uuid4(), span=(610, 620))


def test_attach_to_a_missing_parent_is_a_reference_error() -> None:
    missing = uuid4()
    with pytest.raises(StreamNotFoundError) as err:
        attach_nested(None, parent_id=missing, child_id=uuid4(), movie_id=uuid4(), span=(1, 2))
    assert err.value.referenced
    assert err.value.field == "parent_scene_id"


def test_attach_again_with_the_same_range_emits_nothing() -> None:
    parent, _, child = _parent_with_child()
    assert (
        attach_nested(
            parent, parent_id=parent.scene_id, child_id=child, movie_id=parent.movie_id, span=(610, 620)
        )
        == []
    )


def test_parent_retime_excluding_a_child_is_rejected() -> None:
    parent, _, child = _parent_with_child((610, 620))
    with pytest.raises(InvalidCommandError, match=str(child)) as err:
        retime_scene(RetimeScene(scene_id=parent.scene_id, start="1015", end="1100"), parent)
    assert err.value.field == "start"


def test_parent_retime_still_enclosing_its_children_is_accepted() -> None:
    parent, _, _ = _parent_with_child((610, 620))
    assert len(retime_scene(RetimeScene(scene_id=parent.scene_id, start="1005", end="1025"), parent)) == 1


def test_parent_with_a_live_child_cannot_be_deleted() -> None:
    parent, _, child = _parent_with_child()
    with pytest.raises(InvalidCommandError, match=str(child)) as err:
        delete_scene(DeleteScene(scene_id=parent.scene_id), parent)
    assert err.value.field == "scene_id"


def test_move_inside_the_parent_is_recorded() -> None:
    parent, _, child = _parent_with_child()
    [event] = move_nested(
        parent, parent_id=parent.scene_id, child_id=child, movie_id=parent.movie_id, span=(630, 640)
    )
    assert isinstance(event, NestedSceneMoved)
    assert (event.start_time_seconds, event.end_time_seconds) == (630, 640)


def test_move_outside_the_parent_is_rejected_naming_the_side() -> None:
    parent, _, child = _parent_with_child()
    with pytest.raises(InvalidCommandError) as err:
        move_nested(
            parent, parent_id=parent.scene_id, child_id=child, movie_id=parent.movie_id, span=(650, 661)
        )
    assert err.value.field == "end"


def test_detached_child_no_longer_blocks_the_parent() -> None:
    parent, events, child = _parent_with_child()
    [detached] = reconcile_nested(parent, child_id=child, child=None)
    assert isinstance(detached, NestedSceneDetached)
    after = replay([*events, detached])
    assert after is not None
    assert after.children == {}
    assert delete_scene(DeleteScene(scene_id=parent.scene_id), after)[-1].event_type == "SceneDeleted"


def test_reconcile_attaches_a_live_child_the_parent_did_not_record() -> None:
    parent, _ = _scene()
    child, _ = _scene("1010", "1020", parent=parent)
    [event] = reconcile_nested(parent, child_id=child.scene_id, child=child)
    assert isinstance(event, NestedSceneAttached)
    assert (event.start_time_seconds, event.end_time_seconds) == (610, 620)


def test_reconcile_corrects_a_recorded_range_to_the_childs_real_one() -> None:
    parent, events = _scene()
    child, _ = _scene("1010", "1020", parent=parent)
    events += attach_nested(
        parent, parent_id=parent.scene_id, child_id=child.scene_id, movie_id=parent.movie_id, span=(630, 640)
    )
    [event] = reconcile_nested(replay(events), child_id=child.scene_id, child=child)
    assert isinstance(event, NestedSceneMoved)
    assert (event.start_time_seconds, event.end_time_seconds) == (610, 620)


def test_reconcile_with_matching_records_emits_nothing() -> None:
    parent, events = _scene()
    child, _ = _scene("1010", "1020", parent=parent)
    events += attach_nested(
        parent, parent_id=parent.scene_id, child_id=child.scene_id, movie_id=parent.movie_id, span=(610, 620)
    )
    recorded = replay(events)
    assert reconcile_nested(recorded, child_id=child.scene_id, child=child) == []
    assert reconcile_nested(recorded, child_id=uuid4(), child=None) == []


def test_reconcile_on_a_deleted_parent_emits_nothing() -> None:
    parent, events, child = _parent_with_child()
    gone = replay([*events, *reconcile_nested(parent, child_id=child, child=None)])
    assert gone is not None
    deleted = replay(
        [
            *events,
            *reconcile_nested(parent, child_id=child, child=None),
            *delete_scene(DeleteScene(scene_id=parent.scene_id), gone),
        ]
    )
    assert reconcile_nested(deleted, child_id=child, child=None) == []
