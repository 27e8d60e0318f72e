"""A revoked originator's alerts stop matching everywhere (real daemons on 127.0.0.1).

O ("The Swan") originates two alerts and A ("The Crown", the authority) one; B ("The
Bell") receives all three. A revokes O: A and B drop O's records (replica, database,
index), audit it with counts and O's peer id, and scan O's subjects as "admit", while
A's alert still matches. After a restart nothing comes back, and records of O that a
drop never got to delete (written into B's database while it was stopped) are dropped
by the loader instead of being indexed.
"""

from __future__ import annotations

import json
import random
import sqlite3
from typing import Any

from doorwatch.node._received_testing import originator_keys, segment_pool, write_received
from doorwatch.node.testing import Daemon
from doorwatch.protocol import decode

from .conftest import Nodes
from .test_alert_gossip import call, doc, network, received, start, stored_envelopes
from .test_network_daemons import cli, invite, members, peer_id, status, wait_for

DROPPED = "alerts.revoked_originator_dropped"


def scan(node: Daemon, n: int) -> dict[str, Any]:
    result = call(node, "scan.submit", document=doc(n))
    assert isinstance(result, dict)
    return result


def envelope_frames(node: Daemon, originator: str) -> list[bytes]:
    conn = sqlite3.connect(f"file:{node.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT message FROM alert_envelopes WHERE originator = ?", (originator,)
        ).fetchall()
    finally:
        conn.close()
    return [bytes(r[0]) for r in rows]


def create(node: Daemon, n: int) -> str:
    made = call(node, "alert.create", document=doc(n), category="theft", reason="took a bag")
    return str(made["alert_id"])


def drops(node: Daemon) -> list[dict[str, Any]]:
    entries = call(node, "audit.query", action=DROPPED)
    return sorted(entries, key=lambda e: e["id"])


def test_a_revoked_originators_alerts_are_dropped_by_every_member_and_stay_dropped(
    nodes: Nodes,
) -> None:
    a, o, b = network(nodes, ("a", "The Crown"), ("o", "The Swan"), ("b", "The Bell"), fixed=True)
    (net,) = status(a)["networks"]
    network_id = net["network_id"]
    swan = peer_id(o)
    o_alerts = {create(o, n) for n in (1, 2)}
    a_alert = create(a, 3)
    wait_for("B receives the three alerts", lambda: received(b) == 3)
    wait_for("A receives O's two", lambda: received(a) == 2)
    assert scan(b, 1)["verdict"] == "check"
    assert scan(a, 2)["verdict"] == "check"
    assert len(stored_envelopes(b)) == 3

    # O's envelopes' ciphertexts as B stored them: none may survive the drop in B's files.
    # (Not any slice of the frames: their headers hold O's peer id, which B's copy of O's
    # certificate and the revocation list rightly keep.)
    canaries = [decode(m).envelope.ciphertext[:32] for m in envelope_frames(b, peer_id(o))]
    assert len(canaries) == 2
    # O's keys, for the "interrupted drop" below; O stops and is revoked while offline.
    o.stop()
    signer, key = originator_keys(o.data_dir, network_id)
    cli("network", "revoke", swan, "--data-dir", str(a.data_dir))
    wait_for("B learns of the revocation", lambda: members(b)["The Swan"]["revoked"] is True)

    wait_for("B drops O's alerts", lambda: received(b) == 1)
    wait_for("A drops O's alerts", lambda: received(a) == 0)
    for node in (a, b):
        assert o_alerts.isdisjoint(stored_envelopes(node))
    assert stored_envelopes(b) == {a_alert}

    def files_hold_canaries() -> bool:
        held = {
            f.name: sum(c in f.read_bytes() for c in canaries)
            for f in b.data_dir.iterdir()
            if f.name.startswith("doorwatch.sqlite")
        }
        print("canaries held:", held)  # shown if the wait below fails
        return any(held.values())

    # secure_delete, then the WAL checkpointed (after the index: wait for the files).
    wait_for("B's files no longer hold O's envelopes", lambda: not files_hold_canaries())
    for n in (1, 2):
        assert (scan(b, n)["verdict"], scan(b, n)["matches"]) == ("admit", [])
    assert (scan(a, 1)["verdict"], scan(a, 1)["matches"]) == ("admit", [])
    subject = scan(b, 3)  # the other member's alert still matches
    assert subject["verdict"] == "check"
    assert len(subject["matches"]) == 1

    # Audited with counts and O's peer id only.
    (entry,) = drops(b)
    assert entry["peer_id"] == swan
    assert entry["actor"] == "network"
    assert entry["detail"] == {"network_id": network_id, "records": 2, "unindexed": 2}
    assert [e["peer_id"] for e in drops(a)] == [swan]

    # Restarted: nothing of O's comes back. Records of O that a drop never got to
    # (written into B's database while it is stopped) are dropped by the loader.
    b.stop()
    write_received(
        b.data_dir / "doorwatch.sqlite", signer, key, segment_pool(random.Random(1), 5), 20
    )
    start(b)
    wait_for("B has loaded", lambda: status(b)["loading"] is None)
    assert received(b) == 1
    assert stored_envelopes(b) == {a_alert}
    assert (scan(b, 1)["verdict"], scan(b, 1)["matches"]) == ("admit", [])
    assert scan(b, 3)["verdict"] == "check"
    first, second = drops(b)
    assert first == entry
    assert second["peer_id"] == swan
    assert second["detail"] == {"network_id": network_id, "records": 20, "unindexed": 0}
    conn = sqlite3.connect(f"file:{b.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        (left,) = conn.execute(
            "SELECT count(*) FROM alert_envelopes WHERE originator = ?", (swan,)
        ).fetchone()
    finally:
        conn.close()
    assert left == 0


def envelopes_by_network(node: Daemon, originator: str) -> dict[str, int]:
    conn = sqlite3.connect(f"file:{node.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT network_id, count(*) FROM alert_envelopes WHERE originator = ? "
            "GROUP BY network_id",
            (originator,),
        ).fetchall()
    finally:
        conn.close()
    return dict(rows)


def test_revoked_in_one_network_only_the_copy_from_that_network_goes(nodes: Nodes) -> None:
    """B and O are members of two networks, "Town" (A's) and "City" (B's); O's alert
    reaches B through both, and B indexes the copy that came last. O is revoked in
    THAT network: B drops that copy only, and indexes the other one instead, so the
    alert, still O's under the other network's certificate, keeps matching at B."""
    a, b, o = nodes.new("a", "The Crown"), nodes.new("b", "The Bell"), nodes.new("o", "The Swan")
    town = cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    city = cli("network", "create", "--data-dir", str(b.data_dir), "--name", "City")
    for node in (a, b, o):
        start(node)
    cli("network", "join", invite(a, "The Bell"), "--data-dir", str(b.data_dir))
    cli("network", "join", invite(a, "The Swan"), "--data-dir", str(o.data_dir))
    cli("network", "join", invite(b, "The Swan"), "--data-dir", str(o.data_dir))
    swan = peer_id(o)
    wait_for("O is in both networks", lambda: len(status(o)["networks"]) == 2)

    alert_id = create(o, 1)
    wait_for(
        "O's alert reaches B through both networks",
        lambda: envelopes_by_network(b, swan) == {town: 1, city: 1},
    )
    wait_for("B indexes it", lambda: received(b) == 1)
    indexed = last_received_through(b, alert_id)
    other = city if indexed == town else town
    authority = a if indexed == town else b

    cli("network", "revoke", swan, "--data-dir", str(authority.data_dir))
    wait_for("B drops one copy", lambda: envelopes_by_network(b, swan) == {other: 1})
    assert received(b) == 1
    subject = scan(b, 1)
    assert subject["verdict"] == "check"
    assert len(subject["matches"]) == 1
    (entry,) = drops(b)
    assert entry["peer_id"] == swan
    assert entry["detail"] == {"network_id": indexed, "records": 1, "unindexed": 1}
    (line,) = [json.loads(x) for x in b.log_lines() if DROPPED in x]
    assert line["indexed_from_another_network"] == 1


def last_received_through(node: Daemon, alert_id: str) -> str:
    """The network of the last copy of ``alert_id`` the node committed (the indexed one)."""
    lines = [json.loads(x) for x in node.log_lines() if '"alerts.received"' in x]
    return str([e for e in lines if alert_id in e["alert_ids"]][-1]["network_id"])
