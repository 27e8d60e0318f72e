"""The reconciliation index: (alert id -> item) with range fingerprints kept up to date.

Theory of operation: the alert-id space is cut into ranges by hex prefix
("nibble prefixes"): the range ``(3, 10)`` holds the ids whose first two hex
digits are ``3a``. Alert ids are 16 random bytes, so ranges of the same depth
hold about the same number of items. The fingerprint of a range is the sum
of a hash of each item in it (id, version, tombstone
flag, record digest), here 8 bytes and modulo 2**64; with the item count it
summarises the range.

Sums make the index incremental: adding, replacing or removing one item adds
or subtracts its hash in the ``CACHE_DEPTH + 1`` cached ranges that contain it
(the root, its 16 children, 256 grandchildren and 4,096 great-grandchildren),
so a sync never rehashes the set. A range deeper than the cache is summed on
demand from the items it holds, found by bisection in a sorted id list; with
random ids it holds about n / 4096 items (25 at n = 100,000). Item hashes are
computed once, when the item changes.

A sum is not collision resistant against a peer that chooses items to make
two different ranges add up to the same value; every peer is a certified
member, and a masked difference only delays one alert until the next change
in its range. See docs/protocol.md.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right, insort
from dataclasses import dataclass

from doorwatch.protocol._messages import (
    FINGERPRINT_SIZE,
    SYNC_DIGEST_SIZE,
    RangeFingerprint,
    SyncItem,
)

CACHE_DEPTH = 3
MAX_DEPTH = 32
_MASK = (1 << (8 * FINGERPRINT_SIZE)) - 1


@dataclass(frozen=True, slots=True)
class ItemState:
    """What sync compares for one alert: which record a replica holds."""

    version: int
    withdrawn: bool
    digest: bytes

    def supersedes(self, other: ItemState) -> bool:
        """True if a replica holding ``other`` must replace it with ``self``.

        A tombstone beats every envelope; a higher version beats a lower; at
        equal rank the lower digest wins, so every replica picks the same record.
        """
        mine = (self.withdrawn, 0 if self.withdrawn else self.version)
        theirs = (other.withdrawn, 0 if other.withdrawn else other.version)
        if mine != theirs:
            return mine > theirs
        return self.digest < other.digest


def item_hash(alert_id: bytes, state: ItemState) -> int:
    data = (
        alert_id
        + state.version.to_bytes(8, "big")
        + (b"\x01" if state.withdrawn else b"\x00")
        + state.digest
    )
    return int.from_bytes(
        hashlib.blake2b(data, digest_size=FINGERPRINT_SIZE, person=b"dw-sync-item-v1").digest(),
        "big",
    )


def prefix_bounds(prefix: bytes) -> tuple[bytes, bytes]:
    """The lowest and highest 16-byte ids in the range of a nibble prefix."""
    depth = len(prefix)
    value = 0
    for nibble in prefix:
        value = (value << 4) | nibble
    low = value << (4 * (32 - depth))
    high = low | ((1 << (4 * (32 - depth))) - 1)
    return low.to_bytes(16, "big"), high.to_bytes(16, "big")


def _cache_keys(alert_id: bytes) -> list[tuple[int, int]]:
    head = int.from_bytes(alert_id[:2], "big")
    return [(depth, head >> (16 - 4 * depth)) for depth in range(CACHE_DEPTH + 1)]


def _prefix_key(prefix: bytes) -> tuple[int, int]:
    value = 0
    for nibble in prefix:
        value = (value << 4) | nibble
    return len(prefix), value


class ReconciliationIndex:
    """The set a replica offers to sync, with incremental range fingerprints."""

    __slots__ = ("_cache", "_ids", "_items")

    def __init__(self) -> None:
        self._items: dict[bytes, tuple[ItemState, int]] = {}
        self._ids: list[bytes] = []
        self._cache: dict[tuple[int, int], tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, alert_id: object) -> bool:
        return alert_id in self._items

    def get(self, alert_id: bytes) -> ItemState | None:
        entry = self._items.get(alert_id)
        return entry[0] if entry else None

    def _adjust(self, alert_id: bytes, count: int, hashed: int) -> None:
        for key in _cache_keys(alert_id):
            old_count, old_sum = self._cache.get(key, (0, 0))
            new = (old_count + count, (old_sum + hashed) & _MASK)
            if new[0] == 0:
                self._cache.pop(key, None)
            else:
                self._cache[key] = new

    def put(self, alert_id: bytes, state: ItemState) -> None:
        """Insert or replace the item of ``alert_id``."""
        old = self._items.get(alert_id)
        hashed = item_hash(alert_id, state)
        if old is None:
            insort(self._ids, alert_id)
            self._adjust(alert_id, 1, hashed)
        else:
            self._adjust(alert_id, 0, hashed - old[1])
        self._items[alert_id] = (state, hashed)

    def remove(self, alert_id: bytes) -> None:
        old = self._items.pop(alert_id, None)
        if old is None:
            return
        del self._ids[bisect_left(self._ids, alert_id)]
        self._adjust(alert_id, -1, -old[1])

    def _span(self, prefix: bytes) -> tuple[int, int]:
        low, high = prefix_bounds(prefix)
        return bisect_left(self._ids, low), bisect_right(self._ids, high)

    def summary(self, prefix: bytes) -> RangeFingerprint:
        """Count and fingerprint of the range ``prefix`` (cached to depth 3, else summed)."""
        if len(prefix) <= CACHE_DEPTH:
            count, total = self._cache.get(_prefix_key(prefix), (0, 0))
        else:
            start, stop = self._span(prefix)
            count = stop - start
            total = 0
            for alert_id in self._ids[start:stop]:
                total += self._items[alert_id][1]
            total &= _MASK
        return RangeFingerprint(count=count, fingerprint=total.to_bytes(FINGERPRINT_SIZE, "big"))

    def items(self, prefix: bytes) -> list[SyncItem]:
        """The items in the range ``prefix``, in id order."""
        start, stop = self._span(prefix)
        out = []
        for alert_id in self._ids[start:stop]:
            state = self._items[alert_id][0]
            out.append(
                SyncItem(
                    alert_id=alert_id,
                    version=state.version,
                    withdrawn=state.withdrawn,
                    digest=state.digest[:SYNC_DIGEST_SIZE],
                )
            )
        return out
