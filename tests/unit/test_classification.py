"""Unit tests for commands.classification: L-dialogue codes and their hierarchy."""

import copy
import re
from typing import cast

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from commands.classification import (
    LEVEL1_LETTERS,
    LEVEL1_NAMES,
    Classification,
    ClassificationError,
    parse_classification,
)

pytestmark = pytest.mark.unit

_LETTERS = "ARCSDLO"
_ALLOWED_TEXT = "A, R, C, S, D, L, O"
# The grammar, written independently of the module: letter, digit, optional '-' digit.
_GRAMMAR = re.compile(r"[ARCSDLOarcsdlo][0-9](?:-[0-9])?")


def _is_in_grammar(text: str) -> bool:
    return _GRAMMAR.fullmatch(text.strip()) is not None


# --- the level 1 letters ------------------------------------------------------------------


def test_level1_names() -> None:
    assert dict(LEVEL1_NAMES) == {
        "A": "action",
        "R": "romance",
        "C": "comedy",
        "S": "suspense",
        "D": "drama",
        "L": "dialogue",
        "O": "other",
    }


def test_level1_letters_follow_the_names() -> None:
    assert "".join(LEVEL1_LETTERS) == _LETTERS


def test_level1_names_are_read_only() -> None:
    as_if_mutable = cast("dict[str, str]", LEVEL1_NAMES)
    with pytest.raises(TypeError):
        as_if_mutable["X"] = "extra"
    assert "X" not in LEVEL1_NAMES


# --- parsing ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "levels"),
    [
        ("L2-3", ("L", "L2", "L2-3")),
        ("L2", ("L", "L2", None)),
        ("A1", ("A", "A1", None)),
        ("R0-0", ("R", "R0", "R0-0")),
        ("C9-9", ("C", "C9", "C9-9")),
        ("S5", ("S", "S5", None)),
        ("D7-1", ("D", "D7", "D7-1")),
        ("O4", ("O", "O4", None)),
    ],
)
def test_parse_splits_the_levels(raw: str, levels: tuple[str, str, str | None]) -> None:
    parsed = parse_classification(raw)
    assert (parsed.level1, parsed.level2, parsed.level3) == levels


@pytest.mark.parametrize(
    ("raw", "code"),
    [("l2-3", "L2-3"), ("a1", "A1"), ("  s9-0\t", "S9-0"), ("\nL2 ", "L2"), (" d5 ", "D5")],
)
def test_parse_strips_whitespace_and_upper_cases(raw: str, code: str) -> None:
    assert parse_classification(raw).code == code


@pytest.mark.parametrize(("raw", "code"), [("L2-3", "L2-3"), ("L2", "L2"), ("O0", "O0")])
def test_code_is_the_most_specific_level(raw: str, code: str) -> None:
    assert parse_classification(raw).code == code


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_parse_refuses_empty_input(raw: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        parse_classification(raw)
    assert caught.value.reason.startswith("is empty")


@pytest.mark.parametrize(("raw", "letter"), [("L", "L"), ("l", "L"), (" A ", "A"), ("o", "O")])
def test_parse_refuses_a_bare_level1(raw: str, letter: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        parse_classification(raw)
    assert caught.value.reason.startswith(
        f"level 2 is required: add one digit after the letter, e.g. '{letter}2'"
    )


@pytest.mark.parametrize(
    ("raw", "first"),
    [
        ("X2", "X"),
        ("B1-1", "B"),
        ("x", "x"),
        ("2", "2"),
        ("-", "-"),
        ("2L", "2"),
        ("\u017f1", "\u017f"),  # long s, which str.upper() turns into 'S'
        ("\u01312", "\u0131"),  # dotless i, which str.upper() turns into 'I'
        ("\uff2c2", "\uff2c"),  # fullwidth L
    ],
)
def test_parse_refuses_an_unknown_level1_and_lists_the_letters(raw: str, first: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        parse_classification(raw)
    assert caught.value.reason == (
        f"level 1 must be one of {_ALLOWED_TEXT} (got {first!r} in {raw.strip()!r})"
    )


@pytest.mark.parametrize(
    "raw",
    ["L22", "L2-", "L2-34", "L-3", "L2_3", "L 2", "L2-3-4", "L2-a", "LL2", "L\u00b2", "L2 -3"],
)
def test_parse_refuses_malformed_codes(raw: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        parse_classification(raw)
    assert caught.value.reason.startswith("expected a level 1 letter, one digit")


def test_parse_error_message_names_the_field() -> None:
    with pytest.raises(ClassificationError) as caught:
        parse_classification("X2")
    assert caught.value.field == "classification"
    assert str(caught.value) == (f"classification: level 1 must be one of {_ALLOWED_TEXT} (got 'X' in 'X2')")


def test_classification_error_is_a_value_error() -> None:
    assert issubclass(ClassificationError, ValueError)


def test_classification_error_survives_copying() -> None:
    copied = copy.deepcopy(ClassificationError("level2", "is bad"))
    assert (copied.field, copied.reason, str(copied)) == ("level2", "is bad", "level2: is bad")


# --- from_levels --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "levels", [("L", "L2", "L2-3"), ("L", "L2", None), ("A", "A0", None), ("O", "O9", "O9-0")]
)
def test_from_levels_accepts_a_valid_hierarchy(levels: tuple[str, str, str | None]) -> None:
    built = Classification.from_levels(*levels)
    assert (built.level1, built.level2, built.level3) == levels


def test_from_levels_defaults_level3_to_none() -> None:
    assert Classification.from_levels("L", "L2").level3 is None


def test_from_levels_equals_the_parsed_code() -> None:
    assert Classification.from_levels("L", "L2", "L2-3") == parse_classification("l2-3")


@pytest.mark.parametrize("level1", ["X", "l", "", "LL", "L2"])
def test_from_levels_refuses_an_unknown_level1(level1: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        Classification.from_levels(level1, "L2")
    assert caught.value.field == "level1"
    assert caught.value.reason == f"must be one of {_ALLOWED_TEXT} (got {level1!r})"


@pytest.mark.parametrize("level2", ["L", "L23", "2", "", "l2", "X2", "L2-3"])
def test_from_levels_refuses_a_malformed_level2(level2: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        Classification.from_levels("L", level2)
    assert caught.value.field == "level2"
    assert caught.value.reason.startswith("must be a level 1 letter followed by one digit")


def test_from_levels_refuses_a_level2_of_another_level1() -> None:
    with pytest.raises(ClassificationError) as caught:
        Classification.from_levels("L", "A2")
    assert str(caught.value) == "level2: must start with level 1 'L' (got 'A2')"


@pytest.mark.parametrize("level3", ["L2", "L2-", "L2-34", "L23", "", "l2-3", "L2_3"])
def test_from_levels_refuses_a_malformed_level3(level3: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        Classification.from_levels("L", "L2", level3)
    assert caught.value.field == "level3"
    assert caught.value.reason.startswith("must be level 2 followed by '-' and one digit")


@pytest.mark.parametrize("level3", ["L3-1", "A2-1"])
def test_from_levels_refuses_a_level3_of_another_level2(level3: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        Classification.from_levels("L", "L2", level3)
    assert caught.value.field == "level3"
    assert caught.value.reason == f"must start with level 2 and '-', i.e. 'L2-' (got {level3!r})"


# --- the model ----------------------------------------------------------------------------


def test_direct_construction_checks_the_hierarchy() -> None:
    with pytest.raises(ValidationError, match="must start with level 1"):
        Classification(level1="L", level2="A2")


def test_model_refuses_extra_fields() -> None:
    with pytest.raises(ValidationError, match="extra"):
        Classification.model_validate({"level1": "L", "level2": "L2", "level4": "x"})


@pytest.mark.parametrize("attribute", ["level1", "level2", "level3"])
def test_model_is_frozen(attribute: str) -> None:
    parsed = parse_classification("L2-3")
    with pytest.raises(ValidationError, match="frozen"):
        setattr(parsed, attribute, "A")


def test_model_is_hashable_and_compares_by_value() -> None:
    assert hash(parse_classification("L2-3")) == hash(parse_classification(" l2-3 "))
    assert parse_classification("L2") != parse_classification("L2-3")


def test_model_round_trips_through_json() -> None:
    parsed = parse_classification("L2-3")
    assert Classification.model_validate_json(parsed.model_dump_json()) == parsed


# --- properties ---------------------------------------------------------------------------


_CODES = st.builds(
    lambda letter, digit2, digit3: f"{letter}{digit2}" + ("" if digit3 is None else f"-{digit3}"),
    st.sampled_from(_LETTERS),
    st.integers(min_value=0, max_value=9),
    st.none() | st.integers(min_value=0, max_value=9),
)


@given(_CODES)
def test_property_every_code_parses_to_itself_with_a_valid_hierarchy(code: str) -> None:
    parsed = parse_classification(code)
    assert parsed.code == code
    assert parsed.level1 == code[0]
    assert parsed.level2 == code[:2]
    assert parsed.level3 == (code if len(code) > 2 else None)
    assert Classification.from_levels(parsed.level1, parsed.level2, parsed.level3) == parsed


@given(_CODES)
def test_property_lower_case_codes_parse_to_the_upper_case_code(code: str) -> None:
    assert parse_classification(f" {code.lower()} ").code == code


@given(st.text().filter(lambda text: not _is_in_grammar(text)))
def test_property_text_outside_the_grammar_is_refused(text: str) -> None:
    with pytest.raises(ClassificationError):
        parse_classification(text)


@given(
    st.text(alphabet="ARCSDLOXarl0123456789- \u017f", max_size=6).filter(
        lambda text: not _is_in_grammar(text)
    )
)
def test_property_near_misses_are_refused(text: str) -> None:
    with pytest.raises(ClassificationError) as caught:
        parse_classification(text)
    assert caught.value.field == "classification"
