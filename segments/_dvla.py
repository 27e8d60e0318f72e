"""UK (Great Britain) driving licence numbers: parse them, and check them against the card.

The DVLA's driver number is 16 characters, printed on the card (field 5)
followed by a space and a two-digit issue number, which goes up each time a
licence is reissued::

    MORGA 7 53 11 6 SM 9 IJ   35
    |     | |  |  | |  | |    `- issue number (optional here)
    |     | |  |  | |  | `------ 15-16: check characters (the DVLA's own; not public)
    |     | |  |  | |  `-------- 14: a digit, usually 9, lowered to tell apart
    |     | |  |  | |               drivers whose first 13 characters agree
    |     | |  |  | `----------- 12-13: initials of the first two forenames, 9 if none
    |     | |  |  `------------- 11: last digit of the birth year
    |     | |  `---------------- 9-10: day of birth
    |     | `------------------- 7-8: month of birth, plus 50 for a woman
    |     `--------------------- 6: the decade digit of the birth year
    `--------------------------- 1-5: the surname's first five letters, 9s after
                                 a shorter one; a surname beginning MAC is
                                 written as MC (MACDONALD -> MCDON)

(gov.uk's "View or share your driving licence information" and the DVLA's
published description of the number, as summarised by Wikipedia's "Driving
licence in the United Kingdom".) Northern Ireland's DVA issues 8-digit
numbers, which carry nothing to check.

``check_driving_licence`` compares a number with the surname, initials, date
of birth (the parts known: a partial date checks only those) and, if given,
the sex on the card, and returns the names of the things that disagree. For
the surname both the DVLA's Mac -> Mc form and the surname as written are
accepted, so an irregularly coded genuine licence is not called
inconsistent. The check characters cannot be verified without the DVLA's
algorithm.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from doorwatch.segments._identity import BirthDate, PartialDate
from doorwatch.segments._normalise import normalise_name

__all__ = ["DvlaNumber", "check_driving_licence", "parse_dvla_number"]

_NUMBER = re.compile(
    r"(?P<surname>[A-Z][A-Z]{0,4}9{0,4})(?P<decade>[0-9])(?P<month>[0-9]{2})(?P<day>[0-9]{2})"
    r"(?P<year>[0-9])(?P<initials>[A-Z][A-Z9]|99)(?P<digit>[0-9])(?P<check>[A-Z0-9]{2})"
    r"(?P<issue>[0-9]{2})?"
)
_DVA_NUMBER = re.compile(r"[0-9]{8}")


@dataclass(frozen=True, slots=True)
class DvlaNumber:
    """The parts of a DVLA driver number."""

    surname: str  # five characters, 9-padded
    decade: int
    month: int  # 1-12
    female: bool
    day: int
    year_digit: int
    initials: str  # two characters, 9-padded
    issue: str | None


def _compact(text: str) -> str:
    return "".join(text.split()).upper()


def parse_dvla_number(text: str) -> DvlaNumber | None:
    """The parts of a DVLA number (16 characters, then optionally the 2-digit issue
    number; spaces ignored), or None if it is not one."""
    m = _NUMBER.fullmatch(_compact(text))
    if m is None or len(m["surname"]) != 5:
        return None
    month = int(m["month"])
    female = month > 50
    month -= 50 if female else 0
    day = int(m["day"])
    if not (1 <= month <= 12 and 1 <= day <= 31):
        return None
    initials = m["initials"]
    return DvlaNumber(
        surname=m["surname"],
        decade=int(m["decade"]),
        month=month,
        female=female,
        day=day,
        year_digit=int(m["year"]),
        initials=initials,
        issue=m["issue"],
    )


def _surname_codes(surname: str) -> set[str]:
    letters = normalise_name(surname).replace(" ", "")
    forms = {letters}
    if letters.startswith("MAC"):
        forms.add("MC" + letters[3:])
    return {(form[:5] + "99999")[:5] for form in forms if form}


def _initials(given_names: str) -> str:
    return ("".join(word[0] for word in normalise_name(given_names).split()[:2]) + "99")[:2]


def check_driving_licence(
    document_number: str,
    *,
    surname: str,
    given_names: str,
    date_of_birth: BirthDate,
    sex: str | None = None,
) -> tuple[str, ...]:
    """What on a GB driving licence disagrees with its number: () if nothing.

    The names returned are ``document_number`` (not a DVLA or DVA number),
    ``surname``, ``given_names`` (the initials), ``date_of_birth`` and
    ``sex`` (checked only if given as M or F).
    """
    compact = _compact(document_number)
    if _DVA_NUMBER.fullmatch(compact):
        return ()  # Northern Ireland: nothing encoded
    number = parse_dvla_number(compact)
    if number is None:
        return ("document_number",)
    out: list[str] = []
    if number.surname not in _surname_codes(surname):
        out.append("surname")
    if number.initials != _initials(given_names):
        out.append("given_names")
    born = date_of_birth
    year = born.year
    month = born.month
    day = born.day
    if (
        year // 10 % 10 != number.decade
        or year % 10 != number.year_digit
        or (month is not None and month != number.month)
        or (day is not None and day != number.day)
    ) or (isinstance(born, PartialDate) and not _possible(year, number.month, number.day)):
        out.append("date_of_birth")
    if sex in ("M", "F") and (sex == "F") != number.female:
        out.append("sex")
    return tuple(out)


def _possible(year: int, month: int, day: int) -> bool:
    try:
        dt.date(year, month, day)
    except ValueError:
        return False
    return True
