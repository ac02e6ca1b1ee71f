"""Rebuilding several services together (``replay --all``) yields what one at a time yields."""

from __future__ import annotations

import pytest

from infra.bootstrap import System
from infra.replay import ReplayEngine
from infra.services import ALL_SERVICES, build_registry
from tests.integration.test_replay import _diff_with_old, _engine, _scenario, fx_system

pytestmark = pytest.mark.integration

__all__ = ["fx_system"]  # the fixture, imported for its registration


class _Counted:
    """A progress sink recording what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def start(self, label: str, total: int, done: int) -> None:  # noqa: ARG002  label not checked
        self.calls.append(("start", total))

    def advance(self, events: int) -> None:
        self.calls.append(("advance", events))

    def finish(self) -> None:
        self.calls.append(("finish", 0))


async def test_services_rebuilt_together_yield_the_live_read_models(system: System) -> None:
    await _scenario(system)
    specs = [spec for spec in ALL_SERVICES if spec.projections]
    reports = await _engine(system, batch_size=7).rebuild_many(specs, keep_old=True, concurrency=len(specs))
    assert [r.service for r in reports] == [spec.name for spec in specs]
    assert all(r.swapped and r.events > 0 for r in reports)
    differences = {r.service: await _diff_with_old(system, r.service, r.old_schema) for r in reports}
    assert differences == {spec.name: [] for spec in specs}


async def test_services_rebuilt_together_report_one_progress(system: System) -> None:
    await _scenario(system)
    specs = [spec for spec in ALL_SERVICES if spec.projections]
    sink = _Counted()
    engine = ReplayEngine(system.settings, build_registry(), batch_size=7, progress=sink)
    reports = await engine.rebuild_many(specs)
    kinds = [kind for kind, _ in sink.calls]
    assert kinds[0] == "start"
    assert kinds[-1] == "finish"
    assert kinds.count("start") == kinds.count("finish") == 1
    total = sink.calls[0][1]
    assert sum(n for kind, n in sink.calls if kind == "advance") == total == sum(r.events for r in reports)
