"""Where the harsh corruption model's misses come from, and what extra readings of a scan buy.

    python -m bench segments_harsh [--alerts 5000] [--population 25000] [--seed 0]

One alert per subject (default budget, UK-wide disclosure tables, as
``alert.create``), exact matching with the default threshold. Then:

* misses by kind: every subject is read twice through the harsh model
  (``harsh_read_keys_traced``); for each kind, the share of reads it hit,
  the share of those that missed, and the recall lost (a read may carry
  several kinds, so the losses overlap);
* levers that change no disclosure: each scan is also read as alternative
  *readings* (day and month swapped; a nickname of ``NICKNAMES`` read as its
  full forms; given names and surname swapped) and flagged if any reading
  matches. Recall and innocent flags (every other person, read through the
  same model) against the floor ``sum(u)`` at the door, for each model.

The readings are not on the scan path: this measures what they would cost.
The nickname reading uses the model's own table, so its recall gain is an
upper bound (real short forms outside the table are not modelled).
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import datetime as dt
import random
from collections.abc import Callable, Sequence

from doorwatch.segments import (
    DEFAULT_READ_ERRORS,
    HARSH_ERRORS,
    NICKNAMES,
    TABLES_REFERENCE_DATE,
    Identity,
    MatchKeys,
    SegmentIndex,
    apply_read_errors,
    harsh_read_keys_traced,
    identity_keys,
    load_default_tables,
    load_disclosure_tables,
    match_keys,
    scan_factors,
    select_segments,
    synthetic_population,
)

LEVERS: tuple[tuple[str, ...], ...] = ((), ("dmy",), ("nick",), ("dmy", "nick"), ("swap",))


def _given_key(name: str) -> str:
    return match_keys(given_names=name, surname="", date_of_birth=None).given_name


def _full_forms() -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for full, shorts in NICKNAMES.items():
        for short in shorts:
            out.setdefault(_given_key(short), set()).add(_given_key(full))
    return out


def _readings(keys: MatchKeys, levers: Sequence[str], full: dict[str, set[str]]) -> list[MatchKeys]:
    out = [keys]
    if "swap" in levers and keys.given_name and keys.surnames:
        out.append(
            match_keys(
                given_names=keys.surnames[0],
                surname=keys.given_name,
                date_of_birth=keys.date_of_birth,
            )
        )
    born = keys.date_of_birth
    if "dmy" in levers and born is not None and born.day <= 12 and born.day != born.month:
        out.append(
            dataclasses.replace(keys, date_of_birth=dt.date(born.year, born.day, born.month))
        )
    if "nick" in levers:
        out += [
            dataclasses.replace(keys, given_name=g) for g in sorted(full.get(keys.given_name, ()))
        ]
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench segments_harsh", description=__doc__)
    parser.add_argument("--alerts", type=int, default=5_000)
    parser.add_argument("--population", type=int, default=25_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    tables = load_default_tables()
    disclosure = load_disclosure_tables()
    rng = random.Random(args.seed)
    people = synthetic_population(rng, args.population, today=TABLES_REFERENCE_DATE)
    subjects, innocents = people[: args.alerts], people[args.alerts :]
    index = SegmentIndex(tables)
    floor = 0.0
    for i, subject in enumerate(subjects):
        segments = select_segments(identity_keys(subject), rng, tables=disclosure, prefer=tables)
        floor += tables.joint_frequency((f.code, f.value) for f in segments.factors)
        index.add(str(i), segments)
    print(
        f"{args.alerts:,} alerts, {len(innocents):,} innocent scans, seed {args.seed}, "
        f"floor sum(u) {floor:.4f} per scan"
    )

    def flagged(
        keys: MatchKeys, levers: Sequence[str] = (), full: dict[str, set[str]] | None = None
    ) -> set[str]:
        found: set[str] = set()
        for reading in _readings(keys, levers, full or {}):
            found.update(set_id for set_id, _ in index.match(scan_factors(reading)))
        return found

    hit: collections.Counter[str] = collections.Counter()
    lost: collections.Counter[str] = collections.Counter()
    reads = 0
    for _ in range(2):
        for i, subject in enumerate(subjects):
            keys, kinds = harsh_read_keys_traced(subject, rng)
            missed = str(i) not in flagged(keys)
            reads += 1
            for kind in kinds:
                hit[kind] += 1
                lost[kind] += missed
    print("\nharsh model, misses by kind (exact matching)")
    print(f"{'kind':<22} {'hits':>7} {'missed':>8} {'recall lost':>12}")
    for kind, n in sorted(hit.items(), key=lambda kv: -lost[kv[0]]):
        print(f"{kind:<22} {n / reads:7.1%} {lost[kind] / n:8.1%} {lost[kind] / reads:12.2%}")

    full = _full_forms()
    print("\nalternative readings of each scan (no disclosure changes)")
    print(f"{'model':<8} {'readings':<10} {'recall':>8} {'innocent':>9} {'ratio':>6}")
    models: dict[str, Callable[[Identity, random.Random], MatchKeys]] = {
        "scanner": lambda p, r: identity_keys(apply_read_errors(p, r, DEFAULT_READ_ERRORS)),
        "harsh": HARSH_ERRORS.read_keys,
    }
    for name, read in models.items():
        model_rng = random.Random(args.seed + 1)
        subject_keys = [read(p, model_rng) for p in subjects]
        innocent_keys = [read(p, model_rng) for p in innocents]
        for levers in LEVERS:
            recall = sum(
                str(i) in flagged(k, levers, full) for i, k in enumerate(subject_keys)
            ) / len(subjects)
            rate = sum(bool(flagged(k, levers, full)) for k in innocent_keys) / len(innocents)
            label = "+".join(levers) or "none"
            print(
                f"{name:<8} {label:<10} {recall:8.2%} {rate:9.4f} {rate / floor:5.2f}x", flush=True
            )
