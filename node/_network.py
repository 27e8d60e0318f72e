"""The daemon's peer-to-peer half: one libp2p host for all the node's networks.

Theory of operation. ``NetworkService.run`` loads the networks this node
belongs to from the store and *builds* a ``P2PHost`` (the node identity,
Noise only, the membership gate), one ``RequestResponse``, one ``Dialer`` and,
per network, a ``NetworkMembership``, a ``GroupKeyring`` and a ``Gossip``
topic; then it runs the host until a reload is requested (a network was
created or joined while the node runs: py-libp2p services such as GossipSub
topics must exist before the host starts), and builds again on the same
listen ports.

Membership stays current without a reload: ``refresh()`` re-reads the
certificates, revocation list and group keys from the store into the
running memberships and keyrings, updates the dialer's wanted set and asks
the gate again about every connected peer (a revoked peer is dropped).

Membership sync (``/doorwatch/membership/2``): when the key manager announces
a change on gossip (after a short random delay), and every ``sync_interval``
seconds otherwise, a member asks its network's key manager (the authority's node) for a
``MembershipBundle`` and reports its own listen addresses; the key manager
answers "unchanged" when nothing it would send has changed since the
member's last answer (``_membership_sync``); otherwise the answer brings
new members' certificates, the revocation list, rotated group keys and the
members' addresses, which the dialer then keeps connected. Join
(``/doorwatch/join/1``) is served to invite holders only; see
``_network_admin``.

Parts built on this service extend it with ``extend(fn)``: ``fn(service)`` is
called on every build, after ``host``/``rr``/``dialer``/``networks`` exist and
before the host starts, to register request handlers, tasks and gossip hooks.
"""

from __future__ import annotations

import functools
import logging
import random
import re
import sqlite3
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import structlog
import trio

from doorwatch.crypto import (
    DEFAULT_ANONYMITY_FLOOR,
    Certificate,
    CryptoError,
    GroupKey,
    InviteToken,
    JoinRequest,
    NetworkPolicy,
    NodeIdentity,
    RevocationList,
    StorageKey,
    canonical_pack,
    canonical_unpack,
    peer_id_to_public_key,
    short_id,
)
from doorwatch.node import _network_admin as admin
from doorwatch.node import _network_store as db
from doorwatch.node._clock import Clock
from doorwatch.node._errors import NodeError
from doorwatch.node._membership_sync import SyncAnswer, SyncQuery, membership_tag
from doorwatch.node._network_errors import BadSyncAnswer, InviteRefused
from doorwatch.node._p2p_dialer import Dialer
from doorwatch.node._p2p_errors import P2PError
from doorwatch.node._p2p_gossip import Gossip
from doorwatch.node._p2p_host import P2PHost
from doorwatch.node._p2p_membership import NetworkMembership
from doorwatch.node._p2p_streams import RequestRejected, RequestResponse
from doorwatch.node._store import AsyncStore
from doorwatch.protocol import GroupKeyring

log = structlog.get_logger("doorwatch.network")

JOIN_PROTOCOL = "/doorwatch/join/1"
SYNC_PROTOCOL = "/doorwatch/membership/2"
JOIN_REFUSED = "no certificate"


RENEWAL_RETRY = 3600
"""Seconds between full membership answers forced by a renewal the key manager cannot make."""
SYNCS_PER_INTERVAL = 10
"""Members per ``sync_interval`` a key manager answers periodically (``_sync_period``)."""
LAST_SEEN_PERSIST = 60
"""Seconds between writes of the peers' last-seen times to the database."""

BANNED = "banned for invalid messages"
"""``status()`` peers' ``refused`` while the gate bans the peer (gossip score, forged pushes)."""


def _key_ids(net: NetworkRuntime) -> list[tuple[str, int]]:
    return [(k.group, k.epoch) for k in net.keyring.keys()]  # noqa: SIM118 - not a dict


def _revocation_serial(net: NetworkRuntime) -> int:
    return -1 if net.revocations is None else net.revocations.serial


@functools.lru_cache(maxsize=4096)
def _short_id(peer_id: str) -> str:
    # node.status lists every member's short id, and scripts poll it: derive once.
    return short_id(peer_id_to_public_key(peer_id))


def gossip_topic(network_id: str) -> str:
    return f"/doorwatch/net/{network_id}/1"


GossipHook = Callable[[str, str, str, bytes], Awaitable[None]]
"""``(network_id, origin_peer_id, kind, body)``: called for each valid gossip item."""
GossipCheck = Callable[[str, str, str, bytes], bool]
"""``(network_id, origin_peer_id, kind, body) -> valid``: validation of the kinds it knows
(return True for kinds it does not handle)."""

MEMBERSHIP_CHANGED = "membership"
_KIND = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")


def encode_item(kind: str, body: bytes) -> bytes:
    """A gossip item: canonical msgpack ``{"kind", "body"}``."""
    if not _KIND.match(kind):
        raise ValueError("gossip kind: 1-32 lower-case letters, digits, _ . -")
    return canonical_pack({"kind": kind, "body": body})


def decode_item(item: bytes) -> tuple[str, bytes] | None:
    try:
        value = canonical_unpack(item)
    except CryptoError:
        return None
    if not isinstance(value, dict) or set(value) != {"kind", "body"}:
        return None
    kind, body = value["kind"], value["body"]
    if not isinstance(kind, str) or not _KIND.match(kind) or not isinstance(body, bytes):
        return None
    return kind, body


def _quiet_libp2p_routine_errors() -> None:
    # py-libp2p logs two routine events of a network with offline or
    # not-yet-synced peers at ERROR: a TCP connect that fails (tcp.py) and the
    # muxer negotiation failing after the remote's gate refused us
    # (multiselect_client.py). The dialer records both (Dialer.links()), and
    # the refusing side logs its refusal; they are not errors of this node.
    for name in ("libp2p.transport.tcp.tcp", "libp2p.protocol_muxer.multiselect_client"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@dataclass
class NetworkRuntime:
    """One network's live state inside the running host."""

    network_id: str
    name: str
    authority_public_key: bytes
    is_authority: bool
    membership: NetworkMembership
    keyring: GroupKeyring
    gossip: Gossip
    certificates: dict[str, Certificate] = field(default_factory=dict)
    revocations: RevocationList | None = None
    policy: NetworkPolicy | None = None
    """The authority-signed network policy held (None: none received yet, defaults apply)."""

    @property
    def anonymity_floor(self) -> int:
        return self.policy.anonymity_floor if self.policy is not None else DEFAULT_ANONYMITY_FLOOR

    def group_epochs(self) -> dict[str, int]:
        return dict(self.keyring.epochs())


@dataclass(frozen=True, slots=True)
class _State:
    networks: list[db.NetworkRow]
    certificates: dict[str, list[Certificate]]
    revocations: dict[str, RevocationList | None]
    policies: dict[str, NetworkPolicy | None]
    keys: dict[str, list[GroupKey]]
    addresses: dict[str, db.PeerAddress]
    invites: list[db.InviteRow]


def _load_state(conn: sqlite3.Connection, key: StorageKey, now: int) -> _State:
    networks = db.list_networks(conn)
    return _State(
        networks=networks,
        certificates={n.network_id: db.certificates(conn, n.network_id) for n in networks},
        revocations={n.network_id: db.revocations(conn, n.network_id) for n in networks},
        policies={n.network_id: db.network_policy(conn, n.network_id) for n in networks},
        keys={n.network_id: db.group_keys(conn, n.network_id, key) for n in networks},
        addresses=db.addresses(conn),
        invites=db.open_invites(conn, now),
    )


def _relay_bundle(conn: sqlite3.Connection, network_id: str) -> admin.MembershipBundle:
    """What a member relays: the authority-signed certificates and revocation list."""
    network = next(n for n in db.list_networks(conn) if n.network_id == network_id)
    return admin.MembershipBundle(
        network_id=network_id,
        name=network.name,
        permitted_jurisdictions=network.permitted_jurisdictions,
        certificates=tuple(db.certificates(conn, network_id)),
        revocations=db.revocations(conn, network_id),
        sealed_group_keys=(),
        addresses={},
        policy=db.network_policy(conn, network_id),
    )


class NetworkService:
    """The node's networks, host, request/response, gossip and dialer (see module doc)."""

    def __init__(
        self,
        *,
        store: AsyncStore,
        identity: NodeIdentity,
        storage_key: StorageKey,
        clock: Clock,
        listen: Sequence[str],
        # Changes are announced on gossip and wake the sync at once; the period is
        # the fallback, for a small network (``_sync_period`` stretches it for a
        # large one).
        sync_interval: float = 2.0,
    ) -> None:
        self.store = store
        self.identity = identity
        self.storage_key = storage_key
        self.clock = clock
        self.sync_interval = sync_interval
        self._listen = list(listen)
        self.host: P2PHost | None = None
        self.rr: RequestResponse | None = None
        self.dialer: Dialer | None = None
        self.networks: dict[str, NetworkRuntime] = {}
        self.gossip_hooks: list[GossipHook] = []
        self.gossip_checks: list[GossipCheck] = []
        # Called with a network id when the node has left it or was revoked (the
        # store no longer lists it), before the host is rebuilt without it.
        self.leave_hooks: list[Callable[[str], Awaitable[None]]] = []
        # Called with a network id when ``refresh`` installed group keys this node did not
        # hold (a rotation, a late delivery): cheap notifications, the work runs elsewhere.
        self.key_hooks: list[Callable[[str], None]] = []
        # Called with a network id after ``refresh`` installed a newer revocation list of
        # it (the node itself still a member): received alerts of revoked originators go.
        self.revocation_hooks: list[Callable[[str], Awaitable[object]]] = []
        # Requests the members-only wrapper refused, by reason (``status()["gate"]``).
        self.requests_refused: Counter[str] = Counter()
        self._extensions: list[Callable[[NetworkService], None]] = []
        self._join_ids: dict[str, int] = {}  # join identity -> invite expiry
        self._addresses: dict[str, db.PeerAddress] = {}
        self._last_seen: dict[str, int] = {}
        self._last_seen_saved = 0
        self._reload = trio.Event()
        self._running = trio.Event()
        self._wake_sync = trio.Event()
        self._refresh_wanted = False
        self.builds = 0
        self._relay_turn = 0
        self._sync_jitter = False
        # Tag of the last membership answer installed, per (network, key manager).
        self._membership_tags: dict[tuple[str, str], bytes] = {}
        # Membership syncs answered as key manager: "full" or "unchanged".
        self.membership_syncs: Counter[str] = Counter()
        self._renewal_answered: dict[str, int] = {}
        _quiet_libp2p_routine_errors()

    # -- extension points -----------------------------------------------------------

    def extend(self, build: Callable[[NetworkService], None]) -> None:
        """Run ``build(self)`` on every (re)build, before the host starts."""
        self._extensions.append(build)

    def register(
        self,
        protocol: str,
        handler: Callable[[str, bytes], Awaitable[bytes]],
        *,
        max_request: int = 1 << 20,
        timeout: float = 10.0,
        max_concurrent: int = 16,
    ) -> None:
        """Serve ``protocol`` to members only (call it from an ``extend`` hook).

        The gate also admits live invites' join identities, for the join
        protocol; this wrapper refuses them (and anyone else without a valid
        certificate) before ``handler(peer_id, request)`` runs.
        """
        assert self.rr is not None

        async def members_only(peer_id: str, request: bytes) -> bytes:
            if not self.is_member(peer_id):
                reason = self._why_not_member(peer_id)
                self.requests_refused[reason] += 1
                log.warning(
                    "network.request_refused", peer_id=peer_id, protocol=protocol, reason=reason
                )
                raise RequestRejected("not a member of a network this node belongs to")
            return await handler(peer_id, request)

        self.rr.register(
            protocol,
            members_only,
            max_request=max_request,
            timeout=timeout,
            max_concurrent=max_concurrent,
        )

    def is_member(self, peer_id: str, network_id: str | None = None) -> bool:
        """Does ``peer_id`` hold a valid certificate (of ``network_id``, or of any network)?"""
        nets = [self.networks[network_id]] if network_id in self.networks else []
        if network_id is None:
            nets = list(self.networks.values())
        return any(n.membership.admit(peer_id) is None for n in nets)

    def _why_not_member(self, peer_id: str) -> str:
        # A revoked member still connected (the gate drops it on its next round), a
        # join identity asking for more than the join, or a peer with no certificate.
        reasons = [n.membership.admit(peer_id) for n in self.networks.values()]
        found = next((r for r in reasons if r is not None and r != JOIN_REFUSED), None)
        if found is not None:
            return found
        return "join identity" if peer_id in self._join_ids else JOIN_REFUSED

    def admit(self, peer_id: str) -> str | None:
        """The gate's rule: members of any shared network, and live invites' join identities."""
        reasons = [n.membership.admit(peer_id) for n in self.networks.values()]
        if any(r is None for r in reasons):
            return None
        expires = self._join_ids.get(peer_id)
        if expires is not None and self.clock.now() < expires:
            return None
        return reasons[0] if reasons else JOIN_REFUSED

    # -- lifecycle --------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        started = False
        while True:
            self._reload = trio.Event()
            host = await self._build()
            async with host:
                self._pin_listen_ports(host)
                self._running.set()
                log.info(
                    "network.started",
                    listen=host.listen_addrs,
                    networks=sorted(self.networks),
                )
                if not started:
                    started = True
                    task_status.started()
                await self._reload.wait()
                self._running = trio.Event()
            log.info("network.reloading")

    async def reload(self) -> None:
        """Rebuild the host (new network), and return once the new one runs."""
        running = self._running
        self._reload.set()
        if running.is_set():
            while self._running is running or not self._running.is_set():
                await trio.sleep(0.02)

    def _pin_listen_ports(self, host: P2PHost) -> None:
        # A rebuild must listen where invites and peers already point: keep the
        # ports the OS chose for /tcp/0.
        actual = host.listen_addrs
        pinned = []
        for configured in self._listen:
            if configured.endswith("/tcp/0"):
                prefix = configured[: -len("0")]
                match = next((a for a in actual if a.startswith(prefix)), None)
                pinned.append(match or configured)
            else:
                pinned.append(configured)
        self._listen = pinned

    async def _build(self) -> P2PHost:
        state = await self.store.run(_load_state, self.storage_key, self.clock.now())
        host = P2PHost(self.identity, admit=self.admit, listen=self._listen)
        self.host = host
        self.rr = RequestResponse(host)
        self.dialer = Dialer(host, base_delay=0.5, max_delay=10.0, clock=self.clock)
        self.networks = {}
        for row in state.networks:
            membership = NetworkMembership(
                authority_public_key=row.authority_public_key,
                network_id=row.network_id,
                clock=self.clock,
                permitted_jurisdictions=row.permitted_jurisdictions,
            )
            gossip = Gossip(
                host,
                gossip_topic(row.network_id),
                validate=partial(self._validate_gossip, row.network_id),
                on_item=partial(self._on_gossip, row.network_id),
            )
            self.networks[row.network_id] = NetworkRuntime(
                network_id=row.network_id,
                name=row.name,
                authority_public_key=row.authority_public_key,
                is_authority=row.is_authority,
                membership=membership,
                keyring=GroupKeyring(
                    identity=self.identity, authority_public_key=row.authority_public_key
                ),
                gossip=gossip,
            )
        self._apply(state)
        self.rr.register(JOIN_PROTOCOL, self._serve_join, max_request=16 * 1024, timeout=15.0)
        self.rr.register(SYNC_PROTOCOL, self._serve_sync, max_request=16 * 1024, timeout=15.0)
        host.add_task(self._sync_loop)
        for build in self._extensions:
            build(self)
        self.builds += 1
        return host

    def _apply(self, state: _State) -> None:
        """Install a freshly loaded state into the running memberships and keyrings."""
        for row in state.networks:
            net = self.networks.get(row.network_id)
            if net is None:
                continue
            for certificate in state.certificates[row.network_id]:
                try:
                    net.membership.add_certificate(certificate)
                except CryptoError:
                    log.warning("network.certificate_ignored", peer_id=certificate.peer_id)
                    continue
                net.certificates[certificate.peer_id] = certificate
            rl = state.revocations[row.network_id]
            if rl is not None and (net.revocations is None or rl.serial > net.revocations.serial):
                net.membership.set_revocations(rl)
                net.revocations = rl
            policy = state.policies[row.network_id]
            if policy is not None and (net.policy is None or policy.serial > net.policy.serial):
                net.policy = policy
            for key in state.keys[row.network_id]:
                if net.keyring.key_for(key.group, key.epoch) is None:
                    net.keyring.add(key)
        self._addresses = state.addresses
        for peer_id, entry in state.addresses.items():
            if entry.last_seen is not None:
                self._last_seen[peer_id] = max(self._last_seen.get(peer_id, 0), entry.last_seen)
        self._join_ids = {
            i.join_peer_id: i.expires_at for i in state.invites if i.network_id in self.networks
        }
        self._update_dialer()

    def _update_dialer(self) -> None:
        if self.dialer is None:
            return
        wanted: dict[str, tuple[str, ...]] = {}
        for net in self.networks.values():
            for peer_id in net.membership.members():
                entry = self._addresses.get(peer_id)
                if peer_id != self.identity.peer_id and entry is not None and entry.addrs:
                    wanted[peer_id] = entry.addrs
        try:
            self.dialer.set_peers(wanted)
        except P2PError:
            log.warning("network.bad_peer_address")

    def known_addresses(self, peer_id: str) -> tuple[str, ...]:
        """The addresses this node dials for ``peer_id`` (empty if none)."""
        entry = self._addresses.get(peer_id)
        return entry.addrs if entry is not None else ()

    def learn_addresses(self, peer_id: str, addrs: tuple[str, ...]) -> bool:
        """Use ``addrs`` for ``peer_id`` from now on (a presence record); True if they changed."""
        entry = self._addresses.get(peer_id)
        if entry is not None and entry.addrs == addrs:
            return False
        self._addresses[peer_id] = db.PeerAddress(addrs, entry.last_seen if entry else None)
        self._update_dialer()
        return True

    async def refresh(self) -> None:
        """Re-read membership from the store; reload if a network appeared; drop refused peers."""
        state = await self.store.run(_load_state, self.storage_key, self.clock.now())
        known = {n.network_id for n in state.networks}
        lists = {nid: _revocation_serial(net) for nid, net in self.networks.items()}
        if known != set(self.networks):
            for network_id in set(self.networks) - known:
                del self.networks[network_id]
                for hook in self.leave_hooks:
                    await hook(network_id)
            await self.reload()
            await self._revocations_changed(lists)
            return
        held = {nid: set(_key_ids(net)) for nid, net in self.networks.items()}
        self._apply(state)
        for network_id, net in self.networks.items():
            if set(_key_ids(net)) - held.get(network_id, set()):
                for notify in self.key_hooks:
                    notify(network_id)
        await self._revocations_changed(lists)
        if self.host is not None and self.host.running:
            dropped = await self.host.reevaluate()
            if dropped:
                log.info("network.peers_dropped", peers=dropped)

    async def _revocations_changed(self, before: dict[str, int]) -> None:
        for network_id, net in list(self.networks.items()):
            if _revocation_serial(net) > before.get(network_id, -1):
                for hook in self.revocation_hooks:
                    await hook(network_id)

    def request_refresh(self) -> None:
        """``refresh()`` soon, from the sync loop: for request handlers, which a rebuild
        would cancel before they answer."""
        self._refresh_wanted = True
        self._wake_sync.set()

    # -- gossip ----------------------------------------------------------------------------

    def publish(self, network_id: str, kind: str, body: bytes) -> bool:
        """Queue a gossip item on ``network_id``'s topic; False if not running or queue full."""
        net = self.networks.get(network_id)
        if net is None or self.host is None or not self.host.running:
            return False
        return net.gossip.publish_nowait(encode_item(kind, body))

    def announce_membership(self, network_id: str) -> None:
        """Key manager: tell members to sync now (a join or a revocation happened)."""
        self.publish(network_id, MEMBERSHIP_CHANGED, b"")

    def _validate_gossip(self, network_id: str, origin: str, item: bytes) -> bool:
        net = self.networks.get(network_id)
        if net is None or net.membership.admit(origin) is not None:
            return False
        if origin == self.identity.peer_id:
            return True
        decoded = decode_item(item)
        if decoded is None:
            return False
        kind, body = decoded
        if kind == MEMBERSHIP_CHANGED:
            certificate = net.certificates.get(origin)
            return certificate is not None and certificate.key_manager
        return all(check(network_id, origin, kind, body) for check in self.gossip_checks)

    async def _on_gossip(self, network_id: str, origin: str, item: bytes) -> None:
        decoded = decode_item(item)
        if decoded is None or origin == self.identity.peer_id:
            return
        kind, body = decoded
        if kind == MEMBERSHIP_CHANGED:
            # The sync itself runs over request/response; spread the members'
            # requests so that the key manager is not asked by all at once.
            self._sync_jitter = True
            self._wake_sync.set()
            return
        for hook in self.gossip_hooks:
            await hook(network_id, origin, kind, body)

    # -- join (authority side) ----------------------------------------------------------------

    async def _serve_join(self, peer_id: str, payload: bytes) -> bytes:
        if peer_id not in self._join_ids:
            raise RequestRejected("the join protocol is only for invite holders")
        try:
            request = JoinRequest.from_bytes(payload)
        except CryptoError as exc:
            raise RequestRejected(f"the join request is malformed: {exc}") from exc
        host = self.host
        own_addrs = host.listen_addrs if host is not None else []
        try:
            bundle = await self.store.run(
                admin.accept_join,
                storage_key=self.storage_key,
                identity=self.identity,
                request=request,
                transport_peer_id=peer_id,
                now=self.clock.now(),
                own_addrs=own_addrs,
            )
        except InviteRefused as exc:
            log.warning("network.join_refused", peer_id=peer_id, reason=str(exc))
            raise RequestRejected(str(exc)) from exc
        self._join_ids.pop(peer_id, None)
        net = self.networks.get(request.network_id)
        if net is not None:
            for certificate in bundle.certificates:
                if certificate.peer_id == request.peer_id:
                    net.membership.add_certificate(certificate)
                    net.certificates[certificate.peer_id] = certificate
        log.info("network.member_joined", network_id=request.network_id, peer_id=request.peer_id)
        self.announce_membership(request.network_id)
        return bundle.to_bytes()

    # -- membership sync ---------------------------------------------------------------------

    async def _serve_sync(self, peer_id: str, payload: bytes) -> bytes:
        try:
            request = SyncQuery.from_bytes(payload)
        except CryptoError as exc:
            raise RequestRejected(f"the sync request is malformed: {exc}") from exc
        net = self.networks.get(request.network_id)
        if net is None:
            raise RequestRejected("this node is not in that network")
        if net.membership.admit(peer_id) is not None:
            raise RequestRejected("not a member of the network")
        if not net.is_authority:
            # Any member relays what the authority signed (certificates, the
            # revocation list), so news of a revocation spreads while the key
            # manager's node is offline. Group keys and addresses are the key
            # manager's to send (addresses also come signed: _presence.py).
            relay = await self.store.run(_relay_bundle, request.network_id)
            return SyncAnswer(tag=b"", bundle=relay.to_bytes()).to_bytes()
        now = self.clock.now()
        host = self.host
        addrs = list(request.addrs)
        # The requester's addresses as it reports them: the answer stores them
        # before reading the bundle, and memory follows.
        tag = self._membership_tag(net, peer_id, now, reported=tuple(addrs))
        known_addrs = self._addresses.get(peer_id, db.PeerAddress((), None)).addrs
        # Renewals are made on the full path; with the authority key offline they
        # cannot be, so a due renewal forces a full answer at most once an hour.
        renewal_wanted = self._renewals_due(net, now) and (
            now - self._renewal_answered.get(peer_id, -RENEWAL_RETRY) >= RENEWAL_RETRY
        )
        if (
            request.known
            and request.known == tag
            and known_addrs == tuple(addrs)
            and not renewal_wanted
        ):
            self.membership_syncs["unchanged"] += 1
            return SyncAnswer(tag=tag, bundle=None).to_bytes()

        def answer(conn: sqlite3.Connection) -> admin.MembershipBundle:
            db.set_addresses(conn, peer_id, addrs, now)
            return admin.membership_bundle(
                conn,
                storage_key=self.storage_key,
                identity=self.identity,
                network_id=request.network_id,
                peer_id=peer_id,
                own_addrs=host.listen_addrs if host is not None else (),
                now=now,
            )

        bundle = await self.store.run(answer)
        for certificate in bundle.certificates:  # renewed while answering
            known = net.certificates.get(certificate.peer_id)
            if known is not None and certificate.serial > known.serial:
                net.membership.add_certificate(certificate)
                net.certificates[certificate.peer_id] = certificate
        if known_addrs != tuple(addrs):
            self._addresses[peer_id] = db.PeerAddress(tuple(addrs), None)
            self._update_dialer()
        self.membership_syncs["full"] += 1
        if renewal_wanted:
            self._renewal_answered[peer_id] = now
        # The tag computed before the read, not after: memory is only ever updated
        # after the database (joins, addresses, refresh), so the bundle holds at
        # least what that tag describes. A tag computed after the read could
        # describe a join committed meanwhile that the bundle lacks, and the member
        # would then be told "unchanged" without it (at worst an extra full answer
        # this way: the next tag differs).
        return SyncAnswer(tag=tag, bundle=bundle.to_bytes()).to_bytes()

    def _membership_tag(
        self, net: NetworkRuntime, peer_id: str, now: int, *, reported: tuple[str, ...]
    ) -> bytes:
        addresses = {
            p: a.addrs
            for p, a in self._addresses.items()
            if p in net.certificates and a.addrs and p != self.identity.peer_id
        }
        addresses.pop(peer_id, None)
        if reported:
            addresses[peer_id] = reported
        if self.host is not None:
            addresses[self.identity.peer_id] = tuple(self.host.listen_addrs)
        return membership_tag(
            peer_id=peer_id,
            certificates=net.certificates.values(),
            revocations=net.revocations,
            key_ids=_key_ids(net),
            addresses=addresses,
            now=now,
            policy_serial=net.policy.serial if net.policy is not None else -1,
        )

    @staticmethod
    def _renewals_due(net: NetworkRuntime, now: int) -> bool:
        return any(admin.renewal_due(c, net.revocations, now) for c in net.certificates.values())

    async def install_synced(
        self, net: NetworkRuntime, bundle: admin.MembershipBundle, sender: str
    ) -> admin.InstallResult | None:
        """Install a membership sync's answer, unless the node left ``net`` while the answer
        was on its way (``install_bundle`` would join it again): then None."""
        now = self.clock.now()

        def install(conn: sqlite3.Connection) -> admin.InstallResult | None:
            if all(n.network_id != net.network_id for n in db.list_networks(conn)):
                return None
            return admin.install_bundle(
                conn,
                storage_key=self.storage_key,
                identity=self.identity,
                bundle=bundle,
                authority_public_key=net.authority_public_key,
                sender_peer_id=sender,
                now=now,
            )

        result = await self.store.run(install)
        if result is None:
            log.info("network.sync_after_leave_ignored", network_id=net.network_id)
        return result

    async def _sync_once(self, net: NetworkRuntime) -> None:
        assert self.rr is not None
        assert self.host is not None
        managers = [
            c.peer_id
            for c in net.certificates.values()
            if c.key_manager
            and c.peer_id != self.identity.peer_id
            and net.membership.admit(c.peer_id) is None
        ]
        addrs = tuple(self.host.listen_addrs)
        for manager in managers:
            known = self._membership_tags.get((net.network_id, manager), b"")
            request = SyncQuery(network_id=net.network_id, addrs=addrs, known=known)
            try:
                reply = await self.rr.request(
                    manager, SYNC_PROTOCOL, request.to_bytes(), timeout=10.0
                )
                answer = SyncAnswer.from_bytes(reply)
                if answer.bundle is None:
                    if not known or answer.tag != known:
                        raise BadSyncAnswer("the key manager said unchanged to a different state")
                    return
                bundle = admin.MembershipBundle.from_bytes(answer.bundle)
                result = await self.install_synced(net, bundle, manager)
            except (NodeError, CryptoError) as exc:  # P2P, network and store errors
                log.debug("network.sync_failed", peer_id=manager, error=str(exc))
                self._membership_tags.pop((net.network_id, manager), None)
                continue
            if result is None:
                return
            self._membership_tags[(net.network_id, manager)] = answer.tag
            changed = (
                result.new_certificates
                or result.new_revocations
                or result.new_group_keys
                or result.new_policy
                or result.new_selection_key
            )
            bundle_addrs = {p: tuple(a) for p, a in bundle.addresses.items()}
            if changed or any(
                self._addresses.get(p, db.PeerAddress((), None)).addrs != a
                for p, a in bundle_addrs.items()
                if p != self.identity.peer_id
            ):
                log.info(
                    "network.synced",
                    network_id=net.network_id,
                    certificates=result.new_certificates,
                    revocations=result.new_revocations,
                    group_keys=result.new_group_keys,
                    policy=result.new_policy,
                    selection_key=result.new_selection_key,
                )
                await self.refresh()
            return
        await self._sync_from_members(net, SyncQuery(network_id=net.network_id, addrs=addrs))

    async def _sync_from_members(self, net: NetworkRuntime, request: SyncQuery) -> None:
        """No key manager answered: ask one connected member for what the authority signed."""
        assert self.rr is not None
        assert self.host is not None
        connected = [
            p
            for p in self.host.connected_peers()
            if p in net.certificates and net.membership.admit(p) is None
        ]
        if not connected:
            return
        self._relay_turn = (self._relay_turn + 1) % len(connected)
        member = connected[self._relay_turn]
        try:
            reply = await self.rr.request(member, SYNC_PROTOCOL, request.to_bytes(), timeout=10.0)
            answer = SyncAnswer.from_bytes(reply)
            if answer.bundle is None:
                raise BadSyncAnswer("a relaying member said unchanged to a query without a tag")
            bundle = admin.MembershipBundle.from_bytes(answer.bundle)
            result = await self.install_synced(net, bundle, member)
        except (NodeError, CryptoError) as exc:
            log.debug("network.relay_sync_failed", peer_id=member, error=str(exc))
            return
        if result is None:
            return
        if result.new_certificates or result.new_revocations or result.new_policy:
            log.info(
                "network.synced_from_member",
                network_id=net.network_id,
                peer_id=member,
                certificates=result.new_certificates,
                revocations=result.new_revocations,
            )
            await self.refresh()

    async def _sync_loop(self) -> None:
        while True:
            if self._refresh_wanted:
                self._refresh_wanted = False
                await self.refresh()
            for net in list(self.networks.values()):
                # A leave (or a rebuild) can complete while the previous network's sync waits.
                if not net.is_authority and self.networks.get(net.network_id) is net:
                    await self._sync_once(net)
            await self._record_last_seen()
            await self._drop_refused()
            with trio.move_on_after(self._sync_period()):
                await self._wake_sync.wait()
            self._wake_sync = trio.Event()
            if self._sync_jitter:
                self._sync_jitter = False
                await trio.sleep(random.uniform(0.0, 1.0))  # noqa: S311 - jitter, not security

    def _sync_period(self) -> float:
        """``sync_interval``, stretched so that a key manager answers at most about
        ``SYNCS_PER_INTERVAL`` periodic syncs per ``sync_interval`` whatever the
        network's size (even an "unchanged" answer costs a stream each side: some
        8 ms of CPU with py-libp2p), and jittered so that members do not fall into step."""
        members = max((len(n.certificates) for n in self.networks.values()), default=0)
        stretch = max(1.0, members / SYNCS_PER_INTERVAL)
        return self.sync_interval * stretch * random.uniform(0.9, 1.1)  # noqa: S311 - jitter

    def last_seen(self, peer_id: str) -> int | None:
        """When ``peer_id`` was last connected (Unix seconds), as this run knows it."""
        return self._last_seen.get(peer_id)

    async def _record_last_seen(self) -> None:
        if self.host is None:
            return
        now = self.clock.now()
        seen = {p: now for p in self.host.connected_peers()}
        self._last_seen.update(seen)
        # Memory (what node.status shows) every tick; the database, which only
        # carries it over a restart, at most every LAST_SEEN_PERSIST seconds: a
        # write of every connected peer every 2 s cost more than anything else an
        # idle node of a large network did.
        if seen and now - self._last_seen_saved >= LAST_SEEN_PERSIST:
            self._last_seen_saved = now
            await self.store.run(db.set_last_seen, seen)

    async def _drop_refused(self) -> None:
        # Join connections and peers revoked since they connected.
        host = self.host
        if host is None or not host.running:
            return
        if any(host.gate.reason_to_refuse(p) is not None for p in host.connected_peers()):
            await host.reevaluate()

    # -- views --------------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        """listen_addresses, networks, peers and gate counters for ``node.status``."""
        host = self.host
        connected = set(host.connected_peers()) if host is not None and host.running else set()
        banned = set(host.gate.status().banned) if host is not None else set()
        peers: dict[str, dict[str, object]] = {}
        networks = []
        for net in self.networks.values():
            members = net.membership.members()
            networks.append(
                {
                    "network_id": net.network_id,
                    "name": net.name,
                    "members": len(members),
                    "authority": net.is_authority,
                    "group_epochs": net.group_epochs(),
                }
            )
            for peer_id, certificate in net.certificates.items():
                if peer_id == self.identity.peer_id:
                    continue
                refused = self.admit(peer_id)
                if host is not None and peer_id in banned:
                    refused = BANNED
                if peer_id in peers and refused is not None:
                    continue  # admitted through another network
                peers[peer_id] = {
                    "peer_id": peer_id,
                    "short_id": _short_id(peer_id),
                    "venue": certificate.venue,
                    "connected": peer_id in connected,
                    "last_seen": self._last_seen.get(peer_id),
                    "addresses": list(self._addresses.get(peer_id, db.PeerAddress((), None)).addrs),
                    "refused": refused,
                }
        gate: dict[str, object] = {"admitted": 0, "refused": 0, "refused_by_reason": {}}
        if host is not None:
            g = host.gate.status()
            gate = {
                "admitted": g.admitted,
                "refused": g.refused,
                "refused_by_reason": dict(g.refused_by_reason),
            }
        gate["requests_refused"] = dict(self.requests_refused)
        return {
            "listen_addresses": host.listen_addrs if host is not None and host.running else [],
            "networks": networks,
            "peers": sorted(peers.values(), key=lambda p: str(p["venue"])),
            "gate": gate,
        }

    def bootstrap_addrs(self) -> list[str]:
        """This node's listen addresses with ``/p2p/<peer id>``, for invites."""
        if self.host is None or not self.host.running:
            return []
        return [f"{a}/p2p/{self.identity.peer_id}" for a in self.host.listen_addrs]


_P2P_SUFFIX = re.compile(r"^(?P<addr>.+)/p2p/(?P<peer>[1-9A-HJ-NP-Za-km-z]+)$")


def split_bootstrap(addr: str) -> tuple[str, str] | None:
    """``(multiaddr without /p2p, peer id)`` of a bootstrap address, or None."""
    m = _P2P_SUFFIX.match(addr)
    return None if m is None else (m.group("addr"), m.group("peer"))


def _refuse_all(origin: str, item: bytes) -> bool:
    return False


async def _ignore(origin: str, item: bytes) -> None:
    return None


async def perform_join(
    token: InviteToken,
    request: JoinRequest,
    *,
    timeout: float = 20.0,
) -> tuple[admin.MembershipBundle, str, list[str]]:
    """Joiner side: reach a bootstrap node with the invite's join identity, send the
    request, return ``(bundle, inviting peer id, its addresses)``.

    Raises ``InviteRefused`` (the inviting node said no, with its reason) or
    ``JoinFailed``.
    """
    from doorwatch.node._network_errors import JoinFailed
    from doorwatch.node._p2p_errors import RemoteError

    targets: dict[str, list[str]] = {}
    for addr in token.bootstrap_addrs:
        parts = split_bootstrap(addr)
        if parts is not None:
            targets.setdefault(parts[1], []).append(parts[0])
    if not targets:
        raise JoinFailed("the invite carries no usable bootstrap address")
    host = P2PHost(
        admin.join_identity(token),
        admit=lambda p: None if p in targets else "not the inviting node",
        listen=("/ip4/127.0.0.1/tcp/0",),
        route_logging=False,
    )
    rr = RequestResponse(host)
    # The inviting node's pubsub opens a meshsub stream to every new connection;
    # a topic nobody else uses answers it without receiving the network's gossip.
    Gossip(host, "/doorwatch/joining/1", validate=_refuse_all, on_item=_ignore)
    failures: list[str] = []
    async with host:
        for peer_id, addrs in targets.items():
            try:
                host.add_addrs(peer_id, addrs)
                reply = await rr.request(
                    peer_id, JOIN_PROTOCOL, request.to_bytes(), timeout=timeout
                )
            except RemoteError as exc:
                raise InviteRefused(f"the inviting node refused: {exc.remote_message}") from exc
            except P2PError as exc:
                failures.append(str(exc))
                continue
            try:
                bundle = admin.MembershipBundle.from_bytes(reply)
            except CryptoError as exc:
                raise JoinFailed(f"the inviting node's answer is malformed: {exc}") from exc
            return bundle, peer_id, addrs
    why = "; ".join(dict.fromkeys(failures)) or "no address answered"
    raise JoinFailed(
        f"could not reach the inviting node, or it refused the connection ({why}); is it "
        "running? was the invite already used or has it expired?"
    )


async def join_network(
    store_run: Callable[..., Awaitable[object]],
    *,
    token_text: str,
    identity: NodeIdentity,
    storage_key: StorageKey,
    now: int,
) -> str:
    """Decode, join and persist; returns the network id. ``store_run`` is
    ``AsyncStore.run`` or an equivalent for an offline connection."""
    from doorwatch.crypto import InvalidToken, InviteExpired, join_request
    from doorwatch.node._network_errors import JoinFailed

    try:
        token = InviteToken.decode(token_text)
    except InvalidToken as exc:
        raise JoinFailed(
            "that is not a Doorwatch invite token (it should start with dwinv1- and be "
            "copied whole)"
        ) from exc
    try:
        request = join_request(token, identity, now=now)
    except InviteExpired as exc:
        raise InviteRefused("the invite has expired; ask for a new one") from exc
    bundle, inviter, inviter_addrs = await perform_join(token, request)
    if not any(c.peer_id == identity.peer_id for c in bundle.certificates):
        raise JoinFailed("the inviting node's answer has no certificate for this node")

    def install(conn: sqlite3.Connection) -> None:
        admin.install_bundle(
            conn,
            storage_key=storage_key,
            identity=identity,
            bundle=bundle,
            authority_public_key=token.authority_public_key,
            sender_peer_id=inviter,
            now=now,
        )
        db.set_addresses(conn, inviter, inviter_addrs, now)
        if not any(c.peer_id == identity.peer_id for c in db.certificates(conn, token.network_id)):
            raise JoinFailed("the inviting node's certificate for this node does not verify")

    await store_run(install)
    return token.network_id


__all__ = [
    "JOIN_PROTOCOL",
    "SYNC_PROTOCOL",
    "NetworkRuntime",
    "NetworkService",
    "join_network",
    "perform_join",
]
