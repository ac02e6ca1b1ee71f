"""How a dialogue search picks its path from the term's share of the lines (read_models/text_search.py)."""

from __future__ import annotations

import pytest

from read_models.text_search import WALK_LINE_COST, choose_strategy

pytestmark = pytest.mark.unit


def test_frequent_term_in_a_large_table_walks_the_lines_in_page_order() -> None:
    assert choose_strategy(0.10, 1_000_000, 50) == "walk"


def test_rare_term_uses_the_index() -> None:
    assert choose_strategy(0.001, 1_000_000, 50) == "index"


def test_term_missing_from_the_statistics_uses_the_index() -> None:
    assert choose_strategy(0.0, 1_000_000, 1) == "index"


def test_same_share_in_a_small_table_uses_the_index() -> None:
    # 2% of 1M lines is 20,000 matches to sort; of 10,000 lines, 200: fewer than the walk reads.
    assert choose_strategy(0.02, 1_000_000, 50) == "walk"
    assert choose_strategy(0.02, 10_000, 50) == "index"


def test_walk_is_chosen_only_when_it_reads_less_than_the_index_handles() -> None:
    share, needed = 0.05, 50
    lines_even = needed / share * WALK_LINE_COST / share
    assert choose_strategy(share, lines_even, needed) == "index"
    assert choose_strategy(share, lines_even * 1.01, needed) == "walk"


def test_deep_pages_cost_the_walk_more() -> None:
    assert choose_strategy(0.01, 1_000_000, 50) == "walk"
    assert choose_strategy(0.01, 1_000_000, 5_000) == "index"
