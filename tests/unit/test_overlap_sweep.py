"""The overlap sweep and the all-pairs cursor, against the ``[start, end)`` definition by brute force."""

from __future__ import annotations

import base64
import json
import random
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from read_models.overlaps import (
    PairDensity,
    PairRow,
    decode_pair_cursor,
    encode_pair_cursor,
    pair_key,
    timeline_pairs,
)

pytestmark = pytest.mark.unit

MOVIE = uuid4()

# Few distinct starts and lengths, so that identical, touching and nested ranges come up often.
_SCENES = st.lists(
    st.tuples(st.integers(0, 12).map(lambda n: n * 5), st.integers(1, 8).map(lambda n: n * 5)),
    max_size=30,
)


def _brute_force(scenes: list[tuple[UUID, int, int]]) -> list[PairRow]:
    """Every two scenes whose ranges intersect, the earlier by (start, id) first, in pair order."""
    ordered = sorted(scenes, key=lambda s: (s[1], s[0]))
    rows: list[PairRow] = [
        (MOVIE, a, a_start, a_end, b, b_start, b_end)
        for i, (a, a_start, a_end) in enumerate(ordered)
        for b, b_start, b_end in ordered[i + 1 :]
        if max(a_start, b_start) < min(a_end, b_end)
    ]
    return sorted(rows, key=pair_key)


def _scenes(spans: list[tuple[int, int]]) -> list[tuple[UUID, int, int]]:
    return [(uuid4(), start, start + length) for start, length in spans]


@settings(max_examples=300)
@given(spans=_SCENES, seed=st.integers(0, 2**32))
def test_the_sweep_gives_every_overlapping_pair_once_in_pair_order(
    spans: list[tuple[int, int]], seed: int
) -> None:
    scenes = _scenes(spans)
    # The database hands the timeline over sorted; the sweep must not depend on it.
    random.Random(seed).shuffle(scenes)
    ids, starts, ends = [s[0] for s in scenes], [s[1] for s in scenes], [s[2] for s in scenes]
    assert timeline_pairs(MOVIE, ids, starts, ends) == _brute_force(scenes)


@settings(max_examples=300)
@given(spans=_SCENES)
def test_the_sweep_of_a_timeline_in_the_databases_order_gives_every_pair_once(
    spans: list[tuple[int, int]],
) -> None:
    # The order the statements deliver, equal starts included: the sweep takes it as it is.
    scenes = sorted(_scenes(spans), key=lambda s: (s[1], s[0]))
    ids, starts, ends = [s[0] for s in scenes], [s[1] for s in scenes], [s[2] for s in scenes]
    assert timeline_pairs(MOVIE, ids, starts, ends) == _brute_force(scenes)


def test_scenes_that_only_touch_do_not_overlap() -> None:
    a, b = uuid4(), uuid4()
    assert timeline_pairs(MOVIE, [a, b], [0, 100], [100, 200]) == []


def test_scenes_starting_together_are_ordered_by_id() -> None:
    low, high = sorted((uuid4(), uuid4()))
    # Given in the wrong order for equal starts: the first of the pair is the smaller id.
    assert timeline_pairs(MOVIE, [high, low], [10, 10], [20, 30]) == [(MOVIE, low, 10, 30, high, 10, 20)]


def test_a_long_scene_pairs_with_every_scene_inside_it() -> None:
    long_scene, *inside = (uuid4() for _ in range(5))
    rows = timeline_pairs(MOVIE, [long_scene, *inside], [0, 10, 20, 30, 40], [1000, 15, 25, 35, 45])
    assert [(r[1], r[4]) for r in rows] == [(long_scene, scene) for scene in inside]


def test_a_cursor_resumes_after_the_pair_it_was_made_from() -> None:
    row: PairRow = (MOVIE, uuid4(), 10, 40, uuid4(), 20, 30)
    assert decode_pair_cursor(encode_pair_cursor(row)) == pair_key(row)


@pytest.mark.parametrize(
    "values",
    [
        [str(uuid4()), 1, str(uuid4())],  # the earlier (movie, first, second id) shape
        [str(uuid4()), True, str(uuid4()), 2, str(uuid4())],
        [str(uuid4()), 1.5, str(uuid4()), 2, str(uuid4())],
        [str(uuid4()), 1, "not-a-uuid", 2, str(uuid4())],
        {"movie": str(uuid4())},
    ],
)
def test_a_cursor_not_made_here_is_rejected(values: object) -> None:
    cursor = base64.urlsafe_b64encode(json.dumps(values).encode()).decode()
    with pytest.raises(ValueError, match="is not a cursor"):
        decode_pair_cursor(cursor)


def test_the_density_reads_a_first_chunk_before_it_knows_anything() -> None:
    assert PairDensity().movies_for(1001) == 16


# 90 pairs a movie: 950 pairs are 10.6 movies, 11.1 with half a movie more: 12, and one for the
# cursor's movie (read partway); 1,001 pairs are 11.1 movies, 11.6 with the half: 12 and one.
@pytest.mark.parametrize("pairs", [950, 1001])
def test_the_density_reads_the_movies_the_pairs_need_half_a_movie_more_and_one(pairs: int) -> None:
    density = PairDensity()
    density.observe(900, 10)
    assert density.movies_for(pairs) == 13


def test_the_density_of_movies_without_pairs_reads_at_most_the_chunk_cap() -> None:
    density = PairDensity()
    density.observe(0, 100)
    assert density.movies_for(1001) == 512
