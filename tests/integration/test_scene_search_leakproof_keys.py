"""Scene search under row-level security through the keys index (0017): leakproof key operators.

The search states its keys with ``@>>`` and ``&&>``, the TEXT[] ``@>`` and ``&&`` of the keys
index's operator class, marked leakproof so that the planner may use the index before the
policies. These tests check that the planner does use it as a viewer, and that the operators
answer exactly as the built-in array operators they stand for; which hits each role sees is
``test_rls_scene_search.py``'s.
"""

from __future__ import annotations

import random
from typing import Any
from uuid import uuid4

import asyncpg
import pytest
from sqlalchemy import text

from infra.auth import Identity
from infra.bootstrap import System
from read_models.rls import reading
from read_models.search import SceneSearch, _plan, _statements

pytestmark = pytest.mark.integration

VIEWER = Identity(user_id=uuid4(), role="viewer")
KEYED = {
    "design's query": SceneSearch(level1="R", description="恋愛", tags=("romantic",)),
    "filters only": SceneSearch(level1="R", level2="R2", start_min=600, end_max=3600, tags=("romantic",)),
    "tag only": SceneSearch(tags=("romantic",)),
    "two tags": SceneSearch(level1="R", description="恋愛", tags=("romantic", "rainy")),
    "two tags, times": SceneSearch(start_min=600, end_max=3600, tags=("romantic", "rainy")),
}


@pytest.mark.parametrize("search", list(KEYED))
async def test_a_viewers_keyed_search_may_use_the_keys_index_under_the_policies(
    system: System, search: str
) -> None:
    """With sequential scans priced out, a viewer's plan reads scenes through the keys index.

    Were the key conditions not leakproof, the planner could not use the index before the
    policies and would scan the table whatever the price.
    """
    engine = system.engines["scene"]
    shape, params = _plan(KEYED[search], under_rls=True, limit=20, offset=0, after=None)
    compiled = _statements(shape)[0].compile(dialect=engine.dialect)
    values = compiled.construct_params(params)
    async with reading(engine, VIEWER) as conn:
        await conn.execute(text("SET LOCAL enable_seqscan = off"))
        result = await conn.exec_driver_sql(
            f"EXPLAIN {compiled.string}", tuple(values[name] for name in compiled.positiontup or ())
        )
        plan = [str(row[0]) for row in result]
    index_conditions = [line for line in plan if "Index Cond:" in line and "scene_search_keys_timed" in line]
    filters = [line for line in plan if "Filter:" in line]
    assert any("Bitmap Index Scan on idx_scenes_search_keys_leakproof" in line for line in plan)
    assert not any("Seq Scan on scenes" in line for line in plan)
    # Every key condition is the index's, none left to filter the rows after the policies (one
    # tag is among the keys of @>>, two or more are the "any of" of &&>).
    stated = [op for op in ("@>>", "&&>") if op in compiled.string]
    assert "@>>" in stated
    assert [op for op in stated if not any(op in line for line in index_conditions)] == []
    assert [line for line in filters if "@>>" in line or "&&>" in line] == []


def _key_arrays(rng: random.Random, count: int) -> list[list[str | None]]:
    """Small key lists drawn from few values (so that they often share keys), some empty, some with NULL."""
    values: list[str | None] = ["l1:R", "tg:romantic", "恋愛", "恋", "sb:3", "", None]
    return [[rng.choice(values) for _ in range(rng.randrange(0, 4))] for _ in range(count)]


async def test_the_key_operators_answer_as_the_array_operators(system: System) -> None:
    rng = random.Random(17)
    pairs = list(zip(_key_arrays(rng, 400), _key_arrays(rng, 400), strict=True))
    pool: asyncpg.Pool = system.scene_pool
    rows: list[Any] = await pool.fetch(
        "SELECT a @>> b AS contains_keys, a @> b AS contains, a &&> b AS overlaps_keys, a && b AS overlaps"
        " FROM jsonb_array_elements($1::jsonb) AS pair,"
        " LATERAL (SELECT ARRAY(SELECT jsonb_array_elements_text(pair -> 0)) AS a,"
        " ARRAY(SELECT jsonb_array_elements_text(pair -> 1)) AS b) AS arrays",
        pairs,
    )
    answers = [(r["contains_keys"], r["overlaps_keys"]) for r in rows]
    assert answers == [(r["contains"], r["overlaps"]) for r in rows]
    assert len(answers) == len(pairs)
    assert {True, False} <= {a for answer in answers for a in answer}
