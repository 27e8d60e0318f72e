"""Segment selection under a privacy budget, and the segment set's wire form."""

from __future__ import annotations

import datetime as dt
import hashlib
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
    SelectionStream,
    budget_bits_for_floor,
    identity_keys,
    load_default_tables,
    load_disclosure_tables,
    match_keys,
    select_segments,
    selection_identity,
    synthetic_population,
)

TABLES = load_default_tables()
UK = load_disclosure_tables()
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


# -- deterministic selection (issue 14) ---------------------------------------------------------


def _reference_shuffle(seed: bytes, items: list[int]) -> list[int]:
    """The stream as specified, written out again: BLAKE2b-512 blocks keyed by the seed
    (person "dw-segsel-v1", counter as 8 big-endian bytes), 8-byte words, rejection
    sampling, Fisher-Yates from the end."""
    words: list[int] = []
    counter = 0

    def below(n: int) -> int:
        nonlocal counter
        limit = (1 << 64) - (1 << 64) % n
        while True:
            if not words:
                block = hashlib.blake2b(
                    counter.to_bytes(8, "big"), key=seed, person=b"dw-segsel-v1"
                ).digest()
                counter += 1
                words.extend(int.from_bytes(block[i : i + 8], "big") for i in range(0, 64, 8))
            x = words.pop(0)
            if x < limit:
                return x % n

    out = list(items)
    for i in range(len(out) - 1, 0, -1):
        j = below(i + 1)
        out[i], out[j] = out[j], out[i]
    return out


@settings(max_examples=100, deadline=None)
@given(seed=st.binary(min_size=32, max_size=32), n=st.integers(0, 40), rounds=st.integers(1, 5))
def test_the_selection_stream_is_the_specified_one(seed: bytes, n: int, rounds: int) -> None:
    """Not random.Random: every venue, whatever its Python, makes the same choices."""
    stream = SelectionStream(seed)
    expected = _reference_shuffle(seed, list(range(n)) * rounds)
    items = list(range(n)) * rounds
    stream.shuffle(items)
    assert items == expected


def test_the_same_seed_selects_the_same_set_and_another_seed_may_not() -> None:
    seeds = [hashlib.blake2b(bytes([i]), digest_size=32).digest() for i in range(20)]
    picks = {str(select_segments(JOHN, SelectionStream(s), tables=UK).to_wire()) for s in seeds}
    assert len(picks) > 1
    for s in seeds[:5]:
        assert select_segments(JOHN, SelectionStream(s), tables=UK) == select_segments(
            JOHN, SelectionStream(s), tables=UK
        )


def test_a_short_seed_is_refused() -> None:
    with pytest.raises(BudgetError, match="seed"):
        SelectionStream(b"short")


def test_the_selection_identity_is_name_and_date_of_birth_only() -> None:
    base = match_keys(
        given_names="Jordan", surname="Pemberton-Hale", date_of_birth=dt.date(2004, 3, 9)
    )
    same = [
        match_keys(
            given_names="Jordan Alexander",
            surname="Pemberton-Hale",
            date_of_birth=dt.date(2004, 3, 9),
            postcode="LS6 2AB",
            document_number="PEMBE403094J99AB",
        ),
        match_keys(
            given_names="JORDAN", surname="pemberton hale", date_of_birth=dt.date(2004, 3, 9)
        ),
    ]
    for keys in same:
        assert selection_identity(keys) == selection_identity(base)
    other = [
        match_keys(given_names="Jordan", surname="Pemberton-Hale", date_of_birth=None),
        match_keys(given_names="Jordan", surname="Pemberton", date_of_birth=dt.date(2004, 3, 9)),
        match_keys(
            given_names="Jordan", surname="Pemberton-Hale", date_of_birth=dt.date(2004, 3, 10)
        ),
    ]
    for keys in other:
        assert selection_identity(keys) != selection_identity(base)


def test_the_disclosure_tables_describe_the_uk_not_the_door() -> None:
    """At the door a third of the customers were born 2004-2007; in the UK about 5%."""
    door = sum(TABLES.frequency("yy", f"{y:02d}") for y in range(4, 8))
    uk = sum(UK.frequency("yy", f"{y:02d}") for y in range(4, 8))
    assert door > 0.3
    assert 0.04 < uk < 0.07
    # Each listed English surname at its own UK share, not renormalised to all surnames.
    assert UK.frequency("s12", "SN") < TABLES.frequency("s12", "SN") * 0.8
    assert UK.source.startswith("doorwatch build_tables (disclosure)")
