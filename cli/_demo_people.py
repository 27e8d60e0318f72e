"""The demo's customers: synthetic identities, drawn portraits, and a realistic misread.

Everyone comes from the segments package's synthetic population (Faker's
name lists, no real person) with a cartoon portrait stamped "SYNTHETIC", and
is chosen deterministically from ``seed``. The subject holds a UK passport,
is over 21, and has a middle name, so that the second venue's scanner can
read the same document differently in ways door scanners do (middle names
not read, a letter taken for its OCR twin) while the statistical match and
the private identity check still recognise them. Not a driving licence: its
number encodes the surname and initials, so the same misread would also
(rightly) flag the card as inconsistent, a second story the demo does not
tell.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from doorwatch.cli._photos import synthetic_portrait
from doorwatch.segments import (
    DocumentType,
    Identity,
    ReadErrorKind,
    ReadErrorModel,
    age_on,
    apply_read_errors_traced,
    synthetic_people,
)

_MISREADS = {
    ReadErrorKind.MIDDLE_NAMES_DROPPED: "the middle names are not read",
    ReadErrorKind.NAME_OCR_CONFUSION: "one letter of the name is misread as its look-alike",
}
_DOOR_SCANNER = ReadErrorModel(
    **{f.name: 0.0 for f in dataclasses.fields(ReadErrorModel)}
    | {kind.value: 1.0 for kind in _MISREADS}
)


@dataclass(frozen=True)
class Cast:
    subject: Identity  # as scanned at the first venue, with the document's photo
    subject_misread: Identity  # the same document as the second venue's scanner reads it
    misreads: list[str]  # what differs, in words (never the values)
    innocent: Identity
    subject_photo: bytes

    @property
    def subject_name(self) -> str:
        return f"{self.subject.given_names} {self.subject.surname}"


def cast(seed: int, today: dt.date) -> Cast:
    people = synthetic_people(random.Random(seed), today=today)  # noqa: S311 - not a secret
    subject = _first(people, lambda p: _suits_subject(p, today))
    innocent = _first(
        people,
        lambda p: age_on(p, today) >= 18 and p.expiry_date > today and p.surname != subject.surname,
    )
    photo = synthetic_portrait(seed)
    subject = subject.model_copy(update={"photo": photo})
    misread, kinds = apply_read_errors_traced(
        subject,
        random.Random(seed + 1),  # noqa: S311 - not a secret
        _DOOR_SCANNER,
    )
    return Cast(
        subject=subject,
        subject_misread=misread,
        misreads=[_MISREADS[k] for k in ReadErrorKind if k in kinds],
        innocent=innocent.model_copy(update={"photo": synthetic_portrait(seed + 7919)}),
        subject_photo=photo,
    )


def document(identity: Identity) -> dict[str, Any]:
    """The identity as a scanner sends it in ``scan.submit`` (photo in base64)."""
    return identity.model_dump(mode="json", exclude_none=True)


def _suits_subject(p: Identity, today: dt.date) -> bool:
    return (
        p.document_type == DocumentType.PASSPORT
        and p.issuing_country == "GBR"
        and p.expiry_date > today + dt.timedelta(days=60)
        and 21 <= age_on(p, today) <= 60
        and len(p.given_names.split()) >= 2
        and (p.given_names + p.surname).isascii()
    )


def _first(people: Iterator[Identity], ok: Any) -> Identity:
    for _ in range(10_000):
        p = next(people)
        if ok(p):
            return p
    raise RuntimeError("no suitable synthetic person in 10,000 draws")
