"""Calibration: recall and innocent-flag rate of the matcher on a synthetic population.

Theory of operation
-------------------
``calibrate`` builds a synthetic population (``_population``), picks
``alerts`` of its people as subjects, selects each subject's segment set under
the privacy budget and indexes it. Every subject is then scanned once through
the read-error model (``_readerrors``), and so is every other person of the
population (the innocents: never subjects). It reports:

* the hit rate: the share of subjects whose own segment set is among the
  matches of their (misread) scan;
* the innocent-flag rate: the share of innocent scans with at least one match;
* the floor that rate cannot go below whatever the scoring: an innocent who
  shares every value of an alert is indistinguishable from its subject, which
  happens with probability ``u_i`` (the set's joint frequency among door
  customers, the matcher's tables) per alert, so the floor per scan is
  ``sum(u_i)`` (``N * mean K / P`` when bits are measured with the same
  tables; 0.0075 for 10,000 alerts at K = 50 in 67 million);
* the anonymity set K per alert (mean, median, 10th percentile, minimum, and
  the median and 10th percentile for subjects under 30) and the bits, both
  measured with the ``disclosure`` tables (UK-wide) when given, as
  ``alert.create`` does, while matching and scoring use ``tables`` (the door);
* the scan latency (factor extraction, candidate look-up and scoring), p50 and
  p99, measured with the injected ``timer``.

Scans are read through ``read_errors``: the scanner's read-error model
(``ReadErrorModel``, the default) or the harsher hand-entry model
(``HarshErrorModel``, ``_harsh``: typing errors, nicknames, phonetic
respellings, swapped fields, missing fields, another document), which applies
the scanner's errors first. The report names the model (``model``). The
harsh model yields match keys, so its latency leaves out the normalisation of
names that the scanner model's includes.

Pure: randomness comes from the ``random.Random`` given, time from ``timer``.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from doorwatch.segments._factors import DEFAULT_CATALOGUE, identity_keys, scan_factors
from doorwatch.segments._frequencies import TABLES_REFERENCE_DATE, FrequencyTable
from doorwatch.segments._harsh import HarshErrorModel
from doorwatch.segments._identity import age_on
from doorwatch.segments._index import SegmentIndex
from doorwatch.segments._matching_errors import BudgetError
from doorwatch.segments._population import synthetic_population
from doorwatch.segments._readerrors import DEFAULT_READ_ERRORS, ReadErrorModel, apply_read_errors
from doorwatch.segments._scoring import DEFAULT_THRESHOLD
from doorwatch.segments._selection import DEFAULT_BUDGET_BITS, UK_POPULATION, select_segments

__all__ = [
    "DEFAULT_ALERTS",
    "DEFAULT_POPULATION",
    "CalibrationReport",
    "calibrate",
    "percentile",
]

DEFAULT_ALERTS = 10_000
DEFAULT_POPULATION = 50_000


@dataclass(frozen=True, slots=True)
class CalibrationReport:
    """The figures of one calibration run."""

    model: str
    population: int
    alerts: int
    innocent_scans: int
    budget_bits: float
    reference_population: int
    threshold: float
    max_disagreements: int
    subjects_flagged: int
    hit_rate: float
    innocents_flagged: int
    innocent_flag_rate: float
    floor_rate: float
    floor_probability: float
    flag_to_floor: float
    mean_anonymity_set: float
    min_anonymity_set: float
    median_anonymity_set: float
    p10_anonymity_set: float
    median_anonymity_set_under_30: float
    p10_anonymity_set_under_30: float
    mean_bits: float
    min_bits: float
    max_bits: float
    latency_p50_ms: float
    latency_p99_ms: float

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by the nearest-rank method (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def calibrate(
    rng: random.Random,
    *,
    tables: FrequencyTable,
    timer: Callable[[], float],
    population: int = DEFAULT_POPULATION,
    alerts: int = DEFAULT_ALERTS,
    budget_bits: float = DEFAULT_BUDGET_BITS,
    reference_population: int = UK_POPULATION,
    threshold: float = DEFAULT_THRESHOLD,
    max_disagreements: int = 0,
    read_errors: ReadErrorModel | HarshErrorModel = DEFAULT_READ_ERRORS,
    catalogue: Sequence[str] = DEFAULT_CATALOGUE,
    today: dt.date = TABLES_REFERENCE_DATE,
    disclosure: FrequencyTable | None = None,
) -> CalibrationReport:
    """Run one calibration; ``timer`` returns seconds (e.g. ``time.perf_counter``).

    ``disclosure``: the tables selection measures bits (and K) with; ``tables``
    when None.
    """
    if alerts < 1:
        raise BudgetError("alerts must be at least 1")
    if population <= alerts:
        raise BudgetError("population must be larger than the number of alerts")
    people = synthetic_population(rng, population, today=today)
    subjects = people[:alerts]
    innocents = people[alerts:]
    index = SegmentIndex(tables, threshold=threshold, max_disagreements=max_disagreements)
    anonymity: list[float] = []
    young: list[float] = []
    innocent_share: list[float] = []
    bits: list[float] = []
    for i, subject in enumerate(subjects):
        segments = select_segments(
            identity_keys(subject),
            rng,
            tables=disclosure or tables,
            prefer=tables if disclosure is not None else None,
            budget_bits=budget_bits,
            reference_population=reference_population,
            catalogue=catalogue,
        )
        index.add(f"alert-{i}", segments)
        anonymity.append(segments.anonymity_set)
        if age_on(subject, today) < 30:
            young.append(segments.anonymity_set)
        # Among the door's customers (the matcher's u), the chance an innocent shares them.
        innocent_share.append(tables.joint_frequency((f.code, f.value) for f in segments.factors))
        bits.append(segments.bits)

    latencies: list[float] = []

    def scan(person: Any) -> list[tuple[str, float]]:
        if isinstance(read_errors, HarshErrorModel):
            keys = read_errors.read_keys(person, rng)
            started = timer()
        else:
            read = apply_read_errors(person, rng, read_errors)
            started = timer()
            keys = identity_keys(read)
        found = index.match(scan_factors(keys))
        latencies.append(timer() - started)
        return found

    flagged = 0
    for i, subject in enumerate(subjects):
        wanted = f"alert-{i}"
        if any(set_id == wanted for set_id, _ in scan(subject)):
            flagged += 1
    innocent_hits = sum(1 for person in innocents if scan(person))

    floor = sum(innocent_share)
    # With many alerts an innocent may share the values of several: the chance
    # of at least one is 1 - prod(1 - u_i), which sum(u_i) approximates.
    log_none = sum(math.log1p(-min(u, 1.0 - 1e-12)) for u in innocent_share)
    floor_probability = -math.expm1(log_none)
    rate = innocent_hits / len(innocents)
    return CalibrationReport(
        model="harsh" if isinstance(read_errors, HarshErrorModel) else "scanner",
        population=population,
        alerts=alerts,
        innocent_scans=len(innocents),
        budget_bits=budget_bits,
        reference_population=reference_population,
        threshold=threshold,
        max_disagreements=max_disagreements,
        subjects_flagged=flagged,
        hit_rate=flagged / alerts,
        innocents_flagged=innocent_hits,
        innocent_flag_rate=rate,
        floor_rate=floor,
        floor_probability=floor_probability,
        flag_to_floor=rate / floor if floor > 0 else math.inf,
        mean_anonymity_set=sum(anonymity) / alerts,
        min_anonymity_set=min(anonymity),
        median_anonymity_set=percentile(anonymity, 50),
        p10_anonymity_set=percentile(anonymity, 10),
        median_anonymity_set_under_30=percentile(young, 50),
        p10_anonymity_set_under_30=percentile(young, 10),
        mean_bits=sum(bits) / alerts,
        min_bits=min(bits),
        max_bits=max(bits),
        latency_p50_ms=percentile(latencies, 50) * 1000.0,
        latency_p99_ms=percentile(latencies, 99) * 1000.0,
    )
