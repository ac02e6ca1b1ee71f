"""DelayedSettle: a backlog's deferred work is settled once it pauses, or at the latest max_wait."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from infra.workers import DelayedSettle
from projections.runner import ProjectionRunner

pytestmark = pytest.mark.unit


class _Runner:
    """Counts settles; stands in for a ProjectionRunner (only ``settle`` and the name are used)."""

    def __init__(self) -> None:
        self.settles = 0
        self.projection = type("P", (), {"name": "probe"})()

    async def settle(self) -> None:
        self.settles += 1


def _settle(runner: _Runner, **kwargs: Any) -> DelayedSettle:
    return DelayedSettle(cast("ProjectionRunner", runner), **kwargs)


async def test_settles_once_after_the_backlog_pauses() -> None:
    runner = _Runner()
    later = _settle(runner, quiet=0.05, max_wait=10)
    for _ in range(5):
        later.deferred()
        await asyncio.sleep(0.01)
    assert runner.settles == 0
    await asyncio.sleep(0.15)
    assert runner.settles == 1


async def test_a_backlog_that_never_pauses_is_settled_at_max_wait() -> None:
    runner = _Runner()
    later = _settle(runner, quiet=0.05, max_wait=0.2)
    for _ in range(40):  # a deferred batch every 10 ms: never quiet for 50 ms
        later.deferred()
        await asyncio.sleep(0.01)
    assert runner.settles >= 1


async def test_nothing_is_settled_without_a_deferred_batch() -> None:
    runner = _Runner()
    _settle(runner, quiet=0.01, max_wait=0.02)
    await asyncio.sleep(0.05)
    assert runner.settles == 0
