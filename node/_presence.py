"""Signed presence records: each node tells its networks where it listens.

Theory of operation. Members learn each other's addresses from the key
manager's membership bundles, which relay what each member reported. While
the key manager's node is offline that relay stops, and a member that
restarts on a new port (the default listen port is chosen at start-up) would
be lost to the others. So every node also signs, under the purpose
``presence``, a record ``{network_id, peer_id, addrs, at}`` and gossips it on
each of its networks' topics: shortly after start, when a new peer connects
if the last record reached nobody or is over ``NEW_PEER_REPUBLISH`` seconds
old (debounced: the gossip mesh needs a heartbeat to include it), and every
``interval`` seconds.

A receiver accepts a record only from its signer (gossip origin equals the
record's peer id, so relays forward but cannot forge or re-date), from a
member of that network, with a valid signature, at most ``MAX_ADDRS``
well-formed multiaddrs, ``at`` at most ``MAX_SKEW`` in the future and at
most ``MAX_AGE`` in the past, and newer than the last record it accepted from
that peer (no replay). It then stores the addresses and hands them to the
dialer. A record holds no personal data: a peer id and its addresses.
"""

from __future__ import annotations

import sqlite3
from typing import Annotated

import structlog
import trio
from pydantic import Field, StrictInt, StrictStr

from doorwatch.crypto import (
    CryptoError,
    canonical_pack,
    canonical_unpack,
    peer_id_to_public_key,
    verify,
)
from doorwatch.crypto._wire import NetworkId, PeerIdStr, WireModel
from doorwatch.node import _network_store as db
from doorwatch.node._network import NetworkService
from doorwatch.node._p2p_errors import P2PError
from doorwatch.node._p2p_host import parse_multiaddr

log = structlog.get_logger("doorwatch.presence")

KIND = "presence"
PURPOSE = "presence"
MAX_ADDRS = 16
MAX_SKEW = 300  # seconds a record may be ahead of our clock
MAX_AGE = 3600  # seconds after which a record is stale (a replay, or a long-gone node)
NEW_PEER_REPUBLISH = 30.0  # seconds: a new peer within this of the last record waits for the next
MAX_ITEM = 8 * 1024


class PresenceRecord(WireModel):
    network_id: NetworkId
    peer_id: PeerIdStr
    addrs: tuple[Annotated[StrictStr, Field(min_length=1, max_length=256)], ...] = Field(
        max_length=MAX_ADDRS
    )
    at: StrictInt = Field(ge=0)


def sign_record(service: NetworkService, network_id: str, addrs: list[str]) -> bytes:
    """The gossip body of this node's record: ``{"record": bytes, "sig": bytes}``."""
    record = PresenceRecord(
        network_id=network_id,
        peer_id=service.identity.peer_id,
        addrs=tuple(addrs[:MAX_ADDRS]),
        at=service.clock.now(),
    ).to_bytes()
    signature = service.identity.sign(PURPOSE, record)
    return canonical_pack({"record": record, "sig": signature})


def open_record(body: bytes) -> PresenceRecord | None:
    """The record in a gossip body if it is well formed and its signature verifies."""
    if len(body) > MAX_ITEM:
        return None
    try:
        outer = canonical_unpack(body)
        if not isinstance(outer, dict) or set(outer) != {"record", "sig"}:
            return None
        raw, signature = outer["record"], outer["sig"]
        if not isinstance(raw, bytes) or not isinstance(signature, bytes):
            return None
        record = PresenceRecord.from_bytes(raw)
        verify(PURPOSE, peer_id_to_public_key(record.peer_id), raw, signature)
        for addr in record.addrs:
            parse_multiaddr(addr, "addrs")
    except (CryptoError, P2PError):
        return None
    return record


class Presence:
    """Publishes this node's records and applies the members' (see module doc)."""

    # Every 10 minutes, not every minute: at 50 venues each record costs every
    # node several pubsub RPCs (copies from its mesh, IDONTWANT, IHAVE), and
    # addresses change only on a restart, which publishes at once anyway.
    def __init__(self, service: NetworkService, *, interval: float = 600.0) -> None:
        self.service = service
        self.interval = interval
        self.latest: dict[str, int] = {}  # peer id -> ``at`` of its newest accepted record
        self.published = 0
        self.accepted = 0
        self.refused = 0
        service.gossip_checks.append(self._check)
        service.gossip_hooks.append(self._on_item)
        service.extend(self._install)

    def _install(self, service: NetworkService) -> None:
        assert service.host is not None
        service.host.add_task(self._loop)

    # -- publishing -----------------------------------------------------------------------------

    def publish(self) -> None:
        host = self.service.host
        if host is None or not host.running:
            return
        addrs = host.listen_addrs
        for network_id in list(self.service.networks):
            if self.service.publish(network_id, KIND, sign_record(self.service, network_id, addrs)):
                self.published += 1

    async def _loop(self) -> None:
        host = self.service.host
        assert host is not None
        await trio.sleep(2.0)
        self.publish()
        known = set(host.connected_peers())
        reached = self._reaches_anyone()  # did the last record go to anyone?
        last = trio.current_time()
        while True:
            await trio.sleep(1.0)
            now_connected = set(host.connected_peers())
            new_peer = bool(now_connected - known)
            known = now_connected
            # A new peer calls for a record when the last one reached nobody (this
            # node just started) or is a while old; not on every connection: when a
            # venue joins, every member gets a new peer at once, and each
            # publishing then costs every node of the network one record per member.
            republish = new_peer and (
                not reached or trio.current_time() - last >= NEW_PEER_REPUBLISH
            )
            if republish:
                # Let the gossip mesh take the new peer in before publishing.
                await trio.sleep(1.5)
            if republish or trio.current_time() - last >= self.interval:
                self.publish()
                reached = self._reaches_anyone()
                last = trio.current_time()

    def _reaches_anyone(self) -> bool:
        """Does gossip on every network reach a peer (gossipsub publishes to its mesh)?"""
        nets = list(self.service.networks.values())
        return bool(nets) and all(net.gossip.mesh_peers() for net in nets)

    # -- receiving --------------------------------------------------------------------------------

    def _acceptable(self, network_id: str, origin: str, body: bytes) -> PresenceRecord | None:
        record = open_record(body)
        if record is None or record.peer_id != origin or record.network_id != network_id:
            return None
        now = self.service.clock.now()
        if record.at > now + MAX_SKEW or record.at < now - MAX_AGE:
            return None
        return record

    def _check(self, network_id: str, origin: str, kind: str, body: bytes) -> bool:
        if kind != KIND:
            return True
        if self._acceptable(network_id, origin, body) is None:
            self.refused += 1
            log.warning("presence.refused", peer_id=origin, network_id=network_id)
            return False
        return True

    async def _on_item(self, network_id: str, origin: str, kind: str, body: bytes) -> None:
        if kind != KIND:
            return
        record = self._acceptable(network_id, origin, body)
        if record is None or record.at <= self.latest.get(record.peer_id, -1):
            return  # replayed or older than what we hold (gossip can reorder)
        self.latest[record.peer_id] = record.at
        self.accepted += 1
        addrs = list(record.addrs)
        now = self.service.clock.now()
        if self.service.known_addresses(record.peer_id) == tuple(addrs):
            return  # what this node holds already: no write

        def store(conn: sqlite3.Connection) -> None:
            db.set_addresses(conn, record.peer_id, addrs, now)

        # The database first, memory after: a key manager's membership tag is
        # computed from memory and must never describe more than the database holds.
        await self.service.store.run(store)
        if self.service.learn_addresses(record.peer_id, tuple(addrs)):
            log.info("presence.addresses_changed", peer_id=record.peer_id, network_id=network_id)
