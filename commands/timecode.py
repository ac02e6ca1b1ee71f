"""Turn the scene time inputs (HHMMSS digits, H:MM:SS, relative '+' end) into seconds of the day."""

from __future__ import annotations

import dataclasses
import re
from typing import Final

__all__ = [
    "DAY_SECONDS",
    "MAX_DIGITS",
    "TimeInputError",
    "TimeRange",
    "format_timecode",
    "parse_time_range",
    "parse_timecode",
]

DAY_SECONDS: Final = 86_400
"""Latest allowed time (24:00:00); an end may be exactly this, a start must be before it."""

MAX_DIGITS: Final = 6
"""Longest digits-only input: right-aligned HHMMSS."""

_SECONDS_PER_MINUTE: Final = 60
_SECONDS_PER_HOUR: Final = 3_600
_ALLOWED_CHARACTERS: Final = frozenset("0123456789:")
_COLON_PART: Final = re.compile(r"[0-9]{1,2}")
_COLON_PART_COUNTS: Final = (2, 3)
_EXAMPLES: Final = "a time such as 105 (= 1:05), 1:05 or 1:23:45"


class TimeInputError(ValueError):
    """Raised for bad time input; names the field and the reason.

    ``field`` is ``"start"`` or ``"end"``; ``reason`` is a human sentence.
    ``str(error)`` is ``f"{field}: {reason}"``.
    """

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type[TimeInputError], tuple[str, str]]:
        return (type(self), (self.field, self.reason))


@dataclasses.dataclass(frozen=True)
class TimeRange:
    """A validated scene time range: ``0 <= start_seconds < end_seconds <= 86400``.

    ``input_format`` keeps the inputs as typed (stripped), under the keys
    ``"startInput"`` and ``"endInput"``; it is left out of hashing.
    Constructing a range that breaks the bounds raises :class:`TimeInputError`.
    """

    start_seconds: int
    end_seconds: int
    input_format: dict[str, str] = dataclasses.field(hash=False)

    def __post_init__(self) -> None:
        if not 0 <= self.start_seconds < DAY_SECONDS:
            raise TimeInputError(
                "start",
                f"must be between 0 and {DAY_SECONDS - 1} seconds (got {self.start_seconds})",
            )
        if self.end_seconds > DAY_SECONDS:
            raise TimeInputError(
                "end",
                f"must not be later than 24:00:00 (got {format_timecode(self.end_seconds)})",
            )
        _check_end_after_start(self.start_seconds, self.end_seconds)
        if set(self.input_format) != {"startInput", "endInput"}:
            raise ValueError(
                "input_format must have exactly the keys 'startInput' and 'endInput' "
                f"(got {sorted(self.input_format)})"
            )
        # A private copy, so that the caller's dict cannot change this range afterwards.
        object.__setattr__(self, "input_format", dict(self.input_format))


def format_timecode(seconds: int) -> str:
    """Format seconds as ``H:MM:SS`` for display: 5025 -> ``"1:23:45"``, 65 -> ``"0:01:05"``.

    Raises ValueError for a negative number of seconds.
    """
    if seconds < 0:
        raise ValueError(f"cannot format a negative time ({seconds} s)")
    hours, rest = divmod(seconds, _SECONDS_PER_HOUR)
    minutes, secs = divmod(rest, _SECONDS_PER_MINUTE)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def parse_timecode(raw: str, *, field: str = "start") -> int:
    """Parse one absolute time into seconds of the day (0 to 86400).

    Accepts right-aligned ``HHMMSS`` digits (``105`` = 1:05 = 65 s, at most 6 digits)
    and the colon forms ``H:MM:SS`` and ``MM:SS`` (1-2 digits per part); surrounding
    whitespace is ignored. A leading ``+`` is refused: a relative end is resolved
    against its start by :func:`parse_time_range`. ``field`` names the input in errors.

    Raises TimeInputError naming ``field`` and the reason.
    """
    text = raw.strip()
    if text.startswith("+"):
        if field == "start":
            reason = (
                "must be an absolute time; a leading '+' (relative to the start) "
                f"is only allowed on the end (got {text!r})"
            )
        else:
            reason = (
                f"must be an absolute time here (got {text!r}); "
                "a relative '+' end is resolved against its start by parse_time_range"
            )
        raise TimeInputError(field, reason)
    seconds = _clock_seconds(text, field=field, shown=text)
    if seconds > DAY_SECONDS:
        raise TimeInputError(
            field,
            f"must not be later than 24:00:00 (got {format_timecode(seconds)} from {text!r})",
        )
    return seconds


def parse_time_range(start: str, end: str) -> TimeRange:
    """Parse a scene's start and end inputs into a validated :class:`TimeRange`.

    The start is absolute (see :func:`parse_timecode`). The end is absolute too, or,
    with a leading ``+``, an offset after the start (``+105`` = start + 65 s).
    Requires ``0 <= start < end <= 86400``; the start is checked before the end.

    Raises TimeInputError naming ``"start"`` or ``"end"`` and the reason.
    """
    start_text = start.strip()
    end_text = end.strip()
    start_seconds = parse_timecode(start_text, field="start")
    if start_seconds >= DAY_SECONDS:
        raise TimeInputError(
            "start", f"must be before 24:00:00 so that an end can follow (got {start_text!r})"
        )
    if end_text.startswith("+"):
        end_seconds = _relative_end(start_seconds, end_text)
    else:
        end_seconds = parse_timecode(end_text, field="end")
        _check_end_after_start(start_seconds, end_seconds)
    return TimeRange(
        start_seconds=start_seconds,
        end_seconds=end_seconds,
        input_format={"startInput": start_text, "endInput": end_text},
    )


def _relative_end(start_seconds: int, end_text: str) -> int:
    """Resolve a ``+offset`` end input (already stripped) against the start."""
    offset_text = end_text.removeprefix("+")
    if not offset_text:
        raise TimeInputError(
            "end", "has nothing after '+'; expected an offset such as +105 (1:05 after the start)"
        )
    offset = _clock_seconds(offset_text, field="end", shown=end_text)
    if offset == 0:
        raise TimeInputError(
            "end", f"a relative end must be a positive offset after the start (got {end_text!r})"
        )
    end_seconds = start_seconds + offset
    if end_seconds > DAY_SECONDS:
        raise TimeInputError(
            "end",
            f"start {format_timecode(start_seconds)} + {format_timecode(offset)} "
            f"= {format_timecode(end_seconds)} is later than 24:00:00 (got {end_text!r})",
        )
    return end_seconds


def _check_end_after_start(start_seconds: int, end_seconds: int) -> None:
    """Raise unless the end is strictly after the start (both non-negative)."""
    if end_seconds <= start_seconds:
        raise TimeInputError(
            "end",
            f"end ({format_timecode(end_seconds)}) must be after start ({format_timecode(start_seconds)})",
        )


def _clock_seconds(text: str, *, field: str, shown: str) -> int:
    """Seconds written by ``text`` (digits or colon form, no sign), with no upper bound.

    ``shown`` is the input as quoted in error messages.
    """
    if not text:
        raise TimeInputError(field, f"is empty; expected {_EXAMPLES}")
    invalid = [ch for ch in dict.fromkeys(text) if ch not in _ALLOWED_CHARACTERS]
    if invalid:
        listed = ", ".join(repr(ch) for ch in invalid)
        raise TimeInputError(
            field,
            f"contains invalid character(s) {listed} in {shown!r}; only the digits 0-9 and ':' are allowed",
        )
    if ":" in text:
        hours, minutes, seconds = _colon_parts(text, field=field, shown=shown)
    else:
        if len(text) > MAX_DIGITS:
            raise TimeInputError(
                field,
                f"has {len(text)} digits in {shown!r}; at most {MAX_DIGITS} are allowed (HHMMSS)",
            )
        padded = text.rjust(MAX_DIGITS, "0")
        hours, minutes, seconds = int(padded[0:2]), int(padded[2:4]), int(padded[4:6])
    if minutes >= _SECONDS_PER_MINUTE:
        raise TimeInputError(field, f"minutes must be below 60 (got {minutes} in {shown!r})")
    if seconds >= _SECONDS_PER_MINUTE:
        raise TimeInputError(field, f"seconds must be below 60 (got {seconds} in {shown!r})")
    return hours * _SECONDS_PER_HOUR + minutes * _SECONDS_PER_MINUTE + seconds


def _colon_parts(text: str, *, field: str, shown: str) -> tuple[int, int, int]:
    """Split ``H:MM:SS`` or ``MM:SS`` (only digits and colons) into hours, minutes, seconds."""
    parts = text.split(":")
    if len(parts) not in _COLON_PART_COUNTS or not all(_COLON_PART.fullmatch(p) for p in parts):
        raise TimeInputError(
            field,
            f"{shown!r} is not a valid colon time; expected H:MM:SS or MM:SS with 1-2 digits per part",
        )
    *hours_part, minutes, seconds = (int(p) for p in parts)
    return (hours_part[0] if hours_part else 0), minutes, seconds
