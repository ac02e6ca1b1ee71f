from __future__ import annotations

from uuid import uuid4

import pytest

from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.scene import (
    CreateScene,
    DeleteScene,
    EditSceneDetails,
    ReclassifyScene,
    RetimeScene,
    SceneState,
    apply,
    create_scene,
    delete_scene,
    edit_scene_details,
    reclassify_scene,
    replay,
    retime_scene,
)
from events.scene import SceneCreated, SceneDeleted, SceneDetailsEdited, SceneReclassified, SceneRetimed

pytestmark = pytest.mark.unit


def _create(**overrides: object) -> CreateScene:
    fields: dict[str, object] = {
        "movie_id": uuid4(),
        "start": "012345",
        "end": "+105",
        "classification": "L2-3",
    }
    fields.update(overrides)
    return CreateScene.model_validate(fields)


def _state(**overrides: object) -> SceneState:
    cmd = _create(**overrides)
    state = replay(create_scene(cmd, existing=None, parent=None, created_by=None))
    assert state is not None
    return state


def test_create_records_times_levels_and_raw_input() -> None:
    cmd = _create(tags=("night", "rain", "night"))
    [event] = create_scene(cmd, existing=None, parent=None, created_by=None)
    assert isinstance(event, SceneCreated)
    assert (event.start_time_seconds, event.end_time_seconds) == (5025, 5090)
    assert (event.level1_classification, event.level2_classification, event.level3_classification) == (
        "L",
        "L2",
        "L2-3",
    )
    assert event.input_format == {"startInput": "012345", "endInput": "+105"}
    assert event.tags == ("night", "rain")
    assert event.stream_version == 1


def test_create_rejects_bad_time_naming_the_field() -> None:
    with pytest.raises(InvalidCommandError) as err:
        create_scene(_create(start="0175"), existing=None, parent=None, created_by=None)
    assert err.value.field == "start"


def test_create_rejects_end_before_start() -> None:
    with pytest.raises(InvalidCommandError) as err:
        create_scene(_create(start="1000", end="0959"), existing=None, parent=None, created_by=None)
    assert err.value.field == "end"


def test_create_rejects_bad_classification() -> None:
    with pytest.raises(InvalidCommandError) as err:
        create_scene(_create(classification="X1"), existing=None, parent=None, created_by=None)
    assert err.value.field == "classification"


def test_create_rejects_existing_scene() -> None:
    state = _state()
    with pytest.raises(InvalidCommandError) as err:
        create_scene(_create(scene_id=state.scene_id), existing=state, parent=None, created_by=None)
    assert err.value.field == "scene_id"


def test_nested_scene_needs_a_parent() -> None:
    with pytest.raises(InvalidCommandError) as err:
        create_scene(_create(scene_type="nested"), existing=None, parent=None, created_by=None)
    assert err.value.field == "parent_scene_id"


def test_nested_scene_must_lie_inside_its_parent() -> None:
    parent = _state(start="1000", end="1100")
    cmd = _create(
        movie_id=parent.movie_id,
        scene_type="nested",
        parent_scene_id=parent.scene_id,
        start="1030",
        end="1130",
    )
    with pytest.raises(InvalidCommandError, match="inside its parent"):
        create_scene(cmd, existing=None, parent=parent, created_by=None)


def test_nested_scene_inside_parent_is_accepted() -> None:
    parent = _state(start="1000", end="1100")
    cmd = _create(
        movie_id=parent.movie_id,
        scene_type="nested",
        parent_scene_id=parent.scene_id,
        start="1010",
        end="+20",
    )
    [event] = create_scene(cmd, existing=None, parent=parent, created_by=None)
    assert isinstance(event, SceneCreated)
    assert event.parent_scene_id == parent.scene_id


def test_nested_scene_with_missing_parent_is_not_found() -> None:
    cmd = _create(scene_type="nested", parent_scene_id=uuid4())
    with pytest.raises(StreamNotFoundError):
        create_scene(cmd, existing=None, parent=None, created_by=None)


def test_retime_emits_new_range_with_next_version() -> None:
    state = _state()
    [event] = retime_scene(RetimeScene(scene_id=state.scene_id, start="1:00:00", end="+30"), state)
    assert isinstance(event, SceneRetimed)
    assert (event.start_time_seconds, event.end_time_seconds, event.stream_version) == (3600, 3630, 2)


def test_retime_to_same_range_emits_nothing() -> None:
    state = _state()
    assert retime_scene(RetimeScene(scene_id=state.scene_id, start="012345", end="012450"), state) == []


def test_retime_of_missing_scene_is_not_found() -> None:
    with pytest.raises(StreamNotFoundError):
        retime_scene(RetimeScene(scene_id=uuid4(), start="1", end="2"), None)


def test_reclassify_changes_all_levels() -> None:
    state = _state()
    [event] = reclassify_scene(ReclassifyScene(scene_id=state.scene_id, classification="A1"), state)
    assert isinstance(event, SceneReclassified)
    assert (event.level1_classification, event.level2_classification, event.level3_classification) == (
        "A",
        "A1",
        None,
    )


def test_edit_keeps_fields_left_out() -> None:
    state = _state(description="rain", tags=("night",))
    [event] = edit_scene_details(EditSceneDetails(scene_id=state.scene_id, emotional_tags=("sad",)), state)
    assert isinstance(event, SceneDetailsEdited)
    assert (event.description, event.tags, event.emotional_tags) == ("rain", ("night",), ("sad",))


def test_edit_with_empty_description_clears_it() -> None:
    state = _state(description="rain")
    [event] = edit_scene_details(EditSceneDetails(scene_id=state.scene_id, description=""), state)
    assert isinstance(event, SceneDetailsEdited)
    assert event.description is None


def test_edit_without_any_change_is_rejected() -> None:
    state = _state()
    with pytest.raises(InvalidCommandError):
        edit_scene_details(EditSceneDetails(scene_id=state.scene_id), state)


def test_deleted_scene_rejects_further_commands() -> None:
    state = _state()
    [event] = delete_scene(DeleteScene(scene_id=state.scene_id), state)
    assert isinstance(event, SceneDeleted)
    gone = apply(event, state)
    with pytest.raises(StreamNotFoundError):
        reclassify_scene(ReclassifyScene(scene_id=state.scene_id, classification="A1"), gone)


def test_replay_folds_every_event() -> None:
    state = _state()
    events = [
        *retime_scene(RetimeScene(scene_id=state.scene_id, start="10", end="20"), state),
    ]
    after = apply(events[0], state)
    assert (after.start_time_seconds, after.end_time_seconds, after.version) == (10, 20, 2)
