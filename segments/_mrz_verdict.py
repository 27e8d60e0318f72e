"""An MRZ read as a door reads it: the fields, and whether the check digits agree.

Theory of operation
-------------------
``parse_mrz`` refuses an MRZ any of whose check digits disagree. A door must
not stop there: the fields are still legible, and a check digit that
disagrees is the scanner's evidence that the document was misread or altered
(ICAO 9303 Part 3, section 4.9), which is a verdict on the document, not a
reason to see nothing. ``read_mrz`` therefore splits ``parse_mrz``'s problems
in two:

* anything but check digits (the shape, the alphabet, a date that is not a
  date, an empty surname, a document that is not an identity document): the
  MRZ cannot be read, and ``InvalidMRZ`` is raised as ``parse_mrz`` raised it;
* only check digits: each one is recomputed with ``check_digit`` at its place
  in the layout (the document number's, after its overflow on TD1 and TD2;
  then the composite, which covers the others), the corrected text is parsed
  again, and the fields come back with ``check_digits_ok`` False and the
  problems that were found. The correction only locates the fields; it never
  makes a document pass.

The parser stays the one authority on the layout: this module only knows
where the check digits sit.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from doorwatch.segments._identity import PROBLEM_CHECK_DIGIT, Identity, Problem
from doorwatch.segments._mrz import InvalidMRZ, check_digit, parse_mrz

__all__ = ["MrzReading", "read_mrz"]


class MrzReading(NamedTuple):
    """The fields of an MRZ, and the verdict of its check digits."""

    identity: Identity
    check_digits_ok: bool
    problems: tuple[Problem, ...]
    """The check digits that disagree (line and field, never a value); empty when ok."""


def _is_check_digit_problem(problem: Problem) -> bool:
    return problem.code == PROBLEM_CHECK_DIGIT


def _set(line: str, at: int, covered: str) -> str:
    return line[:at] + check_digit(covered) + line[at + 1 :]


def _number(line: str, start: int, digit_at: int, optional: slice) -> str:
    """The document number's check digit, after its overflow when the number is long."""
    spill = line[optional].split("<", 1)[0]
    if line[digit_at] == "<" and len(spill) >= 2:
        return _set(line, optional.start + len(spill) - 1, line[start:digit_at] + spill[:-1])
    return _set(line, digit_at, line[start:digit_at])


def _td3(one: str, two: str) -> list[str]:
    two = _set(_set(_set(two, 9, two[0:9]), 19, two[13:19]), 27, two[21:27])
    if two[42] != "<" or two[28:42].strip("<"):
        two = _set(two, 42, two[28:42])
    return [one, _set(two, 43, two[0:10] + two[13:20] + two[21:43])]


def _td2(one: str, two: str) -> list[str]:
    two = _set(_set(_number(two, 0, 9, slice(28, 35)), 19, two[13:19]), 27, two[21:27])
    return [one, _set(two, 35, two[0:10] + two[13:20] + two[21:35])]


def _td1(one: str, two: str, three: str) -> list[str]:
    one = _number(one, 5, 14, slice(15, 30))
    two = _set(_set(two, 6, two[0:6]), 14, two[8:14])
    return [one, _set(two, 29, one[5:30] + two[0:7] + two[8:15] + two[18:29]), three]


def _with_check_digits(text: str) -> str | None:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    shape = tuple(len(line) for line in lines)
    if shape == (44, 44):
        return "\n".join(_td3(*lines))
    if shape == (36, 36):
        return "\n".join(_td2(*lines))
    if shape == (30, 30, 30):
        return "\n".join(_td1(*lines))
    return None


def read_mrz(text: str, *, today: dt.date) -> MrzReading:
    """Read an MRZ's fields even if its check digits disagree (see the module docstring).

    Raises ``InvalidMRZ`` (every problem as line or field, and rule) when
    anything but check digits is wrong.
    """
    try:
        return MrzReading(parse_mrz(text, today=today), True, ())
    except InvalidMRZ as error:
        if not all(_is_check_digit_problem(p) for p in error.problems):
            raise
        refused = error
    corrected = _with_check_digits(text)
    if corrected is None:
        raise refused
    try:
        identity = parse_mrz(corrected, today=today)
    except InvalidMRZ:
        raise refused from None
    return MrzReading(identity, False, refused.problems)
