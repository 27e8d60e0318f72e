"""read_mrz: the fields of an MRZ whose check digits disagree, and the verdict."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import Identity, InvalidMRZ, format_mrz, parse_mrz, read_mrz
from tests.cli.recordings.scanner_streams import BERG, DUBOIS, QUILL, SPECIMEN

TODAY = dt.date(2026, 11, 23)
LONG_NUMBER_TD1 = format_mrz(
    Identity(
        document_type="national_id",
        document_number="B12345678901",
        given_names="ANNA",
        surname="PEETERS",
        date_of_birth=dt.date(1988, 3, 9),
        expiry_date=dt.date(2031, 3, 9),
        issuing_country="BEL",
    ),
    layout="TD1",
)
# (document, [(line, column) of every check digit])
CHECK_DIGITS = [
    (QUILL, [(1, 9), (1, 19), (1, 27), (1, 43)]),
    (SPECIMEN, [(1, 9), (1, 19), (1, 27), (1, 42), (1, 43)]),
    (DUBOIS, [(1, 9), (1, 19), (1, 27), (1, 35)]),
    (BERG, [(0, 14), (1, 6), (1, 14), (1, 29)]),
    (LONG_NUMBER_TD1, [(0, 18), (1, 6), (1, 14), (1, 29)]),
]


def _replace(mrz: str, line: int, column: int, ch: str) -> str:
    lines = mrz.split("\n")
    lines[line] = lines[line][:column] + ch + lines[line][column + 1 :]
    return "\n".join(lines)


@pytest.mark.parametrize(("mrz", "positions"), CHECK_DIGITS)
def test_a_wrong_check_digit_keeps_the_fields_and_says_so(
    mrz: str, positions: list[tuple[int, int]]
) -> None:
    good = read_mrz(mrz, today=TODAY)
    assert good.check_digits_ok
    assert good.problems == ()
    assert good.identity == parse_mrz(mrz, today=TODAY)
    for line, column in positions:
        for wrong in ("5", "A"):
            if mrz.split("\n")[line][column] == wrong:
                continue
            bad = read_mrz(_replace(mrz, line, column, wrong), today=TODAY)
            assert not bad.check_digits_ok, (line, column)
            assert bad.identity == good.identity, (line, column)
            assert bad.problems
            assert all("check digit" in p.rule for p in bad.problems)


def test_a_misread_field_comes_back_as_read_with_the_verdict() -> None:
    misread = read_mrz(QUILL.replace("9005178", "9005118"), today=TODAY)
    assert not misread.check_digits_ok
    assert misread.identity.date_of_birth == dt.date(1990, 5, 11)
    assert [str(p) for p in misread.problems] == [
        "line 2: birth date check digit does not match",
        "line 2: composite check digit does not match",
    ]


@pytest.mark.parametrize(
    "mrz",
    [
        "not an mrz",
        _replace(QUILL, 1, 15, "O"),  # a letter in the birth date, and a check digit wrong
        _replace(_replace(QUILL, 1, 19, "1"), 0, 3, "1"),  # a check digit and a bad state
        # No name at all (a lone name is a surname, so only an empty field is refused).
        QUILL.replace("QUILLFEATHERINGTON<<ADA<MAY", "<" * 27),
    ],
)
def test_anything_but_check_digits_is_still_refused(mrz: str) -> None:
    with pytest.raises(InvalidMRZ):
        read_mrz(mrz, today=TODAY)


_MRZ_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<"


@settings(max_examples=400, deadline=None)
@given(
    document=st.sampled_from([QUILL, SPECIMEN, DUBOIS, BERG, LONG_NUMBER_TD1]),
    changes=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 43), st.sampled_from(_MRZ_CHARS)),
        max_size=4,
    ),
)
def test_a_damaged_mrz_is_read_or_refused_never_a_crash(
    document: str, changes: list[tuple[int, int, str]]
) -> None:
    lines = document.split("\n")
    for line, column, ch in changes:
        line %= len(lines)
        column %= len(lines[line])
        lines[line] = lines[line][:column] + ch + lines[line][column + 1 :]
    try:
        reading = read_mrz("\n".join(lines), today=TODAY)
    except InvalidMRZ as exc:
        problems = exc.problems
        assert problems
        return
    assert reading.check_digits_ok == (not reading.problems)
    if reading.check_digits_ok:
        assert reading.identity == parse_mrz("\n".join(lines), today=TODAY)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600))
def test_any_text_is_read_or_refused(text: str) -> None:
    try:
        read_mrz(text, today=TODAY)
    except InvalidMRZ as exc:
        problems = exc.problems
        assert problems
