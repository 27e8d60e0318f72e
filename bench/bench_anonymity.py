"""The anonymity set K of alerts on synthetic subjects, before and after issue 14.

    python -m bench anonymity [--subjects 5000] [--seed 0]

Subjects are people at a venue door (``synthetic_people``: median age about 23).
For each subject:

* before: a random selection measured with the door-age tables (what ``alert.create``
  did and claimed), and the same set measured against the UK (the disclosure tables:
  the K it really had); and the union of two and three independent random selections
  (a person alerted two or three times), measured against the UK;
* after: the selection ``alert.create`` makes now (a ``SelectionStream`` seeded from
  the subject's name and date of birth, bits from the disclosure tables); any number
  of alerts on the subject disclose this one set.

Prints the median and 10th percentile of K for all subjects and for those under 30,
and the share of subjects expected to be unique in the UK (K < 1). For a union of
sets, two positions of one field count as the more specific one only (an upper bound
on K: the truth is at or below it).
"""

from __future__ import annotations

import argparse
import hashlib
import random

from doorwatch.segments import (
    CATALOGUE,
    TABLES_REFERENCE_DATE,
    UK_POPULATION,
    FrequencyTable,
    SelectionStream,
    age_on,
    identity_keys,
    load_default_tables,
    load_disclosure_tables,
    select_segments,
    selection_identity,
    synthetic_people,
)
from doorwatch.segments._calibration import percentile


def _k(tables: FrequencyTable, factors: set[tuple[str, str]]) -> float:
    """K of what a union of sets discloses. Two positions of one field (dd and d1, g12
    and g34) are correlated: per field only the most specific is counted, so this K is
    an upper bound (the union discloses at least this much)."""
    best: dict[object, tuple[str, str]] = {}
    for code, value in factors:
        field = CATALOGUE[code].field
        held = best.get(field)
        if held is None or tables.frequency(code, value) < tables.frequency(*held):
            best[field] = (code, value)
    return UK_POPULATION * tables.joint_frequency(sorted(best.values()))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench anonymity", description=__doc__)
    parser.add_argument("--subjects", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    door, uk = load_default_tables(), load_disclosure_tables()
    key = hashlib.blake2b(b"bench selection key", digest_size=32).digest()
    people = synthetic_people(rng, today=TABLES_REFERENCE_DATE)
    columns: dict[str, list[tuple[float, bool]]] = {
        "before, as claimed (door tables)": [],
        "before, against the UK": [],
        "before, 2 alerts, against the UK": [],
        "before, 3 alerts, against the UK": [],
        "after, any number of alerts": [],
    }
    for _ in range(args.subjects):
        person = next(people)
        keys = identity_keys(person)
        young = age_on(person, TABLES_REFERENCE_DATE) < 30
        draws = [select_segments(keys, rng, tables=door) for _ in range(3)]
        sets = [{(f.code, f.value) for f in s.factors} for s in draws]
        columns["before, as claimed (door tables)"].append((draws[0].anonymity_set, young))
        columns["before, against the UK"].append((_k(uk, sets[0]), young))
        columns["before, 2 alerts, against the UK"].append((_k(uk, sets[0] | sets[1]), young))
        union = sets[0] | sets[1] | sets[2]
        columns["before, 3 alerts, against the UK"].append((_k(uk, union), young))
        seed = hashlib.blake2b(selection_identity(keys), key=key, digest_size=32).digest()
        after = select_segments(keys, SelectionStream(seed), tables=uk, prefer=door)
        columns["after, any number of alerts"].append((after.anonymity_set, young))
    print(f"{args.subjects:,} synthetic door subjects (seed {args.seed}), K in 67 million")
    print(f"{'':36} {'median':>8} {'p10':>8} {'<30 med':>8} {'<30 p10':>8} {'K<1':>6}")
    for name, rows in columns.items():
        ks = [k for k, _ in rows]
        young_ks = [k for k, y in rows if y]
        unique = sum(1 for k in ks if k < 1) / len(ks)
        print(
            f"{name:36} {percentile(ks, 50):8.1f} {percentile(ks, 10):8.1f}"
            f" {percentile(young_ks, 50):8.1f} {percentile(young_ks, 10):8.1f} {unique:6.1%}"
        )
    share = sum(1 for _, y in columns["after, any number of alerts"] if y) / args.subjects
    print(f"subjects under 30: {share:.0%}; reference date {TABLES_REFERENCE_DATE}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
