"""The Python reference of the text search's normalisation and tokens (mirrors 0005_text_search.sql)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from read_models.text_search import matches, normalise, query_tokens, tokens

pytestmark = pytest.mark.unit


def wide(ascii_text: str) -> str:
    """Return the full-width form of printable ASCII (written out, the source would hide it: RUF001)."""
    return "".join(chr(ord(c) + 0xFEE0) for c in ascii_text)


_TEXT = st.text(alphabet="abcABCｱｲｳアイウあいう猫好き君 " + wide("abAB"), max_size=30)


def test_full_width_latin_folds_to_lower_ascii() -> None:
    assert normalise(wide("ABC")) == "abc"


def test_half_width_katakana_folds_to_full_width() -> None:
    assert normalise("ｱｲｳ") == "アイウ"


def test_half_width_voiced_katakana_becomes_one_character() -> None:
    assert normalise("ｶﾞ") == "ガ"


def test_tokens_are_the_unigrams_and_bigrams() -> None:
    assert tokens("猫が好き") == {"猫", "が", "好", "き", "猫が", "が好", "好き"}


def test_tokens_of_empty_text_are_empty() -> None:
    assert tokens("") == frozenset()


def test_one_character_query_looks_up_its_unigram() -> None:
    assert query_tokens("猫") == {"猫"}


def test_longer_query_looks_up_its_bigrams_only() -> None:
    assert query_tokens("君が好きだ") == {"君が", "が好", "好き", "きだ"}


def test_query_length_is_counted_after_normalising() -> None:
    # Two half-width characters make one full-width one: a unigram query, not a bigram one.
    assert query_tokens("ｶﾞ") == {"ガ"}


def test_match_folds_width_and_case() -> None:
    assert matches("I LOVE " + wide("YOU"), "love you")


def test_no_match_in_missing_text() -> None:
    assert not matches(None, "猫")


@given(_TEXT, _TEXT.filter(bool))
def test_a_match_has_every_query_token(text: str, query: str) -> None:
    # The index may only narrow: a text containing the query holds all the query's keys.
    if matches(text, query):
        assert query_tokens(query) <= tokens(text)
