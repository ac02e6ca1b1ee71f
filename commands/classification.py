"""Parse and validate L-dialogue scene classifications: level 1 letter, level 2 digit, level 3."""

import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = [
    "LEVEL1_LETTERS",
    "LEVEL1_NAMES",
    "Classification",
    "ClassificationError",
    "parse_classification",
]

LEVEL1_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "A": "action",
        "R": "romance",
        "C": "comedy",
        "S": "suspense",
        "D": "drama",
        "L": "dialogue",
        "O": "other",
    }
)
"""Level 1 letters and their names (read-only)."""

LEVEL1_LETTERS: Final[tuple[str, ...]] = tuple(LEVEL1_NAMES)
"""The allowed level 1 letters, in the order of the classification system."""

_LETTER_CLASS: Final = "[" + "".join(LEVEL1_LETTERS) + "]"
_LEVEL2: Final = re.compile(_LETTER_CLASS + "[0-9]")
_LEVEL3: Final = re.compile(_LETTER_CLASS + "[0-9]-[0-9]")
_CODE: Final = re.compile(f"(?P<level2>(?P<level1>{_LETTER_CLASS})[0-9])(?:-[0-9])?")
_ALLOWED_LETTERS_TEXT: Final = ", ".join(LEVEL1_LETTERS)
_CODE_EXAMPLES: Final = "e.g. 'L2' or 'L2-3'"


class ClassificationError(ValueError):
    """Raised for a bad classification; names the field and the reason.

    ``field`` is ``"classification"`` for :func:`parse_classification`, or
    ``"level1"``/``"level2"``/``"level3"`` for :meth:`Classification.from_levels`.
    ``str(error)`` is ``f"{field}: {reason}"``.
    """

    field: str
    reason: str

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason

    def __reduce__(self) -> tuple[type["ClassificationError"], tuple[str, str]]:
        return (type(self), (self.field, self.reason))


class Classification(BaseModel):
    """A scene classification whose levels form a valid hierarchy.

    ``level1`` is one letter of :data:`LEVEL1_LETTERS`, ``level2`` is that letter plus
    one digit (``"L2"``), and ``level3`` (optional) is ``level2`` plus ``-`` and one digit
    (``"L2-3"``). Levels are exact upper-case codes; :func:`parse_classification`
    normalises user input. Direct construction with a broken hierarchy raises pydantic's
    ``ValidationError``; :meth:`from_levels` raises :class:`ClassificationError` instead.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    level1: str
    level2: str
    level3: str | None = None

    @model_validator(mode="after")
    def _check_hierarchy(self) -> Self:
        _check_levels(self.level1, self.level2, self.level3)
        return self

    @classmethod
    def from_levels(cls, level1: str, level2: str, level3: str | None = None) -> Self:
        """Build a classification from its levels, checking the hierarchy.

        Raises ClassificationError naming the first bad level (``"level1"``, ``"level2"``
        or ``"level3"``) and the reason.
        """
        _check_levels(level1, level2, level3)
        return cls(level1=level1, level2=level2, level3=level3)

    @property
    def code(self) -> str:
        """The most specific level: ``"L2-3"`` when level 3 is set, else ``"L2"``."""
        return self.level3 if self.level3 is not None else self.level2


def parse_classification(raw: str) -> Classification:
    """Parse a classification code such as ``"L2"`` or ``"L2-3"``.

    Surrounding whitespace is ignored and lower-case letters are upper-cased
    (``"l2-3"`` -> ``L2-3``). Level 2 is required, so a bare letter such as ``"L"`` is
    refused.

    Raises ClassificationError with field ``"classification"`` and the reason.
    """
    text = raw.strip()
    if not text:
        raise ClassificationError("classification", f"is empty; expected a code {_CODE_EXAMPLES}")
    # Only ASCII is upper-cased: str.upper() maps some other letters onto ASCII ones.
    code = text.upper() if text.isascii() else text
    if code[0] not in LEVEL1_NAMES:
        raise ClassificationError(
            "classification",
            f"level 1 must be one of {_ALLOWED_LETTERS_TEXT} (got {text[0]!r} in {text!r})",
        )
    if len(code) == 1:
        raise ClassificationError(
            "classification",
            f"level 2 is required: add one digit after the letter, e.g. '{code}2' (got {text!r})",
        )
    match = _CODE.fullmatch(code)
    if match is None:
        raise ClassificationError(
            "classification",
            "expected a level 1 letter, one digit and optionally '-' and one digit, "
            f"{_CODE_EXAMPLES} (got {text!r})",
        )
    level2 = match["level2"]
    return Classification(level1=match["level1"], level2=level2, level3=code if code != level2 else None)


def _check_levels(level1: str, level2: str, level3: str | None) -> None:
    """Raise ClassificationError for the first level that breaks the hierarchy."""
    if level1 not in LEVEL1_NAMES:
        raise ClassificationError("level1", f"must be one of {_ALLOWED_LETTERS_TEXT} (got {level1!r})")
    if _LEVEL2.fullmatch(level2) is None:
        raise ClassificationError(
            "level2", f"must be a level 1 letter followed by one digit, e.g. 'L2' (got {level2!r})"
        )
    if not level2.startswith(level1):
        raise ClassificationError("level2", f"must start with level 1 {level1!r} (got {level2!r})")
    if level3 is None:
        return
    if _LEVEL3.fullmatch(level3) is None:
        raise ClassificationError(
            "level3",
            f"must be level 2 followed by '-' and one digit, e.g. 'L2-3' (got {level3!r})",
        )
    prefix = f"{level2}-"
    if not level3.startswith(prefix):
        raise ClassificationError(
            "level3", f"must start with level 2 and '-', i.e. {prefix!r} (got {level3!r})"
        )
