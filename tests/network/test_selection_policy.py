"""The selection key and the signed network policy on the store, without sockets: made
with the network, delivered sealed to members only, kept across rotations, encrypted at
rest; the policy's serial only goes up (issue 14)."""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest

from doorwatch.crypto import AuthorityKey, seal_selection_key, x25519_public_from_ed25519
from doorwatch.node import _network_admin as admin
from doorwatch.node import _network_store as db
from doorwatch.node._network import _relay_bundle
from doorwatch.node._network_errors import JoinFailed
from doorwatch.node._selection import SelectionKeyMissing, selection_context

from .test_admin import NOW, Node, _create, _join, _sync


@pytest.fixture
def hub() -> Iterator[Node]:
    node = Node()
    yield node
    node.conn.close()


def _meta_blobs(node: Node) -> list[bytes]:
    return [
        base64.b64decode(v)
        for k, v in node.conn.execute("SELECT key, value FROM meta").fetchall()
        if k.startswith("network.")
    ]


def test_members_hold_the_hubs_selection_key_encrypted(hub: Node) -> None:
    a, b, c = hub, Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    _join(a, c, network_id)
    key = db.selection_key(a.conn, network_id, a.key)
    assert key is not None
    assert key == AuthorityKey.from_seed(_seed(a, network_id)).selection_key()
    for member in (b, c):
        assert db.selection_key(member.conn, network_id, member.key) == key
        assert selection_context(member.conn, member.key).key == key
        # At rest: only the storage key's ciphertext.
        assert all(key not in blob for blob in _meta_blobs(member))


def _seed(node: Node, network_id: str) -> bytes:
    held = db.authority_key(node.conn, network_id, node.key)
    assert held is not None
    return held.to_seed()


def test_the_selection_key_survives_revocations_and_group_key_rotations(
    hub: Node,
) -> None:
    a, b, c = hub, Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    _join(a, c, network_id)
    before = db.selection_key(b.conn, network_id, b.key)
    epochs = admin.group_epochs(a.conn, network_id, a.key)
    admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=c.identity.peer_id, now=NOW + 10
    )
    assert admin.group_epochs(a.conn, network_id, a.key) != epochs  # keys rotated
    result = _sync(a, b, network_id, NOW + 20)
    assert result.new_group_keys
    assert not result.new_selection_key  # the same key again: nothing new
    assert db.selection_key(b.conn, network_id, b.key) == before
    assert db.selection_key(a.conn, network_id, a.key) == before


def test_the_revoked_member_is_not_sent_the_key(hub: Node) -> None:
    a, b = hub, Node()
    network_id = _create(a)
    _join(a, b, network_id)
    admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=b.identity.peer_id, now=NOW + 10
    )
    bundle = admin.membership_bundle(
        a.conn,
        storage_key=a.key,
        identity=a.identity,
        network_id=network_id,
        peer_id=b.identity.peer_id,
    )
    assert bundle.sealed_selection_key is None
    assert bundle.sealed_group_keys == ()


def test_a_relaying_member_sends_the_policy_but_never_the_key(hub: Node) -> None:
    a, b, c = hub, Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    relayed = _relay_bundle(b.conn, network_id)
    assert relayed.sealed_selection_key is None
    assert relayed.policy == db.network_policy(a.conn, network_id)
    # A key sealed by a member that is not the key manager is ignored.
    _join(a, c, network_id)
    c.conn.execute("DELETE FROM meta WHERE key = ?", ("network.selection_key:" + network_id,))
    planted = relayed.model_copy(
        update={
            "sealed_selection_key": seal_selection_key(
                network_id, bytes(32), x25519_public_from_ed25519(c.identity.public_key), b.identity
            )
        }
    )
    result = admin.install_bundle(
        c.conn,
        storage_key=c.key,
        identity=c.identity,
        bundle=planted,
        authority_public_key=db.list_networks(a.conn)[0].authority_public_key,
        sender_peer_id=b.identity.peer_id,
        now=NOW + 5,
    )
    assert not result.new_selection_key
    assert db.selection_key(c.conn, network_id, c.key) is None


def test_a_new_policy_reaches_members_and_an_old_one_cannot_replace_it(hub: Node) -> None:
    a, b = hub, Node()
    network_id = _create(a)
    _join(a, b, network_id)
    first = db.network_policy(b.conn, network_id)
    assert first is not None
    assert (first.serial, first.anonymity_floor) == (1, 50)
    old_bundle = admin.membership_bundle(
        a.conn,
        storage_key=a.key,
        identity=a.identity,
        network_id=network_id,
        peer_id=b.identity.peer_id,
    )
    admin.set_policy(
        a.conn, storage_key=a.key, network_id=network_id, anonymity_floor=500, now=NOW + 5
    )
    result = _sync(a, b, network_id, NOW + 6)
    assert result.new_policy
    held = db.network_policy(b.conn, network_id)
    assert held is not None
    assert (held.serial, held.anonymity_floor) == (2, 500)
    assert selection_context(b.conn, b.key).anonymity_floor == 500
    # A replayed older bundle changes nothing.
    replay = admin.install_bundle(
        b.conn,
        storage_key=b.key,
        identity=b.identity,
        bundle=old_bundle,
        authority_public_key=db.list_networks(a.conn)[0].authority_public_key,
        sender_peer_id=a.identity.peer_id,
        now=NOW + 7,
    )
    assert not replay.new_policy
    assert db.network_policy(b.conn, network_id) == held
    # An altered policy (a lower floor under the old signature) is refused outright.
    assert old_bundle.policy is not None
    forged_policy = held.model_copy(update={"serial": 3, "anonymity_floor": 2})
    with pytest.raises(JoinFailed, match="policy"):
        admin.install_bundle(
            b.conn,
            storage_key=b.key,
            identity=b.identity,
            bundle=old_bundle.model_copy(update={"policy": forged_policy}),
            authority_public_key=db.list_networks(a.conn)[0].authority_public_key,
            sender_peer_id=a.identity.peer_id,
            now=NOW + 8,
        )


def test_members_and_hubs_from_before_get_key_and_policy_at_the_next_sync(
    hub: Node,
) -> None:
    """A network created, and a member joined, before selection keys and policies: the
    hub makes them on first use (the same key: it derives from the authority seed), the
    member gets them with its next sync, and creates no alert until then."""
    a, b = hub, Node()
    network_id = _create(a)
    _join(a, b, network_id)
    key = db.selection_key(a.conn, network_id, a.key)
    for node in (a, b):
        node.conn.execute(
            "DELETE FROM meta WHERE key IN (?, ?)",
            ("network.selection_key:" + network_id, "network.policy:" + network_id),
        )
    with pytest.raises(SelectionKeyMissing):
        selection_context(b.conn, b.key)
    result = _sync(a, b, network_id, NOW + 30)
    assert result.new_selection_key
    assert result.new_policy
    assert db.selection_key(a.conn, network_id, a.key) == key
    assert selection_context(b.conn, b.key).key == key


def test_leaving_forgets_the_key_and_policy(hub: Node) -> None:
    a, b = hub, Node()
    network_id = _create(a)
    _join(a, b, network_id)
    db.delete_network(b.conn, network_id)
    assert db.selection_key(b.conn, network_id, b.key) is None
    assert db.network_policy(b.conn, network_id) is None


def test_the_notice_rules_are_signed_in_the_policy_and_reach_members(hub: Node) -> None:
    a, b = hub, Node()
    network_id = _create(a)
    _join(a, b, network_id)
    assert admin.policy_view(a.conn, network_id).notices == {
        "notice_quorum": 3,
        "notice_majority": 50,
        "notice_lifetime_majority": 75,
        "notice_vote_days": 14,
        "notice_appeal_suspends": False,
        "committee": 1,  # the hub, on the committee since it made the network
    }
    admin.set_policy(
        a.conn,
        storage_key=a.key,
        network_id=network_id,
        notice_rules={"notice_vote_days": 7, "notice_appeal_suspends": True},
        now=NOW + 5,
    )
    assert _sync(a, b, network_id, NOW + 6).new_policy
    held = db.network_policy(b.conn, network_id)
    assert held is not None
    assert (held.notice_vote_days, held.notice_appeal_suspends) == (7, True)
    assert held.anonymity_floor == 50  # the rules not given are kept
    assert len(held.committee_voters) == 1  # and the roster is made afresh
    with pytest.raises(admin.GroupError, match="no such rule"):
        admin.set_policy(
            a.conn, storage_key=a.key, network_id=network_id, notice_rules={"x": 1}, now=NOW + 7
        )
    with pytest.raises(admin.GroupError, match="notice_majority"):
        admin.set_policy(
            a.conn,
            storage_key=a.key,
            network_id=network_id,
            notice_rules={"notice_majority": 40},
            now=NOW + 7,
        )
