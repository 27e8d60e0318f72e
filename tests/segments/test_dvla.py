"""GB driving licence numbers: the DVLA layout, checked against the card."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from doorwatch.segments import (
    PartialDate,
    check_driving_licence,
    dvla_licence_number,
    parse_dvla_number,
)

# The DVLA's layout as described on Wikipedia ("Driving licence in the United
# Kingdom", driver number): the example licence of Sarah Meredith Morgan, born
# 11 March 1976, number MORGA753116SM9IJ, issue number 35.
MORGAN = {
    "surname": "Morgan",
    "given_names": "Sarah Meredith",
    "date_of_birth": dt.date(1976, 3, 11),
}


def test_the_published_example_parses() -> None:
    number = parse_dvla_number("MORGA753116SM9IJ 35")
    assert number is not None
    assert (number.surname, number.decade, number.month, number.day) == ("MORGA", 7, 3, 11)
    assert (number.female, number.year_digit, number.initials, number.issue) == (
        True,
        6,
        "SM",
        "35",
    )
    short = parse_dvla_number("MORGA753116SM9IJ")
    assert short is not None
    assert short.issue is None


@pytest.mark.parametrize(
    "text",
    ["MORGA753116SM9IJ", "MORGA753116SM9IJ35", "morga 753116 sm9ij 35", "MORGA 753116 SM9IJ"],
)
def test_with_or_without_the_issue_number_and_spaces(text: str) -> None:
    assert check_driving_licence(text, sex="F", **MORGAN) == ()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "changes", "sex", "wrong"),
    [
        ("MORGA753116SM9IJ", {"surname": "Morris"}, "F", ("surname",)),
        ("MORGA753116SM9IJ", {"surname": "Organ"}, "F", ("surname",)),
        ("MORGA753116SM9IJ", {"given_names": "Sarah"}, "F", ("given_names",)),
        ("MORGA753116SM9IJ", {"given_names": "Mary Sarah"}, "F", ("given_names",)),
        ("MORGA753116SM9IJ", {"date_of_birth": dt.date(1976, 3, 12)}, "F", ("date_of_birth",)),
        ("MORGA753116SM9IJ", {"date_of_birth": dt.date(1986, 3, 11)}, "F", ("date_of_birth",)),
        ("MORGA753116SM9IJ", {"date_of_birth": dt.date(1977, 3, 11)}, "F", ("date_of_birth",)),
        ("MORGA753116SM9IJ", {}, "M", ("sex",)),
        ("MORGA703116SM9IJ", {}, "F", ("sex",)),  # month 03: a man's number
        ("MORGA753116SM9IJ", {}, "X", ()),
        ("MORGA753116SM9IJ", {}, None, ()),
        # Partial dates of birth: what is known must agree, nothing else is asked.
        ("MORGA753116SM9IJ", {"date_of_birth": PartialDate(1976, None, None)}, "F", ()),
        ("MORGA753116SM9IJ", {"date_of_birth": PartialDate(1976, 3, None)}, "F", ()),
        (
            "MORGA753116SM9IJ",
            {"date_of_birth": PartialDate(1976, 4, None)},
            "F",
            ("date_of_birth",),
        ),
        # Not a DVLA number at all.
        ("MORGA753116SM9I", {}, "F", ("document_number",)),
        ("MORGA793116SM9IJ", {}, "F", ("document_number",)),  # month 93
        ("MOR9A753116SM9IJ", {}, "F", ("document_number",)),  # a letter after the padding
        ("MORGA753116SM9IJ 3", {}, "F", ("document_number",)),
        # Northern Ireland (DVA): eight digits, nothing encoded.
        ("12345678", {}, "F", ()),
    ],
)
def test_inconsistencies_name_what_disagrees(
    text: str, changes: dict[str, object], sex: str | None, wrong: tuple[str, ...]
) -> None:
    card = {**MORGAN, **changes}
    assert check_driving_licence(text, sex=sex, **card) == wrong  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("surname", "number"),
    [
        # Mac is written Mc, as the DVLA does; the surname as written is accepted too.
        ("MacDonald", "MCDON610015AB9XY"),
        ("McDonald", "MCDON610015AB9XY"),
        ("Mac Donald", "MCDON610015AB9XY"),
        ("MacDonald", "MACDO610015AB9XY"),
        # Short surnames are padded with 9; particles and punctuation are letters only.
        ("Ng", "NG999610015AB9XY"),
        ("O'Brien", "OBRIE610015AB9XY"),
        ("Smith-Jones", "SMITH610015AB9XY"),
    ],
)
def test_surname_codes(surname: str, number: str) -> None:
    assert (
        check_driving_licence(
            number,
            surname=surname,
            given_names="Alan Bruce",
            date_of_birth=dt.date(1965, 10, 1),
            sex="M",
        )
        == ()
    )


def test_no_forenames_is_99() -> None:
    assert (
        check_driving_licence(
            "AHMAD610015999XY",
            surname="Ahmadi",
            given_names="",
            date_of_birth=dt.date(1965, 10, 1),
        )
        == ()
    )


def test_every_synthetic_licence_is_consistent() -> None:
    rng = random.Random(5)
    for i in range(300):
        born = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(30000))
        female = i % 2 == 0
        surname = rng.choice(["MacLeod", "Smith", "Ng", "Pemberton-Hale", "O'Neill"])
        given = rng.choice(["", "Ann", "Jo Lee", "Mary Ann Rose"])
        number = dvla_licence_number(surname, given, born, female=female, rng=rng)
        assert (
            check_driving_licence(
                number,
                surname=surname,
                given_names=given,
                date_of_birth=born,
                sex="F" if female else "M",
            )
            == ()
        ), (surname, given, born, number)
