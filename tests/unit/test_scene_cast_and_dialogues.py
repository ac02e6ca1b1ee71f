"""The Scene aggregate's rules for its cast (scene_actors) and dialogue lines (scene_dialogues)."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID, uuid4

import pytest
from pydantic import ValidationError

from commands.base import Decision
from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.scene import (
    DIALOGUE_ID_SCOPE,
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    RemoveDialogue,
    RemoveSceneActor,
    RetimeScene,
    ReviseDialogue,
    SceneState,
    add_dialogue,
    add_scene_actor,
    create_scene,
    delete_scene,
    remove_dialogue,
    remove_scene_actor,
    replay,
    retime_scene,
    revise_dialogue,
)
from events.base import DomainEvent
from events.scene import (
    DialogueAdded,
    DialogueRemoved,
    DialogueRevised,
    SceneActorAdded,
    SceneActorRemoved,
    SceneDeleted,
)

pytestmark = pytest.mark.unit


def _scene(start: str = "1000", end: str = "1100") -> tuple[SceneState, list[DomainEvent]]:
    """A 60 s scene (10:00-11:00) and its events."""
    cmd = CreateScene(movie_id=uuid4(), start=start, end=end, classification="L2")
    events: list[DomainEvent] = list(create_scene(cmd, existing=None, parent=None, created_by=None))
    state = replay(events)
    assert state is not None
    return state, events


def _then(events: list[DomainEvent], more: Sequence[DomainEvent] | Decision) -> SceneState:
    events.extend(more.events if isinstance(more, Decision) else more)
    state = replay(events)
    assert state is not None
    return state


def _with_actor(actor: UUID, screen_time: int | None = None) -> tuple[SceneState, list[DomainEvent]]:
    state, events = _scene()
    cmd = AddSceneActor(scene_id=state.scene_id, actor_id=actor, screen_time_seconds=screen_time)
    return _then(events, add_scene_actor(cmd, state)), events


def _with_line(
    offset: int | None = 10, duration: int | None = 5
) -> tuple[SceneState, list[DomainEvent], UUID]:
    state, events = _scene()
    cmd = AddDialogue(
        scene_id=state.scene_id,
        actor_id=uuid4(),
        dialogue_text="君が好きだ",
        start_time_offset=offset,
        duration_seconds=duration,
        emotional_tone="romantic",
    )
    return _then(events, add_dialogue(cmd, state)), events, cmd.dialogue_id


# --- cast ---


def test_add_actor_records_role_and_screen_time() -> None:
    state, _ = _scene()
    actor = uuid4()
    cmd = AddSceneActor(
        scene_id=state.scene_id,
        actor_id=actor,
        character_name="ミツハ",
        role_type="primary",
        screen_time_seconds=60,
    )
    [event] = add_scene_actor(cmd, state)
    assert isinstance(event, SceneActorAdded)
    assert (event.actor_id, event.character_name, event.role_type, event.screen_time_seconds) == (
        actor,
        "ミツハ",
        "primary",
        60,
    )
    assert (event.stream_version, event.movie_id) == (2, state.movie_id)


def test_role_type_defaults_to_supporting() -> None:
    assert AddSceneActor(scene_id=uuid4(), actor_id=uuid4()).role_type == "supporting"


def test_role_type_outside_the_design_is_rejected_naming_the_field() -> None:
    with pytest.raises(ValidationError) as err:
        AddSceneActor.model_validate({"scene_id": uuid4(), "actor_id": uuid4(), "role_type": "lead"})
    assert err.value.errors()[0]["loc"] == ("role_type",)


def test_same_actor_twice_in_a_scene_is_rejected() -> None:
    actor = uuid4()
    state, _ = _with_actor(actor)
    with pytest.raises(InvalidCommandError) as err:
        add_scene_actor(AddSceneActor(scene_id=state.scene_id, actor_id=actor), state)
    assert err.value.field == "actor_id"


def test_screen_time_longer_than_the_scene_is_rejected() -> None:
    state, _ = _scene()
    with pytest.raises(InvalidCommandError) as err:
        add_scene_actor(
            AddSceneActor(scene_id=state.scene_id, actor_id=uuid4(), screen_time_seconds=61), state
        )
    assert err.value.field == "screen_time_seconds"


def test_negative_screen_time_is_rejected_by_the_command() -> None:
    with pytest.raises(ValidationError):
        AddSceneActor(scene_id=uuid4(), actor_id=uuid4(), screen_time_seconds=-1)


def test_actor_cannot_join_a_deleted_scene() -> None:
    state, events = _scene()
    gone = _then(events, delete_scene(DeleteScene(scene_id=state.scene_id), state))
    with pytest.raises(StreamNotFoundError):
        add_scene_actor(AddSceneActor(scene_id=state.scene_id, actor_id=uuid4()), gone)


def test_remove_actor_emits_removal() -> None:
    actor = uuid4()
    state, _ = _with_actor(actor)
    [event] = remove_scene_actor(RemoveSceneActor(scene_id=state.scene_id, actor_id=actor), state)
    assert isinstance(event, SceneActorRemoved)
    assert event.actor_id == actor


def test_removing_an_actor_not_in_the_scene_is_not_found() -> None:
    state, _ = _scene()
    with pytest.raises(StreamNotFoundError) as err:
        remove_scene_actor(RemoveSceneActor(scene_id=state.scene_id, actor_id=uuid4()), state)
    assert err.value.field == "actor_id"


def test_removed_actor_may_be_added_again() -> None:
    actor = uuid4()
    state, events = _with_actor(actor)
    state = _then(
        events, remove_scene_actor(RemoveSceneActor(scene_id=state.scene_id, actor_id=actor), state)
    )
    [event] = add_scene_actor(AddSceneActor(scene_id=state.scene_id, actor_id=actor), state)
    assert isinstance(event, SceneActorAdded)


def test_retime_shorter_than_an_actors_screen_time_is_rejected() -> None:
    state, _ = _with_actor(uuid4(), screen_time=50)
    with pytest.raises(InvalidCommandError) as err:
        retime_scene(RetimeScene(scene_id=state.scene_id, start="1000", end="+40"), state)
    assert err.value.field == "end"


def test_deleting_a_scene_removes_its_cast_first() -> None:
    first, second = uuid4(), uuid4()
    state, events = _with_actor(first)
    state = _then(events, add_scene_actor(AddSceneActor(scene_id=state.scene_id, actor_id=second), state))
    deleted = delete_scene(DeleteScene(scene_id=state.scene_id), state)
    assert [type(e) for e in deleted] == [SceneActorRemoved, SceneActorRemoved, SceneDeleted]
    assert {e.actor_id for e in deleted if isinstance(e, SceneActorRemoved)} == {first, second}
    assert [e.stream_version for e in deleted] == [4, 5, 6]


# --- dialogue lines ---


def test_add_dialogue_carries_every_column_and_claims_its_id() -> None:
    state, _ = _scene()
    speaker = uuid4()
    cmd = AddDialogue(
        scene_id=state.scene_id,
        actor_id=speaker,
        character_name="瀧",
        dialogue_text="  君の名は。 ",
        start_time_offset=5,
        duration_seconds=3,
        is_memorable_quote=True,
        dialogue_type="conversation",
        emotional_tone="longing",
        subtitle_text="Your name is?",
    )
    decision = add_dialogue(cmd, state)
    [event] = decision.events
    assert isinstance(event, DialogueAdded)
    assert (event.dialogue_id, event.actor_id, event.dialogue_text) == (
        cmd.dialogue_id,
        speaker,
        "君の名は。",
    )
    assert (event.start_time_offset, event.duration_seconds, event.is_memorable_quote) == (5, 3, True)
    assert (event.dialogue_type, event.emotional_tone, event.language) == ("conversation", "longing", "ja")
    assert [(c.scope, c.key) for c in decision.claims] == [(DIALOGUE_ID_SCOPE, str(cmd.dialogue_id))]


def test_dialogue_ending_after_the_scene_is_rejected() -> None:
    state, _ = _scene()
    cmd = AddDialogue(
        scene_id=state.scene_id, actor_id=uuid4(), dialogue_text="…", start_time_offset=55, duration_seconds=6
    )
    with pytest.raises(InvalidCommandError) as err:
        add_dialogue(cmd, state)
    assert err.value.field == "duration_seconds"


def test_dialogue_ending_exactly_with_the_scene_is_accepted() -> None:
    state, _ = _scene()
    cmd = AddDialogue(
        scene_id=state.scene_id, actor_id=uuid4(), dialogue_text="…", start_time_offset=55, duration_seconds=5
    )
    assert len(add_dialogue(cmd, state).events) == 1


def test_dialogue_starting_after_the_scene_is_rejected() -> None:
    state, _ = _scene()
    cmd = AddDialogue(scene_id=state.scene_id, actor_id=uuid4(), dialogue_text="…", start_time_offset=61)
    with pytest.raises(InvalidCommandError) as err:
        add_dialogue(cmd, state)
    assert err.value.field == "start_time_offset"


def test_negative_offset_is_rejected_by_the_command() -> None:
    with pytest.raises(ValidationError) as err:
        AddDialogue(scene_id=uuid4(), actor_id=uuid4(), dialogue_text="…", start_time_offset=-1)
    assert err.value.errors()[0]["loc"] == ("start_time_offset",)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("dialogue_type", "soliloquy"),
        ("emotional_tone", "x" * 51),
        ("dialogue_text", "   "),
        ("language", "x" * 11),
        ("character_name", "x" * 256),
    ],
)
def test_dialogue_fields_outside_the_design_are_rejected_naming_the_field(field: str, value: str) -> None:
    fields: dict[str, object] = {"scene_id": uuid4(), "actor_id": uuid4(), "dialogue_text": "…", field: value}
    with pytest.raises(ValidationError) as err:
        AddDialogue.model_validate(fields)
    assert err.value.errors()[0]["loc"] == (field,)


def test_same_dialogue_id_twice_is_rejected() -> None:
    state, _, line = _with_line()
    cmd = AddDialogue(scene_id=state.scene_id, dialogue_id=line, actor_id=uuid4(), dialogue_text="again")
    with pytest.raises(InvalidCommandError) as err:
        add_dialogue(cmd, state)
    assert err.value.field == "dialogue_id"


def test_revise_changes_only_the_given_fields() -> None:
    state, _, line = _with_line()
    [event] = revise_dialogue(
        ReviseDialogue(scene_id=state.scene_id, dialogue_id=line, is_memorable_quote=True), state
    )
    assert isinstance(event, DialogueRevised)
    assert (event.is_memorable_quote, event.dialogue_text, event.emotional_tone) == (
        True,
        "君が好きだ",
        "romantic",
    )


def test_revise_with_null_clears_a_nullable_field() -> None:
    state, _, line = _with_line()
    cmd = ReviseDialogue.model_validate(
        {"scene_id": state.scene_id, "dialogue_id": line, "emotional_tone": None}
    )
    [event] = revise_dialogue(cmd, state)
    assert isinstance(event, DialogueRevised)
    assert event.emotional_tone is None


def test_revise_cannot_clear_the_text() -> None:
    state, _, line = _with_line()
    cmd = ReviseDialogue.model_validate(
        {"scene_id": state.scene_id, "dialogue_id": line, "dialogue_text": None}
    )
    with pytest.raises(InvalidCommandError) as err:
        revise_dialogue(cmd, state)
    assert err.value.field == "dialogue_text"


def test_revise_without_changes_is_rejected() -> None:
    state, _, line = _with_line()
    with pytest.raises(InvalidCommandError):
        revise_dialogue(ReviseDialogue(scene_id=state.scene_id, dialogue_id=line), state)


def test_revise_to_the_same_values_emits_nothing() -> None:
    state, _, line = _with_line()
    assert (
        revise_dialogue(
            ReviseDialogue(scene_id=state.scene_id, dialogue_id=line, start_time_offset=10), state
        )
        == []
    )


def test_revise_that_would_end_after_the_scene_is_rejected() -> None:
    state, _, line = _with_line(offset=10, duration=5)
    with pytest.raises(InvalidCommandError) as err:
        revise_dialogue(
            ReviseDialogue(scene_id=state.scene_id, dialogue_id=line, start_time_offset=56), state
        )
    assert err.value.field == "duration_seconds"


def test_revise_of_an_unknown_line_is_not_found() -> None:
    state, _ = _scene()
    with pytest.raises(StreamNotFoundError) as err:
        revise_dialogue(
            ReviseDialogue(scene_id=state.scene_id, dialogue_id=uuid4(), dialogue_text="x"), state
        )
    assert err.value.field == "dialogue_id"


def test_remove_dialogue_then_it_is_gone() -> None:
    state, events, line = _with_line()
    removed = remove_dialogue(RemoveDialogue(scene_id=state.scene_id, dialogue_id=line), state)
    assert isinstance(removed[0], DialogueRemoved)
    after = _then(events, removed)
    assert line not in after.dialogues
    with pytest.raises(StreamNotFoundError):
        remove_dialogue(RemoveDialogue(scene_id=state.scene_id, dialogue_id=line), after)


def test_retime_that_would_cut_a_dialogue_line_is_rejected() -> None:
    state, _, _ = _with_line(offset=30, duration=10)
    with pytest.raises(InvalidCommandError) as err:
        retime_scene(RetimeScene(scene_id=state.scene_id, start="2000", end="+39"), state)
    assert err.value.field == "end"


def test_retime_keeping_every_line_inside_is_accepted() -> None:
    state, _, _ = _with_line(offset=30, duration=10)
    assert len(retime_scene(RetimeScene(scene_id=state.scene_id, start="2000", end="+40"), state)) == 1
