"""What ``alert.create`` selects segments with: the selection key and the budget.

The key is the network's (``crypto._selection``): the same at every member, so
every alert about one person discloses the same factors across the network.
The budget is the strictest anonymity floor among the signed policies of the
networks this node belongs to (``DEFAULT_ANONYMITY_FLOOR`` for a network
whose policy has not arrived yet).

A node in several networks selects with the key of the network it joined
first (its alerts are published to all of them with one segment set): in the
others, a venue alerting on the same person may disclose another set. A node
in no network (alerts stay local until it joins one) selects with a key of
its own, made on first use and kept encrypted in ``meta``; its alerts about
one person agree with each other, but not with the network it may join later.

A member that joined before selection keys existed gets the key with its
next membership sync from the key manager (the sync tag changed, so that
answer is a full one). Until then ``alert.create`` refuses with
``SelectionKeyMissing`` rather than draw a set the network would not draw.
"""

from __future__ import annotations

import base64
import sqlite3
from dataclasses import dataclass

import nacl.utils

from doorwatch.crypto import DEFAULT_ANONYMITY_FLOOR, StorageKey, selection_seed
from doorwatch.node import _network_store as netdb
from doorwatch.node._errors import Conflict
from doorwatch.segments import (
    FrequencyTable,
    MatchKeys,
    SegmentSet,
    SelectionStream,
    budget_bits_for_floor,
    select_segments,
    selection_identity,
)

_LOCAL_KEY = "node.selection_key"
_LOCAL_PURPOSE = "node-selection-key"


class SelectionKeyMissing(Conflict):
    """The node is in a network whose selection key it has not received yet."""


@dataclass(frozen=True, slots=True)
class SelectionContext:
    key: bytes
    anonymity_floor: int
    network_id: str | None
    """The network whose key it is (None: this node's own key, no network)."""

    @property
    def budget_bits(self) -> float:
        return budget_bits_for_floor(self.anonymity_floor)


def _local_key(conn: sqlite3.Connection, storage_key: StorageKey) -> bytes:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (_LOCAL_KEY,)).fetchone()
    if row is not None:
        return storage_key.decrypt(_LOCAL_PURPOSE, base64.b64decode(row[0]))
    key = nacl.utils.random(32)
    blob = storage_key.encrypt(_LOCAL_PURPOSE, key)
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)", (_LOCAL_KEY, base64.b64encode(blob).decode())
    )
    return key


def selection_context(conn: sqlite3.Connection, storage_key: StorageKey) -> SelectionContext:
    """The key and floor ``alert.create`` uses now (runs in the store's transaction)."""
    networks = netdb.list_networks(conn)
    if not networks:
        return SelectionContext(_local_key(conn, storage_key), DEFAULT_ANONYMITY_FLOOR, None)
    floors = []
    for network in networks:
        policy = netdb.network_policy(conn, network.network_id)
        floors.append(policy.anonymity_floor if policy is not None else DEFAULT_ANONYMITY_FLOOR)
    first = networks[0].network_id
    key = netdb.selection_key(conn, first, storage_key)
    if key is None:
        raise SelectionKeyMissing(
            f"this node has not received network {first}'s selection key yet (it comes with "
            "the membership sync from the network's key manager, once that node runs a "
            "version that sends it); try again after the next sync"
        )
    return SelectionContext(key, max(floors), first)


def choose_segments(
    keys: MatchKeys,
    context: SelectionContext,
    *,
    tables: FrequencyTable,
    prefer: FrequencyTable | None = None,
) -> SegmentSet:
    """The subject's segment set: a function of its name and date of birth and the key.

    ``tables`` are the disclosure tables, ``prefer`` the matcher's (see
    ``select_segments``). Both must be the shipped, unrefined tables: every venue
    must make the same choice. Raises BudgetError if nothing fits.
    """
    seed = selection_seed(context.key, selection_identity(keys))
    return select_segments(
        keys,
        SelectionStream(seed),
        tables=tables,
        budget_bits=context.budget_bits,
        prefer=prefer,
    )
