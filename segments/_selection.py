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

The choices are driven by a *chooser* (anything with ``shuffle``): the
fields are visited in a shuffled order, and for each field a shuffled
position whose value fits in what remains of the budget is taken (at most
one position per field, see ``_factors``). Up to sixteen such draws are made
(fewer when one comes within 0.1 bit of the budget) and the most informative
one is kept, so the budget is used well (fewer innocent look-alikes) without
ever being exceeded. With ``prefer`` (the matcher's door tables) all sixteen
are made and the one most informative *at the door* is kept: the budget is a
UK-wide measure, but the innocent customers a set flags are door customers
(for a young subject, the birth year is rare in the UK and common at the
door, so sets that spend the budget on it flag more innocents).

For alerts the chooser is a ``SelectionStream``: a deterministic byte stream
(keyed BLAKE2b in counter mode) from a seed that the node derives from the
subject's normalised name and date of birth under the network's selection
key (``crypto.selection_seed`` of ``selection_identity``). So every alert
about one person, from any venue of the network, discloses the same factors:
several alerts disclose no more than one. The stream is this module's own
(not ``random.Random``, whose algorithms may change between Python
versions), so every venue picks the same set whatever its Python. The
candidates come from the default catalogue, i.e. name and date of birth
only: a different document (number, postcode) does not change the set.

Bits, and so K, are measured with the *disclosure* tables
(``load_disclosure_tables``: the UK-wide age structure and name
frequencies), not the door-age tables the matcher scores with; K is an
expectation over the UK population, not a count of real people.

The wire form is a list of ``[code, value]`` pairs: small, msgpack-able, and
validated on the way in (known positions, one per field, short upper-case
alphanumeric values).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import Any, Protocol

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
    "Chooser",
    "Factor",
    "SegmentSet",
    "SelectionStream",
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


_STREAM_PERSON = b"dw-segsel-v1"


class Chooser(Protocol):
    """What selection draws its choices from (``random.Random`` or ``SelectionStream``)."""

    def shuffle(self, x: MutableSequence[Any], /) -> None: ...


@dataclass(slots=True)
class SelectionStream:
    """Deterministic choices from a seed: keyed BLAKE2b in counter mode.

    Block ``i`` is ``BLAKE2b-512(key=seed, person="dw-segsel-v1", i as 8
    bytes)``; integers below ``n`` are taken from 8-byte big-endian words by
    rejection sampling (no modulo bias), and ``shuffle`` is Fisher-Yates from
    the end. Fixed here, so that two venues with the same seed make the same
    choices whatever their Python version.
    """

    seed: bytes
    _counter: int = dataclass_field(default=0, repr=False)
    _buffer: bytes = dataclass_field(default=b"", repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.seed, bytes) or not 16 <= len(self.seed) <= 64:
            raise BudgetError("the selection seed must be 16 to 64 bytes")

    def _word(self) -> int:
        if len(self._buffer) < 8:
            block = hashlib.blake2b(
                self._counter.to_bytes(8, "big"), key=self.seed, person=_STREAM_PERSON
            ).digest()
            self._counter += 1
            self._buffer += block
        word, self._buffer = self._buffer[:8], self._buffer[8:]
        return int.from_bytes(word, "big")

    def below(self, n: int) -> int:
        """A uniform integer in ``[0, n)``."""
        if n < 1:
            raise BudgetError("below: n must be at least 1")
        limit = (1 << 64) - (1 << 64) % n
        while True:
            x = self._word()
            if x < limit:
                return x % n

    def shuffle(self, x: MutableSequence[Any], /) -> None:
        for i in range(len(x) - 1, 0, -1):
            j = self.below(i + 1)
            x[i], x[j] = x[j], x[i]


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
    rng: Chooser,
    *,
    tables: FrequencyTable,
    budget_bits: float = DEFAULT_BUDGET_BITS,
    reference_population: int = UK_POPULATION,
    catalogue: Sequence[str] = DEFAULT_CATALOGUE,
    draws: int = 16,
    prefer: FrequencyTable | None = None,
) -> SegmentSet:
    """A segment set of the subject whose information stays within ``budget_bits``.

    ``tables`` measure the information (the disclosure tables). ``prefer``: among
    the draws, keep the one most informative under these tables (the matcher's,
    at the door: fewest innocent customers share it) rather than under
    ``tables``; every draw is made then (no early stop).

    The choices come from ``rng``: a ``SelectionStream`` makes the set a
    function of its seed (the same for every alert about one person); a
    ``random.Random`` draws a fresh one (statistics, tests).

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
    best_score = -1.0
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
        if not chosen:
            continue
        if prefer is None:
            if total > best_bits:
                best, best_bits = chosen, total
                if best_bits >= budget_bits - _GOOD_ENOUGH_BITS:
                    break
            continue
        score = prefer.joint_bits((c, v) for c, v, _ in chosen)
        if score > best_score or (score == best_score and total > best_bits):
            best, best_bits, best_score = chosen, total, score
    if not best:
        raise BudgetError("no factor of the subject fits within the privacy budget")
    best.sort()
    return SegmentSet(tuple(Factor(c, v) for c, v, _ in best), best_bits, reference_population)
