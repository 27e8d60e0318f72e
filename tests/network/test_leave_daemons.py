"""Leaving a network and being revoked, with real daemons on 127.0.0.1: what the
node received through the network is gone (memory, database, its raw files)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from doorwatch.node.testing import Daemon, doorwatch

from .conftest import Nodes
from .test_alert_gossip import call, doc, network, received, start, verdict
from .test_network_daemons import cli, cli_fails, connected_venues, peer_id, status, wait_for


def _rows(node: Daemon, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{node.data_dir / 'doorwatch.sqlite'}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _canaries(node: Daemon) -> list[bytes]:
    """A slice of every received envelope's ciphertext (the bytes a purge must remove)."""
    me = peer_id(node)
    rows = _rows(node, "SELECT originator, message FROM alert_envelopes")
    return [bytes(m)[-48:] for o, m in rows if o != me]


def _raw(data_dir: Path) -> bytes:
    out = b""
    for name in ("doorwatch.sqlite", "doorwatch.sqlite-wal"):
        path = data_dir / name
        if path.exists():
            out += path.read_bytes()
    return out


def _audit_actions(node: Daemon) -> list[str]:
    return [r[0] for r in _rows(node, "SELECT action FROM audit_log ORDER BY id")]


def _assert_forgotten(node: Daemon, canaries: list[bytes], subject: dict[str, Any]) -> None:
    assert verdict(node, subject) == ("admit", 0)
    assert received(node) == 0
    assert status(node)["networks"] == []
    assert _rows(node, "SELECT COUNT(*) FROM alert_envelopes") == [(0,)]
    assert _rows(node, "SELECT COUNT(*) FROM network_group_keys") == [(0,)]
    assert _rows(node, "SELECT COUNT(*) FROM network_certificates") == [(0,)]
    raw = _raw(node.data_dir)
    assert canaries
    for canary in canaries:
        assert canary not in raw


def test_leave_deletes_what_was_received_running_or_stopped(nodes: Nodes) -> None:
    a, b, c = network(nodes, ("a", "The Crown"), ("b", "The Swan"), ("c", "The Bell"))
    subject = doc(1)
    call(a, "alert.create", document=subject, category="theft", reason="took a bag")
    own = call(c, "alert.create", document=doc(2), category="theft", reason="c's own")
    for node in (b, c):
        wait_for("A's alert reaches B and C", lambda n=node: received(n) >= 1)
    assert verdict(c, subject)[0] == "check"
    canaries_b, canaries_c = _canaries(b), _canaries(c)

    # The hub cannot leave its own network.
    message = cli_fails("network", "leave", "--data-dir", str(a.data_dir), "--yes")
    assert "cannot leave" in message
    # Without --yes and no terminal to ask on, nothing happens.
    message = cli_fails("network", "leave", "--data-dir", str(c.data_dir))
    assert "--yes" in message

    # C leaves while it runs (over its socket).
    out = json.loads(cli("network", "leave", "--data-dir", str(c.data_dir), "--yes", "--json"))
    assert out["received_deleted"] >= 1
    assert out["revoked"] is False
    _assert_forgotten(c, canaries_c, subject)
    wait_for("C is disconnected from A and B", lambda: connected_venues(c) == set())
    assert "network.left" in _audit_actions(c)
    # C's own alert stays, as the venue's record.
    assert own["alert_id"] in {x["alert_id"] for x in call(c, "alert.list")}

    # B leaves while stopped (the CLI opens its store).
    b.stop()
    out_text = cli("network", "leave", "--data-dir", str(b.data_dir), "--yes")
    assert "Left network" in out_text
    assert not any(canary in _raw(b.data_dir) for canary in canaries_b)
    start(b)
    _assert_forgotten(b, canaries_b, subject)
    message = cli_fails("network", "leave", "--data-dir", str(b.data_dir), "--yes")
    assert "no network" in message


def test_a_revoked_member_deletes_what_it_received(nodes: Nodes) -> None:
    a, b, c = network(nodes, ("a", "The Crown"), ("b", "The Swan"), ("c", "The Bell"))
    subject = doc(3)
    call(a, "alert.create", document=subject, category="theft", reason="took a bag")
    wait_for("A's alert reaches C", lambda: received(c) >= 1)
    wait_for("A's alert reaches B", lambda: received(b) >= 1)
    canaries = _canaries(c)

    message = cli_fails("network", "revoke", peer_id(a), "--data-dir", str(a.data_dir))
    assert "cannot revoke itself" in message

    cli("network", "revoke", peer_id(c), "--data-dir", str(a.data_dir))
    wait_for("C has left the network", lambda: status(c)["networks"] == [])
    wait_for("C forgot what it received", lambda: received(c) == 0)
    _assert_forgotten(c, canaries, subject)
    assert "network.revoked" in _audit_actions(c)
    assert any('"network.revoked"' in line for line in c.log_lines())
    # B, not revoked, keeps the alert.
    assert received(b) >= 1
    assert verdict(b, subject)[0] == "check"


def test_leave_help_has_an_example() -> None:
    for command in (
        ("network", "leave"),
        ("network", "export-authority"),
        ("network", "import-authority"),
        ("network", "group", "add"),
        ("network", "group", "remove"),
        ("network", "group", "list"),
        ("network", "invite"),
        ("network", "members"),
        ("network", "revoke"),
    ):
        done = doorwatch(*command, "--help")
        assert done.returncode == 0
        assert "Example: doorwatch " + " ".join(command) in done.stdout
