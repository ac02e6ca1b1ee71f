"""The pure saga state machine: forward order, compensation in exact reverse order, stuck and retry."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.errors import InvalidCommandError, StreamNotFoundError
from commands.movie import LinkSceneToMovie, UnlinkSceneFromMovie
from events.saga import (
    CommandSpec,
    PlannedStep,
    SagaCompensated,
    SagaCompleted,
    SagaEvent,
    SagaStarted,
    SagaStuck,
)
from sagas.definition import Step, check_plan, command_id, command_spec, load_command, planned_step
from sagas.state import (
    Append,
    Dispatch,
    SagaState,
    apply,
    compensation_outcome,
    decide_next,
    retry,
    step_outcome,
)

pytestmark = pytest.mark.unit

SPEC = CommandSpec(command="Noop")


def _started(saga_id: UUID, compensable: list[bool]) -> SagaStarted:
    return SagaStarted(
        stream_id=saga_id,
        stream_version=1,
        saga_type="test",
        steps=tuple(
            PlannedStep(name=f"s{i}", action=SPEC, compensation=(SPEC,) if c else ())
            for i, c in enumerate(compensable)
        ),
    )


def _drive(
    state: SagaState,
    *,
    failing: int | None,
    changed: list[bool],
    undo_fails: set[int] | None = None,
    applied: bool = False,
) -> tuple[SagaState, list[tuple[int, str]]]:
    """Run the machine as the runner does, with scripted outcomes; return the end and the dispatches."""
    dispatched: list[tuple[int, str]] = []
    undo_fails = undo_fails or set()
    for _ in range(1000):
        decision = decide_next(state)
        if decision is None:
            return state, dispatched
        event: SagaEvent
        if isinstance(decision, Append):
            event = decision.event
        else:
            assert isinstance(decision, Dispatch)
            dispatched.append((decision.step, decision.phase))
            if decision.phase == "do":
                error = InvalidCommandError("x", "no") if decision.step == failing else None
                event = step_outcome(
                    state, decision.step, changed=changed[decision.step], error=error, applied=applied
                )
            else:
                error = InvalidCommandError("x", "stuck") if decision.step in undo_fails else None
                event = compensation_outcome(state, decision.step, error=error)
        assert event.stream_version == state.version + 1
        state = apply(event, state)
    raise AssertionError("the saga never settled")


def _begin(compensable: list[bool]) -> SagaState:
    return apply(_started(uuid4(), compensable), None)


def test_every_step_runs_in_order_then_the_saga_completes() -> None:
    state, dispatched = _drive(_begin([True, True, False]), failing=None, changed=[True, True, True])
    assert dispatched == [(0, "do"), (1, "do"), (2, "do")]
    assert state.status == "completed"
    assert isinstance(state.head, SagaCompleted)


def test_a_failed_step_compensates_the_completed_ones_in_reverse() -> None:
    state, dispatched = _drive(_begin([True, True, True, True]), failing=2, changed=[True] * 4)
    assert dispatched == [(0, "do"), (1, "do"), (2, "do"), (1, "undo"), (0, "undo")]
    assert state.status == "compensated"
    assert isinstance(state.head, SagaCompensated)
    assert state.head.failed_step == 2


def test_a_failed_step_whose_command_was_applied_is_undone_too() -> None:
    _, dispatched = _drive(_begin([True, True]), failing=1, changed=[True, True], applied=True)
    assert dispatched[-2:] == [(1, "undo"), (0, "undo")]


def test_steps_that_changed_nothing_or_cannot_be_undone_are_skipped() -> None:
    _, dispatched = _drive(_begin([True, False, True, True]), failing=3, changed=[True, True, False, True])
    assert [d for d in dispatched if d[1] == "undo"] == [(0, "undo")]


def test_a_compensation_that_fails_leaves_the_saga_stuck_and_retry_resumes_it() -> None:
    state, dispatched = _drive(_begin([True, True, True]), failing=2, changed=[True] * 3, undo_fails={0})
    assert state.status == "stuck"
    assert isinstance(state.head, SagaStuck)
    assert state.stuck_step == 0
    assert dispatched[-2:] == [(1, "undo"), (0, "undo")]
    state = apply(retry(state, state.saga_id), state)
    nxt = decide_next(state)
    assert isinstance(nxt, Append)
    assert getattr(nxt.event, "attempt", None) == 2
    state, dispatched = _drive(state, failing=None, changed=[True] * 3)
    assert dispatched == [(0, "undo")]
    assert state.status == "compensated"


def test_retry_is_refused_unless_stuck() -> None:
    state, _ = _drive(_begin([True]), failing=None, changed=[True])
    with pytest.raises(InvalidCommandError, match="not stuck"):
        retry(state, state.saga_id)
    with pytest.raises(StreamNotFoundError):
        retry(None, uuid4())


def test_an_intent_at_the_head_is_dispatched_again_after_a_restart() -> None:
    state = _begin([True])
    nxt = decide_next(state)
    assert isinstance(nxt, Append)
    state = apply(nxt.event, state)
    assert decide_next(state) == Dispatch(0, "do")
    assert decide_next(state) == Dispatch(0, "do")  # pure: same head, same answer


@given(
    compensable=st.lists(st.booleans(), min_size=1, max_size=8),
    data=st.data(),
)
def test_compensations_always_run_in_exact_reverse_order_of_the_changes(
    compensable: list[bool], data: st.DataObject
) -> None:
    n = len(compensable)
    failing = data.draw(st.one_of(st.none(), st.integers(0, n - 1)))
    changed = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    state, dispatched = _drive(_begin(compensable), failing=failing, changed=changed)
    done = [s for s, phase in dispatched if phase == "do"]
    undone = [s for s, phase in dispatched if phase == "undo"]
    if failing is None:
        assert done == list(range(n))
        assert undone == []
        assert state.status == "completed"
    else:
        assert done == list(range(failing + 1))
        assert undone == [i for i in reversed(range(failing)) if compensable[i] and changed[i]]
        assert state.status == "compensated"


def test_plans_need_steps_with_distinct_names() -> None:
    step = Step("a", action=LinkSceneToMovie(movie_id=uuid4(), scene_id=uuid4()))
    with pytest.raises(InvalidCommandError, match="at least one"):
        check_plan([])
    with pytest.raises(InvalidCommandError, match="twice"):
        check_plan([step, step])


def test_command_ids_are_derived_from_saga_step_and_phase() -> None:
    saga = uuid4()
    ids = {command_id(saga, s, p, i) for s in range(3) for p in ("do", "undo") for i in range(2)}
    assert len(ids) == 12
    assert command_id(saga, 1, "do") == command_id(saga, 1, "do")
    assert command_id(uuid4(), 1, "do") != command_id(saga, 1, "do")


def test_a_stored_step_rebuilds_its_commands_under_the_derived_id() -> None:
    movie, scene = uuid4(), uuid4()
    stored = planned_step(
        Step(
            "link",
            action=LinkSceneToMovie(movie_id=movie, scene_id=scene),
            compensation=(UnlinkSceneFromMovie(movie_id=movie, scene_id=scene),),
        )
    )
    assert "command_id" not in stored.action.data
    cmd_id = uuid4()
    types = {"LinkSceneToMovie": LinkSceneToMovie}
    cmd = load_command(stored.action, types, cmd_id)
    assert cmd == LinkSceneToMovie(movie_id=movie, scene_id=scene, command_id=cmd_id)
    with pytest.raises(InvalidCommandError, match="no handler"):
        load_command(command_spec(UnlinkSceneFromMovie(movie_id=movie, scene_id=scene)), types, cmd_id)
