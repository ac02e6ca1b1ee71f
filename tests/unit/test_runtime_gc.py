"""The long-running processes' collector settings: fewer collections, and start-up's heap frozen."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from infra.runtime import GC_THRESHOLDS, freeze_startup, tune_gc

pytestmark = pytest.mark.unit


class _Node:
    """An object that can be part of a reference cycle and be watched through a weak reference."""

    def __init__(self) -> None:
        self.other: _Node | None = None


def _cycle() -> _Node:
    """Make a two-object cycle; return one of its objects (the only reference from outside)."""
    a, b = _Node(), _Node()
    a.other, b.other = b, a
    return a


def _dropped_cycle() -> weakref.ref[_Node]:
    """Make a two-object cycle that nothing outside references; return a weak reference to it."""
    return weakref.ref(_cycle())


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    """Give the test process its thresholds back and return frozen objects to the collector."""
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)
    gc.collect()


def test_a_cycle_alive_at_freeze_time_is_never_collected() -> None:
    kept = _cycle()
    watched = weakref.ref(kept)
    freeze_startup()
    del kept

    gc.collect()

    assert watched() is not None


def test_a_cycle_made_after_freezing_is_still_collected() -> None:
    freeze_startup()
    watched = _dropped_cycle()

    gc.collect()

    assert watched() is None


def test_tune_gc_sets_the_thresholds() -> None:
    gc.set_threshold(700, 10, 10)

    tune_gc()

    assert gc.get_threshold() == GC_THRESHOLDS


def test_tune_gc_freezes_what_exists_when_it_is_called() -> None:
    gc.unfreeze()
    kept = _cycle()
    watched = weakref.ref(kept)

    tune_gc()
    del kept
    gc.collect()

    assert gc.get_freeze_count() > 0
    assert watched() is not None
