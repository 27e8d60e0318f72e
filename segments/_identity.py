"""The identity model: one scanned ID document.

The field names are a contract: the socket API, the CSV tools and the scanner
integrations use them exactly.

Validation rules (each error names the field and the rule, never the value;
``hide_input_in_errors`` keeps values out of pydantic's own messages too):

* ``document_type``: one of passport, driving_licence, national_id, other.
* ``document_number``: not blank, at most 40 characters.
* ``given_names``: at most 200 characters (may be empty: some people have
  none, and ICAO 9303 allows it); ``surname``: at most 200. A person with a
  single name has it as the surname: a document that gives only
  ``given_names`` (an MRZ such as ``P<IND<<AHMADI``, or a scan or alert with
  no surname) is read with those names as the surname and no given names.
  One of the two must hold a name.
* ``date_of_birth``: an ISO date (``YYYY-MM-DD`` string or ``datetime.date``),
  or a *partial* date whose unknown day or month is written ``XX``
  (``1985-06-XX``, ``1985-XX-XX``, ICAO 9303 Part 3 section 4.8), held as a
  ``PartialDate``: nothing unknown is ever filled in. ``expiry_date``: an ISO
  date. No datetimes, no timestamps. Birth on or after 1900-01-01; expiry not
  before the earliest possible birth date.
* ``issuing_country``: ISO 3166-1 alpha-3 as printed in an MRZ, three
  upper-case letters; Germany's MRZ code ``D`` (``D<<``) becomes ``DEU``.
* ``address``: at most 500 characters; ``postcode``: at most 16.
* ``photo``: JPEG bytes (starting with the SOI marker FF D8 FF), at most
  ``MAX_PHOTO_BYTES``; base64 in JSON (``model_dump(mode="json")`` encodes it
  and validation decodes a ``str``).
* Text fields must not contain control characters.

Checks relative to today (birth date not in the future, age at most 130)
need today's date, which this pure package never reads from a clock:
``parse_document(data, today=...)`` passes it in the validation context
(``Identity.model_validate(data, context={"today": day})`` does the same).
Constructing ``Identity(...)`` directly, or validating without a ``today``
in the context, skips only those two checks: that is for trusted data (the
synthetic population, a store reading back what it validated on the way in).

``parse_document`` raises ``InvalidDocument`` (a ``ValueError``) listing
every (field, rule) problem; direct construction raises pydantic's
``ValidationError`` (also a ``ValueError``), which
``InvalidDocument.from_validation_error`` maps.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, NamedTuple

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

__all__ = [
    "MAX_ADDRESS_CHARS",
    "MAX_AGE_YEARS",
    "MAX_DOCUMENT_NUMBER_CHARS",
    "MAX_NAME_CHARS",
    "MAX_PHOTO_BYTES",
    "MAX_POSTCODE_CHARS",
    "MIN_BIRTH_DATE",
    "BirthDate",
    "DocumentType",
    "Identity",
    "InvalidDocument",
    "PartialDate",
    "Problem",
    "age_on",
    "is_expired",
    "parse_birth_date",
    "parse_document",
]

MAX_PHOTO_BYTES = 512 * 1024
MAX_NAME_CHARS = 200
MAX_DOCUMENT_NUMBER_CHARS = 40
MAX_ADDRESS_CHARS = 500
MAX_POSTCODE_CHARS = 16
MAX_AGE_YEARS = 130
MIN_BIRTH_DATE = dt.date(1900, 1, 1)

_JPEG_SOI = b"\xff\xd8\xff"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PARTIAL_DATE = re.compile(r"([0-9]{4})-([0-9]{2}|XX)-([0-9]{2}|XX)")
_COUNTRY = re.compile(r"[A-Z]{3}")


class DocumentType(StrEnum):
    PASSPORT = "passport"
    DRIVING_LICENCE = "driving_licence"
    NATIONAL_ID = "national_id"
    OTHER = "other"


class Problem(NamedTuple):
    """One thing wrong with a document: the field and the rule it breaks.

    ``code`` names the kind of problem for programs (``PROBLEM_CHECK_DIGIT``,
    ``PROBLEM_NOT_IDENTITY_DOCUMENT``; empty for the rest), so no caller has to
    recognise a problem by its wording.
    """

    field: str
    rule: str
    code: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.rule}" if self.field else self.rule


PROBLEM_CHECK_DIGIT = "check_digit"
"""A check digit that is not a digit or does not match (the fields may still be legible)."""
PROBLEM_NOT_IDENTITY_DOCUMENT = "not_identity_document"
"""A document read correctly that does not identify its holder (a visa)."""


class InvalidDocument(ValueError):
    """A scanned document failed validation; ``problems`` lists (field, rule) pairs."""

    def __init__(self, problems: list[Problem] | tuple[Problem, ...]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems) or (Problem("", "invalid document"),)
        super().__init__("; ".join(str(p) for p in self.problems))

    @classmethod
    def from_validation_error(cls, error: ValidationError) -> InvalidDocument:
        """Map pydantic's errors to (field, rule) problems without any input value."""
        return cls([_problem(e) for e in error.errors(include_input=False, include_url=False)])


_RULES_BY_TYPE: dict[str, str] = {
    "missing": "is required",
    "extra_forbidden": "is not a field of an identity document",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "enum": "must be one of passport, driving_licence, national_id, other",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "dict_type": "must be an object",
}


def _problem(error: Any) -> Problem:
    loc = error.get("loc", ())
    field = ".".join(str(part) for part in loc)
    if len(field) > 64:  # an unknown key is caller-supplied: keep messages short
        field = field[:61] + "..."
    kind = error.get("type", "")
    if kind in _RULES_BY_TYPE:
        return Problem(field, _RULES_BY_TYPE[kind])
    message = str(error.get("msg", "is invalid"))
    message = message.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return Problem(field, message)


def _text(limit: int, *, required: bool) -> BeforeValidator:
    def check(value: object) -> object:
        if not isinstance(value, str):
            return value  # the str type check reports it
        if len(value) > limit:
            raise ValueError(f"must be at most {limit} characters")
        if required and not value.strip():
            raise ValueError("must not be empty")
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters")
        return value

    return BeforeValidator(check)


def _iso_date(value: object) -> object:
    if isinstance(value, dt.datetime):
        # pydantic reports ValueError (not TypeError) as a validation error.
        raise ValueError("must be a date (YYYY-MM-DD), not a date and time")  # noqa: TRY004
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise ValueError("must be a valid calendar date (YYYY-MM-DD)") from None
    raise ValueError("must be an ISO date (YYYY-MM-DD)")


@dataclass(frozen=True, slots=True)
class PartialDate:
    """A date of birth of which the day, the month or both are unknown (``None``).

    ICAO 9303 Part 3 section 4.8: an unknown day or month is ``XX`` in the
    visual zone and ``<<`` in the MRZ. The known parts are held as they are and
    nothing is filled in; the ISO-like form writes the unknown parts ``XX``
    (``1985-06-XX``), which no full date ever equals, so a partial date and a
    full one never share a key by accident.
    """

    year: int
    month: int | None
    day: int | None

    def __post_init__(self) -> None:
        if not 1 <= self.year <= 9999:
            raise ValueError("year must be 1 to 9999")
        if self.month is not None and self.day is not None:
            raise ValueError("a partial date has an unknown day or month")
        if self.month is not None and not 1 <= self.month <= 12:
            raise ValueError("month must be 1 to 12")
        if self.day is not None and not 1 <= self.day <= 31:
            raise ValueError("day must be 1 to 31")

    def isoformat(self) -> str:
        month = "XX" if self.month is None else f"{self.month:02d}"
        day = "XX" if self.day is None else f"{self.day:02d}"
        return f"{self.year:04d}-{month}-{day}"

    def earliest(self) -> dt.date:
        """The first day the date can be."""
        return dt.date(self.year, self.month or 1, self.day or 1)

    def latest(self) -> dt.date:
        """The last day the date can be."""
        month = self.month or 12
        if self.day is not None and self.month is None:
            # The last month that has this day.
            month = max(m for m in range(1, 13) if self.day <= _month_days(self.year, m))
        day = self.day or _month_days(self.year, month)
        return dt.date(self.year, month, day)

    def __str__(self) -> str:
        return self.isoformat()


def _month_days(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


BirthDate = dt.date | PartialDate
"""A date of birth: a full date, or a ``PartialDate`` when the day or month is unknown."""


def _birth_date(value: object) -> object:
    if isinstance(value, PartialDate):
        return value
    if isinstance(value, str):
        partial = _PARTIAL_DATE.fullmatch(value)
        if partial and "XX" in value:
            year, month, day = partial.groups()
            try:
                return PartialDate(
                    int(year),
                    None if month == "XX" else int(month),
                    None if day == "XX" else int(day),
                )
            except ValueError:
                raise ValueError(
                    "must be a valid date (YYYY-MM-DD, XX for an unknown day or month)"
                ) from None
    return _iso_date(value)


def parse_birth_date(value: str) -> BirthDate:
    """A date of birth from its ISO form, ``XX`` for an unknown day or month
    (``1985-06-XX``). Raises ``ValueError`` naming the rule, never the value."""
    parsed = _birth_date(value)
    if isinstance(parsed, dt.date | PartialDate):
        return parsed
    raise ValueError("must be an ISO date (YYYY-MM-DD)")  # pragma: no cover - _birth_date raises


def _birth_date_json(value: BirthDate) -> str:
    return value.isoformat()


def earliest_birth(value: BirthDate) -> dt.date:
    return value.earliest() if isinstance(value, PartialDate) else value


def latest_birth(value: BirthDate) -> dt.date:
    return value.latest() if isinstance(value, PartialDate) else value


def _country(value: object) -> object:
    if not isinstance(value, str):
        return value
    code = value.strip().rstrip("<")
    if code == "D":
        return "DEU"
    if not _COUNTRY.fullmatch(code):
        raise ValueError("must be an ISO 3166-1 alpha-3 code (three upper-case letters)")
    return code


def _photo(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, str):
        if len(value) > (MAX_PHOTO_BYTES + 2) // 3 * 4 + 4:
            raise ValueError(f"must be at most {MAX_PHOTO_BYTES} bytes")
        try:
            value = base64.b64decode(value.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError):
            raise ValueError("must be base64-encoded JPEG bytes") from None
    elif isinstance(value, bytearray | memoryview):
        value = bytes(value)
    if not isinstance(value, bytes):
        raise ValueError("must be JPEG bytes (base64 in JSON)")  # noqa: TRY004
    if len(value) > MAX_PHOTO_BYTES:
        raise ValueError(f"must be at most {MAX_PHOTO_BYTES} bytes")
    if not value.startswith(_JPEG_SOI):
        raise ValueError("must be a JPEG image (starting FF D8 FF)")
    return value


def _photo_json(value: bytes | None) -> str | None:
    return None if value is None else base64.b64encode(value).decode("ascii")


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]
BirthDateField = Annotated[
    BirthDate,
    PlainValidator(_birth_date),
    PlainSerializer(_birth_date_json),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "^[0-9]{4}-([0-9]{2}|XX)-([0-9]{2}|XX)$",
            "description": "YYYY-MM-DD; XX for an unknown day or month (ICAO 9303 Part 3 4.8)",
        }
    ),
]
_PHOTO_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "string",
            "contentEncoding": "base64",
            "contentMediaType": "image/jpeg",
            "maxLength": (MAX_PHOTO_BYTES + 2) // 3 * 4,
        },
        {"type": "null"},
    ],
    "default": None,
}
Photo = Annotated[
    bytes | None,
    BeforeValidator(_photo),
    PlainSerializer(_photo_json, when_used="json"),
    WithJsonSchema(_PHOTO_SCHEMA),
]


def _describe(description: str, *, optional: bool = False, **schema: Any) -> Any:
    extra = schema or None
    if optional:
        return Field(default=None, description=description, json_schema_extra=extra)
    return Field(description=description, json_schema_extra=extra)


def _surname_or_given_names(schema: dict[str, Any]) -> None:
    # A single name may come as given_names alone (it is then the surname).
    required = schema.get("required")
    if isinstance(required, list) and "surname" in required:
        required.remove("surname")


class Identity(BaseModel):
    """What a scanner read off one ID document. See the module docstring for the rules."""

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        hide_input_in_errors=True,
        json_schema_extra=_surname_or_given_names,
    )

    document_type: DocumentType = _describe("The kind of document scanned.")
    document_number: Annotated[str, _text(MAX_DOCUMENT_NUMBER_CHARS, required=True)] = _describe(
        "The document number as printed.", minLength=1, maxLength=MAX_DOCUMENT_NUMBER_CHARS
    )
    given_names: Annotated[str, _text(MAX_NAME_CHARS, required=False)] = _describe(
        "All given names, space-separated; may be empty.", maxLength=MAX_NAME_CHARS
    )
    surname: Annotated[str, _text(MAX_NAME_CHARS, required=True)] = _describe(
        "Surname (primary identifier). A person with a single name has it here; "
        "a document giving only given_names is read with them as the surname.",
        minLength=1,
        maxLength=MAX_NAME_CHARS,
    )
    date_of_birth: BirthDateField = _describe(
        "ISO date, XX for an unknown day or month (1985-06-XX); on or after 1900-01-01, "
        "not in the future, at most 130 years ago."
    )
    expiry_date: IsoDate = _describe("ISO date; not before date_of_birth.")
    issuing_country: Annotated[str, BeforeValidator(_country)] = _describe(
        "ISO 3166-1 alpha-3 code as in the MRZ (D<< is accepted for DEU).",
        pattern="^[A-Z]{3}$",
    )
    address: Annotated[str | None, _text(MAX_ADDRESS_CHARS, required=False)] = _describe(
        "Postal address as printed, if the document carries one.",
        maxLength=MAX_ADDRESS_CHARS,
        optional=True,
    )
    postcode: Annotated[str | None, _text(MAX_POSTCODE_CHARS, required=False)] = _describe(
        "Postcode, if the document carries one.", maxLength=MAX_POSTCODE_CHARS, optional=True
    )
    photo: Photo = _describe(
        f"JPEG bytes (base64 in JSON), at most {MAX_PHOTO_BYTES} bytes, starting FF D8 FF.",
        optional=True,
    )
    authentic: bool | None = _describe(
        "The scanner's own document-authenticity verdict.", optional=True
    )

    @model_validator(mode="before")
    @classmethod
    def _single_name_is_the_surname(cls, data: Any) -> Any:
        # A lone name is the surname everywhere (ICAO 9303 puts some states'
        # single names in the secondary identifier: P<IND<<AHMADI).
        if isinstance(data, Mapping):
            surname, given = data.get("surname", ""), data.get("given_names", "")
            if (
                isinstance(given, str)
                and given.strip()
                and (surname is None or (isinstance(surname, str) and not surname.strip()))
            ):
                data = {**data, "surname": given, "given_names": ""}
        return data

    @field_validator("date_of_birth")
    @classmethod
    def _birth_date_plausible(cls, value: BirthDate, info: ValidationInfo) -> BirthDate:
        if earliest_birth(value) < MIN_BIRTH_DATE:
            raise ValueError("must not be before 1900-01-01")
        today = info.context.get("today") if isinstance(info.context, Mapping) else None
        if isinstance(today, dt.date):
            if earliest_birth(value) > today:
                raise ValueError("must not be in the future")
            if _years_between(latest_birth(value), today) > MAX_AGE_YEARS:
                raise ValueError(f"must not be more than {MAX_AGE_YEARS} years ago")
        return value

    @field_validator("expiry_date")
    @classmethod
    def _expiry_after_birth(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        born = info.data.get("date_of_birth")
        if isinstance(born, dt.date | PartialDate) and value < earliest_birth(born):
            raise ValueError("must not be before date_of_birth")
        return value

    def __repr__(self) -> str:
        # Personal data stays out of reprs, which end up in logs and tracebacks.
        return f"Identity(document_type={self.document_type.value!r}, <personal data hidden>)"

    __str__ = __repr__


def parse_document(data: Mapping[str, object], *, today: dt.date) -> Identity:
    """Validate a scanned document's fields, including the checks relative to ``today``.

    Raises ``InvalidDocument`` listing every problem as (field, rule).
    """
    if not isinstance(data, Mapping):
        raise InvalidDocument([Problem("", "a document must be an object of fields")])
    try:
        return Identity.model_validate(dict(data), context={"today": today})
    except ValidationError as error:
        raise InvalidDocument.from_validation_error(error) from None


def _years_between(earlier: dt.date, later: dt.date) -> int:
    years = later.year - earlier.year
    return years - 1 if (later.month, later.day) < (earlier.month, earlier.day) else years


def age_on(identity: Identity, day: dt.date) -> int:
    """Completed years of age on ``day`` (negative if born after it).

    Someone born on 29 February turns a year older on 1 March in common
    years, as UK law counts it. With a partial date of birth, the age the
    holder is at least (born on the last day the date allows): an age check
    never relies on a day nobody knows.
    """
    return _years_between(latest_birth(identity.date_of_birth), day)


def is_expired(identity: Identity, day: dt.date) -> bool:
    """True if the document's expiry date is before ``day`` (valid through its expiry date)."""
    return identity.expiry_date < day
