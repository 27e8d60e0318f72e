"""The key filter in front of the candidate index: it may say "maybe", never a wrong "no"."""

from __future__ import annotations

import random
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from doorwatch.segments import Factor, SegmentIndex, SegmentSet, load_default_tables
from doorwatch.segments._keyfilter import MIN_BITS, KeyFilter, Lanes

TABLES = load_default_tables()
CODES = ("dd", "g1", "g12", "mm", "s1", "s12", "yy")
PARTS = (("g12", "yy"), ("s1",), ("dd", "mm", "s12", "yy"), ("g1", "mm"), ("g12", "s12", "yy"))
LANES = Lanes(CODES, PARTS)


def held_key(part: tuple[str, ...], scan: dict[str, str]) -> tuple[str, ...] | None:
    if not all(code in scan for code in part):
        return None
    return tuple(scan[code] for code in part)


def flagged(f: KeyFilter, scan: dict[str, str]) -> set[int]:
    return set(f.flagged([scan.get(code) for code in CODES], LANES))


values = st.sampled_from(["A", "B", "JO", "90", "04"])
scans = st.dictionaries(st.sampled_from(CODES), values, min_size=1)


@settings(max_examples=200, deadline=None)
@given(held=st.lists(scans, max_size=30), probes=st.lists(scans, min_size=1, max_size=10))
def test_a_part_holding_the_scans_key_is_always_flagged(
    held: list[dict[str, str]], probes: list[dict[str, str]]
) -> None:
    added = KeyFilter()
    keys: dict[tuple[str, ...], set[tuple[str, ...]]] = {part: set() for part in PARTS}
    for scan in held:
        for part in PARTS:
            key = held_key(part, scan)
            if key is not None and key not in keys[part]:
                keys[part].add(key)
                added.add(part, key)
    rebuilt = KeyFilter.rebuilt(added.keys, [(p, list(k)) for p, k in keys.items()])
    for scan in [*held, *probes]:
        must = {i for i, part in enumerate(PARTS) if held_key(part, scan) in keys[part]}
        assert must <= flagged(added, scan)
        assert must <= flagged(rebuilt, scan)
    assert rebuilt.keys == added.keys == sum(len(k) for k in keys.values())


def test_a_key_counted_in_more_than_255_times_is_still_flagged_after_all_but_one_go() -> None:
    f = KeyFilter()
    scan = {"s1": "A"}
    for _ in range(300):
        f.add(("s1",), ("A",))
    for _ in range(299):
        f.discard(("s1",), ("A",))
    assert PARTS.index(("s1",)) in flagged(f, scan)


def test_keys_counted_out_are_no_longer_flagged() -> None:
    f = KeyFilter()
    rng = random.Random(3)
    keys = {
        ("".join(rng.choices(string.ascii_uppercase, k=2)), str(rng.randrange(100)))
        for _ in range(500)
    }
    for key in keys:
        f.add(("g12", "yy"), key)
    for key in keys:
        f.discard(("g12", "yy"), key)
    assert f.keys == 0
    assert not any(flagged(f, {"g12": g, "yy": y}) for g, y in keys)


def seg(*pairs: tuple[str, str]) -> SegmentSet:
    return SegmentSet(tuple(sorted(Factor(c, v) for c, v in pairs)), TABLES.joint_bits(pairs))


def test_candidates_stay_exact_when_the_filter_is_rebuilt_larger() -> None:
    rng = random.Random(11)
    shapes = (("g12", "yy"), ("s12", "mm", "dd"), ("g1", "s1", "yy", "mm", "dd"))
    index = SegmentIndex(TABLES, threshold=-1000.0)
    people: dict[str, dict[str, str]] = {}
    # More keys than the smallest table takes (one per 16 slots): it is rebuilt at least once.
    n = (1 << MIN_BITS) // 16 + 2000
    for i in range(n):
        person = {
            "g1": rng.choice("ABCDEFGH"),
            "g12": rng.choice("ABCDEFGH") + rng.choice(string.ascii_uppercase),
            "s1": rng.choice("ABCDEFGH"),
            "s12": rng.choice("ABCDEFGH") + rng.choice(string.ascii_uppercase),
            "yy": f"{rng.randrange(100):02d}",
            "mm": f"{rng.randrange(1, 13):02d}",
            "dd": f"{rng.randrange(1, 29):02d}",
        }
        shape = shapes[i % len(shapes)]
        index.add(f"id{i}", seg(*((code, person[code]) for code in shape)))
        people[f"id{i}"] = person
    assert index._filter.keys > (1 << MIN_BITS) // 16
    assert len(index._filter._table) > 1 << MIN_BITS  # it grew
    gone = rng.sample(sorted(people), n // 2)
    for set_id in gone:
        index.remove(set_id)
    for set_id in rng.sample(sorted(people), 300):
        shown = {code: (value,) for code, value in people[set_id].items()}
        expected = {
            other
            for other in index._sets
            if all((v,) == shown[c] for c, v in zip(*index._sets[other], strict=True))
        }
        assert index.candidates(shown) == expected
        assert (set_id in expected) == (set_id not in gone)
