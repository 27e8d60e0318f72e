"""Conditional membership syncs: "unchanged" when the key manager has nothing new.

Theory of operation. Every member asks its network's key manager for the
membership every few seconds (``NetworkService._sync_loop``). The full
answer (every certificate, the revocation list, the member's group keys
sealed to it, every member's addresses) grows with the network, and so does
installing it (each certificate verified, a write to the database): with 50
members that is 25 full answers a second at the key manager and 50 installs
of 50 certificates every 2 s, which a small machine cannot carry.

So a query carries ``known``, the tag of the last answer the member installed
from that peer. The key manager computes the tag of what it would send from
memory (``membership_tag``: certificate serials, the revocation list's
serial, the group-key epochs of the member's groups, the members' addresses,
and an hour counter offset per member, so that at worst once an hour each
member installs a full answer whatever happened) and answers ``bundle=None``
when they are equal. It answers in full when they differ, when the member
reports new addresses, and when a certificate is due for renewal (the full
path renews it). A member relaying what the authority signed (key manager
offline) always answers in full with an empty tag.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Final

from pydantic import Field, StrictBytes

from doorwatch.crypto import Certificate, RevocationList, canonical_pack
from doorwatch.crypto._wire import NetworkId, WireModel
from doorwatch.node._network_admin import Addr

__all__ = ["MAX_BUNDLE", "TAG_BYTES", "SyncAnswer", "SyncQuery", "membership_tag"]

TAG_BYTES: Final = 16
MAX_BUNDLE: Final = 8 << 20
"""A full answer's cap (the request/response layer caps the whole frame too)."""
_HOUR: Final = 3600


class SyncQuery(WireModel):
    """A member's membership sync: its listen addresses and the tag of what it holds."""

    network_id: NetworkId
    addrs: tuple[Addr, ...] = Field(max_length=16)
    known: StrictBytes = Field(default=b"", max_length=TAG_BYTES)


class SyncAnswer(WireModel):
    """The answer: a ``MembershipBundle``'s bytes and its tag, or ``bundle=None``
    ("unchanged since ``known``")."""

    tag: StrictBytes = Field(max_length=TAG_BYTES)
    bundle: StrictBytes | None = Field(max_length=MAX_BUNDLE)


def membership_tag(
    *,
    peer_id: str,
    certificates: Iterable[Certificate],
    revocations: RevocationList | None,
    key_ids: Iterable[tuple[str, int]],
    addresses: Mapping[str, tuple[str, ...]],
    now: int,
    policy_serial: int = -1,
) -> bytes:
    """The tag of what the key manager would send ``peer_id`` (see the module doc).

    ``key_ids`` are ``(group, epoch)`` of every group key held; only the groups of
    ``peer_id``'s certificate count. ``addresses`` are the members' known addresses.
    ``policy_serial``: the signed network policy's (-1: none). The body's first
    element names its layout, so that tags changed once when the policy and the
    selection key joined the bundle (every member then gets one full answer).
    """
    held = list(certificates)
    certs = sorted((c.peer_id, c.serial) for c in held)
    own = next((c for c in held if c.peer_id == peer_id), None)
    groups = set(own.groups) if own is not None else set()
    keys = sorted((g, e) for g, e in key_ids if g in groups)
    addrs = sorted((p, list(a)) for p, a in addresses.items())
    offset = int.from_bytes(hashlib.blake2b(peer_id.encode(), digest_size=2).digest(), "big")
    hour = (now + offset) // _HOUR
    body = canonical_pack(
        [
            "policy-selection-v1",
            policy_serial,
            [list(c) for c in certs],
            revocations.serial if revocations is not None else -1,
            [list(k) for k in keys],
            [[p, a] for p, a in addrs],
            hour,
        ]
    )
    return hashlib.blake2b(body, digest_size=TAG_BYTES).digest()
