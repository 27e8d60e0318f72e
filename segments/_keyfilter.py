"""Which look-up keys the candidate index may hold, asked for every part of a scan at once.

Theory of operation
-------------------
A scan of a node holding a million segment sets looks its values up in about
two hundred template parts. Almost every look-up misses, and each one is a
probe into a large dict that is cold in the cache by the time the next scan
comes: done one after the other from Python, those probes were the largest
cost of a scan (about 40 % of the event loop's time, measured on two cores).

This filter answers "might part ``p`` hold the key ``k``?" for all parts in a
few numpy operations, whose C loops overlap the memory reads, so that only
the parts it flags (the few real hits and under 1 % of the rest) are looked
up in their dicts. It never says no to a key the index holds: a "no" is
certain, a "yes" is checked by the dict.

A key's fingerprint is its part's salt (the hash of the part's codes) plus,
for each position, the Python hash of its value times an odd constant of the
position's code, modulo 2**64 (the hashes are random 64-bit values: the sum
needs no further mixing). Its top bits and its low bits pick two slots of
``table``, an array of 8-bit counts of the keys held in each slot; a key may
be held only if both its slots count some key (a counting Bloom filter with
two hashes: with 16 to 32 slots a key, under 1 % of the parts that miss are
flagged). Adding a key counts it in, removing it counts it out; a slot that
reaches 255 stays there (a permanent "maybe", harmless) until the table is
next rebuilt. The table grows (rebuilt from the index's keys, twice the
size) when it has fewer than 16 slots a key, and is never shrunk.

Python's string hashes differ between processes: the filter lives in memory
only, and is rebuilt with the index.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Collection, Iterable, Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["KeyFilter", "Lanes"]

_MASK = (1 << 64) - 1
MIN_BITS = 16
SLOTS_PER_KEY = 16

U64 = npt.NDArray[np.uint64]


def _multiplier(code: str) -> int:
    return (hash(code) | 1) & _MASK


def part_salt(codes: tuple[str, ...]) -> int:
    """The salt of a part: keys with equal values in different parts land apart."""
    return hash(codes) & _MASK


class KeyFilter:
    """Counts of the index's look-up keys by fingerprint slot (see the module docstring)."""

    __slots__ = ("_keys", "_low", "_shift", "_table")

    def __init__(self, bits: int = MIN_BITS) -> None:
        # A key is counted in two slots: its fingerprint's top bits and its low bits.
        self._shift = np.uint64(64 - bits)
        self._low = np.uint64((1 << bits) - 1)
        self._table: npt.NDArray[np.uint8] = np.zeros(1 << bits, dtype=np.uint8)
        self._keys = 0

    @property
    def keys(self) -> int:
        return self._keys

    @property
    def full(self) -> bool:
        """Whether the table holds fewer than ``SLOTS_PER_KEY`` slots per key (rebuild it)."""
        return self._keys * SLOTS_PER_KEY > len(self._table)

    def _slots(self, codes: tuple[str, ...], values: Iterable[object]) -> tuple[int, int]:
        h = part_salt(codes)
        for code, value in zip(codes, values, strict=True):
            h += (hash(value) & _MASK) * _multiplier(code)
        h &= _MASK
        return h >> int(self._shift), h & int(self._low)

    def add(self, codes: tuple[str, ...], values: Iterable[object]) -> None:
        """Count in the key ``values`` of the part ``codes``."""
        table = self._table
        for slot in self._slots(codes, values):
            count = int(table[slot])
            if count < 255:
                table[slot] = count + 1
        self._keys += 1

    def discard(self, codes: tuple[str, ...], values: Iterable[object]) -> None:
        """Count out a key counted in before."""
        table = self._table
        for slot in self._slots(codes, values):
            count = int(table[slot])
            if 0 < count < 255:
                table[slot] = count - 1
        self._keys -= 1

    @classmethod
    def rebuilt(
        cls, keys: int, parts: Iterable[tuple[tuple[str, ...], Collection[tuple[str, ...]]]]
    ) -> KeyFilter:
        """A table with ``SLOTS_PER_KEY`` to twice as many slots for ``keys`` keys, counting
        in every key of ``parts`` (``(codes, the part's keys)``), a part at a time in numpy."""
        out = cls(max(MIN_BITS, (keys * SLOTS_PER_KEY).bit_length()))
        slots = [np.zeros(0, dtype=np.uint64)]
        for codes, part_keys in parts:
            h = np.full(len(part_keys), part_salt(codes), dtype=np.uint64)
            for j, code in enumerate(codes):
                column = map(hash, map(operator.itemgetter(j), part_keys))
                hashes = np.fromiter(column, dtype=np.int64, count=len(part_keys))
                h += hashes.view(np.uint64) * np.uint64(_multiplier(code))
            slots += (h >> out._shift, h & out._low)
        where, counts = np.unique(np.concatenate(slots), return_counts=True)
        out._table[where] = np.minimum(counts, 255)
        out._keys = sum(len(s) for s in slots) // 2
        return out

    def flagged(self, values: Sequence[object], lanes: Lanes) -> list[int]:
        """The parts (indices into ``lanes``) that may hold the scan's key.

        ``values`` are the scan's values laid out as the lanes' positions
        expect (one per code; None where the scan has none, which no key holds).
        """
        hashes = np.fromiter(
            itertools.chain(map(hash, values), (0,)), dtype=np.int64, count=len(values) + 1
        ).view(np.uint64)
        hashes *= lanes.multipliers
        h = hashes.take(lanes.positions).sum(axis=0, dtype=np.uint64)
        h += lanes.salts
        table = self._table
        # (Counts, not bits: both slots count some key when the smaller count does.)
        maybe = np.minimum(table.take(h >> self._shift), table.take(h & self._low))
        found: list[int] = maybe.nonzero()[0].tolist()
        return found


class Lanes:
    """Every part's codes as positions into a scan's values, for ``flagged``.

    ``positions`` has one column per part (a row per position, for numpy to sum
    the rows); a part shorter than the longest is padded with the index one
    past the last code, whose multiplier is 0 (it adds nothing).
    """

    __slots__ = ("multipliers", "positions", "salts")

    def __init__(self, codes: Sequence[str], parts: Sequence[tuple[str, ...]]) -> None:
        at = {code: i for i, code in enumerate(codes)}
        width = max((len(p) for p in parts), default=1)
        pad = len(codes)
        rows = [[at[c] for c in part] + [pad] * (width - len(part)) for part in parts]
        self.positions: npt.NDArray[np.intp] = np.ascontiguousarray(
            np.array(rows, dtype=np.intp).reshape(len(parts), width).T
        )
        self.multipliers: U64 = np.array([*map(_multiplier, codes), 0], dtype=np.uint64)
        self.salts: U64 = np.array([part_salt(p) for p in parts], dtype=np.uint64)
