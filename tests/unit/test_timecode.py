"""Unit tests for commands.timecode: scene time input parsing and display."""

import copy
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from commands.timecode import (
    DAY_SECONDS,
    TimeInputError,
    TimeRange,
    format_timecode,
    parse_time_range,
    parse_timecode,
)

pytestmark = pytest.mark.unit

_HMS_WITHIN_DAY = st.tuples(
    st.integers(min_value=0, max_value=24),
    st.integers(min_value=0, max_value=59),
    st.integers(min_value=0, max_value=59),
).filter(lambda hms: hms[0] * 3600 + hms[1] * 60 + hms[2] <= 86_400)


def _seconds(hours: int, minutes: int, seconds: int) -> int:
    return hours * 3600 + minutes * 60 + seconds


def _hhmmss(total: int) -> str:
    hours, rest = divmod(total, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours:02d}{minutes:02d}{seconds:02d}"


# --- digits-only form -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("5", 5),
        ("0", 0),
        ("59", 59),
        ("100", 60),
        ("105", 65),
        ("2345", 1425),
        ("5959", 3599),
        ("10000", 3600),
        ("012345", 5025),
        ("000000", 0),
        ("000105", 65),
        ("235959", 86_399),
        ("240000", 86_400),
    ],
)
def test_digits_are_right_aligned_hhmmss(raw: str, expected: int) -> None:
    assert parse_timecode(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("  105", 65), ("105  ", 65), ("\t2345\n", 1425), (" 1:23:45 ", 5025)],
)
def test_surrounding_whitespace_is_ignored(raw: str, expected: int) -> None:
    assert parse_timecode(raw) == expected


# --- colon forms ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1:05", 65),
        ("01:05", 65),
        ("23:45", 1425),
        ("0:00", 0),
        ("59:59", 3599),
        ("1:23:45", 5025),
        ("01:23:45", 5025),
        ("0:00:00", 0),
        ("23:59:59", 86_399),
        ("24:00:00", 86_400),
        ("1:5", 65),  # the spec allows 1-2 digits per part
        ("1:2:3", 3723),
    ],
)
def test_colon_forms_are_accepted(raw: str, expected: int) -> None:
    assert parse_timecode(raw) == expected


# --- errors of a single input ------------------------------------------------------------


@pytest.mark.parametrize("raw", ["", "   ", "\t\n"])
def test_empty_input_is_refused(raw: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason.startswith("is empty")


@pytest.mark.parametrize(
    ("raw", "character"),
    [
        ("1a", "'a'"),
        ("abc", "'a', 'b', 'c'"),
        ("-5", "'-'"),
        ("1.5", "'.'"),
        ("1,05", "','"),
        ("1 05", "' '"),
        ("5s", "'s'"),
        ("1+5", "'+'"),
        ("\u0661\u0662", "'\u0661', '\u0662'"),  # Arabic-Indic digits are not 0-9
        ("\uff15", "'\uff15'"),  # fullwidth digit five
    ],
)
def test_invalid_characters_are_named(raw: str, character: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason.startswith(f"contains invalid character(s) {character} in ")


@pytest.mark.parametrize("raw", ["1234567", "0000005", "12345678901"])
def test_more_than_six_digits_are_refused(raw: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason == (f"has {len(raw)} digits in {raw!r}; at most 6 are allowed (HHMMSS)")


@pytest.mark.parametrize("raw", [":", ":05", "1:", "1::05", "123:45", "1:2:3:4", "1:234", "::"])
def test_malformed_colon_forms_are_refused(raw: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason.startswith(f"{raw!r} is not a valid colon time")


@pytest.mark.parametrize(
    ("raw", "minutes"),
    [("6000", 60), ("9999", 99), ("016000", 60), ("60:00", 60), ("1:60:00", 60), ("99:99", 99)],
)
def test_minutes_of_60_or_more_are_refused(raw: str, minutes: int) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason == f"minutes must be below 60 (got {minutes} in {raw!r})"


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        ("60", 60),
        ("75", 75),
        ("175", 75),
        ("99", 99),
        ("010075", 75),
        ("1:60", 60),
        ("0:00:75", 75),
    ],
)
def test_seconds_of_60_or_more_are_refused(raw: str, seconds: int) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason == f"seconds must be below 60 (got {seconds} in {raw!r})"


def test_error_message_names_field_and_reason() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode("175")
    assert str(caught.value) == "start: seconds must be below 60 (got 75 in '175')"


def test_error_names_the_given_field() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode("9999", field="end")
    assert caught.value.field == "end"
    assert str(caught.value) == "end: minutes must be below 60 (got 99 in '9999')"


@pytest.mark.parametrize("raw", ["240001", "250000", "990000", "24:00:01", "25:00:00", "99:59:59"])
def test_times_beyond_24_hours_are_refused(raw: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.reason.startswith("must not be later than 24:00:00")


@pytest.mark.parametrize("raw", ["+105", "+0", " +1:05"])
def test_plus_is_refused_on_an_absolute_time(raw: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(raw)
    assert caught.value.field == "start"
    assert caught.value.reason.startswith("must be an absolute time")


def test_time_input_error_is_a_value_error() -> None:
    assert issubclass(TimeInputError, ValueError)


def test_time_input_error_survives_copying() -> None:
    error = TimeInputError("end", "is empty")
    copied = copy.deepcopy(error)
    assert (copied.field, copied.reason, str(copied)) == ("end", "is empty", "end: is empty")


# --- ranges -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        ("105", "2345", (65, 1425)),
        ("0", "5", (0, 5)),
        ("1:23:45", "012346", (5025, 5026)),
        ("235959", "240000", (86_399, 86_400)),
        ("0", "24:00:00", (0, 86_400)),
    ],
)
def test_absolute_range(start: str, end: str, expected: tuple[int, int]) -> None:
    span = parse_time_range(start, end)
    assert (span.start_seconds, span.end_seconds) == expected


@pytest.mark.parametrize(
    ("start", "end", "expected_end"),
    [
        ("1:00:00", "+105", 3665),
        ("012345", "+5", 5030),
        ("0", "+240000", 86_400),
        ("23:59:00", "+1:00", 86_400),
        ("10", "+1:00:00", 3610),
        ("10", " +5 ", 15),
    ],
)
def test_plus_end_is_relative_to_start(start: str, end: str, expected_end: int) -> None:
    assert parse_time_range(start, end).end_seconds == expected_end


def test_inputs_are_kept_stripped() -> None:
    span = parse_time_range(" 105 ", "\t+5\n")
    assert span.input_format == {"startInput": "105", "endInput": "+5"}


def test_absolute_end_input_is_kept_as_typed() -> None:
    span = parse_time_range("1:05", "002345")
    assert span.input_format == {"startInput": "1:05", "endInput": "002345"}


@pytest.mark.parametrize("start", ["+105", "+0", "+1:05"])
def test_plus_on_start_is_refused(start: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range(start, "2345")
    assert caught.value.field == "start"
    assert "only allowed on the end" in caught.value.reason


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        ("1:00:10", "1:00:05", "end: end (1:00:05) must be after start (1:00:10)"),
        ("105", "105", "end: end (0:01:05) must be after start (0:01:05)"),
        ("2345", "0", "end: end (0:00:00) must be after start (0:23:45)"),
    ],
)
def test_end_must_be_after_start(start: str, end: str, message: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range(start, end)
    assert str(caught.value) == message


def test_start_at_24_hours_is_refused() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range("240000", "240000")
    assert caught.value.field == "start"
    assert caught.value.reason.startswith("must be before 24:00:00")


@pytest.mark.parametrize(("start", "end"), [("0", "240001"), ("10", "25:00:00")])
def test_absolute_end_beyond_24_hours_is_refused(start: str, end: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range(start, end)
    assert caught.value.field == "end"
    assert caught.value.reason.startswith("must not be later than 24:00:00")


@pytest.mark.parametrize(
    ("start", "end", "sum_text"),
    [
        ("23:59:00", "+105", "start 23:59:00 + 0:01:05 = 24:00:05"),
        ("1", "+240000", "start 0:00:01 + 24:00:00 = 24:00:01"),
        ("0", "+990000", "start 0:00:00 + 99:00:00 = 99:00:00"),
    ],
)
def test_relative_end_beyond_24_hours_is_refused(start: str, end: str, sum_text: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range(start, end)
    assert caught.value.field == "end"
    assert caught.value.reason == f"{sum_text} is later than 24:00:00 (got {end!r})"


@pytest.mark.parametrize("end", ["+0", "+000000", "+0:00"])
def test_relative_end_of_zero_is_refused(end: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range("105", end)
    assert caught.value.field == "end"
    assert caught.value.reason.startswith("a relative end must be a positive offset")


def test_relative_end_without_offset_is_refused() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range("105", "+")
    assert str(caught.value).startswith("end: has nothing after '+'")


@pytest.mark.parametrize(
    ("end", "reason_start"),
    [
        ("+175", "seconds must be below 60 (got 75 in '+175')"),
        ("+6000", "minutes must be below 60 (got 60 in '+6000')"),
        ("++5", "contains invalid character(s) '+'"),
        ("+-5", "contains invalid character(s) '-'"),
        ("-5", "contains invalid character(s) '-'"),
        ("5+", "contains invalid character(s) '+'"),
        ("+ 5", "contains invalid character(s) ' '"),
        ("+1234567", "has 7 digits"),
        ("+1:", "'+1:' is not a valid colon time"),
    ],
)
def test_bad_end_input_is_reported_on_end(end: str, reason_start: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range("0", end)
    assert caught.value.field == "end"
    assert caught.value.reason.startswith(reason_start)


def test_empty_end_is_refused() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range("105", "  ")
    assert str(caught.value).startswith("end: is empty")


def test_start_is_checked_before_end() -> None:
    with pytest.raises(TimeInputError) as caught:
        parse_time_range("x", "y")
    assert caught.value.field == "start"


# --- TimeRange ----------------------------------------------------------------------------


@pytest.mark.parametrize("attribute", ["start_seconds", "end_seconds", "input_format"])
def test_time_range_is_frozen(attribute: str) -> None:
    span = parse_time_range("105", "2345")
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(span, attribute, 0)


def test_time_range_is_hashable_and_compares_by_value() -> None:
    first = parse_time_range("105", "2345")
    second = parse_time_range("1:05", "23:45")
    assert hash(first) == hash(second)
    assert first != second  # the kept inputs differ
    assert first == parse_time_range("105", "2345")


def test_time_range_copies_input_format() -> None:
    inputs = {"startInput": "5", "endInput": "10"}
    span = TimeRange(start_seconds=5, end_seconds=10, input_format=inputs)
    inputs["startInput"] = "changed"
    assert span.input_format == {"startInput": "5", "endInput": "10"}


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (-1, 10, "start"),
        (86_400, 86_400, "start"),
        (10, 10, "end"),
        (10, 5, "end"),
        (0, 86_401, "end"),
    ],
)
def test_time_range_refuses_broken_bounds(start: int, end: int, field: str) -> None:
    with pytest.raises(TimeInputError) as caught:
        TimeRange(start_seconds=start, end_seconds=end, input_format={"startInput": "", "endInput": ""})
    assert caught.value.field == field


def test_time_range_requires_both_input_keys() -> None:
    with pytest.raises(ValueError, match="startInput"):
        TimeRange(start_seconds=0, end_seconds=5, input_format={"start": "0", "end": "5"})


# --- formatting ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0:00:00"),
        (5, "0:00:05"),
        (65, "0:01:05"),
        (3599, "0:59:59"),
        (3600, "1:00:00"),
        (5025, "1:23:45"),
        (86_400, "24:00:00"),
    ],
)
def test_format_timecode(seconds: int, text: str) -> None:
    assert format_timecode(seconds) == text


def test_format_timecode_refuses_negative_seconds() -> None:
    with pytest.raises(ValueError, match="negative"):
        format_timecode(-1)


# --- properties ---------------------------------------------------------------------------


@given(_HMS_WITHIN_DAY)
def test_property_six_digit_form(hms: tuple[int, int, int]) -> None:
    hours, minutes, seconds = hms
    assert parse_timecode(f"{hours:02d}{minutes:02d}{seconds:02d}") == _seconds(*hms)


@given(_HMS_WITHIN_DAY)
def test_property_colon_form(hms: tuple[int, int, int]) -> None:
    hours, minutes, seconds = hms
    assert parse_timecode(f"{hours}:{minutes:02d}:{seconds:02d}") == _seconds(*hms)
    assert parse_timecode(f"{hours:02d}:{minutes:02d}:{seconds:02d}") == _seconds(*hms)


@given(_HMS_WITHIN_DAY)
def test_property_digits_without_leading_zeros_are_right_aligned(hms: tuple[int, int, int]) -> None:
    hours, minutes, seconds = hms
    digits = f"{hours:02d}{minutes:02d}{seconds:02d}".lstrip("0") or "0"
    assert parse_timecode(digits) == _seconds(*hms)


@given(st.integers(min_value=0, max_value=DAY_SECONDS))
def test_property_format_then_parse_round_trips(total: int) -> None:
    assert parse_timecode(format_timecode(total)) == total


@given(st.data())
def test_property_relative_end_adds_offset(data: st.DataObject) -> None:
    start = data.draw(st.integers(min_value=0, max_value=86_399), label="start")
    offset = data.draw(st.integers(min_value=1, max_value=86_400 - start), label="offset")
    as_digits = parse_time_range(_hhmmss(start), "+" + _hhmmss(offset).lstrip("0"))
    as_colons = parse_time_range(format_timecode(start), "+" + format_timecode(offset))
    assert as_digits.end_seconds == start + offset
    assert as_colons.end_seconds == start + offset
    assert as_digits.start_seconds == start


_COMPONENT = st.integers(min_value=0, max_value=99)


@given(
    st.tuples(_COMPONENT, _COMPONENT, _COMPONENT).filter(lambda hms: hms[1] >= 60 or hms[2] >= 60),
    st.booleans(),
)
def test_property_component_of_60_or_more_is_refused(hms: tuple[int, int, int], strip_zeros: bool) -> None:
    hours, minutes, seconds = hms
    digits = f"{hours:02d}{minutes:02d}{seconds:02d}"
    if strip_zeros:
        digits = digits.lstrip("0")
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(digits)
    bad_part = "minutes" if minutes >= 60 else "seconds"
    assert caught.value.reason.startswith(f"{bad_part} must be below 60")


@given(st.tuples(_COMPONENT, _COMPONENT).filter(lambda ms: ms[0] >= 60 or ms[1] >= 60))
def test_property_colon_component_of_60_or_more_is_refused(ms: tuple[int, int]) -> None:
    minutes, seconds = ms
    with pytest.raises(TimeInputError) as caught:
        parse_timecode(f"{minutes:02d}:{seconds:02d}")
    bad_part = "minutes" if minutes >= 60 else "seconds"
    assert caught.value.reason.startswith(f"{bad_part} must be below 60")
