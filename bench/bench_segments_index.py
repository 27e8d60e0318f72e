"""Segment index: scan scoring latency and memory per segment set.

    python -m bench segments_index [--sizes 100000,1000000] [--scans 5000] [--seed 0]

For each size N, N segment sets are selected under the default budget for N
synthetic subjects and indexed; then ``--scans`` scans (synthetic customers
read with the default read-error model, one in ten of them a subject) are
matched. Reported: p50/p99 of the whole scan path (normalisation, factor
extraction, candidate look-up, exact scoring) and of the index look-up and
scoring alone, in wall-clock time and in the thread's CPU time (on a shared
machine the wall-clock p99 includes time slices lost to other processes),
the mean number of candidates, and the memory the index
allocated per set (tracemalloc around the adds; the set ids, which a node
holds anyway, counted separately).

Subjects are recombined from a pool of synthetic people (given name, surname
and date of birth from three independent draws), so that a million distinct
subjects do not need a million Faker addresses.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import sys
import time
import tracemalloc

from doorwatch.segments import (
    MatchKeys,
    SegmentIndex,
    SegmentSet,
    apply_read_errors,
    identity_keys,
    load_default_tables,
    scan_factors,
    select_segments,
    synthetic_population,
)
from doorwatch.segments._calibration import percentile

TODAY = dt.date(2026, 6, 1)


def _subjects(rng: random.Random, pool: list[MatchKeys], n: int) -> list[MatchKeys]:
    return [
        MatchKeys(
            given_name=rng.choice(pool).given_name,
            surnames=rng.choice(pool).surnames,
            date_of_birth=rng.choice(pool).date_of_birth,
            postcode="",
            document_number="",
        )
        for _ in range(n)
    ]


def run(size: int, scans: int, seed: int) -> None:
    rng = random.Random(seed)
    tables = load_default_tables()
    started = time.perf_counter()
    people = synthetic_population(rng, min(size, 100_000) + scans, today=TODAY)
    pool = [identity_keys(p) for p in people[:-scans]]
    customers = people[-scans:]
    subjects = _subjects(rng, pool, size)
    segment_sets: list[SegmentSet] = [select_segments(k, rng, tables=tables) for k in subjects]
    ids = [f"{i:016x}" for i in range(size)]
    prepared = time.perf_counter() - started

    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    index = SegmentIndex(tables)
    add_started = time.perf_counter()
    for set_id, segments in zip(ids, segment_sets, strict=True):
        index.add(set_id, segments)
    add_seconds = time.perf_counter() - add_started
    gc.collect()
    index_bytes = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.stop()
    id_bytes = sum(sys.getsizeof(i) for i in ids)

    # A long-lived node would do the same once its index is loaded: move the
    # index out of the collector's young generations so scans do not pay for it.
    gc.freeze()
    # one scan in ten is a subject (their own identity, misread)
    scan_people: list[MatchKeys] = []
    for person in customers:
        scan_people.append(identity_keys(apply_read_errors(person, rng)))
    for i in range(0, scans, 10):
        scan_people[i] = subjects[rng.randrange(size)]
    whole: list[float] = []
    lookup: list[float] = []
    cpu: list[float] = []
    candidates = 0
    flagged = 0
    for n, keys in enumerate(scan_people):
        c0 = time.thread_time()
        t0 = time.perf_counter()
        scan = scan_factors(keys)
        t1 = time.perf_counter()
        found = index.match(scan)
        t2 = time.perf_counter()
        cpu.append(time.thread_time() - c0)
        whole.append(t2 - t0)
        lookup.append(t2 - t1)
        if n % 10 != 0:
            candidates += len(index.candidates(scan))
            flagged += bool(found)
    stats = index.stats()
    innocent = scans - len(range(0, scans, 10))
    print(
        f"sets {size:>9,}  templates {stats.templates:>4}  buckets {stats.buckets:>9,}  "
        f"(prepared in {prepared:.0f} s, indexed in {add_seconds:.1f} s)"
    )
    print(
        f"  scan path  p50 {percentile(whole, 50) * 1e3:.3f} ms"
        f"  p99 {percentile(whole, 99) * 1e3:.3f} ms"
        f"   look-up+scoring p50 {percentile(lookup, 50) * 1e3:.3f} ms"
        f"  p99 {percentile(lookup, 99) * 1e3:.3f} ms"
    )
    print(
        f"  scan path CPU time (immune to other processes on the machine)"
        f"  p50 {percentile(cpu, 50) * 1e3:.3f} ms  p99 {percentile(cpu, 99) * 1e3:.3f} ms"
    )
    print(
        f"  memory     {index_bytes / size:.0f} B per set in the index"
        f" (+ {id_bytes / size:.0f} B for its id string)"
    )
    print(
        f"  innocents  {candidates / innocent:.2f} candidates per scan, "
        f"{flagged / innocent:.4f} flagged per scan"
    )


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench segments_index", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000", help="comma-separated set counts")
    parser.add_argument("--scans", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for size in (int(s) for s in args.sizes.split(",")):
        run(size, args.scans, args.seed)
