"""Network formation and administration on the store: create, invite, accept a
join, revoke, list members, and the membership bundle members fetch.

Theory of operation. The node that runs ``network create`` holds the network
authority key (encrypted at rest) and is the network's group-key manager
(its own certificate has ``key_manager=True``). It is the hub of membership:
it issues certificates on join, signs revocation lists, generates and rotates
group keys, and answers members' membership syncs with a ``MembershipBundle``
(every certificate, the revocation list, the signed network policy, the group
keys of the member's groups and the network's selection key sealed to that
member, and the members' last reported addresses).

The network policy (``crypto.NetworkPolicy``: the anonymity floor, later more
rules) is signed by the authority when the network is created (serial 1,
the default floor), or on first use for a network created before policies
existed; ``set_policy`` signs the next serial. Any member relays it, like the
revocation list. The selection key (``AuthorityKey.selection_key``) is stored
by the hub when the network is created (or first needed) and sealed to
members only: relaying members never send it. It survives the authority key
going offline, since the hub keeps its own encrypted copy.

Invites: ``issue_invite`` records the invite's token id and its *join
identity*, an Ed25519 key both sides derive from the invite's secret
(``join_identity``). The membership gate admits a join identity only while its
invite is unused and unexpired, and only the join protocol answers it (every
other handler checks membership). So a connection from a non-member is
possible only for someone holding a live invite, which already entitles its
holder to join; the join binds the transport identity to the token id, so a
token cannot be spent through someone else's connection.

All functions take a ``sqlite3.Connection`` and run inside the caller's
transaction (``AsyncStore.run`` in the daemon, the offline CLI's own).
"""

from __future__ import annotations

import base64
import math
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated

import nacl.bindings
import nacl.encoding
import nacl.exceptions
import nacl.hash
import nacl.pwhash
import nacl.utils
from pydantic import Field, StrictBytes, StrictStr

from doorwatch.crypto import (
    DEFAULT_ANONYMITY_FLOOR,
    AuthorityKey,
    Certificate,
    CryptoError,
    GroupKey,
    InviteToken,
    JoinRequest,
    KdfCost,
    NetworkPolicy,
    NodeIdentity,
    PassphraseSealed,
    RevocationList,
    StalePolicy,
    StaleRevocationList,
    StorageKey,
    WrongPassphrase,
    accept_policy,
    accept_revocation_list,
    network_id_from_public_key,
    new_group_key,
    open_group_key,
    open_selection_key,
    open_with_passphrase,
    peer_id_to_public_key,
    rotate,
    seal_group_key,
    seal_selection_key,
    seal_with_passphrase,
    short_id,
    verify_certificate,
    x25519_public_from_ed25519,
)
from doorwatch.crypto._wire import Jurisdiction, NetworkId, PeerIdStr, WireModel
from doorwatch.node import _audit as audit
from doorwatch.node import _network_store as db
from doorwatch.node._network_errors import (
    AuthorityOffline,
    BadAuthorityFile,
    CannotLeave,
    CannotRevoke,
    GroupError,
    InviteRefused,
    JoinFailed,
    NotAuthority,
    UnknownMember,
    UnknownNetwork,
)
from doorwatch.segments import UK_POPULATION

ALL_GROUP = "all"
CERTIFICATE_DAYS = 365
RENEW_WITHIN_DAYS = 30
"""The hub renews a member's certificate once it has fewer days than this left."""
LEFT = "network.left"
REVOKED = "network.revoked"
AGREEMENT_VERSION = "1"
DEFAULT_JURISDICTION = "GB"
_JOIN_PERSON = b"dw-join-host-v1"

Addr = Annotated[StrictStr, Field(min_length=1, max_length=256)]


class MembershipBundle(WireModel):
    """What the key manager sends a member (and a joiner): the network's state."""

    network_id: NetworkId
    name: Annotated[StrictStr, Field(min_length=1, max_length=120)]
    permitted_jurisdictions: tuple[Jurisdiction, ...] | None
    certificates: tuple[Certificate, ...] = Field(max_length=100_000)
    revocations: RevocationList | None
    sealed_group_keys: tuple[StrictBytes, ...] = Field(max_length=10_000)
    addresses: dict[PeerIdStr, tuple[Addr, ...]] = Field(max_length=100_000)
    policy: NetworkPolicy | None = None
    sealed_selection_key: StrictBytes | None = Field(default=None, max_length=1024)


def join_identity(token: InviteToken) -> NodeIdentity:
    """The transport identity a joiner uses for the join (derived from the invite secret)."""
    seed = nacl.hash.blake2b(
        token.token_id,
        key=token.secret,
        person=_JOIN_PERSON,
        digest_size=32,
        encoder=nacl.encoding.RawEncoder,
    )
    return NodeIdentity.from_seed(seed)


def _network(conn: sqlite3.Connection, network_id: str) -> db.NetworkRow:
    for row in db.list_networks(conn):
        if row.network_id == network_id:
            return row
    raise UnknownNetwork(f"this node does not belong to network {network_id}")


def _authority(conn: sqlite3.Connection, network_id: str, key: StorageKey) -> AuthorityKey:
    network = _network(conn, network_id)
    authority = db.authority_key(conn, network_id, key)
    if authority is None:
        if network.authority_offline:
            raise AuthorityOffline(network_id)
        raise NotAuthority(network_id)
    return authority


def choose_network(
    conn: sqlite3.Connection, network_id: str | None, *, authority: bool = False
) -> str:
    """The network a command acts on: the one named, or the only candidate."""
    networks = [n for n in db.list_networks(conn) if n.is_authority or not authority]
    if network_id is not None:
        if not any(n.network_id == network_id for n in db.list_networks(conn)):
            raise UnknownNetwork(f"this node does not belong to network {network_id}")
        return network_id
    if not networks:
        raise UnknownNetwork(
            "this node administers no network; run `doorwatch network create` first"
            if authority
            else "this node belongs to no network"
        )
    if len(networks) > 1:
        raise UnknownNetwork("this node belongs to several networks; name one with --network")
    return networks[0].network_id


def create_network(
    conn: sqlite3.Connection,
    *,
    identity: NodeIdentity,
    storage_key: StorageKey,
    venue: str,
    name: str,
    jurisdiction: str,
    now: int,
) -> str:
    """Create a network whose authority this node holds; returns the network id."""
    authority = AuthorityKey.generate()
    network_id = authority.network_id
    db.add_network(
        conn,
        network_id=network_id,
        name=name,
        authority_public_key=authority.public_key,
        permitted_jurisdictions=(jurisdiction,),
        authority=authority,
        storage_key=storage_key,
        now=now,
    )
    certificate = authority.issue_certificate(
        venue=venue,
        peer_id=identity.peer_id,
        groups=(ALL_GROUP,),
        committee=True,
        key_manager=True,
        jurisdiction=jurisdiction,
        valid_from=now,
        valid_until=now + CERTIFICATE_DAYS * 86400,
        agreement_version=AGREEMENT_VERSION,
        serial=1,
    )
    db.put_certificate(conn, certificate)
    db.put_group_key(conn, new_group_key(network_id, ALL_GROUP), storage_key)
    _ensure_hub_state(conn, network_id, authority, storage_key, now)
    return network_id


def _ensure_hub_state(
    conn: sqlite3.Connection,
    network_id: str,
    authority: AuthorityKey,
    storage_key: StorageKey,
    now: int,
) -> None:
    """The hub holds the network's selection key and a signed policy (made here for a
    network created before either existed)."""
    db.put_selection_key(conn, network_id, authority.selection_key(), storage_key)
    if db.network_policy(conn, network_id) is None:
        _sign_next_policy(conn, authority, network_id, now)


NOTICE_RULES = (
    "notice_quorum",
    "notice_majority",
    "notice_lifetime_majority",
    "notice_vote_days",
    "notice_appeal_suspends",
)
"""The banning-notice fields of the network policy (``crypto.NetworkPolicy``)."""


def _sign_next_policy(
    conn: sqlite3.Connection,
    authority: AuthorityKey,
    network_id: str,
    now: int,
    *,
    anonymity_floor: int | None = None,
    notice_rules: dict[str, object] | None = None,
) -> NetworkPolicy:
    """Sign and store the next policy: the current one's rules with ``changes``, and the
    committee's voting pseudonyms made afresh from the unrevoked committee certificates."""
    current = db.network_policy(conn, network_id)
    rl = db.revocations(conn, network_id)
    committee = [
        c.peer_id
        for c in db.certificates(conn, network_id)
        if c.committee and not (rl is not None and rl.covers(c))
    ]
    rules = {k: getattr(current, k) for k in NOTICE_RULES} if current is not None else {}
    rules.update(notice_rules or {})
    if anonymity_floor is None:
        anonymity_floor = (
            current.anonymity_floor if current is not None else DEFAULT_ANONYMITY_FLOOR
        )
    policy = authority.sign_policy(
        serial=(current.serial + 1) if current is not None else 1,
        issued_at=now,
        anonymity_floor=anonymity_floor,
        committee=committee,
        notice_rules=rules,
    )
    db.put_policy(conn, policy)
    return policy


def set_roles(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    network_id: str,
    peer_id: str,
    committee: bool | None = None,
    liaison: bool | None = None,
    now: int,
    actor: str = "local-admin",
) -> Certificate:
    """Hub: mark a member as on the banning committee and/or the police liaison (its
    certificate re-issued), and sign the next policy with the committee's pseudonyms."""
    authority = _authority(conn, network_id, storage_key)
    old = _certificate_of(conn, network_id, peer_id)
    if old is None:
        raise UnknownMember(f"peer {peer_id} holds no certificate of network {network_id}")
    rl = db.revocations(conn, network_id)
    if rl is not None and rl.covers(old):
        raise GroupError(f"peer {peer_id} was revoked from network {network_id}")
    new_committee = old.committee if committee is None else committee
    new_liaison = old.liaison if liaison is None else liaison
    if new_committee and new_liaison:
        raise GroupError(
            "a liaison (the police) takes no part in the committee's decisions; "
            "it cannot be on the committee"
        )
    certificate = _reissue(
        conn, authority, old, old.groups, now, committee=new_committee, liaison=new_liaison
    )
    _sign_next_policy(conn, authority, network_id, now)
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="network.roles_set",
        peer_id=peer_id,
        detail={"network_id": network_id, "committee": new_committee, "liaison": new_liaison},
    )
    return certificate


def set_policy(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    network_id: str,
    anonymity_floor: int | None = None,
    notice_rules: dict[str, object] | None = None,
    now: int,
    actor: str = "local-admin",
) -> NetworkPolicy:
    """Sign and store the next network policy (members get it with their next sync):
    the held one's rules with ``anonymity_floor`` and ``notice_rules`` (``NOTICE_RULES``
    fields) changed where given."""
    unknown = set(notice_rules or {}) - set(NOTICE_RULES)
    if unknown:
        raise GroupError(f"notice rules: no such rule {sorted(unknown)[0]!r}")
    authority = _authority(conn, network_id, storage_key)
    _ensure_hub_state(conn, network_id, authority, storage_key, now)
    try:
        policy = _sign_next_policy(
            conn,
            authority,
            network_id,
            now,
            anonymity_floor=anonymity_floor,
            notice_rules=notice_rules,
        )
    except CryptoError as exc:
        raise GroupError(f"network policy: {exc}") from None
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="network.policy_signed",
        detail={
            "network_id": network_id,
            "serial": policy.serial,
            "anonymity_floor": policy.anonymity_floor,
            **{k: getattr(policy, k) for k in NOTICE_RULES},
            "committee": len(policy.committee_voters),
        },
    )
    return policy


@dataclass(frozen=True, slots=True)
class PolicyView:
    network_id: str
    serial: int
    """0: no signed policy held yet (the defaults apply)."""
    issued_at: int | None
    anonymity_floor: int
    budget_bits: float
    notices: dict[str, object]
    """The banning-notice rules (``NOTICE_RULES``) and ``committee``, the roster's size."""

    def to_json(self) -> dict[str, object]:
        return {
            "network_id": self.network_id,
            "serial": self.serial,
            "issued_at": self.issued_at,
            "anonymity_floor": self.anonymity_floor,
            "budget_bits": round(self.budget_bits, 2),
            "notices": dict(self.notices),
        }


def policy_view(conn: sqlite3.Connection, network_id: str) -> PolicyView:
    """The network policy this node holds (or the defaults, if none has arrived)."""
    _network(conn, network_id)
    policy = db.network_policy(conn, network_id)
    floor = policy.anonymity_floor if policy is not None else DEFAULT_ANONYMITY_FLOOR
    if policy is None:
        notices: dict[str, object] = {
            k: NetworkPolicy.model_fields[k].default for k in NOTICE_RULES
        }
        notices["committee"] = 0
    else:
        notices = {k: getattr(policy, k) for k in NOTICE_RULES}
        notices["committee"] = len(policy.committee_voters)
    return PolicyView(
        network_id=network_id,
        serial=policy.serial if policy is not None else 0,
        issued_at=policy.issued_at if policy is not None else None,
        anonymity_floor=floor,
        budget_bits=math.log2(UK_POPULATION / floor),
        notices=notices,
    )


def _ensure_group_keys(
    conn: sqlite3.Connection, network_id: str, groups: Sequence[str], key: StorageKey
) -> None:
    have = {k.group for k in db.group_keys(conn, network_id, key)}
    for group in groups:
        if group not in have:
            db.put_group_key(conn, new_group_key(network_id, group), key)


def issue_invite(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    network_id: str,
    venue: str,
    groups: Sequence[str],
    bootstrap_addrs: Sequence[str],
    expires_at: int,
    now: int,
) -> InviteToken:
    authority = _authority(conn, network_id, storage_key)
    all_groups = sorted({ALL_GROUP, *groups})
    token = authority.issue_invite(
        venue=venue, groups=all_groups, bootstrap_addrs=bootstrap_addrs, expires_at=expires_at
    )
    db.add_invite(
        conn,
        network_id=network_id,
        token_id=token.token_id,
        join_peer_id=join_identity(token).peer_id,
        expires_at=expires_at,
        now=now,
    )
    _ensure_group_keys(conn, network_id, all_groups, storage_key)
    return token


def accept_join(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    identity: NodeIdentity,
    request: JoinRequest,
    transport_peer_id: str,
    now: int,
    own_addrs: Sequence[str] = (),
) -> MembershipBundle:
    """Authority side of a join: check, issue the certificate, answer with the bundle.

    Raises ``InviteRefused`` with a one-line reason the joiner is shown.
    """
    row = db.invite(conn, request.network_id, request.token_id)
    if row is None:
        raise InviteRefused("the invite is unknown to the inviting node")
    if row.join_peer_id != transport_peer_id:
        raise InviteRefused("the join came over a connection that does not hold the invite")
    if row.used:
        raise InviteRefused("the invite has already been used")
    authority = _authority(conn, request.network_id, storage_key)
    own = _certificate_of(conn, request.network_id, identity.peer_id)
    try:
        certificate = authority.accept_join(
            request,
            now=now,
            used=db.used_token_ids(conn, request.network_id),
            valid_until=now + CERTIFICATE_DAYS * 86400,
            jurisdiction=own.jurisdiction if own else DEFAULT_JURISDICTION,
            agreement_version=AGREEMENT_VERSION,
            serial=db.next_certificate_serial(conn, request.network_id),
        )
    except CryptoError as exc:
        raise InviteRefused(str(exc)) from exc
    db.mark_invite_used(conn, request.network_id, request.token_id, certificate.peer_id, now)
    db.put_certificate(conn, certificate)
    _ensure_hub_state(conn, request.network_id, authority, storage_key, now)
    _ensure_group_keys(conn, request.network_id, certificate.groups, storage_key)
    return membership_bundle(
        conn,
        storage_key=storage_key,
        identity=identity,
        network_id=request.network_id,
        peer_id=certificate.peer_id,
        own_addrs=own_addrs,
    )


def _certificate_of(conn: sqlite3.Connection, network_id: str, peer_id: str) -> Certificate | None:
    for c in db.certificates(conn, network_id):
        if c.peer_id == peer_id:
            return c
    return None


def membership_bundle(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    identity: NodeIdentity,
    network_id: str,
    peer_id: str,
    own_addrs: Sequence[str] = (),
    now: int | None = None,
) -> MembershipBundle:
    """The bundle for member ``peer_id``: group keys only for its certificate's groups.

    ``own_addrs`` are the serving node's listen addresses (it has no row of its own).
    With ``now`` (a member's periodic sync), certificates close to expiry are renewed
    first when the authority key is here (``renew_certificates``).
    """
    network = next(n for n in db.list_networks(conn) if n.network_id == network_id)
    if network.is_authority and not network.authority_offline:
        authority = _authority(conn, network_id, storage_key)
        _ensure_hub_state(
            conn, network_id, authority, storage_key, network.joined_at if now is None else now
        )
        if now is not None:
            renew_certificates(conn, storage_key=storage_key, network_id=network_id, now=now)
    certs = db.certificates(conn, network_id)
    revocations = db.revocations(conn, network_id)
    member = next((c for c in certs if c.peer_id == peer_id), None)
    sealed: list[bytes] = []
    sealed_selection: bytes | None = None
    if member is not None and not (revocations is not None and revocations.covers(member)):
        recipient = x25519_public_from_ed25519(member.public_key)
        for key in db.group_keys(conn, network_id, storage_key):
            if key.group in member.groups:
                sealed.append(seal_group_key(key, recipient, identity))
        selection_key = db.selection_key(conn, network_id, storage_key)
        if selection_key is not None:
            sealed_selection = seal_selection_key(network_id, selection_key, recipient, identity)
    wanted = {c.peer_id for c in certs}
    addresses = {p: a.addrs for p, a in db.addresses(conn).items() if p in wanted and a.addrs}
    if own_addrs:
        addresses[identity.peer_id] = tuple(own_addrs)
    return MembershipBundle(
        network_id=network_id,
        name=network.name,
        permitted_jurisdictions=network.permitted_jurisdictions,
        certificates=tuple(certs),
        revocations=revocations,
        sealed_group_keys=tuple(sealed),
        addresses=addresses,
        policy=db.network_policy(conn, network_id),
        sealed_selection_key=sealed_selection,
    )


@dataclass(frozen=True, slots=True)
class InstallResult:
    new_certificates: int
    new_revocations: bool
    new_group_keys: int
    left: LeaveResult | None = None
    """Set when the revocation list revoked this node: it has left the network."""
    new_policy: bool = False
    new_selection_key: bool = False


def install_bundle(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    identity: NodeIdentity,
    bundle: MembershipBundle,
    authority_public_key: bytes,
    sender_peer_id: str,
    now: int,
) -> InstallResult:
    """Member side: verify and store what a bundle brings (joining the network if new).

    Certificates must verify under the network's authority key; group keys are
    accepted only from a sender whose certificate makes it the key manager.
    """
    if network_id_from_public_key(authority_public_key) != bundle.network_id:
        raise JoinFailed("the answer is for another network than the invite's")
    known = {n.network_id for n in db.list_networks(conn)}
    if bundle.network_id not in known:
        db.add_network(
            conn,
            network_id=bundle.network_id,
            name=bundle.name,
            authority_public_key=authority_public_key,
            permitted_jurisdictions=bundle.permitted_jurisdictions,
            authority=None,
            storage_key=storage_key,
            now=now,
        )
    new_rl = False
    current = db.revocations(conn, bundle.network_id)
    if bundle.revocations is not None:
        try:
            accepted = accept_revocation_list(
                bundle.revocations,
                current,
                authority_public_key=authority_public_key,
                network_id=bundle.network_id,
            )
        except StaleRevocationList:
            pass
        except CryptoError as exc:
            raise JoinFailed(f"the revocation list was refused: {exc}") from exc
        else:
            new_rl = db.put_revocations(conn, accepted)
            current = accepted
            left = _leave_if_revoked(conn, accepted, identity.peer_id, now)
            if left is not None:
                return InstallResult(0, True, 0, left)
    new_certs = 0
    manager = False
    for certificate in bundle.certificates:
        try:
            verify_certificate(
                certificate,
                authority_public_key=authority_public_key,
                network_id=bundle.network_id,
                now=certificate.valid_from,
                revocations=None,
            )
        except CryptoError:
            continue  # a forged or foreign certificate is ignored, never stored
        if certificate.peer_id == sender_peer_id and certificate.key_manager:
            manager = not (current is not None and current.covers(certificate))
        new_certs += db.put_certificate(conn, certificate)
    new_policy = False
    if bundle.policy is not None:
        try:
            policy = accept_policy(
                bundle.policy,
                db.network_policy(conn, bundle.network_id),
                authority_public_key=authority_public_key,
                network_id=bundle.network_id,
            )
        except StalePolicy:
            pass
        except CryptoError as exc:
            raise JoinFailed(f"the network policy was refused: {exc}") from exc
        else:
            new_policy = db.put_policy(conn, policy)
    own = _certificate_of(conn, bundle.network_id, identity.peer_id)
    new_keys = 0
    new_selection = False
    if manager and bundle.sealed_selection_key is not None:
        try:
            selection_key = open_selection_key(
                bundle.sealed_selection_key,
                identity,
                peer_id_to_public_key(sender_peer_id),
                bundle.network_id,
            )
        except CryptoError:
            pass
        else:
            new_selection = db.put_selection_key(
                conn, bundle.network_id, selection_key, storage_key
            )
    if manager:
        sender_key = peer_id_to_public_key(sender_peer_id)
        for sealed in bundle.sealed_group_keys:
            try:
                key: GroupKey = open_group_key(sealed, identity, sender_key)
            except CryptoError:
                continue
            if key.network_id == bundle.network_id:
                new_keys += db.put_group_key(conn, key, storage_key)
        if own is not None:
            # Groups this node's (re-issued) certificate no longer holds: drop their keys.
            held = {k.group for k in db.group_keys(conn, bundle.network_id, storage_key)}
            for group in held - set(own.groups):
                db.delete_group_keys(conn, bundle.network_id, group)
    for peer_id, addrs in bundle.addresses.items():
        if peer_id != identity.peer_id:
            db.set_addresses(conn, peer_id, list(addrs), now)
    return InstallResult(
        new_certs, new_rl, new_keys, new_policy=new_policy, new_selection_key=new_selection
    )


def revoke_member(
    conn: sqlite3.Connection, *, storage_key: StorageKey, network_id: str, peer_id: str, now: int
) -> RevocationList:
    """Revoke ``peer_id``: a new revocation list and a new epoch of its groups' keys."""
    authority = _authority(conn, network_id, storage_key)
    certificate = _certificate_of(conn, network_id, peer_id)
    if certificate is None:
        raise UnknownMember(f"peer {peer_id} holds no certificate of network {network_id}")
    if certificate.key_manager:
        raise CannotRevoke(
            f"peer {peer_id} is the node that holds network {network_id}'s authority; "
            "it cannot revoke itself"
        )
    current = db.revocations(conn, network_id)
    peers = set(current.revoked_peer_ids) if current else set()
    serials = set(current.revoked_certificate_serials) if current else set()
    peers.add(peer_id)
    rl = authority.revoke(
        serial=(current.serial + 1) if current else 1,
        issued_at=now,
        peer_ids=peers,
        certificate_serials=serials,
    )
    db.put_revocations(conn, rl)
    if certificate.committee:  # its voting pseudonym leaves the roster
        _sign_next_policy(conn, authority, network_id, now)
    latest: dict[str, GroupKey] = {}
    for key in db.group_keys(conn, network_id, storage_key):
        if key.group in certificate.groups:
            latest[key.group] = key
    for key in latest.values():
        db.put_group_key(conn, rotate(key), storage_key)
    return rl


@dataclass(frozen=True, slots=True)
class Member:
    venue: str
    peer_id: str
    short_id: str
    groups: tuple[str, ...]
    committee: bool
    key_manager: bool
    liaison: bool
    valid_until: int
    last_seen: int | None
    revoked: bool
    is_self: bool

    def to_json(self) -> dict[str, object]:
        return {
            "venue": self.venue,
            "peer_id": self.peer_id,
            "short_id": self.short_id,
            "groups": list(self.groups),
            "committee": self.committee,
            "key_manager": self.key_manager,
            "liaison": self.liaison,
            "valid_until": self.valid_until,
            "last_seen": self.last_seen,
            "revoked": self.revoked,
            "self": self.is_self,
        }


def members(conn: sqlite3.Connection, network_id: str, self_peer_id: str) -> list[Member]:
    rl = db.revocations(conn, network_id)
    seen = db.addresses(conn)
    out = []
    for c in db.certificates(conn, network_id):
        entry = seen.get(c.peer_id)
        out.append(
            Member(
                venue=c.venue,
                peer_id=c.peer_id,
                short_id=short_id(c.public_key),
                groups=c.groups,
                committee=c.committee,
                key_manager=c.key_manager,
                liaison=c.liaison,
                valid_until=c.valid_until,
                last_seen=entry.last_seen if entry else None,
                revoked=rl is not None and rl.covers(c),
                is_self=c.peer_id == self_peer_id,
            )
        )
    return sorted(out, key=lambda m: (m.venue, m.peer_id))


def group_epochs(conn: sqlite3.Connection, network_id: str, key: StorageKey) -> dict[str, int]:
    """The newest epoch this node holds per group."""
    epochs: dict[str, int] = {}
    for k in db.group_keys(conn, network_id, key):
        epochs[k.group] = max(epochs.get(k.group, 0), k.epoch)
    return epochs


# -- leaving, and being revoked ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LeaveResult:
    network_id: str
    name: str
    received_deleted: int
    """Alert records from other venues deleted (their segments, envelopes and tombstones)."""
    action: str
    """``LEFT`` (this node chose to leave) or ``REVOKED`` (the authority revoked it)."""

    def to_json(self) -> dict[str, object]:
        return {
            "network_id": self.network_id,
            "name": self.name,
            "received_deleted": self.received_deleted,
            "revoked": self.action == REVOKED,
        }


def leave_network(
    conn: sqlite3.Connection,
    *,
    network_id: str,
    self_peer_id: str,
    actor: str,
    now: int,
    action: str = LEFT,
) -> LeaveResult:
    """Forget ``network_id``: every alert received through it, its group keys,
    certificates, revocation list and invites; audited. This venue's own alerts stay
    (they are its records) and are no longer distributed to that network.

    The hub (the node that created the network) cannot leave it: members sync
    membership and keys from it.
    """
    network = _network(conn, network_id)
    own = _certificate_of(conn, network_id, self_peer_id)
    if action == LEFT and (network.is_authority or (own is not None and own.key_manager)):
        raise CannotLeave(
            f"this node created network {network_id} and its members depend on it for "
            "membership and keys; it cannot leave it"
        )
    received = db.received_count(conn, network_id, self_peer_id)
    db.forget_received(conn, network_id)
    db.delete_network(conn, network_id)
    audit.record(
        conn,
        at=now,
        actor=actor,
        action=action,
        detail={"network_id": network_id, "received_deleted": received},
    )
    return LeaveResult(network_id, network.name, received, action)


def _leave_if_revoked(
    conn: sqlite3.Connection, revocations: RevocationList, self_peer_id: str, now: int
) -> LeaveResult | None:
    own = _certificate_of(conn, revocations.network_id, self_peer_id)
    if own is None or not revocations.covers(own):
        return None
    return leave_network(
        conn,
        network_id=revocations.network_id,
        self_peer_id=self_peer_id,
        actor="network-authority",
        now=now,
        action=REVOKED,
    )


def apply_revocation_list(
    conn: sqlite3.Connection, *, revocations: RevocationList, self_peer_id: str, now: int
) -> LeaveResult | None:
    """A revocation list pushed by a member: verify it under the network's authority
    key, keep it if newer, and leave the network if it revokes this node.

    Raises ``UnknownNetwork`` and the ``CryptoError`` of a forged or stale list.
    """
    network = _network(conn, revocations.network_id)
    accepted = accept_revocation_list(
        revocations,
        db.revocations(conn, network.network_id),
        authority_public_key=network.authority_public_key,
        network_id=network.network_id,
    )
    db.put_revocations(conn, accepted)
    return _leave_if_revoked(conn, accepted, self_peer_id, now)


# -- certificate renewal ------------------------------------------------------------------


def renewal_due(certificate: Certificate, revocations: RevocationList | None, now: int) -> bool:
    """Is ``certificate`` unrevoked with fewer than RENEW_WITHIN_DAYS left?"""
    left = certificate.valid_until - now
    return left < RENEW_WITHIN_DAYS * 86400 and not (
        revocations and revocations.covers(certificate)
    )


def renew_certificates(
    conn: sqlite3.Connection, *, storage_key: StorageKey, network_id: str, now: int
) -> list[Certificate]:
    """Hub: re-issue (same terms, new serial, another CERTIFICATE_DAYS) every unrevoked
    certificate with fewer than RENEW_WITHIN_DAYS left. Members pick them up at their
    next membership sync. Raises ``AuthorityOffline`` if renewals are due but the
    authority key is offline; returns the new certificates."""
    rl = db.revocations(conn, network_id)
    due = [c for c in db.certificates(conn, network_id) if renewal_due(c, rl, now)]
    if not due:
        return []
    authority = _authority(conn, network_id, storage_key)
    return [_reissue(conn, authority, c, c.groups, now) for c in due]


def _reissue(
    conn: sqlite3.Connection,
    authority: AuthorityKey,
    old: Certificate,
    groups: Sequence[str],
    now: int,
    *,
    committee: bool | None = None,
    liaison: bool | None = None,
) -> Certificate:
    certificate = authority.issue_certificate(
        venue=old.venue,
        peer_id=old.peer_id,
        groups=groups,
        committee=old.committee if committee is None else committee,
        liaison=old.liaison if liaison is None else liaison,
        key_manager=old.key_manager,
        jurisdiction=old.jurisdiction,
        valid_from=now,
        valid_until=now + CERTIFICATE_DAYS * 86400,
        agreement_version=old.agreement_version,
        serial=db.next_certificate_serial(conn, old.network_id),
    )
    db.put_certificate(conn, certificate)
    return certificate


# -- groups ---------------------------------------------------------------------------------

_GROUP = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class GroupChange:
    network_id: str
    group: str
    reissued: tuple[str, ...]
    """Peer ids whose certificates were re-issued."""

    def to_json(self) -> dict[str, object]:
        return {"network_id": self.network_id, "group": self.group, "reissued": list(self.reissued)}


def list_groups(conn: sqlite3.Connection, network_id: str, key: StorageKey) -> dict[str, list[str]]:
    """Hub: the network's groups (those it holds keys of), with their members' venues."""
    _network(conn, network_id)
    rl = db.revocations(conn, network_id)
    out: dict[str, list[str]] = {g: [] for g in group_epochs(conn, network_id, key)}
    for c in db.certificates(conn, network_id):
        if rl is not None and rl.covers(c):
            continue
        for g in c.groups:
            out.setdefault(g, []).append(c.venue)
    return {g: sorted(v) for g, v in sorted(out.items())}


def add_group(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    network_id: str,
    group: str,
    members: Sequence[str] = (),
    now: int,
) -> GroupChange:
    """Hub: make ``group`` (its first key) and put the ``members`` (peer ids) in it by
    re-issuing their certificates; they get the group's key at their next sync."""
    if not _GROUP.match(group):
        raise GroupError("group: 1-32 lower-case letters, digits, '-' or '_'")
    authority = _authority(conn, network_id, storage_key)
    rl = db.revocations(conn, network_id)
    olds = []
    # Every member checked before anything changes (and each re-issued once).
    for peer_id in dict.fromkeys(members):
        old = _certificate_of(conn, network_id, peer_id)
        if old is None:
            raise UnknownMember(f"peer {peer_id} holds no certificate of network {network_id}")
        if rl is not None and rl.covers(old):
            raise GroupError(f"peer {peer_id} was revoked from network {network_id}")
        olds.append(old)
    _ensure_group_keys(conn, network_id, [group], storage_key)
    reissued = []
    for old in olds:
        peer_id = old.peer_id
        if group not in old.groups:
            _reissue(conn, authority, old, (*old.groups, group), now)
            reissued.append(peer_id)
    return GroupChange(network_id, group, tuple(reissued))


def remove_group(
    conn: sqlite3.Connection, *, storage_key: StorageKey, network_id: str, group: str, now: int
) -> GroupChange:
    """Hub: take ``group`` out of every member's certificate (re-issued) and delete its
    keys here; members delete their copies of its keys at their next sync."""
    if group == ALL_GROUP:
        raise GroupError("the group 'all' is every member's; it cannot be removed")
    authority = _authority(conn, network_id, storage_key)
    if group not in group_epochs(conn, network_id, storage_key):
        raise GroupError(f"network {network_id} has no group {group!r}")
    rl = db.revocations(conn, network_id)
    reissued = []
    for old in db.certificates(conn, network_id):
        if group in old.groups and not (rl is not None and rl.covers(old)):
            _reissue(conn, authority, old, [g for g in old.groups if g != group], now)
            reissued.append(old.peer_id)
    db.delete_group_keys(conn, network_id, group)
    return GroupChange(network_id, group, tuple(reissued))


# -- the authority key, offline -------------------------------------------------------------

AUTHORITY_FILE_FORMAT = "doorwatch-network-authority"
# Format 1: the passphrase as given (not NFC-normalised), the network id as associated data.
_KDF_COST = KdfCost(
    nacl.pwhash.argon2id.OPSLIMIT_MODERATE, nacl.pwhash.argon2id.MEMLIMIT_INTERACTIVE
)
_MAX_COST = KdfCost(8, nacl.pwhash.argon2id.MEMLIMIT_MODERATE)


def export_authority(
    conn: sqlite3.Connection, *, storage_key: StorageKey, network_id: str, now: int, actor: str
) -> tuple[AuthorityKey, str]:
    """Hub: the authority key and the network's name, for ``authority_document``
    (run that outside the store's transaction: the passphrase's key derivation is slow).
    Audited."""
    network = _network(conn, network_id)
    authority = _authority(conn, network_id, storage_key)
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="network.authority_exported",
        detail={"network_id": network_id},
    )
    return authority, network.name


def authority_document(
    authority: AuthorityKey, *, name: str, passphrase: str | None, now: int
) -> dict[str, object]:
    """The authority key as a JSON document for offline keeping, sealed under
    ``passphrase`` (Argon2id, then XChaCha20-Poly1305 bound to the network id) when one
    is given."""
    network_id = authority.network_id
    doc: dict[str, object] = {
        "format": AUTHORITY_FILE_FORMAT,
        "version": 1,
        "network_id": network_id,
        "name": name,
        "authority_public_key": base64.b64encode(authority.public_key).decode(),
        "exported_at": now,
    }
    if passphrase:
        try:
            sealed = seal_with_passphrase(
                authority.to_seed(),
                passphrase,
                associated_data=network_id.encode(),
                cost=_KDF_COST,
                normalise=False,
            )
        except CryptoError as exc:
            raise BadAuthorityFile(str(exc)) from None
        doc["protection"] = {
            "kdf": "argon2id",
            "opslimit": sealed.cost.opslimit,
            "memlimit": sealed.cost.memlimit,
            "salt": base64.b64encode(sealed.salt).decode(),
            "nonce": base64.b64encode(sealed.nonce).decode(),
        }
        doc["seed"] = base64.b64encode(sealed.ciphertext).decode()
    else:
        doc["protection"] = None
        doc["seed"] = base64.b64encode(authority.to_seed()).decode()
    return doc


def remove_authority(conn: sqlite3.Connection, *, network_id: str, now: int, actor: str) -> None:
    """Hub: delete the authority key here (after ``export_authority``); this node stays
    the network's hub, and signing (invites, revocations, groups, renewals) waits for
    ``import_authority``."""
    network = _network(conn, network_id)
    if network.authority_offline:
        raise AuthorityOffline(network_id)
    if not network.is_authority:
        raise NotAuthority(network_id)
    db.remove_authority_seed(conn, network_id, now)
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="network.authority_removed",
        detail={"network_id": network_id},
    )


def _b64(doc: dict[str, object], name: str) -> bytes:
    value = doc.get(name)
    if not isinstance(value, str):
        raise BadAuthorityFile(f"the authority key file has no valid {name!r}")
    try:
        return base64.b64decode(value, validate=True)
    except ValueError:
        raise BadAuthorityFile(f"the authority key file's {name!r} is not base64") from None


def read_authority_file(doc: object, passphrase: str | None) -> AuthorityKey:
    """The authority key in an exported document (``BadAuthorityFile`` if unusable)."""
    if not isinstance(doc, dict) or doc.get("format") != AUTHORITY_FILE_FORMAT:
        raise BadAuthorityFile("that is not a Doorwatch network authority key file")
    network_id = doc.get("network_id")
    if not isinstance(network_id, str):
        raise BadAuthorityFile("the authority key file has no valid 'network_id'")
    seed = _b64(doc, "seed")
    protection = doc.get("protection")
    if protection is not None:
        if not passphrase:
            raise BadAuthorityFile(
                "the authority key file is passphrase-protected; give its passphrase"
            )
        if not isinstance(protection, dict):
            raise BadAuthorityFile("the authority key file has no valid 'protection'")
        ops, mem = protection.get("opslimit"), protection.get("memlimit")
        if not isinstance(ops, int) or not isinstance(mem, int):
            raise BadAuthorityFile("the authority key file has invalid key-derivation limits")
        sealed = PassphraseSealed(
            KdfCost(ops, mem), _b64(protection, "salt"), _b64(protection, "nonce"), seed
        )
        try:
            seed = open_with_passphrase(
                sealed,
                passphrase,
                associated_data=network_id.encode(),
                max_cost=_MAX_COST,
                normalise=False,
            )
        except WrongPassphrase:
            raise BadAuthorityFile(
                "wrong passphrase, or the authority key file was altered"
            ) from None
        except CryptoError as exc:  # the limits, salt, nonce or passphrase text
            raise BadAuthorityFile(f"the authority key file cannot be opened: {exc}") from None
    if len(seed) != 32:
        raise BadAuthorityFile("the authority key file's key has the wrong length")
    authority = AuthorityKey.from_seed(seed)
    if authority.network_id != network_id:
        raise BadAuthorityFile("the authority key file's key is not network " + network_id + "'s")
    return authority


def import_authority(
    conn: sqlite3.Connection,
    *,
    storage_key: StorageKey,
    authority: AuthorityKey,
    now: int,
    actor: str,
) -> str:
    """Hub: put an exported authority key back; returns the network id."""
    network_id = authority.network_id
    network = _network(conn, network_id)
    if network.authority_public_key != authority.public_key or not network.is_authority:
        raise NotAuthority(network_id)
    if not network.authority_offline:
        raise BadAuthorityFile(f"this node already holds the authority key of network {network_id}")
    db.restore_authority_seed(conn, network_id, authority, storage_key)
    audit.record(
        conn,
        at=now,
        actor=actor,
        action="network.authority_imported",
        detail={"network_id": network_id},
    )
    return network_id


__all__ = [
    "ALL_GROUP",
    "GroupChange",
    "InstallResult",
    "LeaveResult",
    "Member",
    "MembershipBundle",
    "PolicyView",
    "accept_join",
    "add_group",
    "apply_revocation_list",
    "authority_document",
    "choose_network",
    "create_network",
    "export_authority",
    "group_epochs",
    "import_authority",
    "install_bundle",
    "issue_invite",
    "join_identity",
    "leave_network",
    "list_groups",
    "members",
    "membership_bundle",
    "policy_view",
    "read_authority_file",
    "remove_authority",
    "remove_group",
    "renew_certificates",
    "revoke_member",
    "set_policy",
    "set_roles",
]
