"""The dialogue search's memory of recent terms' share estimates (read_models/text_search.py)."""

from __future__ import annotations

import pytest

from read_models.text_search import ShareCache

pytestmark = pytest.mark.unit


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_remembered_term_gives_its_share_and_lines() -> None:
    cache = ShareCache(clock=_Clock())
    cache.put("好き", 0.1, 1_000_000)
    assert cache.get("好き") == (0.1, 1_000_000)


def test_an_unknown_term_gives_none() -> None:
    assert ShareCache(clock=_Clock()).get("東京") is None


def test_an_estimate_is_read_again_once_its_time_to_live_has_passed() -> None:
    clock = _Clock()
    cache = ShareCache(ttl=60, clock=clock)
    cache.put("好き", 0.1, 1_000_000)
    clock.now += 59.9
    assert cache.get("好き") == (0.1, 1_000_000)
    clock.now += 0.1
    assert cache.get("好き") is None


def test_the_least_recently_used_term_is_forgotten_first_when_full() -> None:
    cache = ShareCache(size=2, clock=_Clock())
    cache.put("好き", 0.1, 10)
    cache.put("東京", 0.02, 10)
    cache.get("好き")
    cache.put("手紙", 0.02, 10)
    assert (cache.get("好き"), cache.get("東京"), cache.get("手紙")) == ((0.1, 10), None, (0.02, 10))
