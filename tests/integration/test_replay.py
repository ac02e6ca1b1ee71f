"""Blue/green rebuild of read models from saga_events, on the real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from uuid import UUID, uuid4

import asyncpg
import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs
from typer.testing import CliRunner, Result

from commands.actor import AddFilmographyEntry, RegisterActor
from commands.movie import RegisterMovie
from commands.review import PostReview, ReactToReview
from commands.scene import (
    AddDialogue,
    AddSceneActor,
    CreateScene,
    DeleteScene,
    ReclassifyScene,
    RetimeScene,
)
from commands.user import AddMovieToWatchList, RegisterUser
from infra.bootstrap import System, build_broker, build_relay, open_system
from infra.publisher import KafkaPublisher
from infra.replay import DEFERRED_FOREIGN_KEYS, STEPS, ReplayEngine, _Target, compare_schemas
from infra.replay_cli import LogProgress, replay_app
from infra.services import ALL_SERVICES, build_registry, service, topic_by_stream_type
from infra.settings import Settings
from tests.acting import AS_SYSTEM
from tests.conftest import eventually

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(name="system")
async def fx_system(fresh_settings: Settings) -> AsyncIterator[System]:
    """A namespace of this test's own with its relay and projectors running (a rebuild swaps it)."""
    system = await open_system(fresh_settings)
    publisher = KafkaPublisher(fresh_settings.require_kafka())
    await publisher.start()
    stop = asyncio.Event()
    relay = asyncio.create_task(build_relay(system, publisher).run(stop))
    broker = build_broker(system, commands=False)
    await broker.start()
    yield system
    stop.set()
    await relay
    await broker.stop()
    await publisher.stop()
    await system.close()


async def _scenario(system: System) -> list[UUID]:
    """A realistic sequence over every service; returns the scene ids still alive."""
    bus = system.bus
    movies = [uuid4(), uuid4()]
    actors = [uuid4(), uuid4()]
    users = [uuid4(), uuid4()]
    for i, (movie, actor, user) in enumerate(zip(movies, actors, users, strict=True)):
        await bus.dispatch(RegisterMovie(movie_id=movie, title=f"映画 {i}"), AS_SYSTEM)
        await bus.dispatch(RegisterActor(actor_id=actor, name=f"俳優 {i}"), AS_SYSTEM)
        await bus.dispatch(
            RegisterUser(user_id=user, email=f"{user.hex}@example.com", password=SecretStr(f"pw-{user.hex}")),
            AS_SYSTEM,
        )
        await bus.dispatch(AddFilmographyEntry(actor_id=actor, movie_id=movie), AS_SYSTEM)
        await bus.dispatch(AddMovieToWatchList(user_id=users[0], movie_id=movie), AS_SYSTEM)
    scenes = []
    for i in range(8):
        scene = uuid4()
        start = 100 * i
        await bus.dispatch(
            CreateScene(
                scene_id=scene,
                movie_id=movies[i % 2],
                start=f"00{start // 60:02d}{start % 60:02d}",
                end="+30",
                classification="A1",
            ),
            AS_SYSTEM,
        )
        await bus.dispatch(AddSceneActor(scene_id=scene, actor_id=actors[i % 2]), AS_SYSTEM)
        await bus.dispatch(
            AddDialogue(scene_id=scene, actor_id=actors[i % 2], dialogue_text=f"台詞 {i}"), AS_SYSTEM
        )
        await bus.dispatch(ReclassifyScene(scene_id=scene, classification="C2"), AS_SYSTEM)
        scenes.append(scene)
    await bus.dispatch(RetimeScene(scene_id=scenes[0], start="000005", end="+20"), AS_SYSTEM)
    await bus.dispatch(DeleteScene(scene_id=scenes[-1]), AS_SYSTEM)
    review = uuid4()
    await bus.dispatch(
        PostReview(review_id=review, user_id=users[0], movie_id=movies[0], content="良い", rating=4),
        AS_SYSTEM,
    )
    await bus.dispatch(ReactToReview(review_id=review, user_id=users[1], kind="like"), AS_SYSTEM)
    await _settle(system)
    return scenes[:-1]


async def _settle(system: System) -> None:
    """Wait until every projection has applied every stream of the log up to its head."""

    async def caught_up() -> bool:
        heads = await system.event_pool.fetch(
            "SELECT stream_id, stream_type, max(stream_version) AS v FROM saga_events "
            "GROUP BY stream_id, stream_type",
        )
        topics = topic_by_stream_type()
        for spec in ALL_SERVICES:
            for p in spec.projections:
                expected = {r["stream_id"]: r["v"] for r in heads if topics[r["stream_type"]] in p.topics}
                seen = await system.pools[spec.name].fetch(
                    "SELECT stream_id, stream_version FROM projection_stream_versions WHERE projection = $1",
                    p.projection.name,
                )
                if {r["stream_id"]: r["stream_version"] for r in seen} != expected:
                    return False
        return True

    await eventually(caught_up, timeout=60)


def _engine(system: System, batch_size: int = 5000) -> ReplayEngine:
    return ReplayEngine(system.settings, build_registry(), batch_size=batch_size)


async def _diff_with_old(system: System, name: str, old: str | None) -> list[str]:
    assert old is not None
    conn = await asyncpg.connect(system.settings.dsn_for(name))
    try:
        return [d.describe() for d in await compare_schemas(conn, old, "public")]
    finally:
        await conn.close()


async def test_rebuild_of_every_service_yields_the_live_read_models(system: System) -> None:
    await _scenario(system)
    engine = _engine(system, batch_size=7)  # several batches, not one
    differences = {}
    for spec in ALL_SERVICES:
        report = await engine.rebuild(spec, keep_old=True)
        assert report.swapped
        assert report.events > 0
        differences[spec.name] = await _diff_with_old(system, spec.name, report.old_schema)
    assert differences == {spec.name: [] for spec in ALL_SERVICES}


async def test_projector_goes_on_on_the_new_schema_after_the_swap(system: System) -> None:
    scenes = await _scenario(system)
    await _engine(system).rebuild(service("scene"))
    await system.bus.dispatch(RetimeScene(scene_id=scenes[1], start="001000", end="+45"), AS_SYSTEM)

    async def retimed() -> bool:
        row = await system.pools["scene"].fetchrow(
            "SELECT start_time_seconds, end_time_seconds FROM scenes WHERE id = $1", scenes[1]
        )
        return row is not None and (row["start_time_seconds"], row["end_time_seconds"]) == (600, 645)

    await eventually(retimed)
    schemas = await system.pools["scene"].fetch(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'public%' ORDER BY nspname"
    )
    assert [r["nspname"] for r in schemas] == ["public"]  # shadow renamed, old one dropped
    # btree_gist moved along: the exclusion constraints of the new schema still have their operators.
    home = await system.pools["scene"].fetchval(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'btree_gist'"
    )
    assert home == "public"


class _BlindEngine(ReplayEngine):
    """Once ``blind``, reads nothing more from the log: only the swap's stream levelling can help."""

    blind = False

    async def _read_log(
        self, targets: Sequence[_Target], events: asyncpg.Pool, *, settle: bool = True
    ) -> list[int]:
        if self.blind:
            return [0] * len(targets)
        return await super()._read_log(targets, events, settle=settle)


async def test_swap_levels_streams_the_live_side_applied_past_the_shadow(system: System) -> None:
    scenes = await _scenario(system)
    engine = _BlindEngine(system.settings, build_registry())
    await engine.build_only(service("scene"), "public_shadow_rebuild")
    engine.blind = True  # as if the relay had published past the horizon the shadow saw
    await system.bus.dispatch(RetimeScene(scene_id=scenes[2], start="002000", end="+10"), AS_SYSTEM)
    await system.bus.dispatch(ReclassifyScene(scene_id=scenes[3], classification="S1"), AS_SYSTEM)
    await _settle(system)  # the live side has both; the shadow has neither

    report = await engine.rebuild(service("scene"), keep_old=True)

    assert report.caught_up_streams == 2
    assert await _diff_with_old(system, "scene", report.old_schema) == []


_KILLABLE = """
import asyncio, sys, time
from infra.replay import ReplayEngine
from infra.services import build_registry, service
from infra.settings import Settings

class Slow:
    def start(self, label, total, done): pass
    def advance(self, events): time.sleep(0.3)
    def finish(self): pass

engine = ReplayEngine(Settings(), build_registry(), batch_size=4, progress=Slow())
asyncio.run(engine.build_only(service(sys.argv[1]), "public_shadow_rebuild"))
"""


async def test_rebuild_killed_half_way_resumes_and_ends_identical(system: System) -> None:
    await _scenario(system)
    settings = system.settings
    env = {
        **os.environ,
        "SCENELEDGER_PG_DSN": settings.pg_dsn or "",
        "SCENELEDGER_NAMESPACE": settings.namespace,
    }
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", _KILLABLE, "scene", env=env, cwd=ROOT)
    conn = await asyncpg.connect(settings.dsn_for("scene"))
    try:

        async def some_progress() -> int:
            exists = await conn.fetchval("SELECT to_regclass('public_shadow_rebuild.replay_progress')")
            if exists is None:
                return 0
            return int(await conn.fetchval("SELECT events FROM public_shadow_rebuild.replay_progress"))

        half = await eventually(some_progress, timeout=30)
        proc.send_signal(signal.SIGKILL)
        await proc.wait()
        total = await system.event_pool.fetchval(
            "SELECT count(*) FROM saga_events "
            "WHERE stream_type IN ('scene', 'parallel_group', 'movie', 'actor')"
        )
        assert 0 < half < total  # really killed half-way
    finally:
        await conn.close()

    report = await _engine(system).rebuild(service("scene"), keep_old=True)
    assert report.resumed_from > 0
    assert report.events == total - half
    assert await _diff_with_old(system, "scene", report.old_schema) == []


async def test_reads_keep_answering_during_a_blue_green_rebuild(system: System) -> None:
    scenes = await _scenario(system)
    pool = system.pools["scene"]
    expected = await pool.fetchval("SELECT count(*) FROM scenes")
    answers: list[int] = []
    errors: list[BaseException] = []
    done = asyncio.Event()

    async def read_loop() -> None:
        while not done.is_set():
            try:
                answers.append(await pool.fetchval("SELECT count(*) FROM scenes"))
                view = await system.scenes.get(scenes[0])
                assert view is not None
            except Exception as exc:  # noqa: BLE001  every failure of a read is the finding
                errors.append(exc)
            await asyncio.sleep(0.005)

    reader = asyncio.create_task(read_loop())
    await _engine(system, batch_size=3).rebuild(service("scene"))
    await asyncio.sleep(0.1)  # reads on the new schema too
    done.set()
    await reader
    assert errors == []
    assert len(answers) > 10
    assert set(answers) == {expected}


async def test_verify_reports_a_row_changed_by_hand(system: System) -> None:
    scenes = await _scenario(system)
    engine = _engine(system)
    assert (await engine.verify(service("scene"))).differences == []
    await system.pools["scene"].execute("UPDATE scenes SET description = 'tampered' WHERE id = $1", scenes[0])

    report = await engine.verify(service("scene"))

    assert [d.table for d in report.differences] == ["scenes"]
    assert any("tampered" in row for row in report.differences[0].only_live)


async def test_verify_command_exits_1_and_prints_the_difference(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _scenario(system)
    await system.pools["movie"].execute("UPDATE movies SET title = 'tampered'")
    monkeypatch.setenv("SCENELEDGER_PG_DSN", system.settings.pg_dsn or "")
    monkeypatch.setenv("SCENELEDGER_KAFKA_BOOTSTRAP", system.settings.kafka_bootstrap or "")
    monkeypatch.setenv("SCENELEDGER_NAMESPACE", system.settings.namespace)

    result = await asyncio.to_thread(CliRunner().invoke, replay_app, ["verify", "--projection", "movies"])

    assert result.exit_code == 1, result.output
    assert "movies: live 2 rows, rebuilt 2 rows" in result.output
    assert "tampered" in result.output


def _cli_env(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCENELEDGER_PG_DSN", system.settings.pg_dsn or "")
    monkeypatch.setenv("SCENELEDGER_KAFKA_BOOTSTRAP", system.settings.kafka_bootstrap or "")
    monkeypatch.setenv("SCENELEDGER_NAMESPACE", system.settings.namespace)


async def _replay_users_by_command(system: System, monkeypatch: pytest.MonkeyPatch) -> Result:
    """Run `sceneledger replay --projection users` on the module's scenario; return its result."""
    await _scenario(system)
    _cli_env(system, monkeypatch)
    result = await asyncio.to_thread(CliRunner().invoke, replay_app, ["replay", "--projection", "users"])
    assert result.exit_code == 0, result.output
    return result


async def test_replay_command_rebuilds_the_projections_service(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await _replay_users_by_command(system, monkeypatch)

    assert "user: rebuilt from" in result.output
    assert await system.pools["user"].fetchval("SELECT count(*) FROM users") == 2


async def test_a_rebuild_reports_the_seconds_of_each_of_its_steps(system: System) -> None:
    await _scenario(system)
    report = await _engine(system).rebuild(service("movie"))
    assert list(report.seconds) == list(STEPS)
    assert all(seconds >= 0 for seconds in report.seconds.values())


async def test_replay_command_prints_each_services_steps(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = await _replay_users_by_command(system, monkeypatch)

    steps = re.search(r"^user: (shadow [0-9.]+ s, log .*)$", result.output, re.MULTILINE)
    assert steps is not None, result.output
    assert [part.split()[0] for part in steps.group(1).split(", ")] == list(STEPS)


async def test_replay_command_needs_one_target(system: System, monkeypatch: pytest.MonkeyPatch) -> None:
    _cli_env(system, monkeypatch)

    result = await asyncio.to_thread(CliRunner().invoke, replay_app, ["replay"])

    assert result.exit_code == 2
    assert "--projection NAME or --all" in result.output


def test_log_progress_reports_rate_and_eta() -> None:
    progress = LogProgress(interval=0.0)
    with capture_logs() as logs:
        progress.start("scene → shadow", total=100, done=20)
        progress.advance(30)
        progress.finish()

    lines = [entry for entry in logs if entry["event"] in {"replay.progress", "replay.read_done"}]
    assert [entry["events"] for entry in lines] == [50, 50]
    assert lines[0]["total"] == 100
    assert lines[0]["events_per_s"] > 0
    assert lines[0]["eta_s"] is not None


async def test_replay_command_rejects_an_id_that_cannot_name_a_schema(
    system: System, monkeypatch: pytest.MonkeyPatch
) -> None:
    _cli_env(system, monkeypatch)

    result = await asyncio.to_thread(
        CliRunner().invoke, replay_app, ["replay", "--projection", "users", "--id", "X; DROP"]
    )

    assert result.exit_code == 2
    assert "invalid schema name" in result.output


async def test_rebuild_defers_search_indexes_and_swaps_in_every_index_of_the_live_schema(
    system: System,
) -> None:
    spec = service("scene")
    query = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' ORDER BY indexname"
    before = [tuple(r) for r in await system.pools["scene"].fetch(query)]
    engine = _engine(system)
    # A new shadow records the indexes its build leaves out; the build restores them at its end.
    await engine.create_schema(spec, "public_shadow_indexes")
    deferred = await system.pools["scene"].fetchval(
        "SELECT count(*) FROM public_shadow_indexes.replay_deferred_indexes"
    )
    assert deferred >= 3  # the GIN tag and text-search indexes, the GiST overlap index

    await engine.rebuild(spec, rebuild_id="indexes")

    assert [tuple(r) for r in await system.pools["scene"].fetch(query)] == before


async def test_rebuild_reads_without_the_cast_and_lines_foreign_keys_and_swaps_in_every_constraint(
    system: System,
) -> None:
    spec = service("scene")
    query = (
        "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) FROM pg_constraint k "
        "JOIN pg_class c ON c.oid = k.conrelid WHERE c.relnamespace = 'public'::regnamespace "
        "ORDER BY 1, 2"
    )
    before = [tuple(r) for r in await system.pools["scene"].fetch(query)]
    engine = _engine(system)
    await engine.create_schema(spec, "public_shadow_constraints")
    left_out = await system.pools["scene"].fetch(
        "SELECT k.conname FROM pg_constraint k WHERE k.contype = 'f' "
        "AND k.connamespace = 'public_shadow_constraints'::regnamespace AND k.conname = ANY($1::text[])",
        list(DEFERRED_FOREIGN_KEYS),
    )
    assert left_out == []

    await engine.rebuild(spec, rebuild_id="constraints")

    assert [tuple(r) for r in await system.pools["scene"].fetch(query)] == before


async def test_replay_refuses_a_live_database_behind_the_migrations(
    fresh_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    scene_dsn = fresh_settings.dsn_for("scene")
    conn = await asyncpg.connect(scene_dsn)
    try:
        latest = await conn.fetchval("SELECT max(version) FROM schema_migrations")
        await conn.execute("DELETE FROM schema_migrations WHERE version = $1", latest)
    finally:
        await conn.close()
    monkeypatch.setenv("SCENELEDGER_PG_DSN", fresh_settings.pg_dsn or "")
    monkeypatch.setenv("SCENELEDGER_KAFKA_BOOTSTRAP", fresh_settings.kafka_bootstrap or "")
    monkeypatch.setenv("SCENELEDGER_NAMESPACE", fresh_settings.namespace)

    result = await asyncio.to_thread(CliRunner().invoke, replay_app, ["replay", "--projection", "scenes"])

    assert result.exit_code == 2, result.output
    assert f"lacks migrations {latest}" in result.output
    conn = await asyncpg.connect(scene_dsn)
    try:
        shadows = await conn.fetchval("SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'public_shadow%'")
        assert shadows == 0
    finally:
        await conn.close()


async def test_rebuild_starts_afresh_over_a_shadow_left_by_other_code(fresh_settings: Settings) -> None:
    spec = service("scene")
    engine = ReplayEngine(fresh_settings, build_registry())
    await engine.create_schema(spec, "public_shadow_rebuild")
    conn = await asyncpg.connect(fresh_settings.dsn_for("scene"))
    try:
        # As if created before the latest migration: its table is missing too.
        latest = await conn.fetchval("SELECT max(version) FROM public.schema_migrations")
        await conn.execute("DELETE FROM public_shadow_rebuild.schema_migrations WHERE version = $1", latest)
        await conn.execute("DROP TABLE public_shadow_rebuild.movie_scene_stats_stale")
    finally:
        await conn.close()

    with capture_logs() as logs:
        await engine.rebuild(spec)

    assert any(e["event"] == "replay.shadow_outdated" for e in logs)
    conn = await asyncpg.connect(fresh_settings.dsn_for("scene"))
    try:
        assert await conn.fetchval("SELECT to_regclass('public.movie_scene_stats_stale') IS NOT NULL")
    finally:
        await conn.close()
