"""Scene search statements are built once per shape: values travel as parameters, never in the statement."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from read_models.search import SceneSearch, _plan, _Shape, _statements

pytestmark = pytest.mark.unit


def _shape_and_params(
    search: SceneSearch, *, under_rls: bool = False, after: str | None = None
) -> tuple[_Shape, dict[str, Any]]:
    return _plan(search, under_rls=under_rls, limit=20, offset=0, after=after)


def test_searches_differing_only_in_values_share_one_statement() -> None:
    first, first_params = _shape_and_params(SceneSearch(level1="R", description="恋愛", tags=("romantic",)))
    second, second_params = _shape_and_params(SceneSearch(level1="A", description="手紙", tags=("night",)))
    assert first == second
    assert _statements(first) is _statements(second)
    assert (first_params["any_keys"], second_params["any_keys"]) == (["l1tg:R:romantic"], ["l1tg:A:night"])


def test_a_callers_one_tag_is_a_key_every_hit_carries() -> None:
    """Any of one key is all of it: one index condition, so the planner expects enough rows to hash."""
    for tags in (("romantic",), ("romantic", "romantic")):
        shape, params = _shape_and_params(SceneSearch(level2="R2", tags=tags), under_rls=True)
        assert (shape.any_keys, params["required_keys"], params["any_keys"]) == (
            False,
            ["l2:R2", "tg:romantic"],
            None,
        )
        assert "&&>" not in str(_statements(shape)[0])


def test_the_owners_one_tag_stays_any_of() -> None:
    shape, params = _shape_and_params(SceneSearch(level2="R2", tags=("romantic",)))
    assert (shape.any_keys, params["required_keys"], params["any_keys"]) == (True, ["l2:R2"], ["tg:romantic"])
    assert "&&>" in str(_statements(shape)[0])


@pytest.mark.parametrize("under_rls", [False, True])
def test_two_tags_stay_any_of(under_rls: bool) -> None:
    shape, params = _shape_and_params(
        SceneSearch(level1="R", tags=("rain", "night", "rain")), under_rls=under_rls
    )
    assert (shape.any_keys, params["required_keys"], params["any_keys"]) == (
        True,
        [],
        ["l1tg:R:rain", "l1tg:R:night"],
    )
    assert "&&>" in str(_statements(shape)[0])


def test_the_statement_holds_none_of_the_searched_values() -> None:
    movie = uuid4()
    search = SceneSearch(level2="R2", description="図書館の恋", tags=("rainy",), movie_id=movie, start_min=61)
    shape, _ = _shape_and_params(search)
    sql = " ".join(str(statement) for statement in _statements(shape))
    assert [value for value in ("R2", "図書館", "rainy", str(movie), "61") if value in sql] == []


@pytest.mark.parametrize(
    ("one", "other"),
    [
        (SceneSearch(tags=("a",)), SceneSearch(tags=("a", "b"))),
        (SceneSearch(description="恋"), SceneSearch(description="恋愛の話")),
        (SceneSearch(description="恋"), SceneSearch(description="")),
        (SceneSearch(level1="R"), SceneSearch(level2="R2")),
        (SceneSearch(start_min=600, end_max=1200), SceneSearch(start_min=600, end_max=86_400)),
        (SceneSearch(movie_id=uuid4()), SceneSearch(scene_type="nested")),
    ],
)
def test_searches_of_different_filters_get_different_statements(one: SceneSearch, other: SceneSearch) -> None:
    assert _shape_and_params(one)[0] != _shape_and_params(other)[0]


def test_the_caller_and_the_owner_get_different_statements() -> None:
    search = SceneSearch(tags=("romantic",))
    assert _shape_and_params(search)[0] != _shape_and_params(search, under_rls=True)[0]


def test_a_repeated_tag_scores_once() -> None:
    shape, params = _shape_and_params(SceneSearch(tags=("rain", "night", "rain")))
    assert (shape.tag_terms, params["tag_0"], params["tag_1"], "tag_2" in params) == (
        2,
        "rain",
        "night",
        False,
    )


def test_a_malformed_cursor_is_rejected() -> None:
    with pytest.raises(ValueError, match="cursor"):
        _shape_and_params(SceneSearch(), after="bm90IGpzb24=")
