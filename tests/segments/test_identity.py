"""The identity model: field rules, errors that name field and rule, JSON round trip."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from doorwatch.segments._identity import (
    MAX_PHOTO_BYTES,
    DocumentType,
    Identity,
    InvalidDocument,
    PartialDate,
    Problem,
    age_on,
    is_expired,
    parse_document,
)

TODAY = dt.date(2026, 11, 23)
JPEG = b"\xff\xd8\xff\xe0" + b"\x00\x10JFIF" + bytes(200)


def _doc(**overrides: object) -> dict[str, Any]:
    data: dict[str, Any] = {
        "document_type": "passport",
        "document_number": "123456789",
        "given_names": "Siobhán Mary",
        "surname": "O'Connor",
        "date_of_birth": "1999-04-30",
        "expiry_date": "2031-01-15",
        "issuing_country": "GBR",
    }
    data.update(overrides)
    return data


def _problems(data: dict[str, Any]) -> tuple[Problem, ...]:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(data, today=TODAY)
    return caught.value.problems


def test_a_valid_document_parses() -> None:
    identity = parse_document(_doc(address="1 High St", postcode="NN1 1AB"), today=TODAY)
    assert identity.document_type is DocumentType.PASSPORT
    assert identity.date_of_birth == dt.date(1999, 4, 30)
    assert identity.expiry_date == dt.date(2031, 1, 15)
    assert identity.surname == "O'Connor"
    assert identity.photo is None
    assert identity.authentic is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"surname": "", "given_names": ""}, Problem("surname", "must not be empty")),
        ({"surname": "   ", "given_names": " "}, Problem("surname", "must not be empty")),
        ({"document_number": ""}, Problem("document_number", "must not be empty")),
        ({"surname": "X" * 201}, Problem("surname", "must be at most 200 characters")),
        ({"given_names": "X" * 201}, Problem("given_names", "must be at most 200 characters")),
        (
            {"document_number": "9" * 41},
            Problem("document_number", "must be at most 40 characters"),
        ),
        ({"address": "a" * 501}, Problem("address", "must be at most 500 characters")),
        ({"surname": "Smith\x00"}, Problem("surname", "must not contain control characters")),
        (
            {"date_of_birth": "2040-01-01"},
            Problem("date_of_birth", "must not be in the future"),
        ),
        (
            {"date_of_birth": "1894-01-01"},
            Problem("date_of_birth", "must not be before 1900-01-01"),
        ),
        (
            {"date_of_birth": "1990-02-30"},
            Problem("date_of_birth", "must be a valid calendar date (YYYY-MM-DD)"),
        ),
        (
            {"date_of_birth": "30/04/1999"},
            Problem("date_of_birth", "must be an ISO date (YYYY-MM-DD)"),
        ),
        (
            {"date_of_birth": 925430400},
            Problem("date_of_birth", "must be an ISO date (YYYY-MM-DD)"),
        ),
        (
            {"expiry_date": "1998-01-01"},
            Problem("expiry_date", "must not be before date_of_birth"),
        ),
        (
            {"issuing_country": "gbr"},
            Problem(
                "issuing_country", "must be an ISO 3166-1 alpha-3 code (three upper-case letters)"
            ),
        ),
        (
            {"issuing_country": "GB"},
            Problem(
                "issuing_country", "must be an ISO 3166-1 alpha-3 code (three upper-case letters)"
            ),
        ),
        (
            {"document_type": "library_card"},
            Problem(
                "document_type", "must be one of passport, driving_licence, national_id, other"
            ),
        ),
        ({"authentic": "perhaps"}, Problem("authentic", "must be true or false")),
        (
            {"photo": "bm90IGEganBlZw=="},
            Problem("photo", "must be a JPEG image (starting FF D8 FF)"),
        ),
        ({"photo": "***"}, Problem("photo", "must be base64-encoded JPEG bytes")),
        ({"nickname": "Smithy"}, Problem("nickname", "is not a field of an identity document")),
    ],
)
def test_each_rule_names_field_and_rule(overrides: dict[str, Any], expected: Problem) -> None:
    problems = _problems(_doc(**overrides))
    assert problems == (expected,)


def test_missing_fields_are_all_reported() -> None:
    problems = _problems({"document_type": "passport"})
    assert {p.field for p in problems} == {
        "document_number",
        "given_names",
        "surname",
        "date_of_birth",
        "expiry_date",
        "issuing_country",
    }
    assert all(p.rule == "is required" for p in problems)


def test_age_over_130_is_refused_only_with_today() -> None:
    old = _doc(date_of_birth="1900-01-01", expiry_date="2035-01-01")
    with pytest.raises(InvalidDocument) as caught:
        parse_document(old, today=dt.date(2031, 1, 2))
    assert caught.value.problems == (
        Problem("date_of_birth", "must not be more than 130 years ago"),
    )
    # On the eve of the 131st birthday the same person is still 130.
    assert parse_document(old, today=dt.date(2030, 12, 31)).date_of_birth.year == 1900
    assert Identity.model_validate(old).date_of_birth.year == 1900


def test_direct_construction_skips_only_the_today_checks() -> None:
    future = Identity.model_validate(_doc(date_of_birth="2040-01-01", expiry_date="2050-01-01"))
    assert future.date_of_birth == dt.date(2040, 1, 1)
    with pytest.raises(ValidationError):
        Identity.model_validate(_doc(surname="", given_names=""))
    with pytest.raises(ValidationError):
        Identity.model_validate(_doc(expiry_date="1990-01-01"))


def test_error_messages_never_echo_the_value() -> None:
    secret = "Zebedee-Quorn"
    for overrides in (
        {"surname": secret + "\x07"},
        {"document_number": secret * 5},
        {"date_of_birth": secret},
        {"issuing_country": secret},
        {"photo": secret},
        {"authentic": secret},
        {"document_type": secret},
    ):
        with pytest.raises(InvalidDocument) as caught:
            parse_document(_doc(**overrides), today=TODAY)
        assert secret not in str(caught.value)
        with pytest.raises(ValidationError) as raw:
            Identity.model_validate(_doc(**overrides))
        assert secret not in str(raw.value)
    identity = parse_document(_doc(surname=secret), today=TODAY)
    assert secret not in repr(identity)
    assert secret not in str(identity)


def test_error_message_lists_every_problem() -> None:
    with pytest.raises(InvalidDocument) as caught:
        parse_document(_doc(surname="", given_names="", date_of_birth="2100-01-01"), today=TODAY)
    message = str(caught.value)
    assert "surname: must not be empty" in message
    assert "date_of_birth: must not be in the future" in message
    assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(("raw", "code"), [("D<<", "DEU"), ("D", "DEU"), ("UTO", "UTO")])
def test_issuing_country_normalised(raw: str, code: str) -> None:
    assert parse_document(_doc(issuing_country=raw), today=TODAY).issuing_country == code


def test_photo_round_trips_through_json() -> None:
    identity = parse_document(_doc(photo=base64.b64encode(JPEG).decode()), today=TODAY)
    assert identity.photo == JPEG
    dumped = identity.model_dump(mode="json")
    assert dumped["photo"] == base64.b64encode(JPEG).decode()
    assert dumped["date_of_birth"] == "1999-04-30"
    assert dumped["document_type"] == "passport"
    assert Identity.model_validate(dumped) == identity
    assert Identity.model_validate_json(json.dumps(dumped)) == identity
    assert Identity.model_validate_json(identity.model_dump_json()) == identity
    assert identity.model_dump()["photo"] == JPEG


def test_photo_accepts_bytes_and_enforces_the_cap() -> None:
    assert Identity.model_validate(_doc(photo=JPEG)).photo == JPEG
    at_cap = JPEG[:3] + bytes(MAX_PHOTO_BYTES - 3)
    assert Identity.model_validate(_doc(photo=at_cap)).photo == at_cap
    for oversize in (at_cap + b"\x00", base64.b64encode(at_cap + b"\x00").decode()):
        assert _problems(_doc(photo=oversize)) == (
            Problem("photo", f"must be at most {MAX_PHOTO_BYTES} bytes"),
        )
    assert _problems(_doc(photo=b"GIF89a")) == (
        Problem("photo", "must be a JPEG image (starting FF D8 FF)"),
    )


def test_age_on_and_is_expired() -> None:
    identity = parse_document(
        _doc(date_of_birth="2008-02-29", expiry_date="2030-06-30"), today=TODAY
    )
    assert age_on(identity, dt.date(2026, 2, 28)) == 17
    assert age_on(identity, dt.date(2026, 3, 1)) == 18
    assert age_on(identity, dt.date(2028, 2, 29)) == 20
    assert not is_expired(identity, dt.date(2030, 6, 30))
    assert is_expired(identity, dt.date(2030, 7, 1))


def test_parse_document_refuses_a_non_mapping() -> None:
    with pytest.raises(InvalidDocument, match="must be an object"):
        parse_document(["not", "a", "mapping"], today=TODAY)  # type: ignore[arg-type]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([*_doc().keys(), "address", "postcode", "photo", "authentic", "other"]),
        json_values,
    )
)
def test_parse_document_raises_only_invalid_document(data: dict[str, Any]) -> None:
    merged = _doc(**data)
    problems: tuple[Problem, ...] = ()
    identity: Identity | None = None
    try:
        identity = parse_document(merged, today=TODAY)
    except InvalidDocument as error:
        problems = error.problems
    if identity is None:
        assert problems
        assert all(p.field and p.rule for p in problems)
    else:
        assert Identity.model_validate(identity.model_dump(mode="json")) == identity


def test_a_lone_given_name_is_the_surname() -> None:
    single = parse_document(_doc(surname="", given_names="Ahmadi"), today=TODAY)
    assert (single.surname, single.given_names) == ("Ahmadi", "")
    missing = {k: v for k, v in _doc(given_names="Ahmadi").items() if k != "surname"}
    assert parse_document(missing, today=TODAY) == single
    assert parse_document(_doc(surname="Ahmadi", given_names=""), today=TODAY) == single
    # The JSON schema accepts a document without a surname.
    assert "surname" not in Identity.model_json_schema()["required"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1985-XX-XX", PartialDate(1985, None, None)),
        ("1985-06-XX", PartialDate(1985, 6, None)),
        ("1985-XX-15", PartialDate(1985, None, 15)),
    ],
)
def test_a_partial_date_of_birth_is_held_as_it_is(text: str, expected: PartialDate) -> None:
    identity = parse_document(_doc(date_of_birth=text), today=TODAY)
    assert identity.date_of_birth == expected
    assert identity.model_dump(mode="json")["date_of_birth"] == text
    assert Identity.model_validate_json(identity.model_dump_json()) == identity


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("1985-13-XX", "must be a valid date (YYYY-MM-DD, XX for an unknown day or month)"),
        ("1985-XX-32", "must be a valid date (YYYY-MM-DD, XX for an unknown day or month)"),
        ("1899-XX-XX", "must not be before 1900-01-01"),
        ("2026-12-XX", "must not be in the future"),
        ("XXXX-01-01", "must be an ISO date (YYYY-MM-DD)"),
    ],
)
def test_a_partial_date_of_birth_is_checked_on_what_is_known(text: str, rule: str) -> None:
    assert _problems(_doc(date_of_birth=text)) == (Problem("date_of_birth", rule),)


def test_age_with_a_partial_date_is_the_age_the_holder_is_at_least() -> None:
    # Born some day of 2008: 18 on 2026-11-23 only if born by then; not known, so 17.
    year_only = parse_document(_doc(date_of_birth="2008-XX-XX"), today=TODAY)
    assert age_on(year_only, TODAY) == 17
    assert age_on(year_only, dt.date(2026, 12, 31)) == 18
    born_in_may = parse_document(_doc(date_of_birth="2008-05-XX"), today=TODAY)
    assert age_on(born_in_may, TODAY) == 18
    assert age_on(born_in_may, dt.date(2026, 5, 30)) == 17
    assert age_on(born_in_may, dt.date(2026, 5, 31)) == 18
