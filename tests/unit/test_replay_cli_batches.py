"""`sceneledger replay` hands each path its own batch size: rebuilds 10,000 rows, in-place replays 5,000."""

from __future__ import annotations

from typing import Any

import pytest
from typer.testing import CliRunner

from infra import replay_cli
from infra.replay import REBUILD_BATCH_SIZE, RebuildReport, ReplayEngine
from infra.replay_targeted import IN_PLACE_BATCH_SIZE, TargetedReport
from infra.settings import Settings

pytestmark = pytest.mark.unit


@pytest.fixture(name="no_database")
def fx_no_database(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replay_cli, "load_settings", lambda **_: Settings(namespace="unit"))


def _rebuild_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []

    async def rebuild_many(self: ReplayEngine, *_: Any, **__: Any) -> list[RebuildReport]:
        seen.append(self._batch_size)  # what the command configured
        return []

    monkeypatch.setattr(ReplayEngine, "rebuild_many", rebuild_many)
    return seen


def _in_place_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    seen: list[int] = []

    async def replay_from_position(*args: Any, batch_size: int, **_: Any) -> TargetedReport:
        seen.append(batch_size)
        return TargetedReport(service=args[2].name)

    monkeypatch.setattr(replay_cli, "replay_from_position", replay_from_position)
    return seen


@pytest.mark.usefixtures("no_database")
def test_a_rebuild_reads_the_rebuild_batch_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _rebuild_batches(monkeypatch)
    result = CliRunner().invoke(replay_cli.replay_app, ["replay", "--all"])
    assert result.exit_code == 0, result.output
    assert seen == [REBUILD_BATCH_SIZE]


@pytest.mark.usefixtures("no_database")
def test_an_in_place_replay_applies_the_smaller_batch_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _in_place_batches(monkeypatch)
    result = CliRunner().invoke(
        replay_cli.replay_app, ["replay", "--projection", "scenes", "--from-position", "5"]
    )
    assert result.exit_code == 0, result.output
    assert seen == [IN_PLACE_BATCH_SIZE]
    assert IN_PLACE_BATCH_SIZE < REBUILD_BATCH_SIZE


@pytest.mark.usefixtures("no_database")
def test_a_given_batch_size_reaches_both_paths(monkeypatch: pytest.MonkeyPatch) -> None:
    rebuilt, in_place = _rebuild_batches(monkeypatch), _in_place_batches(monkeypatch)
    runner = CliRunner()
    assert runner.invoke(replay_cli.replay_app, ["replay", "--all", "--batch-size", "123"]).exit_code == 0
    args = ["replay", "--projection", "scenes", "--from-position", "5", "--batch-size", "7"]
    assert runner.invoke(replay_cli.replay_app, args).exit_code == 0
    assert (rebuilt, in_place) == ([123], [7])
