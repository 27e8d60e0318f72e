"""The candidate index: which active segment sets could a scan match?

Theory of operation
-------------------
Every segment set names a few positions (its *template*, e.g. ``g12 mm yy``)
and the subject's values there. The index keeps, per template *part*, a dict
from the tuple of values to the ids of the sets holding them. A scan is
answered by visiting the parts that are present (their number is bounded by
the catalogue, not by the number of sets), forming the scan's value tuple for
each (one per combination of its variants) and looking it up: the cost does
not grow with the number of active sets, apart from the candidates found.
Only the candidates are then scored exactly (``_scoring.score_values``) and
kept if they reach the threshold.

With ``max_disagreements = k`` the positions of each set are split into
``k + 1`` parts (pigeonhole: a scan that disagrees on at most ``k`` factors
agrees fully on at least one part), so candidates with up to ``k``
disagreements are found; ``k = 0`` (the default) indexes the whole template.

A part of more than ``MAX_KEY_POSITIONS`` positions (a whole template of five
or more, with ``k = 0``) is looked up on that many of them only, always the
same ones for a template (the birth year is left out first, the surname last):
most such templates then share their look-up with a four-position template,
so a scan makes about a quarter fewer look-ups, and a set found that way is
kept only if it also agrees on the positions left out (the candidates are
exactly the same). The few extra sets found cost one comparison each.

Almost every look-up misses, and at a million sets each miss is a probe
into a dict that is cold in the cache: a ``KeyFilter`` (``_keyfilter``) rules
out the parts that cannot hold the scan's key, all of them in a few numpy
operations, and only the parts it flags (the hits, and under 1 % of the
others) are looked up. A scan with several values at a position also looks
up the other combinations in the parts naming that position (without the
filter; about one scan in twenty).

Adding and removing a set touch only its own ``k + 1`` entries and their
counts in the filter (except the add that doubles the filter's table, which
recounts every key: about 0.8 s at a million sets, once per doubling). A
bucket that empties is deleted, and so is a part that no longer holds any
bucket and a template no set uses any more: after a removal nothing of the
set remains.

Memory: per set, one entry in the id table (a shared template tuple and a
tuple of interned values), one bucket entry per part, and 16 to 32 one-byte
counts in the filter per bucket. A long set's values tuple is a
``_ShortKey``, hashing and comparing as its look-up values, so it is its
bucket key as well and shortening costs no second tuple per set.
"""

from __future__ import annotations

import functools
import itertools
import operator
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from doorwatch.segments._factors import CATALOGUE, Field, ScanFactors
from doorwatch.segments._frequencies import FrequencyTable
from doorwatch.segments._keyfilter import KeyFilter, Lanes
from doorwatch.segments._matching_errors import (
    BudgetError,
    DuplicateSegmentSetError,
    UnknownSegmentSetError,
)
from doorwatch.segments._scoring import DEFAULT_THRESHOLD, score_values
from doorwatch.segments._selection import Factor, SegmentSet

__all__ = ["IndexStats", "SegmentIndex"]

_Bucket = str | list[str]
_ListGetter = Callable[[list[str | None]], tuple[str | None, ...]]


MAX_KEY_POSITIONS = 4
"""Positions a part is looked up by, at most (longer parts are checked after the look-up)."""

# Which positions of a long part are left out of its look-up key, first to last:
# the birth year (ten or a hundred values), then the positions a set rarely has,
# and the surname last (the most selective).
_LEFT_OUT_FIRST = (
    Field.BIRTH_YEAR,
    Field.POSTCODE,
    Field.DOCUMENT_NUMBER,
    Field.BIRTH_MONTH,
    Field.BIRTH_DAY,
    Field.GIVEN_NAME,
    Field.SURNAME,
)


@functools.lru_cache(maxsize=4096)
def _shortening(codes: tuple[str, ...]) -> tuple[tuple[str, ...], type[_ShortKey]] | None:
    """The look-up codes of a long template, and the type its values are held as."""
    if len(codes) <= MAX_KEY_POSITIONS:
        return None

    def kept_last(i: int) -> tuple[int, str, int]:
        position = CATALOGUE.get(codes[i])
        # A code outside the catalogue (never in a valid set) is left out first.
        rank = -1 if position is None else _LEFT_OUT_FIRST.index(position.field)
        return (rank, codes[i], i)

    kept = tuple(sorted(sorted(range(len(codes)), key=kept_last)[-MAX_KEY_POSITIONS:]))
    left = [i for i in range(len(codes)) if i not in kept]
    key_type = type(
        "_ShortKey",
        (_ShortKey,),
        {
            "__slots__": (),
            "_pick": operator.itemgetter(*kept),
            "_left": operator.itemgetter(*left),
            "_left_codes": operator.itemgetter(*(codes[i] for i in left)),
        },
    )
    return tuple(codes[i] for i in kept), key_type


class _ShortKey(tuple[str, ...]):
    """A long set's values, hashing and comparing as the values it is looked up by.

    The one tuple serves as the set's values and as its bucket key, so a
    shortened part costs no second tuple per set. A subclass per template
    shape carries the positions (``_pick``), and the positions left out of the
    look-up: ``_left`` reads their values, ``_left_codes`` a scan's first values
    there (both a bare value when one position is left out).
    """

    __slots__ = ()
    _pick: Callable[[tuple[str, ...]], tuple[str, ...]]
    _left: Callable[[tuple[str, ...]], object]
    _left_codes: Callable[[Mapping[str, str]], object]

    def __hash__(self) -> int:
        return hash(self._pick(self))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _ShortKey):
            other = other._pick(other)
        return self._pick(self) == other

    def __ne__(self, other: object) -> bool:
        return not self == other


class _FirstValues(dict[str, str]):
    """A scan's first value per position; a missing position reads as None.

    No bucket key holds None, so a part naming a position the scan lacks finds
    nothing, without a test per part.
    """

    __slots__ = ()

    def __missing__(self, code: str) -> str:
        return None  # type: ignore[return-value]


def _looked_up(key_values: tuple[str, ...]) -> tuple[str, ...]:
    """The values a bucket key is looked up by (a long set's key holds more)."""
    return key_values._pick(key_values) if isinstance(key_values, _ShortKey) else key_values


def _list_getter(positions: list[int]) -> _ListGetter:
    """The look-up tuple from a scan's first values laid out in a list (cheaper to
    index than the dict)."""
    if len(positions) == 1:
        at = positions[0]
        return lambda values: (values[at],)
    return operator.itemgetter(*positions)


@dataclass(slots=True)
class _Plan:
    """Every part's getter and buckets in parallel lists, so that the common look-up
    runs in C (``map``); rebuilt after a part appears or goes."""

    codes: tuple[str, ...]  # every code a part names: the layout of the values list
    getters: list[_ListGetter]
    buckets: list[dict[tuple[str, ...], _Bucket]]
    lanes: Lanes  # the same parts, for the key filter


@dataclass(frozen=True, slots=True)
class IndexStats:
    """How much the index holds (for tests, benchmarks and ``node.status``)."""

    sets: int
    templates: int
    parts: int
    buckets: int


class SegmentIndex:
    """Active segment sets, looked up by a scan's values, scored exactly."""

    __slots__ = (
        "_filter",
        "_max_disagreements",
        "_parts",
        "_plan",
        "_sets",
        "_shared",
        "_templates",
        "tables",
        "threshold",
    )

    def __init__(
        self,
        tables: FrequencyTable,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        max_disagreements: int = 0,
    ) -> None:
        if max_disagreements < 0:
            raise BudgetError("max_disagreements must be zero or more")
        self.tables = tables
        self.threshold = threshold
        self._max_disagreements = max_disagreements
        # id -> (template, values): the template tuple is shared by every set using it
        self._sets: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}
        # template -> number of sets using it, and the one tuple they all share
        self._templates: dict[tuple[str, ...], int] = {}
        self._shared: dict[tuple[str, ...], tuple[str, ...]] = {}
        # part (tuple of codes) -> values tuple -> one id or a list of ids
        self._parts: dict[tuple[str, ...], dict[tuple[str, ...], _Bucket]] = {}
        self._plan: _Plan | None = None
        # Which part may hold a scan's key: most look-ups are never made.
        self._filter = KeyFilter()

    def __len__(self) -> int:
        return len(self._sets)

    def __contains__(self, set_id: object) -> bool:
        return set_id in self._sets

    @property
    def max_disagreements(self) -> int:
        return self._max_disagreements

    def stats(self) -> IndexStats:
        return IndexStats(
            sets=len(self._sets),
            templates=len(self._templates),
            parts=len(self._parts),
            buckets=sum(len(b) for b in self._parts.values()),
        )

    def factors(self, set_id: str) -> tuple[Factor, ...]:
        """The factors indexed under ``set_id``."""
        held = self._sets.get(set_id)
        if held is None:
            raise UnknownSegmentSetError("segment set id is not in the index")
        return tuple(Factor(c, v) for c, v in zip(*held, strict=True))

    def _parts_of(
        self, codes: tuple[str, ...], values: tuple[str, ...]
    ) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
        """The set's parts as ``(codes, values)``; a long whole template's look-up codes."""
        n = min(self._max_disagreements + 1, len(codes))
        if n == 1:
            shortening = _shortening(codes)
            # The values of a long template are a _ShortKey: the bucket key itself.
            return [(codes if shortening is None else shortening[0], values)]
        return [(codes[i::n], values[i::n]) for i in range(n)]

    def _agrees(self, set_id: str, scan: ScanFactors) -> bool:
        """Whether a set found by a look-up agrees with the scan on its whole (long) part."""
        codes, values = self._sets[set_id]
        if not isinstance(values, _ShortKey):
            return True
        return all(value in scan.get(code, ()) for code, value in zip(codes, values, strict=True))

    def add(self, set_id: str, segments: SegmentSet) -> None:
        """Index a segment set under ``set_id`` (O(its size))."""
        if set_id in self._sets:
            raise DuplicateSegmentSetError("segment set id is already in the index")
        if not segments.factors:
            raise BudgetError("a segment set needs at least one factor")
        template = tuple(sys.intern(f.code) for f in segments.factors)
        shared = self._shared.setdefault(template, template)
        self._templates[shared] = self._templates.get(shared, 0) + 1
        values = tuple(sys.intern(f.value) for f in segments.factors)
        if self._max_disagreements == 0:
            shortening = _shortening(shared)
            if shortening is not None:
                values = shortening[1](values)
        self._sets[set_id] = (shared, values)
        for key_codes, key_values in self._parts_of(shared, values):
            buckets = self._parts.get(key_codes)
            if buckets is None:
                buckets = self._parts[key_codes] = {}
                self._plan = None
            held = buckets.get(key_values)
            if held is None:
                # Counted in first: the filter never says no to a key the index holds.
                self._filter.add(key_codes, _looked_up(key_values))
                buckets[key_values] = set_id
            elif isinstance(held, str):
                buckets[key_values] = [held, set_id]
            else:
                held.append(set_id)
        if self._filter.full:
            parts = ((codes, [*map(_looked_up, b)]) for codes, b in self._parts.items())
            self._filter = KeyFilter.rebuilt(self._filter.keys, parts)

    def remove(self, set_id: str) -> None:
        """Forget a segment set entirely (O(its size)); unknown ids raise."""
        held_set = self._sets.pop(set_id, None)
        if held_set is None:
            raise UnknownSegmentSetError("segment set id is not in the index")
        template, values = held_set
        users = self._templates[template] - 1
        if users:
            self._templates[template] = users
        else:
            del self._templates[template]
            del self._shared[template]
        for key_codes, key_values in self._parts_of(template, values):
            buckets = self._parts[key_codes]
            held = buckets[key_values]
            if isinstance(held, str):
                del buckets[key_values]
                self._filter.discard(key_codes, _looked_up(key_values))
            else:
                held.remove(set_id)
                left: _Bucket = held[0] if len(held) == 1 else held
                if isinstance(key_values, _ShortKey):
                    # The bucket's key may be this set's values (a _ShortKey also
                    # holds the positions left out of the look-up): keyed anew by
                    # the first set still in it, so that nothing of this one remains.
                    del buckets[key_values]
                    buckets[self._sets[held[0]][1]] = left
                else:
                    buckets[key_values] = left
            if not buckets:
                del self._parts[key_codes]
                self._plan = None

    def candidates(self, scan: ScanFactors) -> set[str]:
        """Ids of the sets that agree with the scan on at least one whole part."""
        first = _FirstValues()
        several: set[str] = set()
        for code, shown in scan.items():
            if shown:
                first[code] = shown[0]
                if len(shown) > 1:
                    several.add(code)
        # A set found through a shortened part must also agree on the positions
        # its look-up left out (the sets found are few).
        if several:
            found = self._candidates_with_variants(scan, first, several)
            return {set_id for set_id in found if self._agrees(set_id, scan)}
        # One value per position: agreeing there is one comparison of two tuples.
        sets = self._sets
        out: set[str] = set()
        for set_id in self._candidates_single(first):
            values = sets[set_id][1]
            if not isinstance(values, _ShortKey) or values._left(values) == values._left_codes(
                first
            ):
                out.add(set_id)
        return out

    def _candidates_single(self, first: _FirstValues) -> set[str]:
        # The common case: one value per position, one look-up per part (a
        # missing position reads as None, which no bucket holds).
        plan = self._plan
        if plan is None:
            codes = tuple(sorted({code for part in self._parts for code in part}))
            at = {code: i for i, code in enumerate(codes)}
            plan = self._plan = _Plan(
                codes,
                [_list_getter([at[code] for code in part]) for part in self._parts],
                list(self._parts.values()),
                Lanes(codes, list(self._parts)),
            )
        values: list[str | None] = list(map(first.get, plan.codes))
        found: set[str] = set()
        getters, buckets = plan.getters, plan.buckets
        # Almost every part misses: the filter rules most of them out at once,
        # and only the parts it flags are looked up. (A key naming a position
        # the scan lacks holds None: it finds nothing.)
        for i in self._filter.flagged(values, plan.lanes):
            held = buckets[i].get(getters[i](values))  # type: ignore[arg-type]
            if held is None:
                continue
            if isinstance(held, str):
                found.add(held)
            else:
                found.update(held)
        return found

    def _candidates_with_variants(
        self, scan: ScanFactors, first: _FirstValues, several: set[str]
    ) -> set[str]:
        # The first values' keys as in the common case, then the other
        # combinations of variants in the parts naming a position that has some.
        found = self._candidates_single(first)
        for key_codes, buckets in self._parts.items():
            if several.isdisjoint(key_codes):
                continue
            for values in itertools.product(*(scan.get(code, ()) for code in key_codes)):
                held = buckets.get(values)
                if held is None:
                    continue
                if isinstance(held, str):
                    found.add(held)
                else:
                    found.update(held)
        return found

    def match(
        self, scan: ScanFactors, *, threshold: float | None = None
    ) -> list[tuple[str, float]]:
        """``(set id, score)`` of the sets the scan matches, best first, at or above threshold."""
        limit = self.threshold if threshold is None else threshold
        out: list[tuple[str, float]] = []
        for set_id in self.candidates(scan):
            codes, values = self._sets[set_id]
            s = score_values(codes, values, scan, self.tables)
            if s >= limit:
                out.append((set_id, s))
        out.sort(key=lambda item: (-item[1], item[0]))
        return out
