"""The seed's plan: deterministic per seed, overlapping and nested scenes, Japanese and English lines."""

from __future__ import annotations

import re

import pytest

from commands.base import Command
from commands.scene import AddDialogue, CreateScene
from infra.seed import Chain, Plan, SeedReport, SeedSizes

pytestmark = pytest.mark.unit

KANA_OR_KANJI = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _commands(seed: int, sizes: SeedSizes) -> list[Chain]:
    plan = Plan(seed, sizes)
    return [chain for _, chains in plan.phases(SeedReport()) for chain in chains]


def _flat(chains: list[Chain]) -> list[Command]:
    return [cmd for chain in chains for cmd, _ in chain]


SIZES = SeedSizes(movies=4, scenes_per_movie=40, actors=12, users=3)


def test_the_same_seed_gives_the_same_commands_and_ids() -> None:
    assert _flat(_commands(5, SIZES)) == _flat(_commands(5, SIZES))


def test_another_seed_gives_other_ids() -> None:
    first = {c.command_id for c in _flat(_commands(5, SIZES))}
    other = {c.command_id for c in _flat(_commands(6, SIZES))}
    assert not first & other


def test_scenes_of_a_movie_overlap() -> None:
    plan = Plan(5, SIZES)
    spans = [(s, e) for s, e, parent in plan.scene_spans(0) if parent is None]
    overlapping = sum(1 for i, a in enumerate(spans) for b in spans[i + 1 :] if a[0] < b[1] and b[0] < a[1])
    assert overlapping > 0


def test_nested_scenes_lie_inside_their_parents() -> None:
    plan = Plan(5, SIZES)
    spans = plan.scene_spans(1)
    nested = [(s, e, spans[p]) for s, e, p in spans if p is not None]
    assert nested
    assert all(ps <= s < e <= pe for s, e, (ps, pe, _) in nested)


def test_nested_scenes_come_after_every_primary_scene() -> None:
    chains = _commands(5, SIZES)
    creates = [cmd for cmd in _flat(chains) if isinstance(cmd, CreateScene)]
    kinds = [c.scene_type for c in creates]
    assert kinds.index("nested") > len(kinds) - 1 - kinds[::-1].index("primary")


def test_lines_are_in_japanese_and_english() -> None:
    lines = [c for c in _flat(_commands(5, SIZES)) if isinstance(c, AddDialogue)]
    japanese = [c.dialogue_text for c in lines if c.language == "ja"]
    english = [c.dialogue_text for c in lines if c.language == "en"]
    assert japanese
    assert english
    assert all(KANA_OR_KANJI.search(t) for t in japanese)
    assert not any(KANA_OR_KANJI.search(t) for t in english)
    assert len(set(japanese)) > len(japanese) // 2  # varied, not one line repeated


def test_some_movies_are_private() -> None:
    plan = Plan(5, SeedSizes(movies=60, scenes_per_movie=1, actors=6, users=2))
    assert 0 < sum(plan.private) < 60


def test_the_report_counts_what_the_plan_dispatches() -> None:
    report = SeedReport()
    plan = Plan(5, SIZES)
    commands = [cmd for _, chains in plan.phases(report) for chain in chains for cmd, _ in chain]
    creates = sum(isinstance(c, CreateScene) for c in commands)
    assert report.created["scenes"] == creates == SIZES.movies * SIZES.scenes_per_movie
    assert report.created["dialogue lines"] == sum(isinstance(c, AddDialogue) for c in commands)
