"""Alerts travel between venues: gossip, the received-alert store and anti-entropy sync,
with real daemons on 127.0.0.1."""

from __future__ import annotations

import hashlib
import json
import signal
import sqlite3
import time
from typing import Any

from doorwatch.node.testing import Daemon

from .conftest import Nodes
from .test_network_daemons import cli, connected_venues, free_port, invite, status, wait_for

LISTEN: dict[str, str] = {}  # data directory -> fixed listen address, for restarts


def start(node: Daemon) -> None:
    listen = LISTEN.get(str(node.data_dir))
    node.start(*(("--listen", listen) if listen else ()))


def doc(n: int = 0) -> dict[str, Any]:
    surnames = ["Quibbleworth", "Fennimore", "Lattimer", "Osgood", "Prendergast", "Wetherby"]
    return {
        "document_type": "passport",
        "document_number": hashlib.sha256(str(n).encode()).hexdigest()[:9].upper(),
        "given_names": ["Tabitha", "Ignatius", "Rosalind", "Barnaby", "Clementine"][n % 5],
        "surname": surnames[n % len(surnames)] + ("" if n < len(surnames) else f"e{n}"),
        "date_of_birth": f"19{70 + n % 30}-0{1 + n % 9}-1{n % 10}",
        "expiry_date": "2031-01-01",
        "issuing_country": "GBR",
    }


def call(node: Daemon, method: str, **params: Any) -> Any:
    client = node.client()
    try:
        return client.result(method, **params)
    finally:
        client.close()
        node.clients.remove(client)


def received(node: Daemon) -> int:
    return int(status(node)["counts"]["alerts_received_active"])


def verdict(node: Daemon, document: dict[str, Any]) -> tuple[str, int]:
    scan = call(node, "scan.submit", document=document)
    return str(scan["verdict"]), len(scan["matches"])


def stored_envelopes(node: Daemon) -> set[str]:
    conn = sqlite3.connect(f"file:{node.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        return {r[0].hex() for r in conn.execute("SELECT alert_id FROM alert_envelopes")}
    finally:
        conn.close()


def network(
    nodes: Nodes, *venues: tuple[str, str], door: tuple[str, ...] = (), fixed: bool = False
) -> list[Daemon]:
    """A network of the authority (first) and members joined while running, all connected;
    the venues named in ``door`` are in the group "door" too. ``fixed``: every node
    listens on a port of its own across restarts."""
    (name, venue), *rest = venues
    a = nodes.new(name, venue)
    if fixed:
        LISTEN[str(a.data_dir)] = f"/ip4/127.0.0.1/tcp/{free_port()}"
    cli("network", "create", "--data-dir", str(a.data_dir), "--name", "Town")
    start(a)
    out = [a]
    for name, venue in rest:
        extra = ("--groups", "door") if venue in door else ()
        node = nodes.new(name, venue)
        if fixed:
            LISTEN[str(node.data_dir)] = f"/ip4/127.0.0.1/tcp/{free_port()}"
        start(node)
        cli("network", "join", invite(a, venue, *extra), "--data-dir", str(node.data_dir))
        out.append(node)
    wanted = {v for _, v in venues}
    for node in out:
        wait_for(
            "every node is connected to every other",
            lambda n=node: connected_venues(n) | {status(n)["venue"]} == wanted,
        )
    return out


def test_alert_reaches_members_and_withdrawal_removes_it(nodes: Nodes) -> None:
    a, b, c = network(
        nodes, ("a", "The Crown"), ("b", "The Swan"), ("c", "The Bell"), door=("The Swan",)
    )
    subject = doc(1)
    assert verdict(c, subject) == ("admit", 0)

    made = call(a, "alert.create", document=subject, category="theft", reason="took a bag")
    for node in (b, c):
        wait_for("the alert reaches B and C", lambda n=node: received(n) == 1)
        # The venue's log says when the alert arrived, by id only.
        arrived = [
            json.loads(line)
            for line in node.log_lines()
            if '"alerts.received"' in line and made["alert_id"] in line
        ]
        assert arrived, node.log_path.read_text()
        assert arrived[0]["changed"] >= 1
        said = json.dumps(arrived)
        assert subject["surname"] not in said
        assert subject["document_number"] not in said
    assert verdict(c, subject)[0] == "check"
    assert verdict(c, subject)[1] >= 1
    assert verdict(b, doc(2)) == ("admit", 0)  # an innocent customer

    # Group "door": B originates; A (the key manager, holding every group key) can read
    # it; C, outside the group, stores and relays the envelope but cannot read it.
    door_subject = doc(3)
    door = call(
        b,
        "alert.create",
        document=door_subject,
        category="theft",
        reason="r",
        groups=["door"],
    )
    wait_for("the door alert reaches A", lambda: received(a) == 1)
    wait_for("C stores the door envelope", lambda: door["alert_id"] in stored_envelopes(c))
    assert verdict(a, door_subject)[0] == "check"
    assert verdict(c, door_subject) == ("admit", 0)
    assert received(c) == 1

    call(a, "alert.withdraw", alert_id=made["alert_id"])
    for node in (b, c):
        wait_for("the withdrawal reaches B and C", lambda n=node: received(n) == 0)
    assert verdict(c, subject) == ("admit", 0)
    assert verdict(b, subject) == ("admit", 0)


def test_offline_node_catches_up_by_sync_and_nothing_withdrawn_returns(nodes: Nodes) -> None:
    a, b, c = network(nodes, ("a", "The Crown"), ("b", "The Swan"), ("c", "The Bell"))
    early = call(a, "alert.create", document=doc(1), category="theft", reason="r")
    wait_for("C has the first alert", lambda: received(c) == 1)
    c.stop(signal.SIGTERM)

    # While C is offline: B creates two alerts, A withdraws its first, B withdraws one.
    kept = call(b, "alert.create", document=doc(2), category="theft", reason="r")
    gone = call(b, "alert.create", document=doc(3), category="theft", reason="r")
    call(a, "alert.withdraw", alert_id=early["alert_id"])
    call(b, "alert.withdraw", alert_id=gone["alert_id"])
    wait_for("A sees B's alert, and no withdrawn one", lambda: received(a) == 1)
    # GossipSub advertises recent messages (its cache spans a few 1 s heartbeats) to
    # peers that connect: wait past it, so that what C gets comes from the sync.
    time.sleep(6)
    logged = {n: len(n.log_lines()) for n in (a, b, c)}

    c.start()
    wait_for("C catches up", lambda: received(c) == 1)
    wait_for(
        "C holds the tombstones too",
        lambda: {early["alert_id"], kept["alert_id"], gone["alert_id"]} <= stored_envelopes(c),
    )
    assert verdict(c, doc(2))[0] == "check"
    assert verdict(c, doc(1)) == ("admit", 0)
    assert verdict(c, doc(3)) == ("admit", 0)
    synced = [
        json.loads(line)
        for n, at in logged.items()
        for line in n.log_lines()[at:]
        if '"sync.done"' in line
    ]
    assert sum(e["fetched"] + e["pushed"] for e in synced) >= 3
    # Nothing withdrawn comes back, even after a restart of C.
    c.stop(signal.SIGTERM)
    c.start()
    assert received(c) == 1
    assert verdict(c, doc(1)) == ("admit", 0)


def test_killed_node_reconnects_and_converges(nodes: Nodes) -> None:
    a, b, c = network(nodes, ("a", "The Crown"), ("b", "The Swan"), ("c", "The Bell"))
    ids = [call(a, "alert.create", document=doc(i), category="theft", reason="r") for i in range(3)]
    c.stop(signal.SIGKILL)
    ids += [
        call(b, "alert.create", document=doc(i), category="theft", reason="r") for i in range(3, 6)
    ]
    call(a, "alert.withdraw", alert_id=ids[0]["alert_id"])
    c.start()
    wait_for("C reconnects", lambda: connected_venues(c) == {"The Crown", "The Swan"})
    wait_for("C converges", lambda: received(c) == 5)
    wait_for("A converges", lambda: received(a) == 3)
    wait_for("B converges", lambda: received(b) == 2)
    assert verdict(c, doc(0)) == ("admit", 0)
    assert verdict(c, doc(4))[0] == "check"


def test_partition_and_heal_converge_and_nothing_withdrawn_returns(nodes: Nodes) -> None:
    venues = [("a", "The Crown"), ("b", "The Swan"), ("c", "The Bell"), ("d", "The Anchor")]
    venues.append(("e", "The Plough"))
    a, b, c, d, e = network(nodes, *venues, fixed=True)
    p0 = call(a, "alert.create", document=doc(10), category="theft", reason="r")
    q0 = call(d, "alert.create", document=doc(11), category="theft", reason="r")
    for node in (a, b, c, d, e):
        wait_for("every node has both alerts", lambda n=node: received(n) == (n not in (a, d)) + 1)

    # Side one (A, B, C) while D and E are away.
    for node in (d, e):
        node.stop(signal.SIGTERM)
    a1 = call(a, "alert.create", document=doc(12), category="theft", reason="r")
    b1 = call(b, "alert.create", document=doc(13), category="theft", reason="r")
    call(b, "alert.withdraw", alert_id=b1["alert_id"])
    call(a, "alert.withdraw", alert_id=p0["alert_id"])
    wait_for("C sees side one's changes", lambda: received(c) == 2)

    # Side two (D, E) while A, B and C are away: they find each other without the authority.
    for node in (a, b, c):
        node.stop(signal.SIGTERM)
    for node in (d, e):
        start(node)
    wait_for("D and E connect", lambda: connected_venues(d) == {"The Plough"})
    d1 = call(d, "alert.create", document=doc(14), category="theft", reason="r")
    e1 = call(e, "alert.create", document=doc(15), category="theft", reason="r")
    call(e, "alert.withdraw", alert_id=e1["alert_id"])
    call(d, "alert.withdraw", alert_id=q0["alert_id"])
    wait_for("E sees D's new alert", lambda: verdict(e, doc(14))[0] == "check")
    wait_for("E sees D's withdrawal", lambda: verdict(e, doc(11)) == ("admit", 0))
    assert received(e) == 2  # p0 (withdrawn on the other side) and d1

    # Heal: active everywhere are a1 and d1 only.
    for node in (a, b, c):
        start(node)
    expected = {a: 1, b: 2, c: 2, d: 1, e: 2}
    for node, count in expected.items():
        wait_for("every node converges", lambda n=node, k=count: received(n) == k)
    gone = {x["alert_id"] for x in (p0, q0, b1, e1)}
    for node in (c, e):
        wait_for("the tombstones reach C and E", lambda n=node: gone <= stored_envelopes(n))
    for node in (a, b, c, d, e):
        assert verdict(node, doc(12))[0] == "check"
        assert verdict(node, doc(14))[0] == "check"
        for n in (10, 11, 13, 15):
            assert verdict(node, doc(n)) == ("admit", 0)
    assert {a1["alert_id"], d1["alert_id"]} <= stored_envelopes(c)
