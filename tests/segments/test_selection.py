"""Segment selection under a privacy budget, and the segment set's wire form."""

from __future__ import annotations

import datetime as dt
import math
import random

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import (
    CATALOGUE,
    DEFAULT_BUDGET_BITS,
    UK_POPULATION,
    BudgetError,
    MalformedSegmentsError,
    SegmentSet,
    budget_bits_for_floor,
    identity_keys,
    load_default_tables,
    match_keys,
    select_segments,
    synthetic_population,
)

TABLES = load_default_tables()
PEOPLE = synthetic_population(random.Random(11), 300, today=dt.date(2026, 6, 1))
JOHN = match_keys(given_names="John", surname="Smith", date_of_birth=dt.date(1990, 4, 7))


def test_the_default_budget_keeps_fifty_people_in_the_uk() -> None:
    assert pytest.approx(math.log2(67_000_000 / 50)) == DEFAULT_BUDGET_BITS
    assert budget_bits_for_floor(50) == pytest.approx(20.3538, abs=1e-3)
    with pytest.raises(BudgetError):
        budget_bits_for_floor(0)


@settings(max_examples=150, deadline=None)
@given(
    person=st.sampled_from(PEOPLE),
    budget=st.floats(min_value=8.0, max_value=40.0),
    seed=st.integers(0, 2**32),
)
def test_selection_never_exceeds_the_budget(person: object, budget: float, seed: int) -> None:
    keys = identity_keys(person)  # type: ignore[arg-type]
    segments = select_segments(keys, random.Random(seed), tables=TABLES, budget_bits=budget)
    assert segments.bits <= budget
    assert segments.anonymity_set >= UK_POPULATION * 2.0**-budget * (1 - 1e-9)
    recomputed = TABLES.joint_bits((f.code, f.value) for f in segments.factors)
    assert recomputed == pytest.approx(segments.bits)
    fields = [CATALOGUE[f.code].field for f in segments.factors]
    assert len(fields) == len(set(fields))


def test_selection_is_random_but_deterministic_for_a_seed() -> None:
    picks = {
        tuple(select_segments(JOHN, random.Random(seed), tables=TABLES).to_wire().__str__())
        for seed in range(20)
    }
    assert len(picks) > 1
    a = select_segments(JOHN, random.Random(5), tables=TABLES)
    b = select_segments(JOHN, random.Random(5), tables=TABLES)
    assert a == b


def test_values_are_the_subjects_own() -> None:
    segments = select_segments(JOHN, random.Random(1), tables=TABLES)
    for factor in segments.factors:
        assert factor.value == CATALOGUE[factor.code].scan_values(JOHN)[0]


def test_a_budget_too_small_for_any_factor_is_refused() -> None:
    with pytest.raises(BudgetError, match="budget"):
        select_segments(JOHN, random.Random(1), tables=TABLES, budget_bits=0.5)
    with pytest.raises(BudgetError):
        select_segments(JOHN, random.Random(1), tables=TABLES, budget_bits=float("nan"))
    nobody = match_keys(given_names="", surname="", date_of_birth=None)
    with pytest.raises(BudgetError):
        select_segments(nobody, random.Random(1), tables=TABLES)


def test_wire_round_trip_through_msgpack() -> None:
    segments = select_segments(JOHN, random.Random(3), tables=TABLES)
    packed = msgpack.packb(segments.to_wire())
    assert len(packed) < 40
    back = SegmentSet.from_wire(msgpack.unpackb(packed), tables=TABLES)
    assert back.factors == segments.factors
    assert back.bits == pytest.approx(segments.bits)
    assert back.anonymity_set == pytest.approx(segments.anonymity_set)


@pytest.mark.parametrize(
    ("wire", "rule"),
    [
        ({"g12": "JO"}, "list"),
        ([], "list"),
        ([["g12", "JO"]] * 8, "list"),
        ([["g12"]], "pair"),
        ([["zz", "JO"]], "known position"),
        ([[1, "JO"]], "known position"),
        ([["g12", "jo"]], "upper-case"),
        ([["g12", ""]], "upper-case"),
        ([["g12", "JOHNNY"]], "upper-case"),
        ([["g12", 12]], "upper-case"),
        ([["g12", "JO"], ["g1", "J"]], "more than once"),
    ],
)
def test_malformed_wire_forms_are_rejected(wire: object, rule: str) -> None:
    with pytest.raises(MalformedSegmentsError, match=rule):
        SegmentSet.from_wire(wire, tables=TABLES)
