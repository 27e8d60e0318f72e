"""Anti-entropy between venues: the sync state machine over request/response streams.

Theory of operation. Gossip loses what was sent while a node was offline,
restarting or cut off; this repairs it. For every network it shares with a
connected member, a node runs the protocol's ``SyncInitiator`` against its
replica's ``ReconciliationIndex``, one message per request on
``/doorwatch/sync/1``; the member answers each with its ``SyncResponder``'s
next message (kept per (peer, session) between requests, for a bounded time
and number). When the exchange is done, the initiator pulls the records the
member holds better on ``/doorwatch/fetch/1`` and pushes the ones it holds
better on ``/doorwatch/push/1``, in batches of at most ``FETCH_BATCH`` ids;
both go through the usual verify-then-apply ingest of ``AlertReplication``.
Bytes on the wire grow with the number of differences, not of alerts.

A sync runs when a member connects (every (re)connection; started by the
side with the smaller peer id, since one exchange moves records both ways)
and every ``interval`` seconds (jittered) with ``fanout`` connected members
of each network picked at random. Syncing with every member every round cost O(members²)
syncs across the network (50 venues: 82 syncs a second, more than a small
machine's cores); with random partners a difference still reaches every
node within a few rounds (each round at least doubles the nodes that hold
it), and ``request_sync`` still syncs with every member at once. Membership
(certificates, revocations, group keys) has its own sync with the key
manager (``NetworkService``); the epochs exchanged here are not acted on.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass
from typing import Final

import structlog
import trio

from doorwatch.crypto import CryptoError, canonical_pack, canonical_unpack
from doorwatch.node._alert_gossip import AlertReplication
from doorwatch.node._errors import NodeError
from doorwatch.node._network import NetworkRuntime, NetworkService
from doorwatch.node._p2p_streams import RequestRejected
from doorwatch.protocol import (
    ProtocolError,
    SyncHello,
    SyncInitiator,
    SyncRanges,
    SyncResponder,
    decode,
    encode,
)

log = structlog.get_logger("doorwatch.sync")

SYNC_PROTOCOL: Final = "/doorwatch/sync/1"
FETCH_PROTOCOL: Final = "/doorwatch/fetch/1"
PUSH_PROTOCOL: Final = "/doorwatch/push/1"
FETCH_BATCH: Final = 256
MAX_FRAME: Final = 2 << 20
SESSION_TTL: Final = 60.0
MAX_SESSIONS: Final = 64
MAX_SESSIONS_PER_PEER: Final = 4
FORGED_PUSH_LIMIT: Final = 8
"""Forged envelopes (``Rejected.forged``) one push may carry before its sender is banned."""
BAN_SECONDS: Final = 600.0


@dataclass
class SyncStats:
    """One finished sync with a peer."""

    peer_id: str
    network_id: str
    messages: int = 0
    bytes_sent: int = 0
    bytes_received: int = 0
    fetched: int = 0
    pushed: int = 0


@dataclass
class _Session:
    peer_id: str
    responder: SyncResponder
    last_used: float


class SyncService:
    """Serves and runs alert syncs for ``replication``'s replicas."""

    def __init__(
        self,
        replication: AlertReplication,
        *,
        interval: float = 30.0,
        fanout: int = 3,
        rng: random.Random | None = None,
    ) -> None:
        self.replication = replication
        self.service: NetworkService = replication.service
        self.interval = interval
        self.fanout = fanout
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not security
        self._sessions: dict[tuple[str, bytes], _Session] = {}
        self.syncs = 0
        self.failures = 0
        self.last: SyncStats | None = None
        self._wake = trio.Event()
        self.service.extend(self._install)
        if self.service.rr is not None:  # the host already runs: serve from now on
            self._install(self.service)

    def _install(self, service: NetworkService) -> None:
        service.register(SYNC_PROTOCOL, self._serve_sync, max_request=MAX_FRAME, timeout=30.0)
        service.register(FETCH_PROTOCOL, self._serve_fetch, max_request=64 * 1024, timeout=30.0)
        service.register(PUSH_PROTOCOL, self._serve_push, max_request=MAX_FRAME, timeout=60.0)

    def request_sync(self) -> None:
        """Sync with every connected member now (e.g. after a restart or a partition)."""
        self._wake.set()

    # -- serving --------------------------------------------------------------------------------

    def _network_for(self, peer_id: str, network_id: object) -> NetworkRuntime:
        net = self.service.networks.get(network_id) if isinstance(network_id, str) else None
        if net is None or net.membership.admit(peer_id) is not None:
            raise RequestRejected("not a member of that network")
        return net

    async def _serve_sync(self, peer_id: str, request: bytes) -> bytes:
        try:
            message = decode(request)
        except ProtocolError as exc:
            _malformed(peer_id, SYNC_PROTOCOL, exc.code.value)
            raise RequestRejected(f"sync: {exc.message}") from None
        now = time.monotonic()
        self._expire(now)
        if isinstance(message, SyncHello):
            net = self._network_for(peer_id, message.network_id)
            mine = [s for s in self._sessions.values() if s.peer_id == peer_id]
            if len(self._sessions) >= MAX_SESSIONS or len(mine) >= MAX_SESSIONS_PER_PEER:
                raise RequestRejected("sync: too many open sessions; try again later")
            responder = SyncResponder(
                self.replication.replica(net.network_id).index,
                network_id=net.network_id,
                revocation_serial=net.revocations.serial if net.revocations else 0,
                group_epochs=net.group_epochs(),
            )
            key = (peer_id, message.session)
            session = _Session(peer_id, responder, now)
            self._sessions[key] = session
        elif isinstance(message, SyncRanges):
            key = (peer_id, message.session)
            found = self._sessions.get(key)
            if found is None:
                raise RequestRejected("sync: no such session (it may have expired)")
            session = found
            session.last_used = now
        else:
            _malformed(peer_id, SYNC_PROTOCOL, "not_a_sync_message")
            raise RequestRejected("sync: expected sync.hello or sync.ranges")
        try:
            session.responder.receive(message)
            reply = session.responder.send()
        except ProtocolError as exc:
            self._sessions.pop(key, None)
            raise RequestRejected(f"sync: {exc.message}") from None
        if session.responder.done or reply is None:
            self._sessions.pop(key, None)
            # A member reconciled with this node: as up to date as a sync it started
            # (the member pulls and pushes the differences next).
            self.replication.last_synced_at = self.replication.venue.clock.now()
        return b"" if reply is None else encode(reply)

    def _expire(self, now: float) -> None:
        for key, session in list(self._sessions.items()):
            if now - session.last_used > SESSION_TTL:
                del self._sessions[key]

    async def _serve_fetch(self, peer_id: str, request: bytes) -> bytes:
        try:
            network_id, ids = _decode_ids(request)
        except RequestRejected:
            _malformed(peer_id, FETCH_PROTOCOL, "fetch_request")
            raise
        self._network_for(peer_id, network_id)
        replica = self.replication.replica(network_id)
        items = []
        for alert_id in ids:
            record = replica.record(alert_id)
            if record is not None:
                items.append(encode(record.message))
        return canonical_pack({"items": items})

    async def _serve_push(self, peer_id: str, request: bytes) -> bytes:
        try:
            network_id, items = _decode_items(request)
        except RequestRejected:
            _malformed(peer_id, PUSH_PROTOCOL, "push_request")
            raise
        self._network_for(peer_id, network_id)
        forged = self.replication.forged_by_peer
        before = forged[peer_id]
        await self.replication.ingest(network_id, [(peer_id, i) for i in items], source="push")
        if forged[peer_id] - before >= FORGED_PUSH_LIMIT:
            # An honest member pushes only records its own checks accepted: this
            # one sends envelopes that do not decode or verify. Gossip bans such a
            # peer through its score; a push has no score, so ban it here.
            await self._ban(peer_id, "forged alert envelopes pushed")
            raise RequestRejected("push refused: forged envelopes")
        return b""

    async def _ban(self, peer_id: str, reason: str) -> None:
        host = self.service.host
        if host is None:
            return
        host.gate.ban(peer_id, BAN_SECONDS, reason)
        log.warning("sync.peer_banned", peer_id=peer_id, reason=reason)
        await host.drop(peer_id)

    # -- initiating -----------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync on every new connection and every ``interval`` seconds, until cancelled."""
        known: set[str] = set()
        next_round = trio.current_time() + self.interval * self.rng.uniform(0.5, 1.0)
        while True:
            with trio.move_on_after(1.0):
                await self._wake.wait()
            woken = self._wake.is_set()
            self._wake = trio.Event()
            host = self.service.host
            connected = set(host.connected_peers()) if host is not None and host.running else set()
            due = woken or trio.current_time() >= next_round
            # On a new connection one side is enough (it fetches and pushes): the one
            # with the smaller peer id. Periodic rounds run from every side.
            me = self.service.identity.peer_id
            if woken:
                peers = connected
            elif due:
                peers = self._partners(connected) | {p for p in connected - known if me < p}
            else:
                peers = {p for p in connected - known if me < p}
            known = connected
            if due:
                next_round = trio.current_time() + self.interval * self.rng.uniform(0.75, 1.25)
            # One peer after the other: after a restart the first sync brings nearly
            # everything, and the next ones find (and move) only what is left.
            for peer_id in sorted(peers):
                await self._sync_peer(peer_id)

    def _partners(self, connected: set[str]) -> set[str]:
        """``fanout`` connected members picked at random in each network (a small
        network beside a large one is not left to chance draws from every peer)."""
        picked: set[str] = set()
        for net in self.service.networks.values():
            members = sorted(p for p in connected if net.membership.admit(p) is None)
            picked.update(self.rng.sample(members, min(self.fanout, len(members))))
        return picked

    async def _sync_peer(self, peer_id: str) -> None:
        for net in list(self.service.networks.values()):
            # Each sync awaits the peer: a network may be left, or the peer revoked,
            # while the one before it ran.
            if self.service.networks.get(net.network_id) is not net:
                continue
            if net.membership.admit(peer_id) is not None:
                continue
            try:
                await self.sync_with(peer_id, net.network_id)
            except (NodeError, ProtocolError, CryptoError, ValueError) as exc:
                self.failures += 1
                log.info("sync.failed", peer_id=peer_id, error=type(exc).__name__)

    async def sync_with(self, peer_id: str, network_id: str) -> SyncStats:
        """One full exchange with ``peer_id`` on ``network_id``: reconcile, fetch, push.

        A network this node is not (or no longer) in ends the exchange at once: a
        leave can complete while a sync round waits on the peer. The rest stops at
        the next step (ingest refuses records of a network that is gone).
        """
        stats = SyncStats(peer_id=peer_id, network_id=network_id)
        net = self.service.networks.get(network_id)
        rr = self.service.rr
        if net is None or rr is None:
            log.info("sync.network_gone", peer_id=peer_id, network_id=network_id)
            return stats
        replica = self.replication.replica(network_id)
        initiator = SyncInitiator(
            replica.index,
            network_id=network_id,
            session=os.urandom(16),
            revocation_serial=net.revocations.serial if net.revocations else 0,
            group_epochs=net.group_epochs(),
        )
        while not initiator.done:
            message = initiator.send()
            if message is None:
                break
            frame = encode(message)
            reply = await rr.request(
                peer_id, SYNC_PROTOCOL, frame, timeout=30.0, max_response=MAX_FRAME
            )
            stats.messages += 1
            stats.bytes_sent += len(frame)
            stats.bytes_received += len(reply)
            if not reply:
                break
            initiator.receive(decode(reply))
        result = initiator.result
        fetch = sorted(result.fetch)
        for start in range(0, len(fetch), FETCH_BATCH):
            if network_id not in self.service.networks:
                return stats
            request = canonical_pack(
                {"network_id": network_id, "ids": fetch[start : start + FETCH_BATCH]}
            )
            reply = await rr.request(
                peer_id, FETCH_PROTOCOL, request, timeout=30.0, max_response=MAX_FRAME * 4
            )
            stats.bytes_sent += len(request)
            stats.bytes_received += len(reply)
            _, items = _decode_items(reply, network_id)
            stats.fetched += len(items)
            await self.replication.ingest(network_id, [(peer_id, i) for i in items], source="sync")
        push = [r for r in (replica.record(i) for i in sorted(result.push)) if r is not None]
        for start in range(0, len(push), FETCH_BATCH):
            if network_id not in self.service.networks:
                return stats
            frames = [encode(r.message) for r in push[start : start + FETCH_BATCH]]
            request = canonical_pack({"network_id": network_id, "items": frames})
            await rr.request(peer_id, PUSH_PROTOCOL, request, timeout=60.0)
            stats.bytes_sent += len(request)
            stats.pushed += len(frames)
        self.syncs += 1
        self.last = stats
        self.replication.last_synced_at = self.replication.venue.clock.now()
        if stats.fetched or stats.pushed:
            log.info(
                "sync.done",
                peer_id=peer_id,
                network_id=network_id,
                fetched=stats.fetched,
                pushed=stats.pushed,
                bytes=stats.bytes_sent + stats.bytes_received,
            )
        return stats

    def status(self) -> dict[str, object]:
        return {
            "syncs": self.syncs,
            "failures": self.failures,
            "open_sessions": len(self._sessions),
        }


def _malformed(peer_id: str, protocol: str, rule: str) -> None:
    log.warning("sync.malformed_request", peer_id=peer_id, protocol=protocol, rule=rule)


def _decode_ids(data: bytes) -> tuple[str, list[bytes]]:
    try:
        value = canonical_unpack(data)
    except CryptoError:
        raise RequestRejected("fetch: the request is not canonical msgpack") from None
    if not isinstance(value, dict) or set(value) != {"network_id", "ids"}:
        raise RequestRejected("fetch: the request needs network_id and ids")
    network_id, ids = value["network_id"], value["ids"]
    if not isinstance(network_id, str) or not isinstance(ids, tuple | list):
        raise RequestRejected("fetch: network_id must be text and ids a list")
    if len(ids) > FETCH_BATCH or not all(isinstance(i, bytes) and len(i) == 16 for i in ids):
        raise RequestRejected(f"fetch: ids must be at most {FETCH_BATCH} 16-byte alert ids")
    return network_id, list(ids)


def _decode_items(data: bytes, network_id: str | None = None) -> tuple[str, list[bytes]]:
    try:
        value = canonical_unpack(data)
    except CryptoError:
        raise RequestRejected("push: not canonical msgpack") from None
    if not isinstance(value, dict):
        raise RequestRejected("push: expected a map")
    if network_id is None:
        network_id = value.get("network_id")
        if not isinstance(network_id, str):
            raise RequestRejected("push: network_id must be text")
    items = value.get("items")
    if not isinstance(items, tuple | list) or len(items) > FETCH_BATCH:
        raise RequestRejected(f"push: items must be a list of at most {FETCH_BATCH}")
    if not all(isinstance(i, bytes) for i in items):
        raise RequestRejected("push: every item must be bytes")
    return network_id, list(items)
