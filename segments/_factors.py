"""Factors: small, positional pieces of an identity that segments are made of.

Theory of operation
-------------------
A *factor* is ``(position, value)``: a position names a field of the identity
and a slice of its normalised match key (``g12`` is letters 1-2 of the first
given name, ``yy`` the last two digits of the birth year), the value is what
that slice holds for one person. An alert's segment set is a few factors of
its subject; a scan is compared with it factor by factor.

Both sides are reduced to the same *match keys* first (``match_keys``):

* given name: ``first_given_name`` of the OCR-folded given names
  (``name_fold``), so dropped or truncated middle names cannot change it, and
  a letter read as its OCR twin (O/0/D/Q, I/1/L, S/5, B/8, Z/2, G/6/C, E/F,
  U/V, M/N/H, K/X, P/R) folds back to the same key;
* surname: ``surname_variants`` of the OCR-folded surname; the alert uses
  the full key (the first variant), a scan offers every variant, so a
  double-barrelled surname recorded with one part still agrees;
* date of birth: year, month, day as numbers (the MRZ check digit protects
  them, so misreads are rare). A partial date (``PartialDate``: day or month
  unknown, ICAO 9303 Part 3 4.8) offers only the parts it knows: a subject's
  unknown day is never a factor of its set (selection draws only from the
  known fields, so the budget counts exactly what is disclosed), and a scan's
  unknown day is a missing field, never a value that could agree with
  anything;
* postcode: upper-case alphanumerics (its area letters are folded when
  sliced); document number: OCR-folded alphanumerics.

Which positions the default catalogue offers is a robustness decision
(``Position.robust``). Slices near the *start* of the first given name and of
the surname survive the read errors we model (middle names dropped, a second
surname added or removed, characters misread as their confusable twins),
dates survive because the MRZ check digits protect them. Postcodes are absent
from passports and change when people move, document numbers change when a
person shows a different document: those positions exist but are not robust,
and ``DEFAULT_CATALOGUE`` leaves them out.

At most one position per *field* enters a segment set, so the factors of a set
describe different fields and their frequencies multiply (the population model
treats names and dates of birth as independent); two slices of one name would
be correlated and the product would understate how many people share them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Protocol

from doorwatch.segments._identity import BirthDate, PartialDate
from doorwatch.segments._normalise import (
    first_given_name,
    fold_confusables,
    normalise_document_number,
    normalise_postcode,
    surname_variants,
)

__all__ = [
    "CATALOGUE",
    "DEFAULT_CATALOGUE",
    "Field",
    "MatchKeys",
    "Position",
    "ScanFactors",
    "alert_value",
    "identity_keys",
    "match_keys",
    "name_fold",
    "scan_factors",
    "selection_identity",
]


class Field(StrEnum):
    """The identity fields factors are taken from (at most one position each per set)."""

    GIVEN_NAME = "given_name"
    SURNAME = "surname"
    BIRTH_YEAR = "birth_year"
    BIRTH_MONTH = "birth_month"
    BIRTH_DAY = "birth_day"
    POSTCODE = "postcode"
    DOCUMENT_NUMBER = "document_number"


@dataclass(frozen=True, slots=True)
class MatchKeys:
    """The normalised keys of one identity, from which every factor value is sliced."""

    given_name: str
    surnames: tuple[str, ...]
    date_of_birth: BirthDate | None
    postcode: str
    document_number: str


class _HasIdentityFields(Protocol):
    @property
    def given_names(self) -> str: ...
    @property
    def surname(self) -> str: ...
    @property
    def date_of_birth(self) -> BirthDate: ...
    @property
    def postcode(self) -> str | None: ...
    @property
    def document_number(self) -> str: ...


# A digit inside a name is OCR noise for the letter it resembles; mapped back
# before the name rules (which drop digits) see the text.
_NAME_DIGITS = str.maketrans({"0": "O", "1": "I", "2": "Z", "5": "S", "6": "G", "8": "B"})
# Letter pairs a visual-zone OCR confuses in names, beyond the twins
# ``fold_confusables`` already merges: each class reads as one letter.
_NAME_OCR_FOLD = str.maketrans(
    {"C": "G", "F": "E", "V": "U", "M": "N", "H": "N", "X": "K", "R": "P"}
)


def name_fold(key: str) -> str:
    """Fold the letters OCR confuses in a name key to one representative.

    ``fold_confusables`` (O D Q, I L, and the letter/digit twins) and then the
    letter classes C G, E F, U V, M N H, K X, P R. Applied to keys *after* the
    name rules (so particles such as VAN or DE are still recognised): a key is
    a comparison device, it loses some distinctness (u is computed on the
    folded keys, so the loss is counted) and a one-letter misread no longer
    changes a factor.
    """
    return fold_confusables(key).translate(_NAME_OCR_FOLD)


def _surname_keys(surname: str) -> tuple[str, ...]:
    out: list[str] = []
    for variant in surname_variants(surname.translate(_NAME_DIGITS)):
        folded = name_fold(variant)
        if folded and folded not in out:
            out.append(folded)
    return tuple(out)


def _given_key(given_names: str) -> str:
    return name_fold(first_given_name(given_names.translate(_NAME_DIGITS)))


# Every scan normalises its names: the same names come back all night (and
# common names all the time), so the keys of names up to the normalisation
# caches' length are cached too; longer strings bypass the caches, so no input
# can make them hold much memory.
_CACHED_NAME = 128
_surname_keys_cached = lru_cache(maxsize=65536)(_surname_keys)
_given_key_cached = lru_cache(maxsize=65536)(_given_key)


def match_keys(
    *,
    given_names: str,
    surname: str,
    date_of_birth: BirthDate | None,
    postcode: str | None = None,
    document_number: str | None = None,
) -> MatchKeys:
    """Normalise the matching fields of one identity (never raises on any strings)."""
    return MatchKeys(
        given_name=(_given_key_cached if len(given_names) <= _CACHED_NAME else _given_key)(
            given_names
        ),
        surnames=(_surname_keys_cached if len(surname) <= _CACHED_NAME else _surname_keys)(surname),
        date_of_birth=date_of_birth,
        postcode=normalise_postcode(postcode or ""),
        document_number=fold_confusables(normalise_document_number(document_number or "")),
    )


def identity_keys(identity: _HasIdentityFields) -> MatchKeys:
    """``match_keys`` of an ``Identity`` (or anything with its field names)."""
    return match_keys(
        given_names=identity.given_names,
        surname=identity.surname,
        date_of_birth=identity.date_of_birth,
        postcode=identity.postcode,
        document_number=identity.document_number,
    )


def selection_identity(keys: MatchKeys) -> bytes:
    """The normalised identity that seeds an alert's segment selection.

    The first given name's key, the full surname's key and the date of birth:
    exactly what the default catalogue's factors are sliced from, so two
    documents of one person (a passport and a driving licence, with or
    without middle names, another document number or postcode) give the same
    bytes. A surname recorded in another form (one part of a double surname)
    gives other bytes, and so does a partial date of birth (written with XX
    for what is unknown, which no full date is). Keys are upper-case letters, so the separator is
    unambiguous.
    """
    surname = keys.surnames[0] if keys.surnames else ""
    dob = keys.date_of_birth.isoformat() if keys.date_of_birth is not None else ""
    return f"{keys.given_name}\x1f{surname}\x1f{dob}".encode()


Extractor = Callable[[MatchKeys], tuple[str, ...]]


@dataclass(frozen=True, slots=True)
class Position:
    """A slice of one field's match key: the *where* of a factor."""

    code: str
    field: Field
    description: str
    robust: bool
    extract: Extractor

    def scan_values(self, keys: MatchKeys) -> tuple[str, ...]:
        """Every value this position may take for a scan (one per variant, no duplicates)."""
        return self.extract(keys)


def _slice(text: str, start: int, stop: int) -> str | None:
    return text[start:stop] if len(text) >= stop else None


def _given(start: int, stop: int) -> Extractor:
    def extract(keys: MatchKeys) -> tuple[str, ...]:
        value = _slice(keys.given_name, start, stop)
        return (value,) if value else ()

    return extract


def _surname(start: int, stop: int) -> Extractor:
    def extract(keys: MatchKeys) -> tuple[str, ...]:
        out: list[str] = []
        for variant in keys.surnames:
            value = _slice(variant, start, stop)
            if value and value not in out:
                out.append(value)
        return tuple(out)

    return extract


def _date(part: Callable[[dt.date | PartialDate], int | None], form: str) -> Extractor:
    def extract(keys: MatchKeys) -> tuple[str, ...]:
        if keys.date_of_birth is None:
            return ()
        value = part(keys.date_of_birth)
        return () if value is None else (form.format(value),)

    return extract


def _postcode_area(keys: MatchKeys) -> tuple[str, ...]:
    letters = ""
    for ch in keys.postcode:
        if not ch.isalpha() or len(letters) == 2:
            break
        letters += ch
    return (fold_confusables(letters),) if letters else ()


def _document_tail(keys: MatchKeys) -> tuple[str, ...]:
    value = keys.document_number[-2:]
    return (value,) if len(value) == 2 else ()


CATALOGUE: Mapping[str, Position] = {
    p.code: p
    for p in (
        Position("g1", Field.GIVEN_NAME, "letter 1 of the first given name", True, _given(0, 1)),
        Position(
            "g12", Field.GIVEN_NAME, "letters 1-2 of the first given name", True, _given(0, 2)
        ),
        Position(
            "g23", Field.GIVEN_NAME, "letters 2-3 of the first given name", True, _given(1, 3)
        ),
        Position(
            "g34", Field.GIVEN_NAME, "letters 3-4 of the first given name", True, _given(2, 4)
        ),
        Position("s1", Field.SURNAME, "letter 1 of the surname", True, _surname(0, 1)),
        Position("s12", Field.SURNAME, "letters 1-2 of the surname", True, _surname(0, 2)),
        Position("s23", Field.SURNAME, "letters 2-3 of the surname", True, _surname(1, 3)),
        Position("s34", Field.SURNAME, "letters 3-4 of the surname", True, _surname(2, 4)),
        Position(
            "yy",
            Field.BIRTH_YEAR,
            "last two digits of the birth year",
            True,
            _date(lambda d: d.year % 100, "{:02d}"),
        ),
        Position(
            "y1",
            Field.BIRTH_YEAR,
            "last digit of the birth year",
            True,
            _date(lambda d: d.year % 10, "{}"),
        ),
        Position("mm", Field.BIRTH_MONTH, "birth month", True, _date(lambda d: d.month, "{:02d}")),
        Position("dd", Field.BIRTH_DAY, "day of birth", True, _date(lambda d: d.day, "{:02d}")),
        Position(
            "d1",
            Field.BIRTH_DAY,
            "last digit of the day of birth",
            True,
            _date(lambda d: None if d.day is None else d.day % 10, "{}"),
        ),
        Position("pa", Field.POSTCODE, "postcode area letters", False, _postcode_area),
        Position(
            "n2",
            Field.DOCUMENT_NUMBER,
            "last two document-number characters",
            False,
            _document_tail,
        ),
    )
}
"""Every position a segment set may name, by wire code."""

DEFAULT_CATALOGUE: tuple[str, ...] = tuple(code for code, p in CATALOGUE.items() if p.robust)
"""The positions selection uses unless told otherwise: the ones robust to read errors."""

ScanFactors = Mapping[str, tuple[str, ...]]
"""A scan's values by position code: every variant, empty when the field is missing."""


def alert_value(code: str, keys: MatchKeys) -> str | None:
    """The one value a subject has at a position (its primary variant), or None if absent."""
    values = CATALOGUE[code].extract(keys)
    return values[0] if values else None


def scan_factors(
    keys: MatchKeys, codes: tuple[str, ...] | None = None
) -> dict[str, tuple[str, ...]]:
    """A scan's values at every position of the catalogue (or of ``codes``)."""
    if not codes:
        return {code: extract(keys) for code, extract in _EXTRACTORS}
    return {code: CATALOGUE[code].extract(keys) for code in codes}


_EXTRACTORS: tuple[tuple[str, Extractor], ...] = tuple((c, p.extract) for c, p in CATALOGUE.items())
