"""A harsher corruption model than the scanner's: what a tired supervisor types.

Theory of operation
-------------------
The read-error model (``_readerrors``) describes a scanner reading a
document. Doors also take details by hand (a scanner that failed, a guest
list, a phone call from another venue), people show a different document on
another night, and the name they give is not always the one on the alert. The
harsh model applies the scanner's errors first (``DEFAULT_READ_ERRORS``) and
then these kinds, each with one probability, conditional on the kind being
possible, tried in the fixed order of ``HarshErrorKind``, each on the result
of the ones before:

============================  =====  ==========================================
kind                          rate   what happens
============================  =====  ==========================================
different_document            0.30   another of the person's documents: another
                                     number, middle names present or not (50%),
                                     postcode only on a driving licence
nickname                      0.10   the first given name is replaced by a
                                     common short form (William -> Bill,
                                     Katherine -> Kate), for the names of
                                     ``NICKNAMES``
phonetic_variant              0.05   one name respelled as it sounds
                                     (Catherine/Katherine, Steven/Stephen,
                                     Philip/Phillip, Thomson/Thompson ...),
                                     by one rule of ``PHONETIC_RULES``
                                     (each where it keeps the sound: PH/V
                                     and Y/I not first, S/Z between vowels)
given_surname_swap            0.02   given names and surname entered in each
                                     other's field
typing_error                  0.15   one keyboard error in one name (the longer
                                     the name, the likelier): a neighbouring
                                     key inserted or substituted, a letter
                                     deleted, two adjacent letters transposed
dob_day_month_swap            0.05   day and month transposed (day <= 12,
                                     day != month): US order, or a slip
field_missing                 0.05   one of given names, surname, date of birth
                                     left empty (each as likely)
============================  =====  ==========================================

The rates are chosen, not measured: pessimistic guesses for hand entry at a
busy door, meant to show how the matcher degrades, not to predict a venue's
figures. Nicknames and phonetic rules cover common English forms only; a name
outside the tables is never given a nickname or a respelling here, so the
model understates those kinds for other names.

The output is the ``MatchKeys`` of the corrupted reading (a missing field
cannot be an ``Identity``): ``harsh_read_keys``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, fields
from enum import StrEnum
from typing import Any

from doorwatch.segments._factors import MatchKeys, match_keys
from doorwatch.segments._identity import DocumentType, Identity
from doorwatch.segments._readerrors import DEFAULT_READ_ERRORS, ReadErrorModel, apply_read_errors

__all__ = [
    "HARSH_ERRORS",
    "NICKNAMES",
    "PHONETIC_RULES",
    "HarshErrorKind",
    "HarshErrorModel",
    "harsh_read_keys",
    "harsh_read_keys_traced",
]


class HarshErrorKind(StrEnum):
    """The kinds of hand-entry and presentation error, in the order they are tried."""

    DIFFERENT_DOCUMENT = "different_document"
    NICKNAME = "nickname"
    PHONETIC_VARIANT = "phonetic_variant"
    GIVEN_SURNAME_SWAP = "given_surname_swap"
    TYPING_ERROR = "typing_error"
    DOB_DAY_MONTH_SWAP = "dob_day_month_swap"
    FIELD_MISSING = "field_missing"


@dataclass(frozen=True)
class HarshErrorModel:
    """One probability per ``HarshErrorKind`` (conditional on the kind being possible),
    on top of a scanner read-error model."""

    different_document: float = 0.30
    nickname: float = 0.10
    phonetic_variant: float = 0.05
    given_surname_swap: float = 0.02
    typing_error: float = 0.15
    dob_day_month_swap: float = 0.05
    field_missing: float = 0.05
    scanner: ReadErrorModel = DEFAULT_READ_ERRORS

    def __post_init__(self) -> None:
        for f in fields(self):
            if f.name == "scanner":
                continue
            value = getattr(self, f.name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{f.name}: must be a probability between 0 and 1")

    def rate(self, kind: HarshErrorKind) -> float:
        return float(getattr(self, kind.value))

    def read_keys(self, identity: Identity, rng: random.Random) -> MatchKeys:
        """The match keys of ``identity`` as entered under this model."""
        return harsh_read_keys(identity, rng, self)


HARSH_ERRORS = HarshErrorModel()

NICKNAMES: dict[str, tuple[str, ...]] = {
    "ALEXANDER": ("ALEX", "SANDY"),
    "ALEXANDRA": ("ALEX", "SANDRA"),
    "ANDREW": ("ANDY", "DREW"),
    "ANTHONY": ("TONY",),
    "BENJAMIN": ("BEN", "BENNY"),
    "CATHERINE": ("CATH", "KATE", "KATIE"),
    "CHARLES": ("CHARLIE", "CHAS"),
    "CHARLOTTE": ("CHARLIE", "LOTTIE"),
    "CHRISTINE": ("CHRIS", "TINA"),
    "CHRISTOPHER": ("CHRIS", "KIT"),
    "DANIEL": ("DAN", "DANNY"),
    "DAVID": ("DAVE",),
    "DOMINIC": ("DOM",),
    "EDWARD": ("ED", "TED", "EDDIE"),
    "ELIZABETH": ("LIZ", "BETH", "LIZZIE"),
    "EMMA": ("EM",),
    "FRANCESCA": ("FRAN", "CESCA"),
    "JACQUELINE": ("JACKIE",),
    "JAMES": ("JIM", "JAMIE"),
    "JENNIFER": ("JEN", "JENNY"),
    "JESSICA": ("JESS",),
    "JONATHAN": ("JON", "JONNY"),
    "JOSEPH": ("JOE",),
    "JOSEPHINE": ("JOSIE", "JO"),
    "JUDITH": ("JUDY",),
    "KATHERINE": ("KATE", "KATIE", "KATH"),
    "KENNETH": ("KEN", "KENNY"),
    "LEONARD": ("LEN", "LENNY"),
    "MARGARET": ("MAGGIE", "PEGGY"),
    "MATTHEW": ("MATT",),
    "MICHAEL": ("MIKE", "MICK"),
    "NICHOLAS": ("NICK",),
    "NICOLA": ("NIKKI",),
    "OLIVIA": ("LIV",),
    "PAMELA": ("PAM",),
    "PATRICIA": ("PAT", "TRISH"),
    "PATRICK": ("PAT", "PADDY"),
    "PETER": ("PETE",),
    "PHILIP": ("PHIL",),
    "RAYMOND": ("RAY",),
    "REBECCA": ("BECKY", "BEX"),
    "RICHARD": ("RICH", "RICK", "DICK"),
    "ROBERT": ("ROB", "BOB", "BOBBY"),
    "SAMANTHA": ("SAM",),
    "SAMUEL": ("SAM", "SAMMY"),
    "STEPHEN": ("STEVE",),
    "STEVEN": ("STEVE",),
    "SUSAN": ("SUE", "SUZY"),
    "THOMAS": ("TOM", "TOMMY"),
    "TIMOTHY": ("TIM",),
    "VICTORIA": ("VICKY", "TORI"),
    "WILLIAM": ("BILL", "WILL", "LIAM"),
}
"""Common English short forms of given names (upper case), used by the model."""

PHONETIC_RULES: tuple[tuple[str, str, str], ...] = (
    ("PH", "V", "inner"),  # Stephen / Steven
    ("V", "PH", "inner"),
    ("C", "K", "any"),  # Catherine / Katherine, Carl / Karl, Nicola / Nikola
    ("K", "C", "any"),
    ("Y", "I", "inner"),  # Lyn / Lin, Kaitlyn / Kaitlin
    ("I", "Y", "inner"),
    ("IE", "Y", "end"),  # Katie / Katy
    ("Y", "IE", "end"),
    ("LL", "L", "any"),  # Phillip / Philip
    ("L", "LL", "single"),
    ("NN", "N", "any"),
    ("TT", "T", "any"),  # Matthew / Mathew
    ("MPS", "MS", "any"),  # Thompson / Thomson
    ("SON", "SEN", "end"),
    ("S", "Z", "vowels"),  # Elisabeth / Elizabeth
    ("Z", "S", "vowels"),
    ("TH", "T", "any"),  # Thomas / Tomas
    ("EA", "EE", "any"),
    ("AI", "AY", "any"),
    ("OU", "OW", "any"),
)
"""Respellings that sound the same: ``(old, new, where)``, each applied to one place
in a name. ``where``: ``any``; ``inner`` (not the first letter); ``end`` (the end
of the name); ``single`` (a letter not already doubled); ``vowels`` (between two
vowels)."""

_VOWELS = frozenset("AEIOUY")

_KEYBOARD = ("QWERTYUIOP", "ASDFGHJKL", "ZXCVBNM")


def _neighbours() -> dict[str, str]:
    out: dict[str, str] = {}
    for r, row in enumerate(_KEYBOARD):
        for c, ch in enumerate(row):
            near = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
            for other in (r - 1, r + 1):
                if 0 <= other < len(_KEYBOARD):
                    near += [
                        _KEYBOARD[other][i] for i in (c - 1, c) if 0 <= i < len(_KEYBOARD[other])
                    ]
            out[ch] = "".join(near)
    return out


_NEIGHBOURS = _neighbours()


def _letters(text: str) -> list[int]:
    return [i for i, ch in enumerate(text) if ch.upper() in _NEIGHBOURS]


def _typo(text: str, rng: random.Random) -> str:
    at = _letters(text)
    i = rng.choice(at)
    ch = text[i].upper()
    how = rng.randrange(4)
    near = _like(rng.choice(_NEIGHBOURS[ch]), text[i])
    if how == 0:  # a neighbouring key struck as well
        return text[:i] + near + text[i:]
    if how == 1:  # a letter dropped
        return text[:i] + text[i + 1 :]
    if how == 2:  # a neighbouring key instead
        return text[:i] + near + text[i + 1 :]
    # two adjacent letters transposed (the last letter with the one before)
    j = i if i + 1 < len(text) and text[i + 1].upper() in _NEIGHBOURS else i - 1
    if j < 0 or j + 1 >= len(text):
        return text[:i] + text[i + 1 :]
    return text[:j] + text[j + 1] + text[j] + text[j + 2 :]


def _fits(upper: str, start: int, old: str, where: str) -> bool:
    end = start + len(old)
    if where == "inner":
        return start > 0
    if where == "end":
        return end == len(upper) or not upper[end].isalpha()
    if where == "single":
        return upper[start - 1 : start] != old and upper[end : end + 1] != old
    if where == "vowels":
        return start > 0 and upper[start - 1] in _VOWELS and upper[end : end + 1] in _VOWELS
    return True


def _phonetic_places(name: str) -> list[tuple[int, str, str]]:
    upper = name.upper()
    out: list[tuple[int, str, str]] = []
    for old, new, where in PHONETIC_RULES:
        start = upper.find(old)
        while start >= 0:
            if _fits(upper, start, old, where):
                out.append((start, old, new))
            start = upper.find(old, start + 1)
    return out


def _like(text: str, model: str) -> str:
    """``text`` in the case of ``model`` (names are typed in any case)."""
    return text.lower() if model.islower() else text


def _respelled(name: str, rng: random.Random) -> str:
    start, old, new = rng.choice(_phonetic_places(name))
    return name[:start] + _like(new, name[start]) + name[start + len(old) :]


def _first_given(given_names: str) -> str:
    parts = given_names.split()
    return parts[0].upper() if parts else ""


def _applicable(kind: HarshErrorKind, f: dict[str, Any]) -> bool:
    if kind is HarshErrorKind.DIFFERENT_DOCUMENT:
        return True
    if kind is HarshErrorKind.NICKNAME:
        return _first_given(f["given_names"]) in NICKNAMES
    if kind is HarshErrorKind.PHONETIC_VARIANT:
        return bool(_phonetic_places(f["given_names"]) or _phonetic_places(f["surname"]))
    if kind is HarshErrorKind.GIVEN_SURNAME_SWAP:
        return bool(f["given_names"].strip() and f["surname"].strip())
    if kind is HarshErrorKind.TYPING_ERROR:
        return bool(_letters(f["given_names"]) or _letters(f["surname"]))
    if kind is HarshErrorKind.DOB_DAY_MONTH_SWAP:
        dob: dt.date | None = f["date_of_birth"]
        return dob is not None and dob.day <= 12 and dob.day != dob.month
    return bool(f["given_names"].strip() or f["surname"].strip() or f["date_of_birth"])


def _apply(kind: HarshErrorKind, f: dict[str, Any], rng: random.Random) -> None:
    if kind is HarshErrorKind.DIFFERENT_DOCUMENT:
        licence = rng.random() < 0.5
        f["document_type"] = DocumentType.DRIVING_LICENCE if licence else DocumentType.PASSPORT
        f["document_number"] = "".join(rng.choice("0123456789") for _ in range(9))
        if not licence:
            f["postcode"] = None
        parts = f["given_names"].split()
        if len(parts) > 1 and rng.random() < 0.5:
            f["given_names"] = parts[0]
    elif kind is HarshErrorKind.NICKNAME:
        parts = f["given_names"].split()
        parts[0] = rng.choice(NICKNAMES[parts[0].upper()])
        f["given_names"] = " ".join(parts)
    elif kind is HarshErrorKind.PHONETIC_VARIANT:
        given, surname = _phonetic_places(f["given_names"]), _phonetic_places(f["surname"])
        if rng.randrange(len(given) + len(surname)) < len(given):
            f["given_names"] = _respelled(f["given_names"], rng)
        else:
            f["surname"] = _respelled(f["surname"], rng)
    elif kind is HarshErrorKind.GIVEN_SURNAME_SWAP:
        f["given_names"], f["surname"] = f["surname"], f["given_names"]
    elif kind is HarshErrorKind.TYPING_ERROR:
        in_given, in_surname = len(_letters(f["given_names"])), len(_letters(f["surname"]))
        if rng.randrange(in_given + in_surname) < in_given:
            f["given_names"] = _typo(f["given_names"], rng)
        else:
            f["surname"] = _typo(f["surname"], rng)
    elif kind is HarshErrorKind.DOB_DAY_MONTH_SWAP:
        dob: dt.date = f["date_of_birth"]
        f["date_of_birth"] = dt.date(dob.year, dob.day, dob.month)
    else:
        present = [
            name
            for name in ("given_names", "surname", "date_of_birth")
            if f[name] and (not isinstance(f[name], str) or f[name].strip())
        ]
        missing = rng.choice(present)
        f[missing] = None if missing == "date_of_birth" else ""


def harsh_read_keys_traced(
    identity: Identity, rng: random.Random, model: HarshErrorModel = HARSH_ERRORS
) -> tuple[MatchKeys, frozenset[HarshErrorKind]]:
    """The match keys of ``identity`` as entered under ``model``, and the kinds applied."""
    read = apply_read_errors(identity, rng, model.scanner)
    f: dict[str, Any] = {
        "given_names": read.given_names,
        "surname": read.surname,
        "date_of_birth": read.date_of_birth,
        "postcode": read.postcode,
        "document_number": read.document_number,
        "document_type": read.document_type,
    }
    applied: set[HarshErrorKind] = set()
    for kind in HarshErrorKind:
        rate = model.rate(kind)
        if rate <= 0.0 or not _applicable(kind, f) or rng.random() >= rate:
            continue
        _apply(kind, f, rng)
        applied.add(kind)
    keys = match_keys(
        given_names=f["given_names"],
        surname=f["surname"],
        date_of_birth=f["date_of_birth"],
        postcode=f["postcode"],
        document_number=f["document_number"],
    )
    return keys, frozenset(applied)


def harsh_read_keys(
    identity: Identity, rng: random.Random, model: HarshErrorModel = HARSH_ERRORS
) -> MatchKeys:
    """The match keys of ``identity`` as entered under ``model``."""
    return harsh_read_keys_traced(identity, rng, model)[0]
