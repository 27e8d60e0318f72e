"""The candidate index: look-up, exact scoring, and removal without trace."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import (
    DuplicateSegmentSetError,
    Factor,
    SegmentIndex,
    SegmentSet,
    UnknownSegmentSetError,
    _keyfilter,
    identity_keys,
    load_default_tables,
    match_keys,
    scan_factors,
    select_segments,
    synthetic_population,
)
from doorwatch.segments._keyfilter import KeyFilter

TABLES = load_default_tables()
PEOPLE = synthetic_population(random.Random(5), 120, today=dt.date(2026, 6, 1))


def seg(*pairs: tuple[str, str]) -> SegmentSet:
    factors = tuple(sorted(Factor(c, v) for c, v in pairs))
    return SegmentSet(factors, TABLES.joint_bits(pairs))


def scan(given_names: str, surname: str, dob: dt.date) -> dict[str, tuple[str, ...]]:
    return scan_factors(match_keys(given_names=given_names, surname=surname, date_of_birth=dob))


def snapshot(index: SegmentIndex) -> object:
    """Every piece of state the index holds, with bucket order normalised.

    Keys and values as plain tuples: a long set's values (which its bucket may
    be keyed by) compare by their look-up positions only.
    """
    parts = {
        codes: {
            tuple(values): sorted([held] if isinstance(held, str) else held)
            for values, held in b.items()
        }
        for codes, b in index._parts.items()
    }
    sets = {set_id: (codes, tuple(values)) for set_id, (codes, values) in index._sets.items()}
    # The key filter's counts too: a removed set's keys are counted out.
    counts = bytes(index._filter._table)
    return (sets, dict(index._templates), dict(index._shared), parts, counts)


def test_match_finds_agreeing_sets_best_first() -> None:
    index = SegmentIndex(TABLES)
    index.add("a", seg(("g12", "JO"), ("yy", "90"), ("mm", "04")))
    index.add("b", seg(("s12", "SN"), ("yy", "90"), ("mm", "04"), ("dd", "07")))
    index.add("c", seg(("g12", "JO"), ("yy", "91"), ("mm", "04")))
    found = index.match(scan("John", "Smith", dt.date(1990, 4, 7)))
    assert [sid for sid, _ in found] == ["b", "a"]
    assert found[0][1] > found[1][1] >= index.threshold
    assert index.match(scan("Peter", "Pan", dt.date(1980, 1, 1))) == []


def test_threshold_filters_matches() -> None:
    index = SegmentIndex(TABLES)
    index.add("a", seg(("g12", "JO"), ("yy", "90"), ("mm", "04")))
    john = scan("John", "Smith", dt.date(1990, 4, 7))
    (only,) = index.match(john)
    assert index.match(john, threshold=only[1] + 0.01) == []


def test_pigeonhole_parts_find_sets_with_one_disagreement() -> None:
    strict = SegmentIndex(TABLES)
    loose = SegmentIndex(TABLES, max_disagreements=1, threshold=-100.0)
    segments = seg(("g12", "JO"), ("yy", "90"), ("mm", "04"), ("dd", "07"))
    strict.add("a", segments)
    loose.add("a", segments)
    misread = scan("John", "Smith", dt.date(1990, 4, 8))
    assert strict.candidates(misread) == set()
    assert loose.candidates(misread) == {"a"}
    assert (
        loose.match(misread)[0][1] < strict.match(scan("John", "Smith", dt.date(1990, 4, 7)))[0][1]
    )


def test_duplicate_and_unknown_ids_are_errors() -> None:
    index = SegmentIndex(TABLES)
    index.add("a", seg(("g12", "JO")))
    with pytest.raises(DuplicateSegmentSetError):
        index.add("a", seg(("g12", "JO")))
    with pytest.raises(UnknownSegmentSetError):
        index.remove("b")
    assert "a" in index
    assert len(index) == 1


@settings(max_examples=60, deadline=None)
@given(
    chosen=st.lists(st.integers(0, len(PEOPLE) - 1), min_size=1, max_size=25),
    victim=st.integers(0, 24),
    k=st.integers(0, 2),
    seed=st.integers(0, 2**32),
)
def test_removing_a_set_removes_every_trace(
    chosen: list[int], victim: int, k: int, seed: int
) -> None:
    rng = random.Random(seed)
    sets = [
        (f"id{n}", select_segments(identity_keys(PEOPLE[i]), rng, tables=TABLES))
        for n, i in enumerate(chosen)
    ]
    gone = sets[victim % len(sets)]
    full = SegmentIndex(TABLES, max_disagreements=k)
    without = SegmentIndex(TABLES, max_disagreements=k)
    for set_id, segments in sets:
        full.add(set_id, segments)
        if set_id != gone[0]:
            without.add(set_id, segments)
    full.remove(gone[0])
    assert snapshot(full) == snapshot(without)
    assert gone[0] not in full
    for set_id, _ in sets:
        if set_id != gone[0]:
            full.remove(set_id)
    assert snapshot(full) == snapshot(SegmentIndex(TABLES))
    assert full.stats().buckets == 0
    assert full.stats().templates == 0


def test_every_subject_is_a_candidate_for_its_own_scan() -> None:
    rng = random.Random(1)
    index = SegmentIndex(TABLES)
    for n, person in enumerate(PEOPLE):
        index.add(f"p{n}", select_segments(identity_keys(person), rng, tables=TABLES))
    for n, person in enumerate(PEOPLE):
        assert f"p{n}" in {sid for sid, _ in index.match(scan_factors(identity_keys(person)))}


def agreeing(index: SegmentIndex, scan: dict[str, tuple[str, ...]], k: int) -> set[str]:
    """The definition of a candidate, by brute force: agrees wholly on one of its k + 1 parts."""
    out = set()
    for set_id in index._sets:
        codes, values = index._sets[set_id]
        n = min(k + 1, len(codes))
        if any(
            all(v in scan.get(c, ()) for c, v in zip(codes[i::n], values[i::n], strict=True))
            for i in range(n)
        ):
            out.add(set_id)
    return out


def test_a_long_template_is_found_only_when_it_agrees_on_every_position() -> None:
    index = SegmentIndex(TABLES, threshold=-1000.0)
    five = seg(("g12", "JO"), ("s1", "S"), ("yy", "90"), ("mm", "04"), ("dd", "07"))
    four = seg(("g12", "JO"), ("s1", "S"), ("mm", "04"), ("dd", "07"))
    index.add("five", five)
    index.add("four", four)
    # The five-position set is looked up with the four-position one ...
    assert index.stats().parts == 1
    # ... yet a scan that differs on the position its look-up leaves out does not find it.
    assert index.candidates(scan("John", "Smith", dt.date(1991, 4, 7))) == {"four"}
    assert index.candidates(scan("John", "Smith", dt.date(1990, 4, 7))) == {"five", "four"}
    assert {sid for sid, _ in index.match(scan("John", "Smith", dt.date(1991, 4, 7)))} == {"four"}
    # A double surname offers several values at a position: any of them agrees.
    assert index.candidates(scan("John", "Jones-Smith", dt.date(1990, 4, 7))) == {"five", "four"}
    index.remove("four")
    assert index.candidates(scan("John", "Smith", dt.date(1990, 4, 7))) == {"five"}


def test_a_set_with_two_positions_left_out_must_agree_on_both() -> None:
    index = SegmentIndex(TABLES, threshold=-1000.0)
    six = seg(("g1", "J"), ("g12", "JO"), ("s1", "S"), ("yy", "90"), ("mm", "04"), ("dd", "07"))
    index.add("six", six)
    # Looked up on four positions; the birth year and month are checked after.
    assert index.stats().parts == 1
    assert index.candidates(scan("John", "Smith", dt.date(1990, 4, 7))) == {"six"}
    assert index.candidates(scan("John", "Smith", dt.date(1991, 4, 7))) == set()
    assert index.candidates(scan("John", "Smith", dt.date(1990, 5, 7))) == set()
    assert index.candidates(scan("John", "Jones-Smith", dt.date(1990, 5, 7))) == set()
    assert index.candidates(scan("John", "Jones-Smith", dt.date(1990, 4, 7))) == {"six"}


def test_removing_a_one_position_set_that_shares_a_part_bucket_keeps_the_other() -> None:
    # With k = 1, set b's second part and set a's whole template are the same bucket.
    index = SegmentIndex(TABLES, threshold=-1000.0, max_disagreements=1)
    index.add("b", seg(("g23", "HN"), ("s1", "S")))
    index.add("a", seg(("s1", "S")))
    index.remove("a")
    assert index.candidates({"s1": ("S",)}) == {"b"}
    index.remove("b")
    assert index.stats().buckets == 0


@settings(max_examples=30, deadline=None)
@given(
    chosen=st.lists(st.integers(0, len(PEOPLE) - 1), min_size=1, max_size=40),
    scanned=st.lists(st.integers(0, len(PEOPLE) - 1), min_size=1, max_size=10),
    k=st.integers(0, 2),
    seed=st.integers(0, 2**32),
)
def test_candidates_are_exactly_the_sets_agreeing_on_a_whole_part(
    chosen: list[int], scanned: list[int], k: int, seed: int
) -> None:
    rng = random.Random(seed)
    index = SegmentIndex(TABLES, max_disagreements=k)
    for n, i in enumerate(chosen):
        index.add(f"id{n}", select_segments(identity_keys(PEOPLE[i]), rng, tables=TABLES))
    for i in scanned:
        person = PEOPLE[i]
        for surname in (person.surname, f"{person.surname}-Smith", f"Van {person.surname}"):
            shown = scan(person.given_names, surname, person.date_of_birth)
            assert index.candidates(shown) == agreeing(index, shown, k)


@pytest.mark.parametrize("gone", ["five", "other-five", "four"])
def test_removing_a_long_set_from_a_shared_bucket_leaves_no_trace(gone: str) -> None:
    sets = {
        "five": seg(("g12", "JO"), ("s1", "S"), ("yy", "90"), ("mm", "04"), ("dd", "07")),
        "other-five": seg(("g12", "JO"), ("s1", "S"), ("yy", "85"), ("mm", "04"), ("dd", "07")),
        "four": seg(("g12", "JO"), ("s1", "S"), ("mm", "04"), ("dd", "07")),
    }
    full = SegmentIndex(TABLES)
    without = SegmentIndex(TABLES)
    for set_id, segments in sets.items():
        full.add(set_id, segments)
        if set_id != gone:
            without.add(set_id, segments)
    full.remove(gone)
    assert snapshot(full) == snapshot(without)
    assert full.candidates(scan("John", "Smith", dt.date(1985, 4, 7))) == {"other-five", "four"} - {
        gone
    }


FILTER_CODES = ("g1", "g12", "g23", "s1", "s12", "s23", "yy", "mm", "dd")


def filter_value(rng: random.Random, code: str) -> str:
    if code in ("yy", "mm", "dd"):
        return rng.choice(["01", "02", "03"])
    return rng.choice(["A", "B"]) if len(code) == 2 else rng.choice(["AB", "AC", "BB"])


@pytest.mark.parametrize("table", ["tiny", "growing"])
@settings(max_examples=15, deadline=None)
@given(k=st.integers(0, 2), seed=st.integers(0, 2**32))
def test_candidates_stay_exact_with_a_saturated_or_growing_filter(
    table: str, k: int, seed: int
) -> None:
    rng = random.Random(seed)
    index = SegmentIndex(TABLES, threshold=-1e9, max_disagreements=k)
    # Tiny (two slots): every count saturates (255, never counted down). Growing:
    # rebuilt many times, and keys counted in before a rebuild are counted out after it.
    index._filter = KeyFilter(1 if table == "tiny" else 4)
    if table == "tiny":
        saved = _keyfilter.SLOTS_PER_KEY
        _keyfilter.SLOTS_PER_KEY = 0  # never grows
    try:
        live: list[str] = []
        for n in range(900):
            # Mostly adds, then mostly removals (saturated counts must never be counted down).
            if live and rng.random() < (0.3 if n < 500 else 0.9):
                index.remove(live.pop(rng.randrange(len(live))))
            else:
                shape = rng.sample(FILTER_CODES, rng.randint(1, 9))
                pairs = sorted((c, filter_value(rng, c)) for c in shape)
                factors = tuple(Factor(c, v) for c, v in pairs)
                index.add(f"id{n}", SegmentSet(factors, TABLES.joint_bits(pairs)))
                live.append(f"id{n}")
            if n % 20 == 0:
                scan = {
                    c: tuple(filter_value(rng, c) for _ in range(rng.choice([1, 1, 1, 2])))
                    for c in FILTER_CODES
                    if rng.random() > 0.15
                }
                assert index.candidates(scan) == agreeing(index, scan, k)
    finally:
        if table == "tiny":
            _keyfilter.SLOTS_PER_KEY = saved
    if table == "growing":
        assert len(index._filter._table) > 1 << 4
