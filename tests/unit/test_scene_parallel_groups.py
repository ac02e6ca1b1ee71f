"""The parallel scene group aggregate: members are live scenes of its movie overlapping its range."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.parallel import (
    AddSceneToParallelGroup,
    CreateParallelGroup,
    DissolveParallelGroup,
    ParallelGroupState,
    RemoveSceneFromParallelGroup,
    add_scene,
    create_group,
    dissolve_group,
    remove_scene,
    replay,
)
from commands.scene import CreateScene, DeleteScene, SceneState, create_scene, delete_scene
from commands.scene import replay as replay_scene
from events.base import DomainEvent
from events.scene import (
    ParallelGroupCreated,
    ParallelGroupDissolved,
    RelationType,
    SceneAddedToParallelGroup,
    SceneRemovedFromParallelGroup,
)

pytestmark = pytest.mark.unit


def _group(
    relation: RelationType = "split_screen", movie: UUID | None = None
) -> tuple[ParallelGroupState, list[DomainEvent]]:
    """A group over 10:00-11:00 (600-660 s)."""
    cmd = CreateParallelGroup(movie_id=movie or uuid4(), start="1000", end="1100", relation_type=relation)
    events: list[DomainEvent] = list(create_group(cmd, None))
    state = replay(events)
    assert state is not None
    return state, events


def _scene(movie: UUID, start: str = "1030", end: str = "1130") -> SceneState:
    state = replay_scene(
        create_scene(
            CreateScene(movie_id=movie, start=start, end=end, classification="A1"),
            existing=None,
            parent=None,
            created_by=None,
        )
    )
    assert state is not None
    return state


def _add(group: ParallelGroupState, scene: SceneState, **fields: object) -> AddSceneToParallelGroup:
    return AddSceneToParallelGroup.model_validate(
        {"group_id": group.group_id, "scene_id": scene.scene_id, **fields}
    )


def test_create_records_range_relation_and_texts() -> None:
    cmd = CreateParallelGroup(
        movie_id=uuid4(),
        group_name="倉庫内銃撃戦",
        start="1:00:00",
        end="+130",
        relation_type="overlapping_events",
        description="三方向から",
        narrative_purpose="緊張の同時進行",
    )
    [event] = create_group(cmd, None)
    assert isinstance(event, ParallelGroupCreated)
    assert (event.start_time_seconds, event.end_time_seconds, event.relation_type) == (
        3600,
        3690,
        "overlapping_events",
    )
    assert (event.group_name, event.narrative_purpose) == ("倉庫内銃撃戦", "緊張の同時進行")
    assert event.partition_key() == str(cmd.movie_id)


def test_relation_type_outside_the_design_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        CreateParallelGroup.model_validate(
            {"movie_id": uuid4(), "start": "1", "end": "2", "relation_type": "montage"}
        )
    assert err.value.errors()[0]["loc"] == ("relation_type",)


def test_group_with_end_before_start_is_rejected() -> None:
    with pytest.raises(InvalidCommandError) as err:
        create_group(
            CreateParallelGroup(movie_id=uuid4(), start="1100", end="1000", relation_type="split_screen"),
            None,
        )
    assert err.value.field == "end"


def test_existing_group_cannot_be_created_again() -> None:
    group, _ = _group()
    cmd = CreateParallelGroup(
        group_id=group.group_id, movie_id=group.movie_id, start="1", end="2", relation_type="split_screen"
    )
    with pytest.raises(InvalidCommandError) as err:
        create_group(cmd, group)
    assert err.value.field == "group_id"


def test_overlapping_scene_of_the_movie_joins_with_position_and_role() -> None:
    group, _ = _group()
    scene = _scene(group.movie_id)
    [event] = add_scene(_add(group, scene, display_position="top", narrative_role="main"), group, scene)
    assert isinstance(event, SceneAddedToParallelGroup)
    assert (event.scene_id, event.display_position, event.narrative_role) == (scene.scene_id, "top", "main")


def test_scene_of_another_movie_is_rejected() -> None:
    group, _ = _group()
    scene = _scene(uuid4())
    with pytest.raises(InvalidCommandError, match="another movie") as err:
        add_scene(_add(group, scene), group, scene)
    assert err.value.field == "scene_id"


def test_scene_only_touching_the_groups_range_does_not_overlap() -> None:
    group, _ = _group()
    scene = _scene(group.movie_id, "1100", "1130")
    with pytest.raises(InvalidCommandError, match="does not overlap"):
        add_scene(_add(group, scene), group, scene)


def test_deleted_scene_is_a_reference_error() -> None:
    group, _ = _group()
    scene = _scene(group.movie_id)
    gone = replay_scene(
        [
            *create_scene(
                CreateScene(
                    scene_id=scene.scene_id,
                    movie_id=group.movie_id,
                    start="1030",
                    end="1130",
                    classification="A1",
                ),
                existing=None,
                parent=None,
                created_by=None,
            ),
            *delete_scene(DeleteScene(scene_id=scene.scene_id), scene),
        ]
    )
    with pytest.raises(StreamNotFoundError) as err:
        add_scene(_add(group, scene), group, gone)
    assert err.value.referenced


def test_display_position_is_only_for_split_screen_groups() -> None:
    group, _ = _group("parallel_narrative")
    scene = _scene(group.movie_id)
    with pytest.raises(InvalidCommandError) as err:
        add_scene(_add(group, scene, display_position="left"), group, scene)
    assert err.value.field == "display_position"


@pytest.mark.parametrize(("field", "value"), [("display_position", "center"), ("narrative_role", "hero")])
def test_member_fields_outside_the_design_are_rejected(field: str, value: str) -> None:
    with pytest.raises(ValidationError) as err:
        AddSceneToParallelGroup.model_validate({"group_id": uuid4(), "scene_id": uuid4(), field: value})
    assert err.value.errors()[0]["loc"] == (field,)


def test_same_scene_twice_is_rejected() -> None:
    group, events = _group()
    scene = _scene(group.movie_id)
    events += add_scene(_add(group, scene), group, scene)
    member = replay(events)
    with pytest.raises(InvalidCommandError, match="already"):
        add_scene(_add(group, scene), member, scene)


def test_removed_member_leaves_and_a_non_member_is_not_found() -> None:
    group, events = _group()
    scene = _scene(group.movie_id)
    events += add_scene(_add(group, scene), group, scene)
    member = replay(events)
    [event] = remove_scene(
        RemoveSceneFromParallelGroup(group_id=group.group_id, scene_id=scene.scene_id), member
    )
    assert isinstance(event, SceneRemovedFromParallelGroup)
    after = replay([*events, event])
    with pytest.raises(StreamNotFoundError) as err:
        remove_scene(RemoveSceneFromParallelGroup(group_id=group.group_id, scene_id=scene.scene_id), after)
    assert err.value.field == "scene_id"


def test_dissolved_group_takes_no_more_commands() -> None:
    group, events = _group()
    [event] = dissolve_group(DissolveParallelGroup(group_id=group.group_id), group)
    assert isinstance(event, ParallelGroupDissolved)
    gone = replay([*events, event])
    scene = _scene(group.movie_id)
    with pytest.raises(StreamNotFoundError) as err:
        add_scene(_add(group, scene), gone, scene)
    assert err.value.field == "group_id"
    with pytest.raises(StreamNotFoundError):
        dissolve_group(DissolveParallelGroup(group_id=group.group_id), gone)
