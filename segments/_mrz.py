"""ICAO 9303 machine-readable zones: parse TD1, TD2 and TD3, format them, transliterate names.

Theory of operation
-------------------
A machine-readable zone (MRZ) is two lines of 44 characters (TD3, passports),
two lines of 36 (TD2, older ID cards and visas) or three lines of 30 (TD1, ID
cards), over the alphabet A-Z, 0-9 and the
filler '<'. Fields sit at fixed positions; the document number, the birth
date, the expiry date, the TD3 personal number, and a composite of all of
them each carry a check digit: characters valued 0-9 (digits), 10-35 (A-Z)
and 0 ('<'), weighted 7, 3, 1, 7, 3, 1 ... and summed modulo 10.

``parse_mrz`` verifies the layout, the alphabet, every check digit and every
date, collects every problem it finds, and raises one ``InvalidMRZ`` naming
the line, the field and the rule, never the value. A check digit catches any
single substitution whose values differ by other than a multiple of 10; the
residue (e.g. '0' read as 'A', valued 0 and 10, in an alphanumeric document
number) is undetectable by ICAO's design. Dates and check digits are
digits-only fields, where letters are refused, so there every single
substitution is detected.

Two-digit years are resolved against ``today`` (a parameter, never a clock):
a birth year is taken in the current century unless that puts the birth date
after ``today``, when it rolls back a century; an expiry year is taken within
fifty years either side of ``today``.

TD1 and TD2 documents whose number is longer than nine characters put '<' in
the check-digit position and continue the number in the optional data, with
the number's check digit after its last character (ICAO 9303 Parts 5 and 6).
ICAO computes that digit over the nine characters and the overflow; some
issuers (Belgian eID cards) compute it over the line as printed, the filler
in position 15 included. On TD1 either computation is accepted: a genuine
card is not called tampered, and a misread still fails both.

An unknown day or month of birth is '<<' (or 'XX') in the MRZ (ICAO 9303
Part 3 section 4.8): the date is read as a ``PartialDate`` holding what is
known, its check digit computed over the field as printed. Nothing is filled
in.

Visas (document code V: MRV-A, two lines of 44, and MRV-B, two of 36, ICAO
9303 Part 7) share the shapes of TD3 and TD2 but have no composite check
digit and do not identify their holder on their own (they are a foil in a
passport): they are refused as not an identity document, whatever their
check digits say.

Names: the name field is ``PRIMARY<<SECONDARY``, '<' separating words;
a reader reports them with spaces. A field with an empty primary identifier
(``P<IND<<AHMADI``, a person with a single name) is read with that name as the
surname: a lone name is the surname everywhere. ``mrz_transliterate`` writes a name the
way ICAO 9303 Part 3 (section 6) puts it into an MRZ, then reads it back:
Ä -> AE, Ö -> OE, Ü -> UE, Å -> AA, Æ -> AE, Ø -> OE, Œ -> OE, ß -> SS,
Þ -> TH; every other accented Latin letter loses its accent (É -> E, Ñ -> N,
Ł -> L, Ð -> D); Cyrillic is transliterated by ICAO's table (see
``_normalise``: Ж -> ZH, Щ -> SHCH, Я -> IA ...); apostrophes are omitted;
hyphens, spaces and other punctuation become the filler. ``mrz_name_field``
fits a name into a field of fixed width as ICAO 9303 Part 4 prescribes:
secondary given names are cut to initials (last first); if the name still
does not fit, the secondary identifier is cut further, and a primary
identifier too long for the field is cut so that the field still holds
``<<`` and the first initial. A truncated field always ends in a letter (its
last position is never the filler), which is how a reader can tell it was
truncated.

The holder's sex and nationality are read past: the identity model does not
hold them.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Literal

from doorwatch.segments._identity import (
    PROBLEM_CHECK_DIGIT,
    PROBLEM_NOT_IDENTITY_DOCUMENT,
    BirthDate,
    DocumentType,
    Identity,
    InvalidDocument,
    PartialDate,
    Problem,
    parse_document,
)
from doorwatch.segments._normalise import normalise_document_number, normalise_name

__all__ = [
    "InvalidMRZ",
    "check_digit",
    "format_mrz",
    "mrz_name_field",
    "mrz_transliterate",
    "parse_mrz",
]

MAX_MRZ_TEXT = 512

_ICAO_LATIN = str.maketrans(
    {
        "Ä": "AE",
        "ä": "AE",
        "Ö": "OE",
        "ö": "OE",
        "Ü": "UE",
        "ü": "UE",
        "Å": "AA",
        "å": "AA",
        "Æ": "AE",
        "æ": "AE",
        "Ø": "OE",
        "ø": "OE",
        "Œ": "OE",
        "œ": "OE",
        "ß": "SS",
        "ẞ": "SS",
        "Þ": "TH",
        "þ": "TH",
    }
)

_SHAPE_RULE = "must be two lines of 44 characters (TD3), two of 36 (TD2) or three of 30 (TD1)"
_LINE_ALPHABET = re.compile(r"[A-Z0-9<]*")
_DIGITS6 = re.compile(r"[0-9]{6}")
_PARTIAL_BIRTH = re.compile(r"([0-9]{2})([0-9]{2}|<<|XX)([0-9]{2}|<<|XX)")
_UNKNOWN = ("<<", "XX")
_WEIGHTS = (7, 3, 1)


class InvalidMRZ(InvalidDocument):
    """A machine-readable zone failed to parse; ``problems`` name line/field and rule."""


def _char_value(ch: str) -> int:
    if "0" <= ch <= "9":
        return ord(ch) - ord("0")
    if "A" <= ch <= "Z":
        return ord(ch) - ord("A") + 10
    return 0  # the filler '<'


def check_digit(field: str) -> str:
    """The ICAO 9303 check digit of ``field`` (characters A-Z, 0-9, '<')."""
    total = sum(_char_value(ch) * _WEIGHTS[i % 3] for i, ch in enumerate(field))
    return str(total % 10)


def mrz_transliterate(name: str) -> str:
    """The name as a scanner reads it back from an MRZ: upper-case A-Z words."""
    return normalise_name(unicodedata.normalize("NFC", name).translate(_ICAO_LATIN))


def mrz_name_field(surname: str, given_names: str, width: int) -> str:
    """``SURNAME<<GIVEN<NAMES`` in exactly ``width`` characters, as ICAO fits it.

    A name that fits is padded with the filler. Otherwise (ICAO 9303 Part 4):
    secondary given names become initials, last first; then the given names
    are cut from the end; a surname too long for the field is cut to leave
    ``<<`` and the first initial. The result of a truncation ends in a letter.
    """
    primary = mrz_transliterate(surname).split()
    given = mrz_transliterate(given_names).split()
    if not primary:
        # A single name is the primary identifier.
        primary, given = given, []
    field = _name_field(primary, given)
    for i in range(len(given) - 1, 0, -1):
        if len(field) <= width:
            break
        given[i] = given[i][0]
        field = _name_field(primary, given)
    if len(field) <= width:
        return field.ljust(width, "<")
    whole = "<".join(primary)
    if given and len(whole) + 3 > width:
        head = _cut(whole, width - 3)
        return (head + "<<" + "<".join(given))[:width].ljust(width, "<")
    return _cut(field, width)


def _name_field(primary: list[str], given: list[str]) -> str:
    return "<".join(primary) + ("<<" + "<".join(given) if given else "")


def _cut(field: str, width: int) -> str:
    """``field`` cut to at most ``width`` characters ending in a letter (a word's first
    letters), padded only if nothing else fits."""
    if width <= 0:
        return ""
    head = field[:width]
    if head.endswith("<") and len(field) > width:
        # Cut at a filler: end instead with the next word's first letter, the
        # word before losing its last letter (or the filler run shortened).
        next_letter = field[width:].lstrip("<")[:1]
        body = head.rstrip("<")
        gap = head[len(body) :]
        if next_letter and len(body) > 1:
            head = body[:-1] + gap[: width - len(body)] + next_letter
            head = head[:width]
    return head.ljust(width, "<")


def _read_name(field: str) -> tuple[str, str]:
    primary, _, secondary = field.partition("<<")
    return " ".join(primary.split("<")).strip(), " ".join(secondary.replace("<", " ").split())


class _Reader:
    """Collects problems while the fields of one MRZ are read."""

    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.problems: list[Problem] = []

    def fail(self, line: int, rule: str, code: str = "") -> None:
        self.problems.append(Problem(f"line {line}", rule, code))

    def checked(self, line: int, what: str, field: str, digit: str) -> None:
        if not digit.isdigit():
            self.fail(line, f"{what} check digit must be a digit", PROBLEM_CHECK_DIGIT)
        elif check_digit(field) != digit:
            self.fail(line, f"{what} check digit does not match", PROBLEM_CHECK_DIGIT)

    def document_number(self, line: int, field: str) -> str:
        number = field.rstrip("<")
        if not number:
            self.fail(line, "document number must not be empty")
        elif "<" in number:
            self.fail(line, "document number must not contain a filler before its end")
        return number

    def overflowing_number(
        self, line: int, field: str, digit: str, optional: str, *, filler_counted: bool = False
    ) -> str:
        """A TD1/TD2 document number, continued in the optional data if too long.

        ``filler_counted``: also accept a check digit computed over the number
        as printed, the filler before the overflow included (Belgian eID).
        """
        if digit == "<" and optional[:1] not in ("", "<"):
            # A long document number continues in the optional data,
            # followed by its check digit.
            overflow = optional.split("<", 1)[0]
            number = self.document_number(line, field + overflow[:-1])
            if len(overflow) < 2:
                self.fail(line, "document number overflow must end with its check digit")
            elif not (filler_counted and check_digit(field + "<" + overflow[:-1]) == overflow[-1]):
                self.checked(line, "document number", field + overflow[:-1], overflow[-1])
            return number
        number = self.document_number(line, field)
        self.checked(line, "document number", field, digit)
        return number

    def birth_date(self, line: int, field: str) -> BirthDate | None:
        """A birth date whose day or month may be unknown ('<<' or 'XX')."""
        partial = _PARTIAL_BIRTH.fullmatch(field)
        if not partial or (partial[2] not in _UNKNOWN and partial[3] not in _UNKNOWN):
            return self.date(line, "birth date", field, birth=True)
        yy, mm, dd = partial.groups()
        month = None if mm in _UNKNOWN else int(mm)
        day = None if dd in _UNKNOWN else int(dd)
        year = self.today.year // 100 * 100 + int(yy)
        try:
            born = PartialDate(year, month, day)
            if born.earliest() > self.today:
                born = PartialDate(year - 100, month, day)
        except ValueError:
            self.fail(line, "birth date is not a valid date")
            return None
        return born

    def date(self, line: int, what: str, field: str, *, birth: bool) -> dt.date | None:
        if not _DIGITS6.fullmatch(field):
            self.fail(line, f"{what} must be six digits (YYMMDD)")
            return None
        yy, mm, dd = int(field[:2]), int(field[2:4]), int(field[4:])
        century = self.today.year // 100 * 100
        if birth:
            year = century + yy
            if (year, mm, dd) > (self.today.year, self.today.month, self.today.day):
                year -= 100
        else:
            year = century + yy
            if year > self.today.year + 50:
                year -= 100
            elif year < self.today.year - 50:
                year += 100
        try:
            return dt.date(year, mm, dd)
        except ValueError:
            self.fail(line, f"{what} is not a valid date")
            return None

    def issuing_state(self, line: int, field: str) -> str:
        if not re.fullmatch(r"[A-Z]{1,3}<*", field):
            self.fail(line, "issuing state must be letters")
        return field

    def name(self, line: int, field: str) -> tuple[str, str]:
        if not re.fullmatch(r"[A-Z<]*", field):
            self.fail(line, "name must contain only letters and fillers")
        surname, given = _read_name(field)
        if not surname and not given:
            self.fail(line, "name must not be empty")
        return surname, given


def _split_lines(text: str) -> list[str]:
    if len(text) > MAX_MRZ_TEXT:
        raise InvalidMRZ([Problem("mrz", f"must be at most {MAX_MRZ_TEXT} characters")])
    lines = [line.strip() for line in text.strip().splitlines()]
    lines = [line for line in lines if line]
    if tuple(len(line) for line in lines) not in _PARSERS:
        raise InvalidMRZ([Problem("mrz", _SHAPE_RULE)])
    bad = [i + 1 for i, line in enumerate(lines) if not _LINE_ALPHABET.fullmatch(line)]
    if bad:
        raise InvalidMRZ([Problem(f"line {i}", "must contain only A-Z, 0-9 and <") for i in bad])
    return lines


def _document_type(code: str, card: bool) -> DocumentType:
    if code.startswith("P"):
        return DocumentType.PASSPORT
    if card and code[0] in "IAC":
        return DocumentType.NATIONAL_ID
    return DocumentType.OTHER


def _parse_td3(lines: list[str], r: _Reader) -> dict[str, object]:
    one, two = lines
    issuing = r.issuing_state(1, one[2:5])
    surname, given = r.name(1, one[5:44])
    number = r.document_number(2, two[0:9])
    r.checked(2, "document number", two[0:9], two[9])
    born = r.birth_date(2, two[13:19])
    r.checked(2, "birth date", two[13:19], two[19])
    expires = r.date(2, "expiry date", two[21:27], birth=False)
    r.checked(2, "expiry date", two[21:27], two[27])
    personal = two[28:42]
    if two[42] == "<":
        if personal.strip("<"):
            r.fail(2, "personal number check digit must be a digit", PROBLEM_CHECK_DIGIT)
    else:
        r.checked(2, "personal number", personal, two[42])
    r.checked(2, "composite", two[0:10] + two[13:20] + two[21:43], two[43])
    return {
        "document_type": _document_type(one[0:2], card=False),
        "document_number": number,
        "surname": surname,
        "given_names": given,
        "date_of_birth": born,
        "expiry_date": expires,
        "issuing_country": issuing,
    }


def _parse_td1(lines: list[str], r: _Reader) -> dict[str, object]:
    one, two, three = lines
    issuing = r.issuing_state(1, one[2:5])
    number = r.overflowing_number(1, one[5:14], one[14], one[15:30], filler_counted=True)
    born = r.birth_date(2, two[0:6])
    r.checked(2, "birth date", two[0:6], two[6])
    expires = r.date(2, "expiry date", two[8:14], birth=False)
    r.checked(2, "expiry date", two[8:14], two[14])
    r.checked(2, "composite", one[5:30] + two[0:7] + two[8:15] + two[18:29], two[29])
    surname, given = r.name(3, three)
    return {
        "document_type": _document_type(one[0:2], card=True),
        "document_number": number,
        "surname": surname,
        "given_names": given,
        "date_of_birth": born,
        "expiry_date": expires,
        "issuing_country": issuing,
    }


def _parse_td2(lines: list[str], r: _Reader) -> dict[str, object]:
    one, two = lines
    issuing = r.issuing_state(1, one[2:5])
    surname, given = r.name(1, one[5:36])
    number = r.overflowing_number(2, two[0:9], two[9], two[28:35])
    born = r.birth_date(2, two[13:19])
    r.checked(2, "birth date", two[13:19], two[19])
    expires = r.date(2, "expiry date", two[21:27], birth=False)
    r.checked(2, "expiry date", two[21:27], two[27])
    r.checked(2, "composite", two[0:10] + two[13:20] + two[21:35], two[35])
    return {
        "document_type": _document_type(one[0:2], card=True),
        "document_number": number,
        "surname": surname,
        "given_names": given,
        "date_of_birth": born,
        "expiry_date": expires,
        "issuing_country": issuing,
    }


_PARSERS = {
    (44, 44): _parse_td3,
    (36, 36): _parse_td2,
    (30, 30, 30): _parse_td1,
}


def parse_mrz(text: str, *, today: dt.date) -> Identity:
    """Parse a TD3 (2 x 44), TD2 (2 x 36) or TD1 (3 x 30) MRZ into an ``Identity``.

    Lines are separated by newlines (LF or CRLF); whitespace around the text
    and around each line is ignored. Raises ``InvalidMRZ`` listing every
    problem as (line or field, rule).
    """
    if not isinstance(text, str):
        raise InvalidMRZ([Problem("mrz", "must be text")])
    lines = _split_lines(text)
    if lines[0].startswith("V") and len(lines) == 2:
        raise InvalidMRZ(
            [
                Problem(
                    "mrz",
                    "is a visa (MRV-A/MRV-B, ICAO 9303 Part 7), not an identity document: "
                    "scan the passport it is in",
                    PROBLEM_NOT_IDENTITY_DOCUMENT,
                )
            ]
        )
    reader = _Reader(today)
    fields = _PARSERS[tuple(len(line) for line in lines)](lines, reader)
    if reader.problems:
        raise InvalidMRZ(reader.problems)
    try:
        return parse_document(fields, today=today)
    except InvalidDocument as error:
        raise InvalidMRZ(error.problems) from None


def _yymmdd(day: dt.date | PartialDate) -> str:
    month = "<<" if day.month is None else f"{day.month:02d}"
    date = "<<" if day.day is None else f"{day.day:02d}"
    return f"{day.year % 100:02d}{month}{date}"


def _number_fields(number: str, optional_width: int, layout: str) -> tuple[str, str]:
    """(number field with its check digit, optional data), overflowing if needed."""
    if len(number) <= 9:
        doc = number.ljust(9, "<")
        return doc + check_digit(doc), "<" * optional_width
    if len(number) > 9 + optional_width - 1:
        limit = 9 + optional_width - 1
        raise InvalidMRZ(
            [Problem("document_number", f"must be at most {limit} characters on {layout}")]
        )
    return number[:9] + "<", (number[9:] + check_digit(number)).ljust(optional_width, "<")


def format_mrz(
    identity: Identity, *, layout: Literal["TD1", "TD2", "TD3"] = "TD3", sex: str = "<"
) -> str:
    """The MRZ a document with these fields would carry (lines joined by newlines).

    The document code is P (passport), I (national ID) or A (other); the
    nationality is the issuing country; the optional data are empty. A
    document number longer than 9 characters overflows into the optional
    data on TD1 and TD2 and is refused on TD3 (``InvalidMRZ``). Names are
    transliterated and fitted by ``mrz_name_field``.
    """
    number = normalise_document_number(identity.document_number)
    state = identity.issuing_country
    if state == "DEU":
        state = "D<<"
    code = {
        DocumentType.PASSPORT: "P<",
        DocumentType.NATIONAL_ID: "I<",
    }.get(identity.document_type, "A<")
    born, expires = _yymmdd(identity.date_of_birth), _yymmdd(identity.expiry_date)
    if sex not in ("M", "F", "X", "<"):
        raise ValueError("sex: must be M, F, X or <")
    dates = born + check_digit(born) + sex + expires + check_digit(expires)
    if layout == "TD3":
        if len(number) > 9:
            raise InvalidMRZ([Problem("document_number", "must be at most 9 characters on TD3")])
        doc = number.ljust(9, "<")
        one = code + state + mrz_name_field(identity.surname, identity.given_names, 39)
        two = doc + check_digit(doc) + state + dates + "<" * 14 + "<"
        two += check_digit(two[0:10] + two[13:20] + two[21:43])
        return f"{one}\n{two}"
    if layout == "TD2":
        doc, optional = _number_fields(number, 7, "TD2")
        one = code + state + mrz_name_field(identity.surname, identity.given_names, 31)
        two = doc + state + dates + optional
        two += check_digit(two[0:10] + two[13:20] + two[21:35])
        return f"{one}\n{two}"
    doc, optional = _number_fields(number, 15, "TD1")
    one = code + state + doc + optional
    two = dates + state + "<" * 11
    two += check_digit(one[5:30] + two[0:7] + two[8:15] + two[18:29])
    three = mrz_name_field(identity.surname, identity.given_names, 30)
    return f"{one}\n{two}\n{three}"
