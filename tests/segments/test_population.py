"""The synthetic population: realistic, deterministic, and described by name_source()."""

from __future__ import annotations

import datetime as dt
import random
import re
from collections import Counter

import pytest

from doorwatch.segments._identity import DocumentType, Identity, age_on, is_expired
from doorwatch.segments._population import (
    dvla_licence_number,
    name_source,
    synthetic_people,
    synthetic_population,
)

TODAY = dt.date(2026, 11, 23)
UK_POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


@pytest.fixture(scope="module")
def population() -> list[Identity]:
    return synthetic_population(random.Random(20261123), 5000, today=TODAY)


def test_deterministic_for_a_seed() -> None:
    a = synthetic_population(random.Random(7), 200, today=TODAY)
    b = synthetic_population(random.Random(7), 200, today=TODAY)
    c = synthetic_population(random.Random(8), 200, today=TODAY)
    assert a == b
    assert a != c


def test_generator_form_agrees_with_list_form() -> None:
    people = synthetic_people(random.Random(3), today=TODAY)
    assert [next(people) for _ in range(50)] == synthetic_population(
        random.Random(3), 50, today=TODAY
    )


def test_negative_size_is_refused() -> None:
    with pytest.raises(ValueError, match="n: must not be negative"):
        synthetic_population(random.Random(1), -1, today=TODAY)


def test_ages_are_adults_skewed_young(population: list[Identity]) -> None:
    ages = sorted(age_on(p, TODAY) for p in population)
    assert ages[0] >= 18
    assert ages[-1] <= 80
    median = ages[len(ages) // 2]
    assert 20 <= median <= 27
    assert sum(a >= 50 for a in ages) / len(ages) > 0.05


def test_document_mix(population: list[Identity]) -> None:
    types = Counter(p.document_type for p in population)
    share = {t: types[t] / len(population) for t in DocumentType}
    assert 0.45 < share[DocumentType.DRIVING_LICENCE] < 0.70
    assert 0.15 < share[DocumentType.PASSPORT] < 0.40
    assert 0.01 < share[DocumentType.NATIONAL_ID] < 0.10
    assert 0.03 < share[DocumentType.OTHER] < 0.15
    countries = Counter(p.issuing_country for p in population)
    assert 0.85 < countries["GBR"] / len(population) < 0.99
    assert len(countries) >= 8


def test_document_numbers_have_their_formats(population: list[Identity]) -> None:
    for p in population:
        if p.document_type is DocumentType.PASSPORT and p.issuing_country == "GBR":
            assert re.fullmatch(r"[0-9]{9}", p.document_number)
        elif p.document_type is DocumentType.DRIVING_LICENCE:
            assert re.fullmatch(r"[A-Z9]{5}[0-9]{6}[A-Z9]{2}9[A-Z]{2}", p.document_number)
            assert p.address
            assert p.postcode
            assert UK_POSTCODE.match(p.postcode)
        else:
            assert p.address is None
            assert p.postcode is None
        assert p.photo is None


def test_names(population: list[Identity]) -> None:
    n = len(population)
    with_middle = sum(len(p.given_names.split()) > 1 for p in population) / n
    assert 0.33 < with_middle < 0.47
    double = sum(len(re.split(r"[- ]", p.surname)) > 1 for p in population) / n
    assert 0.02 < double < 0.08
    non_ascii = sum(not (p.given_names + p.surname).isascii() for p in population) / n
    assert 0.02 < non_ascii < 0.10


def test_expiry_mostly_in_the_future(population: list[Identity]) -> None:
    expired = sum(is_expired(p, TODAY) for p in population) / len(population)
    assert 0.005 < expired < 0.05
    assert all(p.expiry_date <= TODAY + dt.timedelta(days=3660) for p in population)


def test_name_source_describes_the_population(population: list[Identity]) -> None:
    source = name_source()
    assert sum(loc.share for loc in source.locales) == pytest.approx(1.0)
    given = source.given_name_probabilities()
    surnames = source.surname_probabilities()
    assert sum(given.values()) == pytest.approx(1.0)
    assert sum(surnames.values()) == pytest.approx(1.0)
    assert all(p.given_names.split()[0] in given for p in population)
    for p in population:
        splits = [i for i, ch in enumerate(p.surname) if ch in "- "]
        assert p.surname in surnames or any(
            p.surname[:i] in surnames and p.surname[i + 1 :] in surnames for i in splits
        )
    # en_GB surnames carry Faker's weights: Smith is the commonest.
    assert max(surnames, key=surnames.__getitem__) == "Smith"
    smiths = sum(p.surname == "Smith" for p in population) / len(population)
    assert smiths == pytest.approx(surnames["Smith"], abs=0.01)


@pytest.mark.parametrize(
    ("surname", "given", "dob", "female", "expected_prefix"),
    [
        ("Morgan", "Sarah Meredith", dt.date(1975, 1, 16), True, "MORGA751165SM9"),
        ("MacDonald", "Angus", dt.date(1988, 12, 3), False, "MCDON812038A99"),
        ("Ng", "Li Wei", dt.date(2001, 6, 30), False, "NG999006301LW9"),
        ("O'Brien-Smith", "Aoife", dt.date(1999, 10, 5), True, "OBRIE960059A99"),
    ],
)
def test_dvla_licence_number(
    surname: str, given: str, dob: dt.date, female: bool, expected_prefix: str
) -> None:
    number = dvla_licence_number(surname, given, dob, female=female, rng=random.Random(1))
    assert len(number) == 16
    assert number.startswith(expected_prefix)
    assert number[14:].isalpha()
