"""The search benchmark's scratch read model: bulk-loaded rows are valid, and ours and the baselines agree."""

from __future__ import annotations

import asyncpg
import pytest

from bench.search import (
    TWO_CHARACTER_QUERIES,
    SearchSizes,
    baseline_page,
    bulk_load,
    scratch_scene_database,
)
from infra.bootstrap import create_read_engine
from infra.db import create_pool
from infra.settings import Settings
from read_models.text_search import TextSearchQueries

pytestmark = pytest.mark.integration


async def test_the_bulk_load_fills_every_table_and_restores_the_search_indexes(settings: Settings) -> None:
    async with scratch_scene_database(settings, "test") as dsn:
        await bulk_load(dsn, SearchSizes(scenes=400, lines=600, runs=1))
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM scenes") == 400
            assert await conn.fetchval("SELECT count(*) FROM scene_dialogues") == 600
            assert await conn.fetchval("SELECT count(*) FROM scene_actors") == 400
            indexes = {r["indexname"] for r in await conn.fetch("SELECT indexname FROM pg_indexes")}
        finally:
            await conn.close()
    restored = {"idx_scene_dialogues_text_tokens", "idx_scenes_search_keys_leakproof", "bench_trgm_text"}
    assert restored <= indexes


async def test_our_dialogue_search_and_the_baselines_return_the_same_page(settings: Settings) -> None:
    async with scratch_scene_database(settings, "test") as dsn:
        await bulk_load(dsn, SearchSizes(scenes=300, lines=3000, runs=1))
        engine = create_read_engine(dsn, pool_size=1)
        pool = await create_pool(dsn, max_size=1)
        try:
            for q in (TWO_CHARACTER_QUERIES[0], "君が好きだ"):
                ours = [hit.id for hit in await TextSearchQueries(engine).search_dialogues(q, limit=50)]
                assert ours
                assert ours == await baseline_page(pool, q, sequential=False)
                assert ours == await baseline_page(pool, q, sequential=True)
        finally:
            await pool.close()
            await engine.dispose()
