"""Fellegi-Sunter scoring of one scan against one segment set.

Theory of operation
-------------------
For each factor ``(position, value)`` of a segment set the scan either shows
the value (agreement, ``log2(m/u)`` bits of evidence for "same person") or
not (disagreement, ``log2((1-m)/(1-u))``, usually strongly negative); a scan
that lacks the field altogether (no postcode on a passport) contributes
nothing. u is the value's own frequency at that position (term-frequency
adjusted), m the probability that a read of the same person shows it (from
the read-error model). The score is the sum, in bits: the log-likelihood
ratio of "this scan is the subject" against "this scan is a random person".

A scan may offer several values at one position (the parts of a double
surname): agreement with any of them counts. That raises the chance that an
innocent agrees by the sum of the variants' frequencies; calibration measures
the cost.

The default threshold (``DEFAULT_THRESHOLD``) was chosen by calibration (see
docs/matching.md): it accepts a subject whose every factor agrees, even when
the budget leaves only the date of birth, and rejects any single disagreement
of a factor read with m of 0.99 or better.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from doorwatch.segments._factors import ScanFactors
from doorwatch.segments._frequencies import FrequencyTable
from doorwatch.segments._selection import Factor

__all__ = ["DEFAULT_THRESHOLD", "score", "score_values"]

DEFAULT_THRESHOLD = 10.0
"""Bits of evidence a scan needs to be flagged (chosen by calibration)."""


def score(factors: Iterable[Factor], scan: ScanFactors, tables: FrequencyTable) -> float:
    """The Fellegi-Sunter score (bits) of a scan against a set of factors."""
    pairs = [(f.code, f.value) for f in factors]
    return score_values([c for c, _ in pairs], [v for _, v in pairs], scan, tables)


def score_values(
    codes: Sequence[str], values: Sequence[str], scan: ScanFactors, tables: FrequencyTable
) -> float:
    """``score`` for parallel sequences of position codes and values."""
    total = 0.0
    for code, value in zip(codes, values, strict=True):
        shown = scan.get(code, ())
        if not shown:
            continue
        agree, disagree = tables.weights(code, value)
        total += agree if value in shown else disagree
    return total
