"""Segment selection under a privacy budget, and the segment set's wire form.

Theory of operation
-------------------
An alert discloses a *segment set*: a few factors of its subject. The
information it discloses is ``bits = -log2 u(all values)``, the joint
frequency of the subject's own values: ``sum(-log2 u_i)`` for independent
fields, a mixture over name components for two name factors (see
``_frequencies``); term-frequency adjusted, a common value discloses little. So the
expected number of people in a reference population ``P`` who share every
value is the anonymity set ``K = P * 2**-bits``. A network sets a floor on K;
the budget is ``log2(P / floor)`` bits (20.35 bits for 50 people in 67
million) and no segment set ever exceeds it.

Selection is random (the ``random.Random`` is injected): the fields are
visited in a random order, and for each field a random position whose value
fits in what remains of the budget is taken (at most one position per field,
see ``_factors``). Up to sixteen such draws are made (fewer when one comes
within 0.1 bit of the budget) and the most informative one is kept, so the
budget is used well (mean anonymity set 57 rather than 206 for a single draw
at the default budget: fewer innocent look-alikes) without ever being
exceeded; which fields end up disclosed still varies from alert to
alert.

The wire form is a list of ``[code, value]`` pairs: small, msgpack-able, and
validated on the way in (known positions, one per field, short upper-case
alphanumeric values).
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from doorwatch.segments._factors import (
    CATALOGUE,
    DEFAULT_CATALOGUE,
    Field,
    MatchKeys,
    alert_value,
)
from doorwatch.segments._frequencies import FrequencyTable
from doorwatch.segments._matching_errors import BudgetError, MalformedSegmentsError

__all__ = [
    "DEFAULT_ANONYMITY_FLOOR",
    "DEFAULT_BUDGET_BITS",
    "MAX_FACTORS",
    "UK_POPULATION",
    "Factor",
    "SegmentSet",
    "budget_bits_for_floor",
    "select_segments",
]

UK_POPULATION = 67_000_000
DEFAULT_ANONYMITY_FLOOR = 50
MAX_FACTORS = len(Field)
_VALUE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_MAX_VALUE_LENGTH = 4
# A draw this close to the budget is kept without trying the others.
_GOOD_ENOUGH_BITS = 0.1


def budget_bits_for_floor(floor: float, reference_population: int = UK_POPULATION) -> float:
    """The privacy budget in bits that keeps the expected anonymity set at ``floor``."""
    if not (math.isfinite(floor) and 1 <= floor <= reference_population):
        raise BudgetError("anonymity floor must be between 1 and the reference population")
    return math.log2(reference_population / floor)


DEFAULT_BUDGET_BITS = budget_bits_for_floor(DEFAULT_ANONYMITY_FLOOR)


@dataclass(frozen=True, slots=True, order=True)
class Factor:
    """One disclosed piece of a subject: the value at a catalogue position."""

    code: str
    value: str


@dataclass(frozen=True, slots=True)
class SegmentSet:
    """The factors an alert discloses, with the information they carry."""

    factors: tuple[Factor, ...]
    bits: float
    reference_population: int = UK_POPULATION

    @property
    def anonymity_set(self) -> float:
        """K: the expected number of people in the reference population sharing every value."""
        return self.reference_population * math.pow(2.0, -self.bits)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.factors)

    def to_wire(self) -> list[list[str]]:
        """Plain msgpack-able form: ``[[code, value], ...]``, sorted by code."""
        return [[f.code, f.value] for f in self.factors]

    @classmethod
    def from_wire(
        cls,
        data: Any,
        *,
        tables: FrequencyTable,
        reference_population: int = UK_POPULATION,
    ) -> SegmentSet:
        """Validate a received wire form and rebuild the set (bits from local tables)."""
        if not isinstance(data, list | tuple) or not 1 <= len(data) <= MAX_FACTORS:
            raise MalformedSegmentsError(
                f"segment set must be a list of 1 to {MAX_FACTORS} [code, value] pairs"
            )
        factors: list[Factor] = []
        fields: set[Field] = set()
        for item in data:
            if not isinstance(item, list | tuple) or len(item) != 2:
                raise MalformedSegmentsError(
                    "segment set: each factor must be a [code, value] pair"
                )
            code, value = item
            if not isinstance(code, str) or code not in CATALOGUE:
                raise MalformedSegmentsError("segment set: factor code is not a known position")
            if (
                not isinstance(value, str)
                or not 1 <= len(value) <= _MAX_VALUE_LENGTH
                or not set(value) <= _VALUE_CHARS
            ):
                raise MalformedSegmentsError(
                    f"segment set: value at {code!r} must be 1-{_MAX_VALUE_LENGTH} "
                    "upper-case letters or digits"
                )
            field = CATALOGUE[code].field
            if field in fields:
                raise MalformedSegmentsError(
                    f"segment set: field {field.value!r} appears more than once"
                )
            fields.add(field)
            factors.append(Factor(code, value))
        factors.sort(key=lambda f: f.code)
        bits = tables.joint_bits((f.code, f.value) for f in factors)
        return cls(tuple(factors), bits, reference_population)


def select_segments(
    keys: MatchKeys,
    rng: random.Random,
    *,
    tables: FrequencyTable,
    budget_bits: float = DEFAULT_BUDGET_BITS,
    reference_population: int = UK_POPULATION,
    catalogue: Sequence[str] = DEFAULT_CATALOGUE,
    draws: int = 16,
) -> SegmentSet:
    """A random segment set of the subject whose information stays within ``budget_bits``.

    Raises ``BudgetError`` if the parameters are out of range or if no factor
    of the subject fits in the budget (an alert with no segments would match
    everyone).
    """
    if not (math.isfinite(budget_bits) and budget_bits > 0):
        raise BudgetError("budget_bits must be a positive number of bits")
    if reference_population < 1:
        raise BudgetError("reference_population must be at least 1")
    if draws < 1:
        raise BudgetError("draws must be at least 1")
    unknown = [code for code in catalogue if code not in CATALOGUE]
    if unknown:
        raise BudgetError("catalogue names a position that does not exist")
    by_field: dict[Field, list[tuple[str, str, float]]] = {}
    for code in catalogue:
        value = alert_value(code, keys)
        if value is not None:
            by_field.setdefault(CATALOGUE[code].field, []).append(
                (code, value, tables.bits(code, value))
            )
    dependent = tables.dependent_codes
    fields = sorted(by_field)
    best: list[tuple[str, str, float]] = []
    best_bits = -1.0
    for _ in range(draws):
        order = list(fields)
        rng.shuffle(order)
        total = 0.0
        chosen: list[tuple[str, str, float]] = []
        for field in order:
            options = list(by_field[field])
            rng.shuffle(options)
            for option in options:
                if option[0] in dependent and any(c[0] in dependent for c in chosen):
                    bits = tables.joint_bits([(c, v) for c, v, _ in chosen] + [option[:2]])
                else:
                    bits = total + option[2]
                if bits <= budget_bits:
                    chosen.append(option)
                    total = bits
                    break
        if chosen and total > best_bits:
            best, best_bits = chosen, total
            if best_bits >= budget_bits - _GOOD_ENOUGH_BITS:
                break
    if not best:
        raise BudgetError("no factor of the subject fits within the privacy budget")
    best.sort()
    return SegmentSet(tuple(Factor(c, v) for c, v, _ in best), best_bits, reference_population)
