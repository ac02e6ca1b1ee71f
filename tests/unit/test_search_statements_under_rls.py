"""Scene search statements under row-level security: the owner's SQL, prepared apart, keys inline (0017)."""

from __future__ import annotations

import pytest

from read_models.search import SceneSearch, _plan, _statements

pytestmark = pytest.mark.unit

DESIGN = SceneSearch(level1="R", description="恋愛", tags=("romantic",))
TWO_TAGS = SceneSearch(level1="R", description="恋愛", tags=("romantic", "rainy"))


def _sql(search: SceneSearch, *, under_rls: bool) -> list[str]:
    shape, _ = _plan(search, under_rls=under_rls, limit=20, offset=0, after=None)
    return [str(statement) for statement in _statements(shape)]


def test_the_callers_statements_are_not_the_owners_text() -> None:
    """A plan made under the policies is remade when the role changes: one prepared statement each."""
    owner, caller = _sql(DESIGN, under_rls=False), _sql(DESIGN, under_rls=True)
    assert [o == c for o, c in zip(owner, caller, strict=True)] == [False, False]


def test_the_caller_states_the_keys_inline_like_the_owner() -> None:
    """No heap positions from a function: the same leakproof key conditions the index serves."""
    owner, caller = _sql(TWO_TAGS, under_rls=False), _sql(TWO_TAGS, under_rls=True)
    for sql in (*owner, *caller):
        assert ("@>>" in sql, "&&>" in sql, "ctid" in sql, "search_scene_key_tids" in sql) == (
            True,
            True,
            False,
            False,
        )
    assert [c.replace("/* under row-level security */ ", "") for c in caller] == owner
