"""Network administration on a store, without sockets: create, invite, join, sync, revoke."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from doorwatch.crypto import NodeIdentity, StorageKey, join_request
from doorwatch.node import _network_admin as admin
from doorwatch.node import _network_store as db
from doorwatch.node._migrations import MIGRATIONS
from doorwatch.node._network_errors import InviteRefused, NotAuthority

NOW = 1_800_000_000


def _conn() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    for _number, _what, sql in MIGRATIONS:
        conn.executescript(sql)
    return conn


class Node:
    def __init__(self) -> None:
        self.conn = _conn()
        self.identity = NodeIdentity.generate()
        self.key = StorageKey.generate()


@pytest.fixture
def authority() -> Iterator[Node]:
    node = Node()
    yield node
    node.conn.close()


def _create(a: Node) -> str:
    return admin.create_network(
        a.conn,
        identity=a.identity,
        storage_key=a.key,
        venue="The Crown",
        name="Town Pubwatch",
        jurisdiction="GB",
        now=NOW,
    )


def _join(a: Node, b: Node, network_id: str) -> admin.MembershipBundle:
    token = admin.issue_invite(
        a.conn,
        storage_key=a.key,
        network_id=network_id,
        venue="The Swan",
        groups=["door"],
        bootstrap_addrs=[f"/ip4/127.0.0.1/tcp/4001/p2p/{a.identity.peer_id}"],
        expires_at=NOW + 3600,
        now=NOW,
    )
    request = join_request(token, b.identity, now=NOW + 1)
    bundle = admin.accept_join(
        a.conn,
        storage_key=a.key,
        identity=a.identity,
        request=request,
        transport_peer_id=admin.join_identity(token).peer_id,
        now=NOW + 1,
    )
    admin.install_bundle(
        b.conn,
        storage_key=b.key,
        identity=b.identity,
        bundle=admin.MembershipBundle.from_bytes(bundle.to_bytes()),
        authority_public_key=token.authority_public_key,
        sender_peer_id=a.identity.peer_id,
        now=NOW + 1,
    )
    return bundle


def _sync(a: Node, b: Node, network_id: str, now: int) -> admin.InstallResult:
    """B's membership sync with the hub A (at ``now``)."""
    bundle = admin.membership_bundle(
        a.conn,
        storage_key=a.key,
        identity=a.identity,
        network_id=network_id,
        peer_id=b.identity.peer_id,
        now=now,
    )
    return admin.install_bundle(
        b.conn,
        storage_key=b.key,
        identity=b.identity,
        bundle=admin.MembershipBundle.from_bytes(bundle.to_bytes()),
        authority_public_key=db.list_networks(a.conn)[0].authority_public_key,
        sender_peer_id=a.identity.peer_id,
        now=now,
    )


def test_create_join_and_revoke_rotates_keys(authority: Node) -> None:
    a, b, c = authority, Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    _join(a, c, network_id)
    assert {m.venue for m in admin.members(a.conn, network_id, a.identity.peer_id)} == {
        "The Crown",
        "The Swan",
    }
    assert admin.group_epochs(b.conn, network_id, b.key) == {"all": 1, "door": 1}
    # B's sync brings C's certificate.
    _sync(a, b, network_id, NOW + 2)
    assert len(db.certificates(b.conn, network_id)) == 3

    rl = admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=c.identity.peer_id, now=NOW + 3
    )
    assert rl.serial == 1
    assert admin.group_epochs(a.conn, network_id, a.key) == {"all": 2, "door": 2}
    revoked_bundle = admin.membership_bundle(
        a.conn,
        storage_key=a.key,
        identity=a.identity,
        network_id=network_id,
        peer_id=c.identity.peer_id,
    )
    assert revoked_bundle.sealed_group_keys == ()
    _sync(a, b, network_id, NOW + 4)
    assert admin.group_epochs(b.conn, network_id, b.key) == {"all": 2, "door": 2}
    listed = {m.peer_id: m.revoked for m in admin.members(b.conn, network_id, "x")}
    assert listed[c.identity.peer_id] is True
    assert listed[b.identity.peer_id] is False


def test_invite_is_one_time_and_bound_to_its_join_identity(authority: Node) -> None:
    a, b = authority, Node()
    network_id = _create(a)
    token = admin.issue_invite(
        a.conn,
        storage_key=a.key,
        network_id=network_id,
        venue="The Swan",
        groups=[],
        bootstrap_addrs=[],
        expires_at=NOW + 60,
        now=NOW,
    )
    request = join_request(token, b.identity, now=NOW)
    with pytest.raises(InviteRefused, match="does not hold the invite"):
        admin.accept_join(
            a.conn,
            storage_key=a.key,
            identity=a.identity,
            request=request,
            transport_peer_id=b.identity.peer_id,
            now=NOW,
        )
    join_id = admin.join_identity(token).peer_id
    admin.accept_join(
        a.conn,
        storage_key=a.key,
        identity=a.identity,
        request=request,
        transport_peer_id=join_id,
        now=NOW,
    )
    with pytest.raises(InviteRefused, match="already been used"):
        admin.accept_join(
            a.conn,
            storage_key=a.key,
            identity=a.identity,
            request=request,
            transport_peer_id=join_id,
            now=NOW,
        )
    assert db.open_invites(a.conn, NOW) == []


def test_only_the_authority_node_invites_or_revokes(authority: Node) -> None:
    a, b = authority, Node()
    network_id = _create(a)
    _join(a, b, network_id)
    with pytest.raises(NotAuthority):
        admin.issue_invite(
            b.conn,
            storage_key=b.key,
            network_id=network_id,
            venue="X",
            groups=[],
            bootstrap_addrs=[],
            expires_at=NOW + 60,
            now=NOW,
        )
    with pytest.raises(NotAuthority):
        admin.revoke_member(
            b.conn, storage_key=b.key, network_id=network_id, peer_id=a.identity.peer_id, now=NOW
        )


def test_authority_seed_and_group_keys_are_encrypted_at_rest(authority: Node) -> None:
    a = authority
    network_id = _create(a)
    seed = db.authority_key(a.conn, network_id, a.key)
    assert seed is not None
    raw = b"".join(
        bytes(r[0]) for r in a.conn.execute("SELECT authority_seed FROM networks")
    ) + b"".join(bytes(r[0]) for r in a.conn.execute("SELECT key FROM network_group_keys"))
    assert seed.to_seed() not in raw
    for key in db.group_keys(a.conn, network_id, a.key):
        assert key.key not in raw
