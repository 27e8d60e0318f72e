"""The read-error model: configured rates are the observed rates, zero rates change nothing."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from doorwatch.segments._identity import DocumentType, Identity
from doorwatch.segments._normalise import name_key, surname_variants
from doorwatch.segments._population import synthetic_population
from doorwatch.segments._readerrors import (
    DEFAULT_READ_ERRORS,
    NO_READ_ERRORS,
    ReadErrorKind,
    ReadErrorModel,
    applicable_kinds,
    apply_read_errors,
    apply_read_errors_traced,
)

TODAY = dt.date(2026, 11, 23)


@pytest.fixture(scope="module")
def population() -> list[Identity]:
    return synthetic_population(random.Random(99), 3000, today=TODAY)


def _person(**overrides: object) -> Identity:
    data: dict[str, object] = {
        "document_type": DocumentType.DRIVING_LICENCE,
        "document_number": "MULLE805129JK9AB",
        "given_names": "Jürgen Klaus Friedrich",
        "surname": "Müller-Smith",
        "date_of_birth": dt.date(1998, 5, 12),
        "expiry_date": dt.date(2030, 1, 1),
        "issuing_country": "GBR",
        "address": "1 High Street, Northampton",
        "postcode": "NN1 1AB",
    }
    data.update(overrides)
    return Identity.model_validate(data)


def test_zero_model_is_the_identity_function(population: list[Identity]) -> None:
    rng = random.Random(1)
    state = rng.getstate()
    for person in population:
        read, kinds = apply_read_errors_traced(person, rng, NO_READ_ERRORS)
        assert read == person
        assert kinds == frozenset()
    assert rng.getstate() == state


@pytest.mark.parametrize("kind", list(ReadErrorKind))
def test_observed_rate_is_the_configured_rate(kind: ReadErrorKind) -> None:
    rate = 0.3
    model = ReadErrorModel.only(kind, rate)
    rng = random.Random(hash(kind.value) & 0xFFFF)
    person = _person()
    assert kind in applicable_kinds(person)
    draws = 4000
    hits = 0
    for _ in range(draws):
        read, kinds = apply_read_errors_traced(person, rng, model)
        assert kinds <= {kind}
        if kinds:
            hits += 1
            assert read != person
        else:
            assert read == person
    # Binomial(4000, 0.3): standard deviation 0.0072; allow 5 of them.
    assert abs(hits / draws - rate) < 0.036


@pytest.mark.parametrize("kind", list(ReadErrorKind))
def test_inapplicable_kind_never_fires(kind: ReadErrorKind) -> None:
    person = _person(
        given_names="Ann",
        surname="Ray",
        document_number="AAAAAAAA",
        date_of_birth=dt.date(1990, 3, 3),
        address=None,
        postcode=None,
    )
    model = ReadErrorModel.only(kind)
    applicable = kind in applicable_kinds(person)
    rng = random.Random(5)
    _, kinds = apply_read_errors_traced(person, rng, model)
    assert kinds == ({kind} if applicable else set())


def test_default_model_output_validates(population: list[Identity]) -> None:
    rng = random.Random(2)
    for person in population:
        read = apply_read_errors(person, rng, DEFAULT_READ_ERRORS)
        assert Identity.model_validate(read.model_dump()) == read


def test_each_kind_does_what_it_says() -> None:
    rng = random.Random(3)
    person = _person()

    def read(kind: ReadErrorKind) -> Identity:
        return apply_read_errors(person, rng, ReadErrorModel.only(kind))

    assert read(ReadErrorKind.MIDDLE_NAMES_DROPPED).given_names == "Jürgen"
    mrz = read(ReadErrorKind.MRZ_TRANSLITERATION)
    assert (mrz.given_names, mrz.surname) == ("JUERGEN KLAUS FRIEDRICH", "MUELLER SMITH")
    # MUELLER<SMITH<<JUERGEN<KLAUS<FRIEDRICH is 38 characters: too long for 30.
    truncated = read(ReadErrorKind.GIVEN_NAMES_TRUNCATED)
    assert (truncated.given_names, truncated.surname) == ("JUERGEN KLAUS F", "MUELLER SMITH")
    assert name_key(mrz.surname) == name_key(person.surname)
    assert read(ReadErrorKind.DOB_DAY_MONTH_SWAP).date_of_birth == dt.date(1998, 12, 5)
    missing = read(ReadErrorKind.ADDRESS_MISSING)
    assert (missing.address, missing.postcode) == (None, None)
    for _ in range(20):
        swapped = read(ReadErrorKind.DOCUMENT_NUMBER_TRANSPOSITION).document_number
        assert sorted(swapped) == sorted(person.document_number)
        assert sum(a != b for a, b in zip(swapped, person.document_number, strict=True)) == 2
        double = read(ReadErrorKind.DOUBLE_SURNAME_ALTERED).surname
        assert name_key(double) in surname_variants(person.surname)
        ocr = read(ReadErrorKind.NAME_OCR_CONFUSION)
        changed = sum(
            a != b
            for a, b in zip(
                ocr.given_names + ocr.surname, person.given_names + person.surname, strict=True
            )
        )
        assert changed == 1
        postcode = read(ReadErrorKind.POSTCODE_CONFUSION).postcode
        assert postcode is not None
        assert sum(a != b for a, b in zip(postcode, "NN1 1AB", strict=True)) == 1


def test_td1_truncation_abbreviates_then_truncates() -> None:
    person = _person(
        document_type=DocumentType.NATIONAL_ID,
        given_names="Maximilian Alexander Konstantin",
        surname="Schwarzenegger",
    )
    read = apply_read_errors(
        person, random.Random(1), ReadErrorModel.only(ReadErrorKind.GIVEN_NAMES_TRUNCATED)
    )
    # SCHWARZENEGGER<<MAXIMILIAN<A<K is exactly 30 characters.
    assert read.given_names == "MAXIMILIAN A K"
    assert read.surname == "SCHWARZENEGGER"
    longer = _person(
        document_type=DocumentType.NATIONAL_ID,
        given_names="Maximilian Alexander",
        surname="Schwarzenegger-Lindemann",
    )
    read = apply_read_errors(
        longer, random.Random(1), ReadErrorModel.only(ReadErrorKind.GIVEN_NAMES_TRUNCATED)
    )
    assert read.given_names == "MAXI"  # SCHWARZENEGGER<LINDEMANN<<MAXIMILIAN<A cut at 30
    assert len(read.surname.replace(" ", "<")) + 2 + len(read.given_names) <= 30


@pytest.mark.parametrize(
    "field",
    ["name_ocr_confusion", "address_missing"],
)
@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_rates_must_be_probabilities(field: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"{field}: must be a probability"):
        ReadErrorModel(**{field: value})


@pytest.mark.parametrize("kind", list(ReadErrorKind))
def test_an_applied_error_always_changes_the_identity(
    kind: ReadErrorKind, population: list[Identity]
) -> None:
    rng = random.Random(17)
    model = ReadErrorModel.only(kind)
    fired = 0
    for person in population:
        read, kinds = apply_read_errors_traced(person, rng, model)
        assert kinds == ({kind} if kind in applicable_kinds(person) else set())
        if kinds:
            fired += 1
            assert read != person
    assert fired > 0
