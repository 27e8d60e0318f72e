"""A model of the errors a door scanner makes when it reads an ID document.

Theory of operation
-------------------
A scan of a person is their document as read, not as issued. Each kind of
read error has one probability in ``ReadErrorModel``: the probability that
the error happens *when it can happen* (a transposition needs two adjacent
digits, a dropped middle name needs a middle name). The kinds are tried in
the fixed order of ``ReadErrorKind``, each on the result of the ones before;
a kind with probability 0 consumes no randomness, so the all-zero model
returns its input unchanged.

The default rates describe a scanner that reads the MRZ of passports and ID
cards and the visual zone (OCR) or barcode of driving licences and proof-of-
age cards, and are deliberately on the pessimistic side of what vendors
quote, so that the matcher is tested against more noise than it will meet:

============================  =====  ==========================================
kind                          rate   why
============================  =====  ==========================================
name_ocr_confusion            0.02   one OCR substitution in a visual-zone name
                                     (O/D/0, I/L/1, S/5, B/8, E/F, U/V, M/N ...)
middle_names_dropped          0.10   many scanner databases keep one given name
given_names_truncated         0.50   of names too long for the MRZ field (30
                                     characters on TD1 cards and licences, 39
                                     on passports): later given names cut to
                                     initials, then truncated, as ICAO
                                     prescribes
double_surname_altered        0.25   of double surnames: one part only, parts
                                     joined, or the separator changed
mrz_transliteration           0.50   of names with diacritics: read from the
                                     MRZ (Ü -> UE, Å -> AA, ß -> SS)
document_number_transposition 0.005  two adjacent digits swapped (manual entry
                                     or OCR; MRZ check digits catch most)
dob_day_month_swap            0.002  day and month swapped (only possible with
                                     a day <= 12). Rare: the MRZ stores
                                     YYMMDD under a check digit, so only a
                                     visual-zone read or manual entry in US
                                     order can produce it
postcode_confusion            0.01   one OCR confusion in the postcode
address_missing               0.05   address and postcode not captured
============================  =====  ==========================================

``apply_read_errors`` returns the read identity; ``apply_read_errors_traced``
also returns the kinds that were applied, and ``applicable_kinds`` says which
kinds could apply to an identity (both for diagnostics and for measuring the
rates). Every output is re-validated as an ``Identity``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from doorwatch.segments._identity import DocumentType, Identity
from doorwatch.segments._mrz import mrz_name_field, mrz_transliterate
from doorwatch.segments._normalise import name_tokens

__all__ = [
    "DEFAULT_READ_ERRORS",
    "NO_READ_ERRORS",
    "ReadErrorKind",
    "ReadErrorModel",
    "applicable_kinds",
    "apply_read_errors",
    "apply_read_errors_traced",
]


class ReadErrorKind(StrEnum):
    """The kinds of read error, in the order they are tried."""

    NAME_OCR_CONFUSION = "name_ocr_confusion"
    MIDDLE_NAMES_DROPPED = "middle_names_dropped"
    GIVEN_NAMES_TRUNCATED = "given_names_truncated"
    DOUBLE_SURNAME_ALTERED = "double_surname_altered"
    MRZ_TRANSLITERATION = "mrz_transliteration"
    DOCUMENT_NUMBER_TRANSPOSITION = "document_number_transposition"
    DOB_DAY_MONTH_SWAP = "dob_day_month_swap"
    POSTCODE_CONFUSION = "postcode_confusion"
    ADDRESS_MISSING = "address_missing"


@dataclass(frozen=True)
class ReadErrorModel:
    """One probability per ``ReadErrorKind``, each conditional on the kind being possible."""

    name_ocr_confusion: float = 0.02
    middle_names_dropped: float = 0.10
    given_names_truncated: float = 0.50
    double_surname_altered: float = 0.25
    mrz_transliteration: float = 0.50
    document_number_transposition: float = 0.005
    dob_day_month_swap: float = 0.002
    postcode_confusion: float = 0.01
    address_missing: float = 0.05

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name}: must be a probability between 0 and 1")

    def rate(self, kind: ReadErrorKind) -> float:
        return float(getattr(self, kind.value))

    @classmethod
    def only(cls, kind: ReadErrorKind, rate: float = 1.0) -> ReadErrorModel:
        """A model with every rate 0 except ``kind``."""
        zeros: dict[str, Any] = {f.name: 0.0 for f in fields(cls)}
        zeros[kind.value] = rate
        return cls(**zeros)


DEFAULT_READ_ERRORS = ReadErrorModel()
NO_READ_ERRORS = ReadErrorModel(**{f.name: 0.0 for f in fields(ReadErrorModel)})

# OCR substitutions in a name, upper case. Digits appear because an OCR
# engine without a dictionary reads O as 0 as readily as D.
_NAME_OCR: dict[str, str] = {
    "O": "D0Q",
    "D": "O",
    "Q": "O",
    "C": "G",
    "G": "C6",
    "I": "L1",
    "L": "I",
    "E": "F",
    "F": "E",
    "U": "V",
    "V": "U",
    "M": "N",
    "N": "M",
    "S": "5",
    "B": "8",
    "Z": "2",
    "H": "N",
    "K": "X",
    "P": "R",
    "R": "P",
}
_POSTCODE_OCR: dict[str, str] = {
    "0": "O",
    "O": "0",
    "1": "I",
    "I": "1",
    "5": "S",
    "S": "5",
    "8": "B",
    "B": "8",
    "2": "Z",
    "Z": "2",
    "6": "G",
    "G": "6",
}

_TD1_NAME_FIELD = 30
_TD3_NAME_FIELD = 39


def _ocr_positions(text: str, table: dict[str, str]) -> list[int]:
    return [i for i, ch in enumerate(text) if ch.upper() in table]


def _digit_pairs(text: str) -> list[int]:
    return [
        i
        for i in range(len(text) - 1)
        if text[i].isdigit() and text[i + 1].isdigit() and text[i] != text[i + 1]
    ]


def _name_field_limit(document_type: DocumentType) -> int:
    return _TD3_NAME_FIELD if document_type is DocumentType.PASSPORT else _TD1_NAME_FIELD


def _mrz_name_field(surname: str, given_names: str) -> str:
    return (
        "<".join(mrz_transliterate(surname).split())
        + "<<"
        + "<".join(mrz_transliterate(given_names).split())
    )


def _truncated_given_names(surname: str, given_names: str, limit: int) -> str:
    """The given names as read back from an MRZ name field of ``limit`` characters."""
    field = mrz_name_field(surname, given_names, limit)
    _, _, tail = field.partition("<<")
    return " ".join(tail.replace("<", " ").split())


def _applicable(kind: ReadErrorKind, identity: Identity) -> bool:
    if kind is ReadErrorKind.NAME_OCR_CONFUSION:
        return bool(_ocr_positions(identity.given_names + identity.surname, _NAME_OCR))
    if kind is ReadErrorKind.MIDDLE_NAMES_DROPPED:
        return len(identity.given_names.split()) > 1
    if kind is ReadErrorKind.GIVEN_NAMES_TRUNCATED:
        limit = _name_field_limit(identity.document_type)
        field = _mrz_name_field(identity.surname, identity.given_names)
        return bool(identity.given_names.strip()) and len(field) > limit
    if kind is ReadErrorKind.DOUBLE_SURNAME_ALTERED:
        return len(name_tokens(identity.surname)) > 1
    if kind is ReadErrorKind.MRZ_TRANSLITERATION:
        return not (identity.given_names + identity.surname).isascii()
    if kind is ReadErrorKind.DOCUMENT_NUMBER_TRANSPOSITION:
        return bool(_digit_pairs(identity.document_number))
    if kind is ReadErrorKind.DOB_DAY_MONTH_SWAP:
        dob = identity.date_of_birth
        # A partial date has no day and month to swap.
        return isinstance(dob, dt.date) and dob.day <= 12 and dob.day != dob.month
    if kind is ReadErrorKind.POSTCODE_CONFUSION:
        return bool(identity.postcode and _ocr_positions(identity.postcode, _POSTCODE_OCR))
    return identity.address is not None or identity.postcode is not None


def applicable_kinds(identity: Identity) -> frozenset[ReadErrorKind]:
    """The kinds of read error that could apply to ``identity``."""
    return frozenset(kind for kind in ReadErrorKind if _applicable(kind, identity))


def _substitute(text: str, table: dict[str, str], rng: random.Random) -> str:
    i = rng.choice(_ocr_positions(text, table))
    return text[:i] + rng.choice(table[text[i].upper()]) + text[i + 1 :]


def _apply(kind: ReadErrorKind, fields_: dict[str, Any], rng: random.Random) -> None:
    if kind is ReadErrorKind.NAME_OCR_CONFUSION:
        given, surname = fields_["given_names"], fields_["surname"]
        in_given = len(_ocr_positions(given, _NAME_OCR))
        in_surname = len(_ocr_positions(surname, _NAME_OCR))
        if rng.randrange(in_given + in_surname) < in_given:
            fields_["given_names"] = _substitute(given, _NAME_OCR, rng)
        else:
            fields_["surname"] = _substitute(surname, _NAME_OCR, rng)
    elif kind is ReadErrorKind.MIDDLE_NAMES_DROPPED:
        fields_["given_names"] = fields_["given_names"].split()[0]
    elif kind is ReadErrorKind.GIVEN_NAMES_TRUNCATED:
        limit = _name_field_limit(fields_["document_type"])
        fields_["surname"] = mrz_transliterate(fields_["surname"])
        fields_["given_names"] = _truncated_given_names(
            fields_["surname"], fields_["given_names"], limit
        )
    elif kind is ReadErrorKind.DOUBLE_SURNAME_ALTERED:
        double: str = fields_["surname"]
        parts = name_tokens(double)
        how = rng.randrange(3)
        if how == 0:
            fields_["surname"] = rng.choice((parts[0], parts[-1]))
        elif how == 1:
            fields_["surname"] = "".join(parts)
        else:
            fields_["surname"] = " ".join(parts) if "-" in double else "-".join(parts)
    elif kind is ReadErrorKind.MRZ_TRANSLITERATION:
        fields_["given_names"] = mrz_transliterate(fields_["given_names"])
        fields_["surname"] = mrz_transliterate(fields_["surname"])
    elif kind is ReadErrorKind.DOCUMENT_NUMBER_TRANSPOSITION:
        number: str = fields_["document_number"]
        i = rng.choice(_digit_pairs(number))
        fields_["document_number"] = number[:i] + number[i + 1] + number[i] + number[i + 2 :]
    elif kind is ReadErrorKind.DOB_DAY_MONTH_SWAP:
        dob: dt.date = fields_["date_of_birth"]
        fields_["date_of_birth"] = dt.date(dob.year, dob.day, dob.month)
    elif kind is ReadErrorKind.POSTCODE_CONFUSION:
        fields_["postcode"] = _substitute(fields_["postcode"], _POSTCODE_OCR, rng)
    elif kind is ReadErrorKind.ADDRESS_MISSING:
        fields_["address"] = None
        fields_["postcode"] = None


def apply_read_errors_traced(
    identity: Identity, rng: random.Random, model: ReadErrorModel = DEFAULT_READ_ERRORS
) -> tuple[Identity, frozenset[ReadErrorKind]]:
    """``identity`` as a scanner might read it, and the kinds of error applied."""
    current = identity
    applied: set[ReadErrorKind] = set()
    for kind in ReadErrorKind:
        rate = model.rate(kind)
        if rate <= 0.0 or not _applicable(kind, current) or rng.random() >= rate:
            continue
        fields_ = dict(current)
        _apply(kind, fields_, rng)
        current = Identity.model_validate(fields_)
        applied.add(kind)
    return current, frozenset(applied)


def apply_read_errors(
    identity: Identity, rng: random.Random, model: ReadErrorModel = DEFAULT_READ_ERRORS
) -> Identity:
    """``identity`` as a scanner might read it under ``model``."""
    return apply_read_errors_traced(identity, rng, model)[0]
