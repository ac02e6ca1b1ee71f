"""`replay --movie` and `replay --from-position`: in-place repairs of the live read models."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID, uuid4

import pytest
from typer.testing import CliRunner

from commands.actor import RegisterActor
from commands.movie import RegisterMovie
from commands.scene import AddDialogue, CreateScene, RetimeScene
from infra.bootstrap import System, open_system
from infra.replay import ReplayEngine
from infra.replay_cli import replay_app
from infra.services import build_registry, service
from infra.settings import Settings
from tests.acting import AS_SYSTEM
from tests.integration.test_replay import _cli_env, _scenario, fx_system

pytestmark = pytest.mark.integration

__all__ = ["fx_system"]  # the live-namespace fixture `system`, shared with test_replay


# One movie's rows in every table --movie rebuilds, as md5s of the rows (order-independent).
_SCENE_ROWS = {
    "scenes": "SELECT md5(to_jsonb(s)::text) FROM scenes s WHERE movie_id = $1",
    "scene_actors": "SELECT md5(to_jsonb(a)::text) FROM scene_actors a "
    "JOIN scenes s ON s.id = a.scene_id WHERE s.movie_id = $1",
    "scene_dialogues": "SELECT md5(to_jsonb(d)::text) FROM scene_dialogues d "
    "JOIN scenes s ON s.id = d.scene_id WHERE s.movie_id = $1",
    "movie_scene_stats": "SELECT md5(to_jsonb(m)::text) FROM movie_scene_stats m WHERE movie_id = $1",
    "external_movies_cache": "SELECT md5(to_jsonb(c)::text) FROM external_movies_cache c WHERE id = $1",
}
_MOVIE_ROWS = {
    "movies": "SELECT md5(to_jsonb(m)::text) FROM movies m WHERE id = $1",
    "movie_scene_index": "SELECT md5(to_jsonb(i)::text) FROM movie_scene_index i WHERE movie_id = $1",
    "movie_review_ratings": "SELECT md5(to_jsonb(r)::text) FROM movie_review_ratings r WHERE movie_id = $1",
}


async def _rows(system: System, movie: UUID) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for db, queries in (("scene", _SCENE_ROWS), ("movie", _MOVIE_ROWS)):
        for table, query in queries.items():
            out[table] = sorted(r[0] for r in await system.pools[db].fetch(query, movie))
    return out


async def _tamper(system: System, movie: UUID) -> None:
    scene = system.pools["scene"]
    await scene.execute("UPDATE scenes SET description = 'tampered' WHERE movie_id = $1", movie)
    await scene.execute(
        "DELETE FROM scene_dialogues d USING scenes s WHERE s.id = d.scene_id AND s.movie_id = $1", movie
    )
    await scene.execute("UPDATE movie_scene_stats SET total_scenes = 99 WHERE movie_id = $1", movie)
    await scene.execute("DELETE FROM external_movies_cache WHERE id = $1", movie)
    await system.pools["movie"].execute("UPDATE movies SET title = 'tampered' WHERE id = $1", movie)
    await system.pools["movie"].execute("DELETE FROM movie_review_ratings WHERE movie_id = $1", movie)


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(replay_app, ["replay", *args])
    return result.exit_code, result.output


async def test_replay_movie_restores_exactly_that_movie_and_leaves_the_others(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenario(system)
    first, second = [
        r["id"] for r in await system.pools["movie"].fetch("SELECT id FROM movies ORDER BY title")
    ]
    before = await _rows(system, first)
    await _tamper(system, first)
    await _tamper(system, second)
    tampered_second = await _rows(system, second)
    _cli_env(system, monkeypatch)

    code, output = await asyncio.to_thread(_invoke, "--all", "--movie", str(first))

    assert code == 0, output
    assert "scene/scenes:" in output
    assert "movie/movies:" in output
    assert await _rows(system, first) == before
    assert await _rows(system, second) == tampered_second


async def test_replay_movie_of_a_movie_not_in_the_log_is_bad_input(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cli_env(system, monkeypatch)

    code, output = await asyncio.to_thread(_invoke, "--all", "--movie", str(uuid4()))

    assert code == 2
    assert "no movie" in output


@pytest.mark.parametrize(
    "extra",
    [["--from-position", "1"], ["--id", "other"], ["--keep-old"]],
    ids=["with-from-position", "with-id", "with-keep-old"],
)
async def test_replay_movie_refuses_blue_green_and_position_options(
    system: System, monkeypatch: pytest.MonkeyPatch, extra: list[str]
) -> None:
    _cli_env(system, monkeypatch)

    code, output = await asyncio.to_thread(_invoke, "--all", "--movie", str(uuid4()), *extra)

    assert code == 2
    assert "error:" in output


@pytest.fixture(name="idle")
async def fx_idle(fresh_settings: Settings) -> AsyncIterator[System]:
    """A namespace of its own with no relay and no projector: the log grows, the read models do not."""
    system = await open_system(fresh_settings)
    yield system
    await system.close()


async def _scenes_log(system: System) -> tuple[UUID, list[UUID]]:
    movie = uuid4()
    actor = uuid4()
    await system.bus.dispatch(RegisterMovie(movie_id=movie, title="七人の侍"), AS_SYSTEM)
    await system.bus.dispatch(RegisterActor(actor_id=actor, name="三船敏郎"), AS_SYSTEM)
    scenes = [uuid4() for _ in range(3)]
    for i, scene in enumerate(scenes):
        await system.bus.dispatch(
            CreateScene(scene_id=scene, movie_id=movie, start=f"{i * 100}", end="+30", classification="L2"),
            AS_SYSTEM,
        )
        await system.bus.dispatch(AddDialogue(scene_id=scene, actor_id=actor, dialogue_text="猫"), AS_SYSTEM)
    return movie, scenes


async def _position_of(system: System, stream: UUID, version: int) -> int:
    return int(
        await system.event_pool.fetchval(
            "SELECT position FROM saga_events WHERE stream_id = $1 AND stream_version = $2", stream, version
        ),
    )


async def test_replay_from_position_applies_what_the_live_models_lack_and_matches_a_rebuild(
    idle: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, scenes = await _scenes_log(idle)
    _cli_env(idle, monkeypatch)

    code, output = await asyncio.to_thread(_invoke, "--all", "--from-position", "1")

    assert code == 0, output
    assert "scene/scenes: 6 events applied" in output
    assert await idle.pools["scene"].fetchval("SELECT count(*) FROM scenes") == len(scenes)
    report = await ReplayEngine(idle.settings, build_registry()).verify(service("scene"))
    assert report.differences == []


async def test_replay_from_a_later_position_applies_only_the_later_events(
    idle: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, scenes = await _scenes_log(idle)
    _cli_env(idle, monkeypatch)
    await asyncio.to_thread(_invoke, "--projection", "scenes", "--from-position", "1")
    await idle.bus.dispatch(RetimeScene(scene_id=scenes[0], start="000500", end="+20"), AS_SYSTEM)
    later = await _position_of(idle, scenes[0], 3)

    code, output = await asyncio.to_thread(_invoke, "--projection", "scenes", "--from-position", str(later))

    assert code == 0, output
    assert "scene/scenes: 1 events applied" in output
    assert (
        await idle.pools["scene"].fetchval("SELECT start_time_seconds FROM scenes WHERE id = $1", scenes[0])
        == 300
    )


async def test_replay_from_position_is_refused_when_it_would_leave_a_gap(
    idle: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, scenes = await _scenes_log(idle)
    second_event = await _position_of(idle, scenes[0], 2)  # the scene's dialogue, after its creation
    _cli_env(idle, monkeypatch)

    code, output = await asyncio.to_thread(
        _invoke, "--projection", "scenes", "--from-position", str(second_event)
    )

    assert code == 2
    assert "would leave gaps" in output
    assert await idle.pools["scene"].fetchval("SELECT count(*) FROM scenes") == 0
