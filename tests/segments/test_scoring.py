"""Fellegi-Sunter scoring of a scan against a segment set."""

from __future__ import annotations

import datetime as dt
import math
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import (
    DEFAULT_THRESHOLD,
    Factor,
    SegmentIndex,
    load_default_tables,
    match_keys,
    scan_factors,
    score,
    select_segments,
)

TABLES = load_default_tables()


def scan(given_names: str, surname: str, dob: dt.date) -> dict[str, tuple[str, ...]]:
    return scan_factors(match_keys(given_names=given_names, surname=surname, date_of_birth=dob))


JOHN = scan("John", "Smith", dt.date(1990, 4, 7))


def test_agreement_and_disagreement_weights_add_up() -> None:
    factors = [Factor("mm", "04"), Factor("dd", "07"), Factor("yy", "91")]
    m_agree = [TABLES.weights(f.code, f.value) for f in factors]
    expected = m_agree[0][0] + m_agree[1][0] + m_agree[2][1]
    assert score(factors, JOHN, TABLES) == expected
    u = TABLES.frequency("mm", "04")
    m = TABLES.agreement("mm")
    assert m_agree[0][0] == math.log2(m / u)


def test_a_missing_field_adds_nothing() -> None:
    no_postcode = score([Factor("pa", "SW"), Factor("mm", "04")], JOHN, TABLES)
    assert no_postcode == TABLES.weights("mm", "04")[0]


def test_a_rare_value_is_stronger_evidence_than_a_common_one() -> None:
    common = scan("John", "Smith", dt.date(1990, 4, 7))
    rare = scan("John", "Yzerman", dt.date(1990, 4, 7))
    assert TABLES.frequency("s12", common["s12"][0]) > TABLES.frequency("s12", rare["s12"][0])
    common_score = score([Factor("s12", common["s12"][0])], common, TABLES)
    rare_score = score([Factor("s12", rare["s12"][0])], rare, TABLES)
    assert 0 < common_score < rare_score


def test_any_scan_variant_may_agree() -> None:
    double = scan("Mary", "Jones-Williams", dt.date(2001, 11, 30))
    agree, _ = TABLES.weights("s12", "WI")
    assert score([Factor("s12", "WI")], double, TABLES) == agree


@settings(max_examples=200, deadline=None)
@given(
    given_names=st.text(
        alphabet=st.characters(categories=["L", "Zs", "Pd"]), min_size=1, max_size=30
    ),
    surname=st.text(alphabet=st.characters(categories=["L", "Zs", "Pd"]), min_size=1, max_size=30),
    dob=st.dates(dt.date(1920, 1, 1), dt.date(2008, 12, 31)),
    seed=st.integers(0, 2**32),
)
def test_any_identity_matches_its_own_segments(
    given_names: str, surname: str, dob: dt.date, seed: int
) -> None:
    keys = match_keys(given_names=given_names, surname=surname, date_of_birth=dob)
    segments = select_segments(keys, random.Random(seed), tables=TABLES)
    assert score(segments.factors, scan_factors(keys), TABLES) >= DEFAULT_THRESHOLD
    index = SegmentIndex(TABLES)
    index.add("own", segments)
    assert [sid for sid, _ in index.match(scan_factors(keys))] == ["own"]
