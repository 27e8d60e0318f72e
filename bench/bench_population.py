"""Synthetic population, read errors, MRZ parsing: throughput of the segments inputs.

``python -m bench population [--people N] [--seed S]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from collections import Counter

from doorwatch.segments import (
    DEFAULT_READ_ERRORS,
    apply_read_errors_traced,
    format_mrz,
    parse_mrz,
    synthetic_population,
)

TODAY = dt.date(2026, 11, 23)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench population")
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)

    started = time.perf_counter()
    people = synthetic_population(rng, args.people, today=TODAY)
    elapsed = time.perf_counter() - started
    rate = len(people) / elapsed
    print(f"population: {len(people)} identities in {elapsed:.2f} s ({rate:,.0f}/s)")

    kinds: Counter[str] = Counter()
    with_errors = 0
    started = time.perf_counter()
    for person in people:
        _, applied = apply_read_errors_traced(person, rng, DEFAULT_READ_ERRORS)
        kinds.update(applied)
        with_errors += bool(applied)
    elapsed = time.perf_counter() - started
    print(f"read errors: {len(people) / elapsed:,.0f} identities/s")
    for kind, count in sorted(kinds.items()):
        print(f"  {kind:<32} {count / len(people):.4f} of scans")
    print(f"  {'any error':<32} {with_errors / len(people):.4f} of scans")

    sample = [p for p in people[:20_000] if len(p.document_number) <= 9]
    mrzs = [format_mrz(p, layout="TD3") for p in sample]
    started = time.perf_counter()
    for text in mrzs:
        parse_mrz(text, today=TODAY)
    elapsed = time.perf_counter() - started
    print(f"parse_mrz (TD3): {len(mrzs) / elapsed:,.0f}/s")
