"""`sceneledger seed` on the real stack: the read models hold what it created, a re-run appends nothing."""

from __future__ import annotations

import os
import random

import pytest
from typer.testing import CliRunner

from infra.bootstrap import System
from infra.seed import SeedReport, SeedSizes, run_seed, seed_app
from infra.settings import Settings
from tests.conftest import eventually

pytestmark = pytest.mark.integration

SMALL = SeedSizes(movies=3, scenes_per_movie=8, actors=8, users=2)


# Where each count of the seed's report is in the read models: (service, rows of the created ids).
COUNTS = {
    "movies": ("movie", "movies WHERE id = ANY($1)", "movie_ids"),
    "private movies": (
        "movie",
        "movies WHERE id = ANY($1) AND NOT is_public",
        "movie_ids",
    ),
    "actors": ("actor", "actors WHERE id = ANY($1)", "actor_ids"),
    "filmography entries": (
        "actor",
        "filmography WHERE actor_id = ANY($1)",
        "actor_ids",
    ),
    "users": ("user", "users WHERE id = ANY($1)", "user_ids"),
    "scenes": ("scene", "scenes WHERE id = ANY($1)", "scene_ids"),
    "nested scenes": (
        "scene",
        "scenes WHERE id = ANY($1) AND scene_type = 'nested'",
        "scene_ids",
    ),
    "scene cast entries": (
        "scene",
        "scene_actors WHERE scene_id = ANY($1)",
        "scene_ids",
    ),
    "dialogue lines": ("scene", "scene_dialogues WHERE scene_id = ANY($1)", "scene_ids"),
    "dialogue lines (ja)": (
        "scene",
        "scene_dialogues WHERE scene_id = ANY($1) AND language = 'ja'",
        "scene_ids",
    ),
    "dialogue lines (en)": (
        "scene",
        "scene_dialogues WHERE scene_id = ANY($1) AND language = 'en'",
        "scene_ids",
    ),
    "reviews": ("review", "reviews WHERE id = ANY($1)", "review_ids"),
}


async def _read_model_counts(live: System, report: SeedReport) -> dict[str, int]:
    return {
        what: int(await live.pools[service].fetchval(f"SELECT count(*) FROM {rows}", getattr(report, ids)))
        for what, (service, rows, ids) in COUNTS.items()
    }


def _expected(report: SeedReport) -> dict[str, int]:
    return {what: report.created.get(what, 0) for what in COUNTS}


async def test_a_small_seed_fills_every_read_model(live: System) -> None:
    report = await run_seed(live.bus, seed=random.randrange(10**9), sizes=SMALL)
    expected = _expected(report)
    assert expected["scenes"] == SMALL.movies * SMALL.scenes_per_movie
    assert report.duplicates == 0

    async def projected() -> dict[str, int] | None:
        counts = await _read_model_counts(live, report)
        return counts if counts == expected else None

    assert await eventually(projected, timeout=60) == expected


async def test_a_rerun_with_the_same_seed_appends_nothing(live: System) -> None:
    seed = random.randrange(10**9)
    first = await run_seed(live.bus, seed=seed, sizes=SMALL)
    streams = [*first.movie_ids, *first.actor_ids, *first.user_ids, *first.scene_ids, *first.review_ids]
    count = "SELECT count(*) FROM saga_events WHERE stream_id = ANY($1)"
    logged = await live.event_pool.fetchval(count, streams)
    again = await run_seed(live.bus, seed=seed, sizes=SMALL)
    assert await live.event_pool.fetchval(count, streams) == logged
    assert again.commands == first.commands
    assert again.duplicates == again.commands


def test_the_command_prints_what_it_created_and_the_rate(settings: Settings) -> None:
    env = {
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_KAFKA_BOOTSTRAP": settings.require_kafka(),
        "SCENELEDGER_NAMESPACE": settings.namespace,
    }
    args = ["--movies", "1", "--scenes-per-movie", "4", "--seed", str(random.randrange(10**9))]
    result = CliRunner().invoke(seed_app, args, env={**os.environ, **env})
    assert result.exit_code == 0, result.output
    assert "  scenes: 4\n" in result.output
    assert "/s): " in result.output
    assert ", 0 already there" in result.output
