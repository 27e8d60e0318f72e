"""Leaving, being revoked, certificate renewal, the authority key offline, and groups:
network administration on a store, without sockets."""

from __future__ import annotations

import base64
import json

import pytest

from doorwatch.crypto import AuthorityKey, Certificate, CryptoError
from doorwatch.node import _audit as audit
from doorwatch.node import _network_admin as admin
from doorwatch.node import _network_store as db
from doorwatch.node import _received_store as rdb
from doorwatch.node._network_errors import (
    AuthorityOffline,
    BadAuthorityFile,
    CannotLeave,
    CannotRevoke,
    GroupError,
    NotAuthority,
    UnknownMember,
    UnknownNetwork,
)

from .test_admin import NOW, Node, _create, _join, _sync

DAY = 86400


def _export(node: Node, network_id: str, passphrase: str | None) -> dict[str, object]:
    key, name = admin.export_authority(
        node.conn, storage_key=node.key, network_id=network_id, now=NOW, actor="admin"
    )
    return admin.authority_document(key, name=name, passphrase=passphrase, now=NOW)


def _envelope(network_id: str, originator: str, n: int) -> rdb.EnvelopeRow:
    return rdb.EnvelopeRow(
        network_id=network_id,
        alert_id=bytes([n]) * 16,
        originator=originator,
        group="all",
        epoch=1,
        version=1,
        status="active",
        expires_at=NOW + 30 * DAY,
        stored_at=NOW,
        message=b"canary-envelope-%d" % n,
    )


def _own_cert(node: Node, network_id: str) -> Certificate:
    (cert,) = [
        c for c in db.certificates(node.conn, network_id) if c.peer_id == node.identity.peer_id
    ]
    return cert


def test_leave_deletes_received_alerts_keys_and_certificates_and_is_audited() -> None:
    a, b = Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    rdb.save(
        b.conn,
        upserts=[
            _envelope(network_id, a.identity.peer_id, 1),
            _envelope(network_id, a.identity.peer_id, 2),
            _envelope(network_id, b.identity.peer_id, 3),  # B's own alert's envelope
        ],
        deletes=[],
        floors={network_id: NOW},
    )
    left = admin.leave_network(
        b.conn, network_id=network_id, self_peer_id=b.identity.peer_id, actor="admin", now=NOW + 5
    )
    assert left.received_deleted == 2
    assert left.action == admin.LEFT
    for table in (
        "alert_envelopes",
        "replica_clocks",
        "networks",
        "network_certificates",
        "network_group_keys",
        "peer_addresses",
    ):
        assert b.conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone() == (0,), table
    (entry,) = audit.query(b.conn, action=admin.LEFT)
    assert entry.actor == "admin"
    assert entry.detail == {"network_id": network_id, "received_deleted": 2}
    with pytest.raises(UnknownNetwork):
        admin.leave_network(
            b.conn, network_id=network_id, self_peer_id=b.identity.peer_id, actor="x", now=NOW
        )


def test_the_network_hub_cannot_leave_nor_revoke_itself() -> None:
    a, b = Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    with pytest.raises(CannotLeave, match="cannot leave"):
        admin.leave_network(
            a.conn, network_id=network_id, self_peer_id=a.identity.peer_id, actor="x", now=NOW
        )
    with pytest.raises(CannotRevoke, match="cannot revoke itself"):
        admin.revoke_member(
            a.conn, storage_key=a.key, network_id=network_id, peer_id=a.identity.peer_id, now=NOW
        )
    assert db.revocations(a.conn, network_id) is None


def test_a_member_that_learns_it_was_revoked_leaves() -> None:
    a, b, c = Node(), Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    _join(a, c, network_id)
    rdb.save(c.conn, upserts=[_envelope(network_id, a.identity.peer_id, 1)], deletes=[], floors={})
    rl = admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=c.identity.peer_id, now=NOW + 2
    )
    # A list signed by someone else is refused, and nothing is deleted.
    forged = AuthorityKey.generate().revoke(
        serial=rl.serial, issued_at=NOW, peer_ids=[c.identity.peer_id]
    )
    forged = forged.model_copy(update={"network_id": network_id})
    with pytest.raises(CryptoError):
        admin.apply_revocation_list(
            c.conn, revocations=forged, self_peer_id=c.identity.peer_id, now=NOW + 3
        )
    assert [n.network_id for n in db.list_networks(c.conn)] == [network_id]

    # B learns of C's revocation and stays; C learns of its own and leaves.
    assert (
        admin.apply_revocation_list(
            b.conn, revocations=rl, self_peer_id=b.identity.peer_id, now=NOW + 3
        )
        is None
    )
    left = admin.apply_revocation_list(
        c.conn, revocations=rl, self_peer_id=c.identity.peer_id, now=NOW + 3
    )
    assert left is not None
    assert left.received_deleted == 1
    assert db.list_networks(c.conn) == []
    assert c.conn.execute("SELECT COUNT(*) FROM network_group_keys").fetchone() == (0,)
    (entry,) = audit.query(c.conn, action=admin.REVOKED)
    assert entry.detail["network_id"] == network_id


def test_a_revoked_member_leaves_when_a_sync_brings_the_list() -> None:
    a, c = Node(), Node()
    network_id = _create(a)
    _join(a, c, network_id)
    admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=c.identity.peer_id, now=NOW + 2
    )
    result = _sync(a, c, network_id, NOW + 3)
    assert result.left is not None
    assert result.left.action == admin.REVOKED
    assert db.list_networks(c.conn) == []


def test_certificates_close_to_expiry_are_renewed_at_sync() -> None:
    a, b = Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    first = _own_cert(b, network_id)
    assert first.valid_until == NOW + 1 + admin.CERTIFICATE_DAYS * DAY

    assert _sync(a, b, network_id, NOW + 100 * DAY).new_certificates == 0
    assert _own_cert(b, network_id) == first

    later = NOW + (admin.CERTIFICATE_DAYS - admin.RENEW_WITHIN_DAYS + 5) * DAY
    assert _sync(a, b, network_id, later).new_certificates == 2  # B's and the hub's own
    renewed = _own_cert(b, network_id)
    assert renewed.valid_until == later + admin.CERTIFICATE_DAYS * DAY
    assert renewed.serial > first.serial
    assert renewed.groups == first.groups
    # Renewed once: the next sync renews nothing.
    assert _sync(a, b, network_id, later + DAY).new_certificates == 0


def test_revoked_certificates_are_not_renewed() -> None:
    a, b, c = Node(), Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    _join(a, c, network_id)
    admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=c.identity.peer_id, now=NOW + 2
    )
    later = NOW + (admin.CERTIFICATE_DAYS - 1) * DAY
    renewed = admin.renew_certificates(a.conn, storage_key=a.key, network_id=network_id, now=later)
    assert {c.peer_id for c in renewed} == {a.identity.peer_id, b.identity.peer_id}


def test_authority_key_exported_with_passphrase_removed_and_imported() -> None:
    a, b = Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)
    seed = db.authority_key(a.conn, network_id, a.key)
    assert seed is not None
    doc = _export(a, network_id, "correct horse battery")
    with pytest.raises(NotAuthority):
        admin.remove_authority(b.conn, network_id=network_id, now=NOW + 10, actor="admin")
    admin.remove_authority(a.conn, network_id=network_id, now=NOW + 10, actor="admin")
    with pytest.raises(AuthorityOffline):
        admin.remove_authority(a.conn, network_id=network_id, now=NOW + 10, actor="admin")
    text = json.dumps(doc)
    assert seed.to_seed().hex() not in text
    assert base64.b64encode(seed.to_seed()).decode() not in text
    # The node stays the network's hub, but cannot sign any more.
    (row,) = db.list_networks(a.conn)
    assert row.is_authority
    assert row.authority_offline
    assert admin.choose_network(a.conn, None, authority=True) == network_id
    with pytest.raises(AuthorityOffline, match="import-authority"):
        admin.add_group(a.conn, storage_key=a.key, network_id=network_id, group="x", now=NOW)
    with pytest.raises(AuthorityOffline):
        admin.revoke_member(
            a.conn, storage_key=a.key, network_id=network_id, peer_id=b.identity.peer_id, now=NOW
        )
    # Sync still works (no renewal due); a due renewal waits for the key.
    later = NOW + (admin.CERTIFICATE_DAYS - 1) * DAY
    assert _sync(a, b, network_id, later).new_certificates == 0

    with pytest.raises(BadAuthorityFile, match="passphrase"):
        admin.read_authority_file(doc, None)
    with pytest.raises(BadAuthorityFile, match="wrong passphrase"):
        admin.read_authority_file(doc, "wrong horse battery")
    with pytest.raises(BadAuthorityFile, match="not a Doorwatch"):
        admin.read_authority_file({"format": "x"}, None)
    key = admin.read_authority_file(json.loads(text), "correct horse battery")
    assert key.public_key == seed.public_key
    # B is not the hub: it cannot take the key.
    with pytest.raises(NotAuthority):
        admin.import_authority(b.conn, storage_key=b.key, authority=key, now=NOW, actor="x")
    admin.import_authority(a.conn, storage_key=a.key, authority=key, now=NOW + 20, actor="admin")
    assert not db.list_networks(a.conn)[0].authority_offline
    assert _sync(a, b, network_id, later).new_certificates == 2
    actions = [e.action for e in audit.query(a.conn)]
    assert "network.authority_exported" in actions
    assert "network.authority_removed" in actions
    assert "network.authority_imported" in actions
    with pytest.raises(BadAuthorityFile, match="already holds"):
        admin.import_authority(a.conn, storage_key=a.key, authority=key, now=NOW, actor="x")


def test_authority_key_exported_without_passphrase_is_the_bare_key() -> None:
    a = Node()
    network_id = _create(a)
    doc = _export(a, network_id, None)
    assert doc["protection"] is None
    key = admin.read_authority_file(doc, None)
    assert key.network_id == network_id
    assert not db.list_networks(a.conn)[0].authority_offline
    tampered = {**doc, "network_id": "0" * 16}
    with pytest.raises(BadAuthorityFile):
        admin.read_authority_file(tampered, None)


def test_groups_added_and_removed_reach_members_at_sync() -> None:
    a, b = Node(), Node()
    network_id = _create(a)
    _join(a, b, network_id)  # B is in "all" and "door"
    assert admin.list_groups(a.conn, network_id, a.key) == {
        "all": ["The Crown", "The Swan"],
        "door": ["The Swan"],
    }
    change = admin.add_group(
        a.conn,
        storage_key=a.key,
        network_id=network_id,
        group="committee",
        members=[b.identity.peer_id],
        now=NOW + 5,
    )
    assert change.reissued == (b.identity.peer_id,)
    _sync(a, b, network_id, NOW + 6)
    assert _own_cert(b, network_id).groups == ("all", "committee", "door")
    assert admin.group_epochs(b.conn, network_id, b.key) == {"all": 1, "committee": 1, "door": 1}

    change = admin.remove_group(
        a.conn, storage_key=a.key, network_id=network_id, group="door", now=NOW + 7
    )
    assert change.reissued == (b.identity.peer_id,)
    assert "door" not in admin.list_groups(a.conn, network_id, a.key)
    _sync(a, b, network_id, NOW + 8)
    assert _own_cert(b, network_id).groups == ("all", "committee")
    assert admin.group_epochs(b.conn, network_id, b.key) == {"all": 1, "committee": 1}

    with pytest.raises(GroupError, match="'all'"):
        admin.remove_group(a.conn, storage_key=a.key, network_id=network_id, group="all", now=NOW)
    with pytest.raises(GroupError, match="no group"):
        admin.remove_group(a.conn, storage_key=a.key, network_id=network_id, group="bar", now=NOW)
    with pytest.raises(GroupError, match="lower-case"):
        admin.add_group(a.conn, storage_key=a.key, network_id=network_id, group="Bar!", now=NOW)
    with pytest.raises(UnknownMember):
        admin.add_group(
            a.conn,
            storage_key=a.key,
            network_id=network_id,
            group="x",
            members=["12D3KooWnotamember"],
            now=NOW,
        )

    def add(group: str, *members: Node, now: int) -> admin.GroupChange:
        peers = [m.identity.peer_id for m in members]
        return admin.add_group(
            a.conn, storage_key=a.key, network_id=network_id, group=group, members=peers, now=now
        )

    # A member named twice is re-issued one certificate.
    assert add("pair", b, b, now=NOW + 8).reissued == (b.identity.peer_id,)
    # A revoked member gets no new certificate through a group, and nothing changes.
    c = Node()
    _join(a, c, network_id)
    admin.revoke_member(
        a.conn, storage_key=a.key, network_id=network_id, peer_id=c.identity.peer_id, now=NOW + 9
    )
    before = admin.list_groups(a.conn, network_id, a.key)
    with pytest.raises(GroupError, match="was revoked"):
        add("late", b, c, now=NOW + 10)
    assert admin.list_groups(a.conn, network_id, a.key) == before
